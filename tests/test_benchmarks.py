"""The benchmark scripts run end to end on a small load."""

import re
import subprocess
import sys

from wsbench.harness import ROOT

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
    assert lines[4].startswith("bare websockets is ") and "than wsbench --db null:" in lines[4]
    assert lines[5].startswith("bare websockets is ") and "than wsbench mysql" in lines[5]
    database.query("DELETE FROM test.testing WHERE run_id LIKE 'cpu-%'")
