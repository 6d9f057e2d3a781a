"""What one benchmark is asked to do: its settings, frozen, and the URL arithmetic they need."""

from __future__ import annotations

import dataclasses
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from ..addresses import is_loopback
from ..link import Link
from .models import Case

DEFAULT_SERVER = "ws://127.0.0.1:8765"
DEFAULT_DB_URL = "mysql://wsbench@127.0.0.1:3306/test"
HTTP_WINDOW = 32  # requests in flight per HTTP client when --window is not given


def parse_choices(values: Sequence[str] | None, allowed: Sequence[str], default: str) -> list[str]:
    """Flatten repeated and comma-separated choices, in order, without duplicates."""
    chosen: list[str] = []
    for value in values or [default]:
        for item in value.split(","):
            item = item.strip()
            if item not in allowed:
                raise ValueError(f"{item!r} is not one of {', '.join(allowed)}")
            if item not in chosen:
                chosen.append(item)
    return chosen


def http_base(ws_url: str) -> str:
    """The plain-HTTP address of a WebSocket URL's host and port: ws://h:p -> http://h:p."""
    for ws, http in (("ws://", "http://"), ("wss://", "https://")):
        if ws_url.startswith(ws):
            return http + ws_url.removeprefix(ws).split("/", 1)[0]
    raise ValueError(f"not a WebSocket URL: {ws_url} (use ws://HOST:PORT)")


def _on_host(url: str, host: str) -> str:
    """``url`` with its host replaced by ``host`` when it names this machine's loopback."""
    parts = urlsplit(url)
    if parts.hostname is None or not is_loopback(parts.hostname):
        return url
    return parts._replace(netloc=f"{host}:{parts.port}" if parts.port else host).geturl()


def with_port(base: str, port: int) -> str:
    """The same scheme and host on another port: http://h:8765, 8766 -> http://h:8766."""
    parts = urlsplit(base)
    host = parts.hostname or ""
    return f"{parts.scheme}://{f'[{host}]' if ':' in host else host}:{port}"


@dataclass(frozen=True)
class BenchConfig:
    """Everything one benchmark needs to know, from its flags."""

    server: str
    http: str | None  # given by --http; else found from the server's /info
    http_base: str  # the WebSocket URL's host and port over plain HTTP
    cases: tuple[Case, ...]
    n: int
    nhttp: int
    c: int
    runs: int
    warmup: int
    window: int | None
    http_pool: int
    json: Path | None
    verify: bool
    db_url: str
    run_prefix: str
    timeout_s: float
    quiet: bool
    tls_ca: str | None = None
    insecure: bool = False
    link: Link | None = None  # the emulated link the load goes through

    def through_link(self, host: str) -> BenchConfig:
        """The same, from behind the link: a loopback server is reached at ``host``."""
        return dataclasses.replace(
            self,
            server=_on_host(self.server, host),
            http=_on_host(self.http, host) if self.http else None,
            http_base=_on_host(self.http_base, host),
        )

    @property
    def tls(self) -> bool:
        """The server runs with --tls: every port speaks TLS."""
        return self.server.startswith("wss://")

    def ssl_context(self) -> ssl.SSLContext | None:
        """How the server's certificate is checked, for a wss:// server."""
        if not self.tls:
            return None
        context = ssl.create_default_context(cafile=self.tls_ca)
        if self.insecure:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context
