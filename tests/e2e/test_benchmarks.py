"""The benchmark scripts run end to end on a small load."""

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from wsbench.link.tun import LinkUnavailable, check_privileges
from wsbench.testing.server import ROOT

from .conftest import ADMIN_URL, Database, missing


def test_server_cpu_measures_five_servers_and_compares_them(run_prefix: str):
    command = [sys.executable, "benchmarks/server_cpu.py", "-c", "20", "-n", "2000", "--runs", "1"]
    result = subprocess.run(
        [*command, "--run-prefix", run_prefix],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "server CPU per number, 20 connections x 2000 numbers, 1 runs"
    bare, bare_gc, frames = (
        "bare websockets",
        "bare websockets, wsbench's GC settings",
        "bare websockets, frames counted as parsed",
    )
    null, mysql = "wsbench --db null:", "wsbench mysql"
    for line, name in zip(lines[1:6], (bare, bare_gc, frames, null, mysql), strict=True):
        assert re.fullmatch(rf"{re.escape(name)} +[\d.]+ \([\d.]+\.\.[\d.]+\) µs", line), line
    # How MySQL's CPU splits between the server's two threads.
    thread = r"thread [\d.]+ \(.+\) µs"
    split = rf"wsbench mysql: the event loop's {thread}, the store's {thread}"
    assert re.fullmatch(split, lines[6]), lines[6]
    # The collector's settings, the message layer, then wsbench against the bare servers; the
    # faster named first.
    pairs = [(bare, bare_gc), (bare_gc, frames), (bare, null), (bare, mysql), (bare_gc, mysql)]
    for line, pair in zip(lines[7:], pairs, strict=True):
        assert re.fullmatch(r".+ is [\d.]+x faster than .+ \([\d.]+\.\.[\d.]+\)", line), line
        assert {line.split(" is ")[0], line.split(" than ")[1].split(" (")[0]} == set(pair)


def run_ids_of(document: dict[str, Any], run_prefix: str) -> list[str]:
    """Every run id of a browser benchmark's JSON, each checked to start with the prefix it
    was given (its rows are deleted by that prefix, after a failed run too)."""
    run_ids = [run for case in document["cases"] for run in case["run_ids"]]
    assert all(run.startswith(f"{run_prefix}-") for run in run_ids), run_ids
    return run_ids


def test_browser_benchmark_runs_each_browser_and_labels_every_case(run_prefix: str, tmp_path: Path):
    out = tmp_path / "browsers.json"
    command = [sys.executable, "benchmarks/browser.py", "-n", "300", "--runs", "1", "--warmup", "0"]
    command += ["--browser", "chromium,firefox,webkit", "--json", str(out)]
    command += ["--run-prefix", run_prefix]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    if result.returncode != 0 and "cannot start a browser" in result.stderr:
        missing(result.stderr.strip())
    assert result.returncode == 0, result.stderr
    text = result.stdout
    for title in ("Chromium", "Firefox", "WebKitGTK"):
        assert re.search(rf"^{title} \d+\.\d+", text, re.MULTILINE), text
    assert text.count("MySQL takes ") == 3  # one MySQL-vs-null ratio per browser
    assert "the browsers side by side, the same case" in text
    assert re.search(r"pipelined \[mysql\]: \w+ is [\d.]+x \(.+\) faster than \w+", text), text
    cpu = re.findall(r"server \d+ ms, MariaDB (\d+ ms|unknown), machine \d+% busy", text)
    assert len(cpu) == 6, text  # each case in each browser says where the CPU went
    document = json.loads(out.read_text())
    # A run per case (3 browsers x 2 servers), and one more each on the veth pair for the wire.
    wire_runs = 2 if "counted in one more run of each case" in text else 1
    assert len(run_ids_of(document, run_prefix)) == 6 * wire_runs
    labels = {(case["browser"]["name"], case["server"]) for case in document["cases"]}
    browsers = ("chromium", "firefox", "webkit")
    assert labels == {(b, s) for b in browsers for s in ("mysql", "null")}
    for case in document["cases"]:
        assert re.fullmatch(r"\d+(\.\d+)+", case["browser"]["version"]), case
        assert len(case["elapsed_ms"]) == 1 and case["n"] == 300
        assert len(case["server_cpu_ms"]) == 1 and 0 < case["machine_busy"][0] <= 1, case


def test_browser_benchmark_over_tls_labels_the_quic_modes_and_what_an_engine_lacks(
    run_prefix: str, tmp_path: Path
):
    out = tmp_path / "tls.json"
    command = [sys.executable, "benchmarks/browser.py", "--compare", "--tls", "--commit", "group"]
    command += ["-n", "200", "--nhttp", "30", "--runs", "1", "--warmup", "0", "--no-wire"]
    command += ["--browser", "chromium,webkit", "--json", str(out), "--run-prefix", run_prefix]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    if result.returncode != 0 and "cannot start a browser" in result.stderr:
        missing(result.stderr.strip())
    assert result.returncode == 0, result.stderr
    document = json.loads(out.read_text())
    run_ids_of(document, run_prefix)
    cases = {(case["browser"]["name"], case["mode"]): case for case in document["cases"]}
    assert len(cases) == 22  # eleven modes in each engine
    quic = {"http3": "h3 (TLS)", "webtransport": "webtransport (TLS)"}
    for (browser, mode), case in cases.items():
        transport = mode.split("/")[0]
        if browser == "webkit" and transport in quic:  # WebKitGTK has neither: said, not run
            assert case["unsupported"].startswith("not supported by WebKitGTK: "), case
            assert case["elapsed_ms"] == [] and case["run_ids"] == []
            assert f"{case['label']:<40} not supported by WebKitGTK" in result.stdout
            continue
        assert case["unsupported"] is None and len(case["elapsed_ms"]) == 1, case
        if transport in quic:
            assert case["protocol"] == quic[transport], case


def test_commit_latency_compares_a_quiet_machine_with_a_busy_browser(database: Database):
    command = [sys.executable, "benchmarks/commit_latency.py", "--seconds", "1"]
    command += ["--db-url", ADMIN_URL]  # it makes and drops a scratch table
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120)
    if result.returncode != 0 and "cannot start a browser" in result.stderr:
        missing(result.stderr.strip())
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "MariaDB commits of 10 rows, 1 s each way"
    figures = r"[\d,]+ commits: p50 [\d.]+, p99 [\d.]+, p99.9 [\d.]+, max [\d.]+ ms; \d+ over 50 ms"
    assert re.fullmatch(rf"quiet machine: +{figures}(; MariaDB \d+ µs CPU each)?", lines[1])
    assert re.fullmatch(rf"chromium [\d.]+ running the page \(\d+ runs\): {figures}", lines[2])


