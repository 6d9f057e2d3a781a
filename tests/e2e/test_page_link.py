"""The page over an emulated link, in every browser: every number stored, and no run faster
than the link allows (which it would be, were the link not in the path)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from wsbench.link import Pattern, limit_ms, parse_link
from wsbench.link.tun import LinkUnavailable, check_privileges
from wsbench.testing.browser import Browser, run_page
from wsbench.testing.server import ROOT, LinkedServer, ServerProcess, page_url

from .conftest import Database, missing

LINK = "rtt=40ms,up=2mbit,down=10mbit"
SOCKET_DB = "mysql://wsbench@localhost:3306/test?unix_socket=/run/mysqld/mysqld.sock"


@pytest.fixture(scope="module")
def linked(database: Database) -> Iterator[LinkedServer]:
    """A server writing to MySQL (by its socket) behind the link; pages from disk admitted."""
    try:
        check_privileges()
    except LinkUnavailable as exc:
        missing(str(exc))
    with LinkedServer(LINK, "--db", SOCKET_DB, "--allow-origin", "null") as server:
        yield server


@pytest.mark.parametrize(
    ("mode", "n", "pattern"),
    [
        ("websocket/pipelined", 3000, Pattern.STREAMED),
        ("http/one-at-a-time", 10, Pattern.ONE_AT_A_TIME),
    ],
)
def test_the_page_over_a_link_stores_every_number_no_faster_than_the_link(
    any_browser: Browser,
    linked: LinkedServer,
    database: Database,
    mode: str,
    n: int,
    pattern: Pattern,
):
    linked.link_report()  # a new period for this run
    result = run_page(any_browser, page_url(linked, n=n, mode=mode, autorun=1), timeout_s=120)
    report = linked.link_report()
    database.run_ids.append(result["run"])
    assert result["state"] == "done", result
    assert (result["acked"], result["errors"], result["rows_verified"]) == (n, 0, n)
    assert database.count(result["run"]) == n
    assert result["protocol"] == ("websocket" if mode.startswith("websocket") else "http/1.1")
    up, down = report["up"], report["down"]
    assert up["bytes"] > 0 and down["bytes"] > 0 and report["accuracy"]["unasked_drops"] == 0
    # Without its connection's own round trips: a lower bound whichever connection it used.
    least = limit_ms(parse_link(LINK), pattern, n, up["bytes"], down["bytes"])
    assert result["elapsed_ms"] >= 0.95 * least, (result["elapsed_ms"], least, report)


def test_the_page_served_over_the_link_from_its_own_address(
    any_browser: Browser, linked: LinkedServer, database: Database
):
    # As a person would open it: http://ADDRESS:PORT/, the page's own origin admitted.
    url = f"http://{linked.host}:{linked.port}/?n=500&autorun=1"
    result = run_page(any_browser, url, timeout_s=120)
    database.run_ids.append(result["run"])
    assert result["state"] == "done", result
    assert result["rows_verified"] == 500 == database.count(result["run"])


def test_the_bench_client_sends_its_load_through_a_link(run_prefix: str, tmp_path: Path):
    try:
        check_privileges()
    except LinkUnavailable as exc:
        missing(str(exc))
    out = tmp_path / "bench.json"
    # On every address, so that the bench reaches it from behind the link.
    with ServerProcess("--host", "0.0.0.0", "--db", SOCKET_DB) as server:
        command = [sys.executable, "-m", "wsbench.bench", "--link", "rtt=30ms"]
        command += ["--server", f"ws://127.0.0.1:{server.port}", "--mode", "one-at-a-time"]
        command += ["-n", "20", "--runs", "1", "--warmup", "0", "--run-prefix", run_prefix]
        command += ["--json", str(out)]
        result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "through the emulated link rtt=30ms: 30 ms RTT" in result.stdout
    document = json.loads(out.read_text())
    assert document["settings"]["link"]["rtt_ms"] == 30
    (case,) = document["cases"]
    (run,) = case["runs"]
    assert run["acked"] == 20 and run["rows"] == "verified", run
    assert run["elapsed_s"] * 1000 >= 20 * 30  # a round trip per number, at least
