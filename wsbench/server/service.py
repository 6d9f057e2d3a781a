"""What both transports share: the store and its writer, the page, who may call, what we say."""

from __future__ import annotations

import contextlib
import fcntl
import ipaddress
import logging
import socket
import struct
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

from websockets.typing import Origin

from .. import __version__
from ..addresses import is_loopback
from ..batching import batch_limit
from ..errors import StartupError
from ..resources import PAGE
from ..store import Store, open_store
from ..vocabulary import CommitMode
from . import tls
from .config import Config
from .metrics import Metrics, peak_rss_bytes
from .tls import Certificate
from .writer import GroupCommitWriter

# Where WebTransport sessions are opened on the HTTP/3 port (webtransport.py serves it).
WEBTRANSPORT_PATH = "/webtransport"

logger = logging.getLogger("wsbench")


SIOCGIFADDR = 0x8915  # Linux: an interface's (primary) IPv4 address
IF_INET6 = Path("/proc/net/if_inet6")  # Linux: every IPv6 address, one a line


def wildcard_versions(host: str) -> set[int]:
    """The IP versions a wildcard ``host`` listens on ("" both), or none for any other host."""
    if host == "":
        return {4, 6}
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return set()
    # "::" is IPv6 only: asyncio sets IPV6_V6ONLY on the sockets it binds.
    return {address.version} if address.is_unspecified else set()


def parse_if_inet6(text: str) -> list[str]:
    """The IPv6 addresses that /proc/net/if_inet6 lists, as literals."""
    return [
        str(ipaddress.IPv6Address(bytes.fromhex(line.split()[0]))) for line in text.splitlines()
    ]


def interface_addresses() -> list[str]:
    """Every IP address on this host's interfaces now, IPv4 and IPv6, as literals."""
    addresses: set[str] = set()
    with contextlib.suppress(OSError), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        for _, name in socket.if_nameindex():
            # struct ifreq: the name, then a sockaddr_in whose address is at bytes 20..24.
            request = struct.pack("16s24x", name.encode())
            try:
                answer = fcntl.ioctl(probe.fileno(), SIOCGIFADDR, request)
            except OSError:  # no IPv4 address, or the interface went away meanwhile
                continue
            addresses.add(socket.inet_ntoa(answer[20:24]))
    with contextlib.suppress(OSError):  # absent when IPv6 is off
        addresses.update(parse_if_inet6(IF_INET6.read_text()))
    return sorted(addresses)


def allowed_origins(
    host: str,
    ports: list[int],
    extra: tuple[str, ...] = (),
    scheme: str = "http",
    addresses: Sequence[str] = (),
) -> list[Origin | None]:
    """Origins whose pages may call us: the page's own, file:// pages on loopback, and ``extra``.

    ``addresses``: this host's IP addresses, the page's own hosts when ``host`` is a wildcard.
    """
    hosts = {f"[{host}]" if ":" in host else host} if host else set()
    if versions := wildcard_versions(host):
        # Browsers rarely name 0.0.0.0: the page came from one of the addresses we answer on.
        # By IP literal only: a hostname's page could be anyone's, by DNS rebinding.
        served = [ipaddress.ip_address(address) for address in addresses]
        hosts |= {
            f"[{ip}]" if ip.version == 6 else str(ip) for ip in served if ip.version in versions
        }
    origins: list[Origin | None] = [None]  # non-browser clients send no Origin
    if is_loopback(host):
        hosts |= {"127.0.0.1", "localhost", "[::1]"}
        origins.append(Origin("null"))  # what a page opened from disk sends
    origins += sorted(Origin(f"{scheme}://{name}:{port}") for name in hosts for port in ports)
    origins += [Origin(origin) for origin in extra if origin not in origins]
    return origins


