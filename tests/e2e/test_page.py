"""The real page in real headless Chromium, against real servers and the real MariaDB.

The main scenarios run in every browser: test_page_browsers.py.
"""

from wsbench.testing.browser import run_page
from wsbench.testing.server import ServerProcess, page_url

from .conftest import Database


def test_page_served_over_http_finds_its_server(
    browser, mysql_server: ServerProcess, database: Database, run_prefix: str
):
    result = run_page(browser, f"{mysql_server.http_url}/?n=500&autorun=1&run_prefix={run_prefix}")
    assert result["state"] == "done", result
    assert result["rows_verified"] == 500 == database.count(result["run"])


def test_page_against_the_null_store_says_nothing_is_stored(
    browser, null_server: ServerProcess, database: Database, run_prefix: str
):
    page = browser.new_page()
    try:
        page.goto(page_url(null_server, n=1000, autorun=1, run_prefix=run_prefix))
        page.wait_for_function("['done', 'error'].includes(document.body.dataset.state)")
        result = page.evaluate("window.benchmarkResult")
        assert page.evaluate("document.body.dataset.state") == "done"
        assert "NOTHING IS STORED" in page.inner_text("body")
    finally:
        page.close()
    assert (result["store"], result["acked"], result["rows_verified"]) == ("null", 1000, None)
    assert database.count(result["run"]) == 0


def test_page_rejects_a_bad_n(browser, null_server: ServerProcess):
    result = run_page(browser, page_url(null_server, n="lots", autorun=1))
    assert result["state"] == "error"
    assert result["error"] == 'N must be a whole number from 1 to 1,000,000 (got "lots")'
