"""The real page in real headless Chromium, against real servers and the real MariaDB."""

from wsbench.harness import ServerProcess, open_page, page_url, run_page

from .conftest import Database


def test_page_from_disk_commits_ten_thousand_numbers(
    browser, mysql_server: ServerProcess, database: Database
):
    result = run_page(browser, page_url(mysql_server, n=10_000, autorun=1))
    database.run_ids.append(result["run"])  # cleaned up with the session
    assert result["state"] == "done", result
    assert (result["transport"], result["store"]) == ("websocket", "mysql")
    assert (result["acked"], result["errors"]) == (10_000, 0)
    assert result["rows_verified"] == 10_000
    assert database.count(result["run"]) == 10_000
    assert result["elapsed_ms"] > 0


def test_page_served_over_http_finds_its_server(
    browser, mysql_server: ServerProcess, database: Database
):
    result = run_page(browser, f"{mysql_server.http_url}/?n=500&autorun=1")
    database.run_ids.append(result["run"])
    assert result["state"] == "done", result
    assert result["rows_verified"] == 500 == database.count(result["run"])


def test_page_against_the_null_store_says_nothing_is_stored(
    browser, null_server: ServerProcess, database: Database
):
    page = browser.new_page()
    try:
        page.goto(page_url(null_server, n=1000, autorun=1))
        page.wait_for_function("['done', 'error'].includes(document.body.dataset.state)")
        result = page.evaluate("window.benchmarkResult")
        assert page.evaluate("document.body.dataset.state") == "done"
        assert "NOTHING IS STORED" in page.inner_text("body")
    finally:
        page.close()
    assert (result["store"], result["acked"], result["rows_verified"]) == ("null", 1000, None)
    assert database.count(result["run"]) == 0


def test_page_reports_a_server_that_is_not_running(browser):
    with ServerProcess("--db", "null:") as server:
        url = page_url(server, n=10, autorun=1)
    result = run_page(browser, url)  # the server is gone now
    assert result["state"] == "error"
    assert "Could not connect" in result["error"]


def test_page_rejects_a_bad_n(browser, null_server: ServerProcess):
    result = run_page(browser, page_url(null_server, n="lots", autorun=1))
    assert result["state"] == "error"


def test_compare_runs_every_mode_and_every_row_is_there(
    browser, mysql_server: ServerProcess, database: Database
):
    state, results = open_page(browser, page_url(mysql_server, n=500, nhttp=300, autorun="compare"))
    database.run_ids.extend(result["run"] for result in results)
    assert state == "done", results
    assert [(r["transport"], r["mode"]) for r in results] == [
        ("websocket", "pipelined"),
        ("websocket", "one-at-a-time"),
        ("http", "one-at-a-time"),
        ("http", "concurrent"),
    ]
    for result in results:
        n = 500 if result["transport"] == "websocket" else 300
        assert (result["n"], result["acked"], result["errors"]) == (n, n, 0)
        assert result["rows_verified"] == n == database.count(result["run"])
        assert (result["store"], result["commit"]) == ("mysql", "group")