class Service:
    """The store, its writer and the page, shared by the WebSocket and HTTP servers."""

    def __init__(
        self,
        config: Config,
        store: Store,
        writer: GroupCommitWriter,
        metrics: Metrics,
        certificate: Certificate | None = None,
    ) -> None:
        self.config = config
        self.certificate = certificate  # every port's, with --tls
        self.store = store
        self.writer = writer
        self.metrics = metrics
        metrics.gauge("wsbench_queue_depth", "Rows waiting for a commit", lambda: writer.pending)
        metrics.gauge("wsbench_peak_rss_bytes", "Peak resident memory", peak_rss_bytes)
        # Filled in place once both ports are bound; websockets keeps a reference to the list.
        self.origins: list[Origin | None] = []
        self.ws_port = config.port
        self.http_port = config.http_port
        self.h2_port: int | None = None
        self.h3_port: int | None = None  # UDP
        try:
            self.page = PAGE.read_bytes()
        except OSError as exc:
            raise StartupError(f"cannot read the page {PAGE}: {exc.strerror}") from None

    @classmethod
    @contextlib.asynccontextmanager
    async def start(cls, config: Config) -> AsyncIterator[Service]:
        """Open the store and start the writer; on exit, commit what is pending and close."""
        certificate = None
        if config.tls:  # first: a certificate that does not load needs no database to say so
            assert config.tls_cert is not None and config.tls_key is not None
            certificate = tls.load(
                Path(config.tls_cert), Path(config.tls_key), config.tls_self_signed
            )
        async with open_store(config.db, chosen=config.db_chosen) as store:
            max_batch = (
                1
                if config.commit is CommitMode.PER_MESSAGE
                else batch_limit(config.max_batch, store.max_allowed_packet)
            )
            metrics = Metrics(config.metrics_dir)
            async with (
                metrics.sharing(),
                GroupCommitWriter(store, max_batch, config.max_pending, metrics) as writer,
            ):
                yield cls(config, store, writer, metrics, certificate)

    @property
    def scheme(self) -> str:
        """``https`` with TLS, else ``http``: the scheme of the page and of every HTTP port."""
        return "https" if self.certificate else "http"

    def listening(
        self, ws_port: int, http_port: int, h2_port: int | None = None, h3_port: int | None = None
    ) -> None:
        """Record the bound ports, which decide the page's own origins."""
        self.ws_port, self.http_port, self.h2_port = ws_port, http_port, h2_port
        self.h3_port = h3_port
        ports = [ws_port, http_port, *(port for port in (h2_port, h3_port) if port)]
        host = self.config.host
        # Bound to every interface: the addresses it has now (ports are bound by now too).
        addresses = interface_addresses() if wildcard_versions(host) else []
        self.origins[:] = allowed_origins(
            host, ports, self.config.allow_origins, self.scheme, addresses
        )

    def info(self) -> dict[str, Any]:
        """What the server tells every client: where numbers go and how they are committed."""
        return {
            "server": "wsbench",
            "version": __version__,
            "store": self.store.kind,
            "target": self.store.target,
            "durable": self.store.durable,
            "commit": self.config.commit,
            "ws_port": self.ws_port,
            "http_port": self.http_port,
            "h2_port": self.h2_port,
            "h3_port": self.h3_port,
            "webtransport_path": WEBTRANSPORT_PATH if self.h3_port else None,
            "tls": self.certificate is not None,
            "certificate": (
                {
                    "sha256": self.certificate.sha256,
                    "spki_sha256": self.certificate.spki_sha256,
                    # Whether WebTransport can pin it by its hash (ECDSA, 14 days at most).
                    "pinnable": self.certificate.pinnable,
                }
                if self.certificate
                else None
            ),
            "notice": self.store.notice,
        }

    def cors_headers(self, origin: str | None) -> list[tuple[str, str]]:
        """CORS headers for an allowed browser origin, none for any other."""
        if origin is None or origin not in self.origins:
            return [("Vary", "Origin")]
        # Timing-Allow-Origin: the page reads each request's nextHopProtocol to label results.
        return [
            ("Access-Control-Allow-Origin", origin),
            ("Timing-Allow-Origin", origin),
            ("Vary", "Origin"),
        ]
