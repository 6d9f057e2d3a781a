"""A fresh browser meets the self-signed certificate: the page explains what to do."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from wsbench.testing import chromium, firefox, webkit
from wsbench.testing.browser import Browser, BrowserMissing, BrowserName, run_page
from wsbench.testing.server import ServerProcess, page_url

from .conftest import missing


@pytest.fixture(scope="module", params=list(BrowserName))
def fresh_browser(request: pytest.FixtureRequest) -> Iterator[Browser]:
    """A browser that trusts no self-signed certificate, as a user's own does."""
    launcher = {
        BrowserName.CHROMIUM: chromium.launch,
        BrowserName.FIREFOX: firefox.launch,
        BrowserName.WEBKIT: webkit.launch,
    }[request.param]
    try:
        with launcher(accept_insecure_certs=False) as launched:
            yield launched
    except BrowserMissing as exc:
        missing(str(exc))


def test_an_untrusted_certificate_is_explained_with_the_addresses_to_accept(
    fresh_browser: Browser, tls_server: ServerProcess
):
    result = run_page(fresh_browser, page_url(tls_server, n=100, autorun=1))
    assert result["state"] == "error", result
    # The page knows the WebSocket port from its URL; the others it learns once that one works.
    assert "does not trust the server's certificate" in result["error"]
    assert f"https://127.0.0.1:{tls_server.port}/" in result["error"]
    assert "--tls-cert" in result["error"]
