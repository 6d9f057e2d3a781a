"""The benchmark scripts run end to end on a small load."""

import re
import subprocess
import sys

from wsbench.testing.server import ROOT

from .conftest import Database


def test_server_cpu_measures_three_servers_and_compares_them(database: Database):
    result = subprocess.run(
        [sys.executable, "benchmarks/server_cpu.py", "-c", "20", "-n", "2000", "--runs", "1"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "server CPU per number, 20 connections x 2000 numbers, 1 runs"
    names = ("bare websockets", "wsbench --db null:", "wsbench mysql")
    for line, name in zip(lines[1:4], names, strict=True):
        assert re.fullmatch(rf"{re.escape(name)} +[\d.]+ \([\d.]+\.\.[\d.]+\) µs", line), line
    # Each wsbench server against the bare one, the faster named first.
    for line, name in zip(lines[4:], names[1:], strict=True):
        assert re.fullmatch(r".+ is [\d.]+x faster than .+ \([\d.]+\.\.[\d.]+\)", line), line
        assert {line.split(" is ")[0], line.split(" than ")[1].split(" (")[0]} == {names[0], name}
    database.query("DELETE FROM test.testing WHERE run_id LIKE 'cpu-%'")