def test_profile_layers_charges_each_sample_to_its_innermost_frame(tmp_path: Path):
    loop = "thread (1): MainThread;run (asyncio/runners.py:190)"
    profile = tmp_path / "profile.txt"
    profile.write_text(
        f"{loop};Frame.parse (websockets/frames.py:294) 6\n"
        f"{loop};receive (wsbench/server/run_loop.py:60) 3\n"
        "thread (2): wsbench-mysql_0;_worker (concurrent/futures/thread.py:83) 1\n"
    )
    command = [sys.executable, "benchmarks/profile_layers.py", str(profile)]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    lines = [line.split() for line in result.stdout.splitlines()]
    assert lines[0] == ["10", "samples"]
    assert lines[1][:5] == ["60.0%", "event", "loop", "thread:", "websockets"]
    assert lines[2][:5] == ["30.0%", "event", "loop", "thread:", "wsbench"]
    assert lines[3][:5] == ["10.0%", "store", "thread:", "other", "Python"]
    profile.write_text("not a profile\n")
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1 and "no samples" in result.stderr


def test_browser_benchmark_behind_a_link_sets_each_run_against_the_links_limit(
    run_prefix: str, tmp_path: Path
):
    try:
        check_privileges()
    except LinkUnavailable as exc:
        missing(str(exc))
    out, link = tmp_path / "link.json", "rtt=20ms,up=4mbit,down=10mbit"
    command = [sys.executable, "benchmarks/browser.py", "--compare", "--link", link]
    command += ["--browser", "chromium", "--runs", "1", "--warmup", "0", "--budget-ms", "300"]
    command += ["--json", str(out), "--run-prefix", run_prefix]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    if result.returncode != 0 and "cannot start a browser" in result.stderr:
        missing(result.stderr.strip())
    assert result.returncode == 0, result.stdout + result.stderr
    text = result.stdout
    assert f"behind {link}: 20 ms RTT, up 4 Mbit/s, down 10 Mbit/s, no loss" in text, text
    assert text.count("the link's limit") == 8, text  # four modes, two commit modes
    assert re.search(r"the emulator: released packets within [\d.]+ ms .* 0 dropped", text), text
    document = json.loads(out.read_text())
    run_ids_of(document, run_prefix)
    for case in document["cases"]:
        assert case["link"]["name"] == link and case["link"]["rtt_ms"] == 20, case
        (limit,) = case["limit_ms"]
        (over,) = case["elapsed_over_limit"]
        assert limit >= 20 and over >= 0.95, case  # no run beats the link
        assert case["wire_per_number"]["bytes_up"] > 0, case
        (accuracy,) = case["link_accuracy"]
        assert accuracy["unasked_drops"] == 0, accuracy
    sizes = {case["mode"]: case["n"] for case in document["cases"]}
    assert sizes["websocket/one-at-a-time"] < sizes["websocket/pipelined"]  # chosen per mode
