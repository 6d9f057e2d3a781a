"""The server as a child process, its log collected: for tests and benchmarks."""

from __future__ import annotations

import json
import queue
import re
import ssl
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

from ..link import STATS
from ..resources import PAGE
from .browser import QuicOrigin

ROOT = Path(__file__).resolve().parent.parent.parent  # the checkout
SERVER = ROOT / "websocket_server.py"
# Every port a free one, unless the arguments say otherwise (the last of a flag wins).
FREE_PORTS = ("--port", "0", "--http-port", "0", "--h2-port", "0", "--h3-port", "0")
LINK_READY = re.compile(r"^wsbench\.link: .* reached at (?P<address>\S+)$", re.MULTILINE)
LISTENING = re.compile(
    r"listening on (?P<ws>wss?)://(?P<host>\S+):(?P<port>\d+) and https?://\S+:(?P<http_port>\d+)"
    r"(?: and https://\S+:(?P<h2_port>\d+) \(HTTP/2\))?"
    r"(?: and https://\S+:(?P<h3_port>\d+) \(HTTP/3)?"
)


class LoggedProcess:
    """A child process whose output (stdout and stderr) is collected line by line."""

    def __init__(
        self,
        command: Sequence[str],
        env: dict[str, str] | None = None,
        cwd: Path = ROOT,
        stdin: int | None = None,
    ) -> None:
        self.lines: list[str] = []
        self._lines: queue.Queue[str | None] = queue.Queue()
        self.process = subprocess.Popen(
            list(command),
            cwd=cwd,
            stdin=stdin,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
        )
        threading.Thread(target=self._drain, daemon=True).start()

    @property
    def log(self) -> str:
        """Everything the process printed so far."""
        return "".join(self.lines)

    def mark(self) -> int:
        """Where the log ends now: ``log_since(mark)`` is then only what was printed after it,
        for a test sharing a long-running process with the tests before it."""
        return len(self.lines)

    def log_since(self, mark: int) -> str:
        """What the process printed after ``mark`` (from ``mark()``)."""
        return "".join(self.lines[mark:])

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
        """Wait for the next output line that matches ``pattern``."""
        while True:
            try:
                line = self._lines.get(timeout=timeout_s)
            except queue.Empty:
                raise RuntimeError(f"no {pattern!r} in {timeout_s} s:\n" + self.log) from None
            if line is None:
                self.process.wait()
                raise RuntimeError(f"the process exited before {pattern!r}:\n" + self.log)
            if match := re.search(pattern, line):
                return match


class ServerProcess(LoggedProcess):
    """``python websocket_server.py --port 0 ...`` in a child process, its log collected."""

    def __init__(
        self,
        *args: str,
        env: dict[str, str] | None = None,
        cwd: Path = ROOT,
        prefix: Sequence[str] = (),
        stdin: int | None = None,
    ) -> None:
        command = [*prefix, sys.executable, str(SERVER), *FREE_PORTS, *args]
        super().__init__(command, env, cwd, stdin)
        listening = self._wait_until_listening()
        self.host = listening["host"]
        self.port, self.http_port = int(listening["port"]), int(listening["http_port"])
        self.h2_port = int(listening["h2_port"]) if listening["h2_port"] else None
        self.h3_port = int(listening["h3_port"]) if listening["h3_port"] else None
        self.tls = listening["ws"] == "wss"

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def ws_url(self) -> str:
        """Where WebSocket clients connect."""
        return f"{'wss' if self.tls else 'ws'}://{self.host}:{self.port}"

    @property
    def http_url(self) -> str:
        """The HTTP endpoint (POST /numbers); the page and run counts are served here too."""
        return f"{'https' if self.tls else 'http'}://{self.host}:{self.http_port}"

    @property
    def h2_url(self) -> str:
        """The HTTP/2 endpoint, with --tls."""
        if self.h2_port is None:
            raise ValueError("this server has no HTTP/2 port: start it with --tls")
        return f"https://{self.host}:{self.h2_port}"

    def quic_origin(self) -> QuicOrigin | None:
        """What a browser needs to speak HTTP/3 to this server; None without --tls."""
        if self.h3_port is None:
            return None
        return QuicOrigin.of(self.host, self.info())

    def info(self) -> dict[str, Any]:
        """The server's ``GET /info``."""
        context = None
        if self.tls:  # its own self-signed certificate, or the one given: either is fine here
            context = ssl.create_default_context()
            context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
        with urllib.request.urlopen(f"{self.http_url}/info", timeout=10, context=context) as r:
            return cast(dict[str, Any], json.load(r))

    def client_ssl(self) -> ssl.SSLContext | None:
        """For a --tls server: a client context that trusts the certificate it shows, else None."""
        if not self.tls:
            return None
        pem = ssl.get_server_certificate((self.host.strip("[]"), self.port), timeout=10)
        return ssl.create_default_context(cadata=pem)

    def _wait_until_listening(self) -> dict[str, str]:
        try:
            match = self.wait_for(LISTENING)
        except RuntimeError:
            self.stop()
            raise
        return match.groupdict()


