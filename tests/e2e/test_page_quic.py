"""The page's WebTransport run resumed across a server restart in every browser, against a real
--tls server and the real MariaDB (WebKitGTK: refused at once, as it has no WebTransport). Every
mode on the protocol it names, at the page's defaults: test_page_defaults."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from wsbench.resources import PAGE
from wsbench.server.tls import make_self_signed
from wsbench.testing.browser import (
    Browser,
    BrowserMissing,
    BrowserName,
    launch,
    run_page,
)
from wsbench.testing.server import ServerProcess, page_url

from .conftest import MYSQL_URL, Database, missing
from .helpers import free_port
from .test_page_resume import assert_every_number_once, run_across_restart


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """One self-signed certificate for the module's servers, so a restarted one shows the same."""
    return make_self_signed(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def quic_server(database: Database, certificate: tuple[Path, Path]) -> Iterator[ServerProcess]:
    """A --tls server, HTTP/3 and WebTransport on its UDP port, writing to MySQL."""
    cert, key = certificate
    with ServerProcess("--db", MYSQL_URL, "--tls-cert", str(cert), "--tls-key", str(key)) as server:
        yield server


@pytest.fixture(scope="module", params=list(BrowserName))
def quic_browser(request: pytest.FixtureRequest, quic_server: ServerProcess) -> Iterator[Browser]:
    """Each browser in turn, launched to speak HTTP/3 to the module's server where it can."""
    origin = quic_server.quic_origin()
    assert origin is not None
    try:
        with launch(request.param, [origin]) as launched:
            yield launched
    except BrowserMissing as exc:
        missing(str(exc))


def lacks_quic(browser: Browser) -> bool:
    """WebKitGTK: neither HTTP/3 nor WebTransport."""
    page = browser.new_page()
    try:
        page.goto(PAGE.as_uri())  # a secure context: WebTransport is not offered elsewhere
        return page.evaluate("typeof WebTransport") == "undefined"
    finally:
        page.close()


def test_webtransport_run_resumes_after_the_server_restarts(
    quic_browser: Browser,
    quic_server: ServerProcess,
    database: Database,
    certificate: tuple[Path, Path],
):
    if lacks_quic(quic_browser):  # a run asked for by name is refused at once, and says why
        url = page_url(quic_server, mode="webtransport/pipelined", autorun=1)
        result = run_page(quic_browser, url)
        assert result["state"] == "error"
        assert result["unsupported"] == "not supported by WebKitGTK: no WebTransport API"
        return
    cert, key = certificate
    # The same certificate and QUIC port after the restart: the page reconnects to what it knew.
    tls = ("--tls-cert", str(cert), "--tls-key", str(key))
    tls += ("--h2-port", str(free_port()), "--h3-port", str(free_port()))
    n = 20_000
    mode = "webtransport/pipelined"
    result, _ = run_across_restart(quic_browser, database, n, 2000, server_args=tls, mode=mode)
    assert result["state"] == "done", (result.get("error"), result)
    assert (result["transport"], result["mode"], result["protocol"]) == (
        "webtransport",
        "pipelined",
        "webtransport",
    )
    assert (result["acked"], result["errors"], result["rows_verified"]) == (n, 0, n)
    assert result["reconnects"] >= 1
    assert_every_number_once(database, result["run"], n)
