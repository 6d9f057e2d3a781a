"""What every transport shares: the store and its writer, the runs, the ports, who may call, what
the server says about itself, and the one drain."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

from websockets.typing import Origin

from .. import __version__
from ..batching import batch_limit
from ..errors import StartupError
from ..resources import PAGE
from ..store import Store, open_store
from ..vocabulary import CommitMode, Port
from . import tls
from .config import Config
from .metrics import Metrics, peak_rss_bytes
from .origins import allowed_origins, interface_addresses, wildcard_versions
from .runs import Runs
from .tls import Certificate
from .writer import GroupCommitWriter

# Where WebTransport sessions are opened on the HTTP/3 port (webtransport.py serves it).
WEBTRANSPORT_PATH = "/webtransport"

logger = logging.getLogger("wsbench")


class Service:
    """The store, its writer, the runs and the page, shared by every transport."""

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
        # Filled in place once the ports are bound; websockets keeps a reference to the list.
        self.origins: list[Origin | None] = []
        # Each port kind's bound port, once listening; until then the configured ones.
        self.ports: dict[Port, int] = {Port.WEBSOCKET: config.port, Port.HTTP: config.http_port}
        self.runs = Runs()  # the one channel feeding each run, whichever transport it came by
        self.stopping = False  # set by drain(): numbers are no longer taken, on any port
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

    @property
    def ws_port(self) -> int:
        """The WebSocket port (the page's own)."""
        return self.ports[Port.WEBSOCKET]

    @property
    def http_port(self) -> int:
        """The HTTP/1.1 port."""
        return self.ports[Port.HTTP]

    @property
    def h2_port(self) -> int | None:
        """The HTTP/2 port, with --tls."""
        return self.ports.get(Port.HTTP2)

    @property
    def h3_port(self) -> int | None:
        """The QUIC (UDP) port of HTTP/3 and WebTransport, with --tls and one process."""
        return self.ports.get(Port.HTTP3)

    def listening(self, ports: Mapping[Port, int]) -> None:
        """Record the bound ports, which decide the page's own origins."""
        self.ports.update(ports)
        host = self.config.host
        # Bound to every interface: the addresses it has now (ports are bound by now too).
        addresses = interface_addresses() if wildcard_versions(host) else []
        self.origins[:] = allowed_origins(
            host, list(self.ports.values()), self.config.allow_origins, self.scheme, addresses
        )

    async def drain(self) -> None:
        """Stop taking numbers on every port, commit what was received and send its acks."""
        self.stopping = True
        await self.writer.flush()
        await self.runs.acks_delivered(self.config.ping_timeout)

    def info(self) -> dict[str, Any]:
        """What the server tells every client: where numbers go and how they are committed."""
        return {
            "server": "wsbench",
            "version": __version__,
            "store": self.store.kind,
            "target": self.store.target,
            "durable": self.store.durable,
            "commit": self.config.commit,
            **{port.value: self.ports.get(port) for port in Port},
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
