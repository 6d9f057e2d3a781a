"""The server as a child process, its log collected: for tests and benchmarks."""

from __future__ import annotations

import queue
import re
import subprocess
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

from ..resources import PAGE

ROOT = Path(__file__).resolve().parent.parent.parent  # the checkout
SERVER = ROOT / "websocket_server.py"
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
