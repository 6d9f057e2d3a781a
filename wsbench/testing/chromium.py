"""Debian's Chromium, headless, driven by Playwright (never a browser Playwright downloads)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from .browser import BrowserMissing, QuicOrigin

if TYPE_CHECKING:
    from playwright.sync_api import Browser

EXECUTABLE = os.environ.get("WSBENCH_CHROMIUM", "/usr/bin/chromium")
# Without the background-networking flags Chromium keeps trying to reach Google's hosts.
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@contextlib.contextmanager
def launch(
    *, accept_insecure_certs: bool = True, quic: Sequence[QuicOrigin] = ()
) -> Iterator[Browser]:
    """Start headless Chromium; close it on exit. Raises BrowserMissing when it is not there.

    ``accept_insecure_certs``: take any certificate, as the tests' self-signed ones (as Firefox's
    launch does); without it, a self-signed certificate fails as in a user's fresh browser.
    ``quic``: HTTP/3 ports to use from the first request on, trusting their keys.
    """
    if not Path(EXECUTABLE).exists():
        raise BrowserMissing(
            f"Chromium is not installed at {EXECUTABLE} (apt-get install chromium, "
            "or point WSBENCH_CHROMIUM at it)"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        trust = ["--ignore-certificate-errors"] if accept_insecure_certs else []
        trust += quic_args(quic)
        browser = playwright.chromium.launch(executable_path=EXECUTABLE, args=[*ARGS, *trust])
        try:
            yield browser
        finally:
            browser.close()


def quic_args(quic: Sequence[QuicOrigin]) -> list[str]:
    """The flags that make Chromium speak HTTP/3 to these self-signed servers."""
    # Chromium refuses QUIC to roots it does not ship, --ignore-certificate-errors or not,
    # unless the key is named; and it takes no Alt-Svc from them, so QUIC is forced.
    if not quic:
        return []
    return [
        "--origin-to-force-quic-on=" + ",".join(f"{q.host}:{q.port}" for q in quic),
        "--ignore-certificate-errors-spki-list="
        + ",".join(dict.fromkeys(q.spki_sha256 for q in quic)),
    ]
