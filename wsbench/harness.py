"""Drive the real thing from outside: the server as a child process, the page in Chromium.

Shared by the tests and the benchmark scripts.
"""

from __future__ import annotations

import os
import queue
import re
import subprocess
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SERVER = ROOT / "websocket_server.py"
PAGE = ROOT / "websocket.html"
CHROMIUM = os.environ.get("WSBENCH_CHROMIUM", "/usr/bin/chromium")
# Without the background-networking flags Chromium keeps trying to reach Google's hosts.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
LISTENING = re.compile(r"listening on ws://(\S+):(\d+) and http://\S+:(\d+)")


class ServerProcess:
    """``python websocket_server.py --port 0 ...`` in a child process, its log collected."""

    def __init__(
        self,
        *args: str,
        env: dict[str, str] | None = None,
        cwd: Path = ROOT,
        prefix: Sequence[str] = (),
    ) -> None:
        self.lines: list[str] = []
        self._lines: queue.Queue[str | None] = queue.Queue()
        self.process = subprocess.Popen(
            [*prefix, sys.executable, str(SERVER), "--port", "0", "--http-port", "0", *args],
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
        )
        threading.Thread(target=self._drain, daemon=True).start()
        self.host, self.port, self.http_port = self._wait_until_listening()

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def ws_url(self) -> str:
        """Where WebSocket clients connect."""
        return f"ws://{self.host}:{self.port}"

    @property
    def http_url(self) -> str:
        """The HTTP endpoint (POST /numbers); the page and run counts are served here too."""
        return f"http://{self.host}:{self.http_port}"

    @property
    def log(self) -> str:
        """Everything the server printed so far."""
        return "".join(self.lines)

    def stop(self) -> int:
        """Stop with SIGTERM (SIGKILL after 20 s) and return the exit status."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode

    def _drain(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)
            self._lines.put(line)
        self._lines.put(None)

    def wait_for(self, pattern: str | re.Pattern[str], timeout_s: float = 30) -> re.Match[str]:
        """Wait for the next log line that matches ``pattern``."""
        while True:
            try:
                line = self._lines.get(timeout=timeout_s)
            except queue.Empty:
                raise RuntimeError(f"no {pattern!r} in {timeout_s} s:\n" + self.log) from None
            if line is None:
                self.process.wait()
                raise RuntimeError(f"the server exited before {pattern!r}:\n" + self.log)
            if match := re.search(pattern, line):
                return match

    def _wait_until_listening(self) -> tuple[str, int, int]:
        try:
            match = self.wait_for(LISTENING)
        except RuntimeError:
            self.stop()
            raise
        return match.group(1), int(match.group(2)), int(match.group(3))


def page_url(server: ServerProcess, **params: object) -> str:
    """The page opened from disk (``file://``), pointed at a server, with query parameters."""
    query = "&".join(f"{key}={value}" for key, value in {**params, "server": server.ws_url}.items())
    return f"{PAGE.as_uri()}?{query}"


def run_page(browser: Any, url: str, timeout_s: float = 120) -> dict[str, Any]:
    """Open the page for one run; return its ``benchmarkResult`` with the final ``state``."""
    state, result = open_page(browser, url, timeout_s)
    return {**result, "state": state}


def open_page(browser: Any, url: str, timeout_s: float = 120) -> tuple[str, Any]:
    """Open the page in a fresh tab, wait until it is done or failed: (state, benchmarkResult)."""
    page = browser.new_page()
    try:
        page.goto(url)
        page.wait_for_function(
            "['done', 'error'].includes(document.body.dataset.state)", timeout=timeout_s * 1000
        )
        return page.evaluate("document.body.dataset.state"), page.evaluate("window.benchmarkResult")
    finally:
        page.close()
