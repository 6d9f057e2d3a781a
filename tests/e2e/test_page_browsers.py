"""The page's main scenarios in every browser (Chromium and Firefox), against real servers and
the real MariaDB: a big pipelined run, every mode, and the error state with no server."""

from wsbench.testing.browser import open_page, run_page
from wsbench.testing.server import ServerProcess, page_url

from .conftest import Database


def test_page_from_disk_commits_ten_thousand_numbers(
    any_browser, mysql_server: ServerProcess, database: Database
):
    result = run_page(any_browser, page_url(mysql_server, n=10_000, autorun=1))
    database.run_ids.append(result["run"])  # cleaned up with the session
    assert result["state"] == "done", result
    assert (result["transport"], result["store"]) == ("websocket", "mysql")
    assert (result["acked"], result["errors"]) == (10_000, 0)
    assert result["rows_verified"] == 10_000
    assert database.count(result["run"]) == 10_000
    assert result["elapsed_ms"] > 0


def test_compare_runs_every_mode_and_every_row_is_there(
    any_browser, mysql_server: ServerProcess, database: Database
):
    state, results = open_page(
        any_browser, page_url(mysql_server, n=500, nhttp=300, autorun="compare")
    )
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


def test_page_reports_a_server_that_is_not_running(any_browser):
    with ServerProcess("--db", "null:") as server:
        url = page_url(server, n=10, autorun=1)
    result = run_page(any_browser, url)  # the server is gone now
    assert result["state"] == "error"
    assert "Could not connect" in result["error"]
