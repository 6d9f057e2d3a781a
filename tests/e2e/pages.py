"""What the page tests share: the page as a user drives it (its run ids: conftest's run_prefix)."""

from __future__ import annotations

from typing import Any

from wsbench.testing.browser import DONE, Page
from wsbench.testing.server import ServerProcess


def open_served(page: Page, server: ServerProcess, run_prefix: str) -> None:
    """Open the page where the server serves it, and wait until it knows the server's modes."""
    scheme = "https" if server.tls else "http"
    page.goto(f"{scheme}://{server.host}:{server.port}/?run_prefix={run_prefix}")
    page.wait_for_function("!document.getElementById('store').hidden", timeout=30_000)


def finish(page: Page, timeout_s: float) -> tuple[str, Any]:
    """Wait until the page's run has ended: (state, benchmarkResult)."""
    page.wait_for_function(DONE, timeout=timeout_s * 1000)
    return page.evaluate("document.body.dataset.state"), page.evaluate("window.benchmarkResult")


def choose(page: Page, mode_id: str) -> None:
    """Pick a mode in the page's Mode list, as a user does."""
    fill(page, "mode", mode_id)


def fill(page: Page, element_id: str, value: str) -> None:
    """Set a field or list of the page (by id) to ``value``, and tell the page it changed."""
    page.evaluate(
        f"(() => {{ const e = document.getElementById({element_id!r}); e.value = {value!r};"
        " e.dispatchEvent(new Event('change')); return e.value; })()"
    )