class LinkedServer(ServerProcess):
    """The server behind an emulated link: ``python -m wsbench.link LINK -- ...`` as root.

    It listens on every address of its namespace and is reached at the link's far side. A page
    opened from disk (``Origin: null``) is admitted only when ``--allow-origin null`` is given.
    """

    def __init__(self, link: str, *args: str, seed: int | None = None) -> None:
        prefix = link_command(link, seed)
        super().__init__(*args, "--host", "0.0.0.0", prefix=prefix, stdin=subprocess.PIPE)
        ready = LINK_READY.search(self.log)
        if ready is None:
            self.stop()
            raise RuntimeError(f"the link did not say where the server is:\n{self.log}")
        self.host = ready["address"]

    def link_report(
        self, window_ms: tuple[float, float] | None = None, timeout_s: float = 30
    ) -> dict[str, Any]:
        """The link's counters and accuracy since the last report, and a new period begun."""
        return link_report(self, window_ms, timeout_s)


class LinkedProcess(LoggedProcess):
    """Any command behind an emulated link (``python -m wsbench.link``), as root."""

    def __init__(self, link: str, *command: str, seed: int | None = None) -> None:
        self.link = link
        super().__init__([*link_command(link, seed), *command], stdin=subprocess.PIPE)
        try:
            self.address = self.wait_for(LINK_READY)["address"]
        except RuntimeError:
            self.stop()
            raise

    def __enter__(self) -> LinkedProcess:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def link_report(
        self, window_ms: tuple[float, float] | None = None, timeout_s: float = 30
    ) -> dict[str, Any]:
        """The link's counters and accuracy since the last report, and a new period begun."""
        return link_report(self, window_ms, timeout_s)


def link_command(link: str, seed: int | None) -> list[str]:
    """``python -m wsbench.link --control [--seed N] LINK --``: what goes before a command."""
    seeded = ["--seed", str(seed)] if seed is not None else []
    return [sys.executable, "-m", "wsbench.link", "--control", *seeded, link, "--"]


def link_report(
    process: LoggedProcess, window_ms: tuple[float, float] | None = None, timeout_s: float = 30
) -> dict[str, Any]:
    """Ask a ``python -m wsbench.link --control`` process for its report, and read it.

    ``window_ms``: also the traffic between these two times (ms since the epoch).
    """
    assert process.process.stdin is not None, "started without --control"
    window = "" if window_ms is None else f" {window_ms[0]!r} {window_ms[1]!r}"
    process.process.stdin.write(f"report{window}\n")
    process.process.stdin.flush()
    match = process.wait_for(re.escape(STATS) + r"(?P<json>\{.*\})", timeout_s)
    report: dict[str, Any] = json.loads(match["json"])
    return report


def page_url(server: ServerProcess, **params: object) -> str:
    """The page opened from disk (``file://``), pointed at a server, with query parameters."""
    query = "&".join(f"{key}={value}" for key, value in {**params, "server": server.ws_url}.items())
    return f"{PAGE.as_uri()}?{query}"
