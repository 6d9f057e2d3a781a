"""The page as a user meets it: served by the server, its defaults untouched, its buttons clicked
with the mouse, in every engine: "Run all modes" over TLS (eleven modes at N = 10,000 and the HTTP
N's default of 1,000), in a Chromium as installed (no QUIC flags) too; Run, and Cancel."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from wsbench.testing.browser import Browser, BrowserMissing, BrowserName, Page, launch
from wsbench.testing.server import ServerProcess

from .conftest import MYSQL_URL, Database, missing
from .pages import choose, fill, finish, open_served

N, NHTTP = 10_000, 1_000  # the page's defaults: N, and min(N, 1000) for the HTTP modes
BIG_N = 1_000_000  # the most the page takes
ELEVEN = [
    ("websocket", "pipelined", "websocket"),
    ("websocket", "one-at-a-time", "websocket"),
    ("http", "one-at-a-time", "http/1.1"),
    ("http", "concurrent", "http/1.1"),
    ("http2", "one-at-a-time", "h2"),
    ("http2", "concurrent", "h2"),
    ("http3", "one-at-a-time", "h3"),
    ("http3", "concurrent", "h3"),
    ("webtransport", "pipelined", "webtransport"),
    ("webtransport", "one-at-a-time", "webtransport"),
    ("webtransport", "datagrams", "webtransport"),
]
# A compare over TLS takes about a minute per engine at the defaults; a run that stalls is failed
# by the page itself after 30 to 60 s without progress.
COMPARE_TIMEOUT_S = 400
# The engines as users have them: Chromium set up for HTTP/3 (the flags the page prints) and as
# installed, Firefox with the one pref README names, WebKitGTK (no HTTP/3, no WebTransport).
USERS = {
    "chromium-quic": (BrowserName.CHROMIUM, True),
    "chromium-as-installed": (BrowserName.CHROMIUM, False),
    "firefox": (BrowserName.FIREFOX, True),
    "webkit": (BrowserName.WEBKIT, True),
}


@pytest.fixture(scope="module")
def tls_server(database: Database) -> Iterator[ServerProcess]:
    """A --tls server (a fresh self-signed certificate) writing to MySQL, for this module alone."""
    with ServerProcess("--db", MYSQL_URL, "--tls") as server:
        yield server


@pytest.fixture(scope="module")
def plain_server(database: Database) -> Iterator[ServerProcess]:
    """A cleartext server writing to MySQL, for this module alone."""
    with ServerProcess("--db", MYSQL_URL) as server:
        yield server


@pytest.fixture(scope="module", params=list(USERS))
def user(
    request: pytest.FixtureRequest, tls_server: ServerProcess
) -> Iterator[tuple[str, Browser]]:
    """Each engine in turn, set up as a user's: (its name in USERS, the browser)."""
    name, quic = USERS[request.param]
    origin = tls_server.quic_origin()
    assert origin is not None
    try:
        with launch(name, [origin] if quic else []) as browser:
            yield request.param, browser
    except BrowserMissing as exc:
        missing(str(exc))


@pytest.fixture
def page(user: tuple[str, Browser]) -> Iterator[Page]:
    """A fresh tab, closed afterwards."""
    tab = user[1].new_page()
    yield tab
    tab.close()


def wait_for_rows(
    database: Database, run_prefix: str, at_least: int, timeout_s: float = 60
) -> None:
    """Wait until the runs of ``run_prefix`` have ``at_least`` rows committed."""
    deadline = time.monotonic() + timeout_s
    query = "SELECT COUNT(*) FROM test.testing WHERE run_id LIKE %s"
    while (rows := database.query(query, f"{run_prefix}-%")[0][0]) < at_least:
        assert time.monotonic() < deadline, f"{rows} rows after {timeout_s} s"
        time.sleep(0.05)  # polling the table: the page tells nothing outside itself


def test_run_all_modes_at_the_defaults_ends_done_with_every_mode_run_or_said_why(
    user: tuple[str, Browser],
    page: Page,
    tls_server: ServerProcess,
    database: Database,
    run_prefix: str,
):
    name, _ = user
    open_served(page, tls_server, run_prefix)
    page.click("#compare")
    state, results = finish(page, COMPARE_TIMEOUT_S)
    assert state == "done", [(r["transport"], r["mode"], r.get("error")) for r in results]
    assert [(r["transport"], r["mode"]) for r in results] == [mode[:2] for mode in ELEVEN]
    lacks_quic = name == "webkit"
    info = tls_server.info()
    not_run = []
    for result, (transport, _, protocol) in zip(results, ELEVEN, strict=True):
        assert result["run"].startswith(f"{run_prefix}-"), result
        if lacks_quic and transport in ("http3", "webtransport"):
            assert result["unsupported"].startswith("not supported by WebKitGTK: "), result
            assert result["not_run"] == result["unsupported"]
        elif name == "chromium-as-installed" and transport == "http3":
            # Not set up for HTTP/3 to a self-signed server: said why, with the flags to set it up.
            assert result["not_run"].startswith("not run: Chrome "), result
            assert "is not set up for HTTP/3" in result["not_run"]
            assert f"--origin-to-force-quic-on=127.0.0.1:{tls_server.h3_port}" in result["not_run"]
            assert info["certificate"]["spki_sha256"] in result["not_run"]
        else:
            n = NHTTP if transport.startswith("http") else N
            assert result.get("not_run") is None, result
            assert (result["protocol"], result["tls"]) == (protocol, True), result
            assert (result["n"], result["acked"], result["errors"]) == (n, n, 0), result
            assert result["rows_verified"] == n == database.count(result["run"]), result
            assert result["elapsed_ms"] > 0
            continue
        assert database.count(result["run"]) == 0
        not_run.append(result)
    expected = {"chromium-as-installed": 2, "webkit": 5}.get(name, 0)
    assert len(not_run) == expected
    # The page lists what it did not run, and why, where the user sees it.
    listed = page.inner_text("#not-run") if not_run else ""
    for result in not_run:
        assert result["not_run"] in listed


def test_run_and_cancel_and_run_again_from_the_served_page(
    user: tuple[str, Browser],
    page: Page,
    plain_server: ServerProcess,
    database: Database,
    run_prefix: str,
):
    open_served(page, plain_server, run_prefix)
    # One at a time, and more numbers than any engine sends in the time a click takes: cancel it
    # once a hundred are acked.
    choose(page, "websocket/one-at-a-time")
    fill(page, "n", str(BIG_N))
    page.click("#run")
    # Read from the table, not the progress bar: a tab WebDriver opened may count as hidden, and a
    # hidden tab draws no animation frames.
    wait_for_rows(database, run_prefix, 100)
    page.click("#cancel")
    state, result = finish(page, 60)
    assert state == "error", result
    assert result["error"] == "Cancelled by the user"
    assert page.inner_text("#message") == "Cancelled by the user"
    assert 100 <= result["acked"] < BIG_N, result
    # Every acked number is committed; the one sent after the last ack may be too.
    assert result["acked"] <= database.count(result["run"]) <= result["acked"] + 1
    assert page.evaluate("document.getElementById('run').disabled") is False
    # The page runs again after a cancel, at its default mode and N.
    choose(page, "websocket/pipelined")
    fill(page, "n", str(N))
    page.click("#run")
    state, result = finish(page, 120)
    assert state == "done", result
    assert (result["transport"], result["mode"], result["n"]) == ("websocket", "pipelined", N)
    assert (result["acked"], result["errors"], result["rows_verified"]) == (N, 0, N)
    assert database.count(result["run"]) == N
