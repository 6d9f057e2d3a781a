"""The small part of a browser that tests and benchmarks use, whichever browser it is.

Its shape is a subset of Playwright's sync API (``Browser.new_page``, ``Page.goto``, ...), so
Playwright's Chromium fits it as it is and another browser needs one module that speaks it.
"""

from __future__ import annotations

import contextlib
import importlib
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol, cast

# The page sets this state when a run has ended, one way or the other.
DONE = "['done', 'error'].includes(document.body.dataset.state)"


class BrowserName(StrEnum):
    """The browsers the page is tested and benchmarked in."""

    CHROMIUM = "chromium"
    FIREFOX = "firefox"
    WEBKIT = "webkit"  # WebKitGTK: Safari's engine


class BrowserMissing(RuntimeError):
    """The browser is not installed or did not start; the message says how to get it."""


@dataclass(frozen=True)
class QuicOrigin:
    """A server's HTTP/3 port, and the key Chromium needs to trust it there (self-signed)."""

    host: str
    port: int
    spki_sha256: str

    @classmethod
    def of(cls, host: str, info: Mapping[str, Any]) -> QuicOrigin | None:
        """The HTTP/3 origin a server's ``/info`` names, or None when it has none."""
        if not info.get("h3_port") or not info.get("certificate"):
            return None
        return cls(host, info["h3_port"], info["certificate"]["spki_sha256"])


class Page(Protocol):
    """One tab."""

    def goto(self, url: str) -> object:
        """Open ``url`` and wait until it has loaded."""

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page."""

    def wait_for_function(self, expression: str, *, timeout: float) -> object:
        """Wait until a JavaScript expression is truthy; ``timeout`` in milliseconds."""

    def inner_text(self, selector: str) -> str:
        """The rendered text of the first element matching a CSS selector."""

    def click(self, selector: str) -> None:
        """Click the first element matching a CSS selector with the mouse, as a user does."""

    def close(self) -> None:
        """Close the tab."""


class Browser(Protocol):
    """A running browser."""

    @property
    def version(self) -> str:
        """The browser's version, e.g. ``156.0.8078.114``."""

    def new_page(self) -> Page:
        """A fresh tab."""


class Driver(Protocol):
    """What a browser's module offers: where its executable is, and how to start it."""

    EXECUTABLE: str

    def launch(
        self, *, quic: Sequence[QuicOrigin] = ()
    ) -> contextlib.AbstractContextManager[Browser]:
        """Start the browser (as a context manager that stops it again), set up to speak
        HTTP/3 to ``quic``'s servers where it can."""


def driver(name: BrowserName) -> Driver:
    """The module that drives ``name``: a new browser is one new module and one line here."""
    # Imported on demand: Chromium's pulls in Playwright, which Firefox does not need.
    module = importlib.import_module(f"{__package__}.{name.value}")
    return cast(Driver, module)


def installed() -> list[BrowserName]:
    """The browsers whose executable is on this machine."""
    return [name for name in BrowserName if Path(driver(name).EXECUTABLE).exists()]


@contextlib.contextmanager
def launch(name: BrowserName, quic: Sequence[QuicOrigin] = ()) -> Iterator[Browser]:
    """Start a browser by name; stop it on exit. Raises BrowserMissing if it cannot start.

    ``quic``: servers whose HTTP/3 port the browser should use despite their self-signed
    certificates (Chromium must be told at start; Firefox follows their Alt-Svc).
    """
    with driver(name).launch(quic=quic) as browser:
        yield browser


def text_of(page: Page, selector: str, timeout_ms: float) -> str:
    """The rendered text of the first element matching a CSS selector, once there is one."""
    query = f"document.querySelector({json.dumps(selector)})"
    page.wait_for_function(query, timeout=timeout_ms)
    return str(page.evaluate(f"{query}.innerText"))


def open_page(browser: Browser, url: str, timeout_s: float = 120) -> tuple[str, Any]:
    """Open the page in a fresh tab, wait until it is done or failed: (state, benchmarkResult)."""
    page = browser.new_page()
    try:
        page.goto(url)
        page.wait_for_function(DONE, timeout=timeout_s * 1000)
        return page.evaluate("document.body.dataset.state"), page.evaluate("window.benchmarkResult")
    finally:
        page.close()


def run_page(browser: Browser, url: str, timeout_s: float = 120) -> dict[str, Any]:
    """Open the page for one run; return its ``benchmarkResult`` with the final ``state``."""
    state, result = open_page(browser, url, timeout_s)
    return {**result, "state": state}
