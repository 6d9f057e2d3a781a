"""The page finishes its run across a server restart: every browser, real servers, real MariaDB."""

from __future__ import annotations

import signal
import time
from collections.abc import Sequence
from typing import Any

from wsbench.testing.browser import DONE, Browser
from wsbench.testing.server import ServerProcess, page_url

from .conftest import MYSQL_URL, Database
from .helpers import free_port


def run_across_restart(
    browser: Browser,
    database: Database,
    n: int,
    restart_after: int,
    server_args: Sequence[str] = (),
    **params: object,
) -> tuple[dict[str, Any], str]:
    """Run the page; once `restart_after` of its numbers are committed, stop the server with
    SIGTERM and start a new one on the same ports (and `server_args`). Return the page's result
    and its text."""
    # --max-pending: the server reads at most about 2 x 1,000 numbers beyond those it committed,
    # so once restart_after are committed the run cannot be finished, however busy the machine.
    args = ("--db", MYSQL_URL, "--max-pending", "1000")
    args += ("--port", str(free_port()), "--http-port", str(free_port()), *server_args)
    servers = [ServerProcess(*args)]
    page = browser.new_page()
    try:
        run_id = database.new_run_id()  # deleted at the end, even if the test fails
        page.goto(page_url(servers[0], n=n, autorun=1, run=run_id, **params))
        # Progress as the database sees it: while the pipelined mode's frames go out, the page's
        # main thread is too busy to update its progress bar (or to answer page.evaluate).
        deadline = time.monotonic() + 60
        while database.count(run_id) <= restart_after:
            assert time.monotonic() < deadline, "the run made no progress in 60 s"
            time.sleep(0.005)  # the polling interval
        servers[0].process.send_signal(signal.SIGTERM)
        assert servers[0].process.wait(timeout=30) == 0, servers[0].log
        servers.append(ServerProcess(*args))
        page.wait_for_function(DONE, timeout=120_000)
        result = page.evaluate("window.benchmarkResult")
        result["state"] = page.evaluate("document.body.dataset.state")
        return result, page.inner_text("main")
    finally:
        page.close()
        for server in servers:
            server.stop()


def assert_every_number_once(database: Database, run_id: str, n: int) -> None:
    assert database.count(run_id) == n
    distinct = "SELECT COUNT(DISTINCT number) FROM test.testing WHERE run_id = %s"
    assert database.query(distinct, run_id)[0][0] == n


def test_websocket_run_resumes_after_the_server_restarts(any_browser, database: Database):
    result, text = run_across_restart(any_browser, database, n=20_000, restart_after=2000)
    assert result["state"] == "done", result
    assert (result["transport"], result["mode"]) == ("websocket", "pipelined")
    assert (result["acked"], result["errors"]) == (20_000, 0)
    assert result["rows_verified"] == 20_000
    assert result["reconnects"] >= 1
    assert "reconnected" in text
    assert result["elapsed_ms"] > 0
    assert_every_number_once(database, result["run"], 20_000)


def test_http_run_resends_after_the_server_restarts(any_browser, database: Database):
    result, text = run_across_restart(
        any_browser, database, n=300, restart_after=50, mode="http/one-at-a-time"
    )
    assert result["state"] == "done", result
    assert (result["transport"], result["mode"]) == ("http", "one-at-a-time")
    assert (result["acked"], result["errors"]) == (300, 0)
    assert result["rows_verified"] == 300
    assert result["reconnects"] >= 1
    assert "resent" in text
    assert_every_number_once(database, result["run"], 300)
