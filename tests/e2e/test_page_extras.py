"""The page's extras in real Chromium, against the real server and MariaDB: the ack-latency
histogram, the history of runs in localStorage, and the download of the results as JSON."""

from __future__ import annotations

import json
import os
import re
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from wsbench.testing.server import ServerProcess, page_url

from .conftest import MYSQL_URL, Database
from .pages import choose, finish, open_served

HISTORY_KEY = "wsbench.history.v1"
DONE = "['done', 'error'].includes(document.body.dataset.state)"


@pytest.fixture
def context(browser) -> Iterator[Any]:
    """A browser context of the test's own: its localStorage starts empty."""
    context = browser.new_context(accept_downloads=True)
    yield context
    context.close()


def run(page: Any, url: str, database: Database) -> Any:
    """Open the page at `url` (with the test's run_prefix, whose rows are deleted afterwards), wait
    for the run, and return `benchmarkResult` (a list for a compare run)."""
    assert "run_prefix=pytest-" in url
    page.goto(url)
    page.wait_for_function(DONE, timeout=120_000)
    result = page.evaluate("window.benchmarkResult")
    assert page.evaluate("document.body.dataset.state") == "done", result
    return result


def histogram_bars(page: Any, transport: str) -> list[int]:
    """The count of each bar of the latency histogram, read from the bars' tooltips."""
    titles = page.locator(f"#latency-chart svg rect.{transport} title").all_text_contents()
    return [int(re.search(r": ([\d,]+) numbers$", t).group(1).replace(",", "")) for t in titles]


def stored_history(page: Any) -> Any:
    raw = page.evaluate(f"localStorage.getItem({HISTORY_KEY!r})")
    return None if raw is None else json.loads(raw)


def assert_latency(result: dict[str, Any]) -> None:
    latency = result["latency_ms"]
    assert set(latency) == {"p50", "p95", "p99", "max"}
    assert 0 < latency["p50"] <= latency["p95"] <= latency["p99"] <= latency["max"]
    assert latency["max"] <= result["elapsed_ms"]


def test_websocket_run_has_latency_percentiles_and_a_histogram(
    context, mysql_server: ServerProcess, database: Database, run_prefix: str
):
    page = context.new_page()
    result = run(page, page_url(mysql_server, n=2000, autorun=1, run_prefix=run_prefix), database)
    assert (result["acked"], result["errors"], result["rows_verified"]) == (2000, 0, 2000)
    assert_latency(result)
    assert page.is_visible("#latency-chart svg")
    bars = histogram_bars(page, "websocket")
    assert bars and sum(bars) == 2000  # every acked number is in one bar
    assert page.locator("#latency-chart svg line.mark").count() == 3  # p50, p95, p99
    assert "ack latency, ms (log scale)" in page.inner_text("#latency-chart")
    assert "2,000 numbers" in page.inner_text("#latency-caption")
    assert "ack latency p50" in page.inner_text("#summary")


def test_http_run_times_each_request(
    context, mysql_server: ServerProcess, database: Database, run_prefix: str
):
    page = context.new_page()
    url = page_url(mysql_server, n=200, mode="http/concurrent", autorun=1, run_prefix=run_prefix)
    result = run(page, url, database)
    assert (result["acked"], result["rows_verified"]) == (200, 200)
    assert_latency(result)
    assert sum(histogram_bars(page, "http")) == 200


def test_history_survives_a_reload_and_clears(
    context, mysql_server: ServerProcess, database: Database, run_prefix: str
):
    page = context.new_page()
    url = page_url(mysql_server, n=500, autorun=1, run_prefix=run_prefix)
    first = run(page, url, database)
    second = run(page, url, database)
    page.goto(page_url(mysql_server, n=500))  # no autorun: the history of the two runs above
    rows = page.locator("#history tbody tr")
    assert rows.count() == 2
    assert page.is_visible("#history")
    newest = rows.nth(0).locator("td").all_inner_texts()
    assert newest[1:4] == ["WebSocket, pipelined", "500", f"{second['elapsed_ms']:,.1f}"]
    assert newest[-1] == mysql_server.ws_url
    stored = stored_history(page)
    assert [entry["run"] for entry in stored] == [second["run"], first["run"]]  # newest first
    assert stored[0]["p50"] == second["latency_ms"]["p50"]
    assert (stored[0]["acked"], stored[0]["rows_verified"], stored[0]["store"]) == (
        500,
        500,
        "mysql",
    )
    page.click("#clear-history")
    assert stored_history(page) is None
    assert rows.count() == 0
    assert page.is_hidden("#history-section")


def test_history_ignores_what_is_not_history(
    context, mysql_server: ServerProcess, database: Database, run_prefix: str
):
    page = context.new_page()
    page.goto(page_url(mysql_server, n=100))
    garbage = [1, None, "x", {"mode": "carrier-pigeon"}, {"mode": "websocket/pipelined", "n": "x"}]
    page.evaluate(f"localStorage.setItem({HISTORY_KEY!r}, {json.dumps(json.dumps(garbage))})")
    page.reload()
    assert page.locator("#history tbody tr").count() == 1  # the one entry with a known mode
    assert page.locator("#history tbody tr td").all_inner_texts()[:3] == [
        "—",
        "WebSocket, pipelined",
        "—",
    ]
    page.evaluate(f"localStorage.setItem({HISTORY_KEY!r}, '{{not json')")
    result = run(page, page_url(mysql_server, n=100, autorun=1, run_prefix=run_prefix), database)
    assert [entry["run"] for entry in stored_history(page)] == [result["run"]]
    assert page.locator("#history tbody tr").count() == 1


