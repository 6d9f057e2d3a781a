"""Debian's Chromium, headless, driven by Playwright (never a browser Playwright downloads)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from .browser import BrowserMissing

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
def launch(*, accept_insecure_certs: bool = True) -> Iterator[Browser]:
    """Start headless Chromium; close it on exit. Raises BrowserMissing when it is not there.

    ``accept_insecure_certs``: take any certificate, as the tests' self-signed ones (as Firefox's
    launch does); without it, a self-signed certificate fails as in a user's fresh browser.
    """
    if not Path(EXECUTABLE).exists():
        raise BrowserMissing(
            f"Chromium is not installed at {EXECUTABLE} (apt-get install chromium, "
            "or point WSBENCH_CHROMIUM at it)"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        trust = ["--ignore-certificate-errors"] if accept_insecure_certs else []
        browser = playwright.chromium.launch(executable_path=EXECUTABLE, args=[*ARGS, *trust])
        try:
            yield browser
        finally:
            browser.close()
