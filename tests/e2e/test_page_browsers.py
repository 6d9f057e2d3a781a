"""The page's main scenarios in every browser (Chromium and Firefox), against real servers and
the real MariaDB: a big pipelined run, every cleartext mode, the page over HTTPS, and the error
state. Every mode over TLS, HTTP/3 and WebTransport among them: test_page_quic."""

from wsbench.testing.browser import open_page, run_page
from wsbench.testing.server import ServerProcess, page_url

from .conftest import Database


def test_page_from_disk_commits_ten_thousand_numbers(
    any_browser, mysql_server: ServerProcess, database: Database, run_prefix: str
):
    result = run_page(
        any_browser, page_url(mysql_server, n=10_000, autorun=1, run_prefix=run_prefix)
    )
    assert result["state"] == "done", result
    assert (result["transport"], result["store"]) == ("websocket", "mysql")
    assert (result["acked"], result["errors"]) == (10_000, 0)
    assert result["rows_verified"] == 10_000
    assert database.count(result["run"]) == 10_000
    assert result["elapsed_ms"] > 0


def test_compare_runs_every_mode_and_every_row_is_there(
    any_browser, mysql_server: ServerProcess, database: Database, run_prefix: str
):
    state, results = open_page(
        any_browser,
        page_url(mysql_server, n=500, nhttp=300, autorun="compare", run_prefix=run_prefix),
    )
    assert state == "done", results
    assert [(r["transport"], r["mode"], r["protocol"], r["tls"]) for r in results] == [
        ("websocket", "pipelined", "websocket", False),
        ("websocket", "one-at-a-time", "websocket", False),
        ("http", "one-at-a-time", "http/1.1", False),
        ("http", "concurrent", "http/1.1", False),
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


def test_the_page_served_over_https_finds_its_wss_server(
    any_browser, tls_server: ServerProcess, database: Database, run_prefix: str
):
    result = run_page(
        any_browser,
        f"https://{tls_server.host}:{tls_server.port}/?n=500&autorun=1&run_prefix={run_prefix}",
    )
    assert result["state"] == "done", result
    assert (result["protocol"], result["tls"], result["rows_verified"]) == ("websocket", True, 500)