def test_page_works_without_storage(
    browser, mysql_server: ServerProcess, database: Database, run_prefix: str
):
    context = browser.new_context()
    # As when the browser's settings refuse site data: every use of localStorage throws.
    context.add_init_script(
        "Object.defineProperty(window, 'localStorage', "
        "{ get() { throw new DOMException('access denied', 'SecurityError'); } })"
    )
    try:
        page = context.new_page()
        result = run(
            page, page_url(mysql_server, n=100, autorun=1, run_prefix=run_prefix), database
        )
        assert result["rows_verified"] == 100
        assert "History is unavailable" in page.inner_text("#history-section")
        assert page.is_hidden("#history")
    finally:
        context.close()


def test_download_holds_every_run_of_the_page(
    context, mysql_server: ServerProcess, database: Database, run_prefix: str
):
    page = context.new_page()
    results = run(
        page,
        page_url(mysql_server, n=300, nhttp=50, autorun="compare", run_prefix=run_prefix),
        database,
    )
    with page.expect_download() as download:
        page.click("#download")
    name = download.value.suggested_filename
    assert re.fullmatch(r"wsbench-results-\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d\.json", name)
    report = json.loads(Path(download.value.path()).read_text())
    assert [r["run"] for r in report["runs"]] == [r["run"] for r in results]
    for saved, result in zip(report["runs"], results, strict=True):
        assert {key: saved[key] for key in result} == result  # every published field, unchanged
        assert saved["server"] == mysql_server.ws_url
        histogram = saved["latency_histogram"]
        assert sum(histogram["counts"]) == result["acked"]
        assert len(histogram["edges_ms"]) == len(histogram["counts"]) + 1
        assert histogram["edges_ms"] == sorted(histogram["edges_ms"])
        samples = saved["latency_samples_ms"]
        assert len(samples) == result["acked"]
        assert max(samples) == pytest.approx(result["latency_ms"]["max"], abs=0.001)
    assert report["server_info"]["store"] == "mysql"
    assert report["page"].startswith("file://") and "autorun=compare" in report["page"]
    assert report["user_agent"] == page.evaluate("navigator.userAgent")


def test_modes_the_browser_cannot_run_are_reported_and_the_others_run(
    browser, mysql_server: ServerProcess, database: Database, run_prefix: str
):
    context = browser.new_context()
    context.add_init_script("delete window.WebSocket")  # as in a browser without the API
    try:
        page = context.new_page()
        url = page_url(mysql_server, n=100, nhttp=50, autorun="compare", run_prefix=run_prefix)
        results = run(page, url, database)
        assert [r["transport"] + "/" + r["mode"] for r in results] == [
            "websocket/pipelined",
            "websocket/one-at-a-time",
            "http/one-at-a-time",
            "http/concurrent",
        ]
        for result in results[:2]:  # reported, with why, and nothing sent
            assert re.fullmatch(
                r"not supported by Chrome \d+: no WebSocket API", result["unsupported"]
            )
            assert result["acked"] == 0 and database.count(result["run"]) == 0
        assert [r.get("unsupported") for r in results[2:]] == [None, None]
        assert page.locator("#mode option").all_inner_texts() == [
            "HTTP, one at a time",
            "HTTP, concurrent",
        ]
        assert re.fullmatch(
            r"Not supported by Chrome \d+: WebSocket, pipelined \(no WebSocket API\); "
            r"WebSocket, one at a time \(no WebSocket API\)\.",
            page.inner_text("#unsupported"),
        )
        page.goto(
            page_url(mysql_server, n=100, autorun=1, run_prefix=run_prefix)
        )  # a run of one asked for by name
        page.wait_for_function(DONE)
        result = page.evaluate("window.benchmarkResult")
        assert page.evaluate("document.body.dataset.state") == "error"
        assert re.fullmatch(r"not supported by Chrome \d+: no WebSocket API", result["error"])
        assert re.fullmatch(
            r"WebSocket, pipelined: not supported by Chrome \d+: no WebSocket API",
            page.inner_text("#message"),
        )
    finally:
        context.close()


def test_a_server_that_stops_answering_fails_the_run_after_the_stall_timeout(
    browser, database: Database, run_prefix: str
):
    # A server of the test's own: it is stopped (SIGSTOP), alive and connected but silent.
    with ServerProcess("--db", MYSQL_URL) as server:
        page = browser.new_page()
        try:
            open_served(page, server, run_prefix)
            choose(page, "websocket/one-at-a-time")
            page.click("#run")
            page.wait_for_function(
                "/: [1-9][\\d,]* of 10,000/.test("
                "document.getElementById('progress-text').textContent)",
                timeout=60_000,
            )
            os.kill(server.process.pid, signal.SIGSTOP)
            try:
                state, result = finish(page, 90)  # the page's stall timer: 30 to 60 s
            finally:
                os.kill(server.process.pid, signal.SIGCONT)
            message = page.inner_text("#message")
        finally:
            page.close()
    assert state == "error", result
    assert re.fullmatch(
        r"No answer from the server for 30 s \(\d+ of 10000 done\)", result["error"]
    )
    assert message == f"WebSocket, one at a time: {result['error']}"
    assert 0 < result["acked"] < 10_000
