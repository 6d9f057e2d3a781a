"""The server's configuration: one object built from command-line flags and the environment."""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ..store.url import FALLBACK_DB, DatabaseURL, parse_database_url
from ..vocabulary import CommitMode

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
DEFAULT_HTTP_PORT = 8766
DEFAULT_H2_PORT = 8767
DEFAULT_H3_PORT = 8768
DEFAULT_DB = "mysql://wsbench@127.0.0.1:3306/test"
DB_ENV = "WSBENCH_DB"


@dataclass(frozen=True)
class Config:
    """Everything the server needs to know, passed down explicitly."""

    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    http_port: int = DEFAULT_HTTP_PORT
    h2_port: int = DEFAULT_H2_PORT  # HTTP/2, with --tls only
    h3_port: int = DEFAULT_H3_PORT  # UDP: HTTP/3 and WebTransport, with --tls only
    tls: bool = False
    tls_cert: str | None = None  # PEM files; with --tls and none given, a self-signed pair
    tls_key: str | None = None
    tls_self_signed: bool = False
    db: DatabaseURL = parse_database_url(DEFAULT_DB)
    db_chosen: bool = False  # by --db or $WSBENCH_DB; if not, SQLite may stand in for MySQL
    commit: CommitMode = CommitMode.GROUP
    max_batch: int = 5000
    max_frame: int = 1024
    max_body: int = 1024
    max_pending: int = 100_000
    max_connections: int = 2000
    ping_interval: float = 20.0
    ping_timeout: float = 20.0
    allow_origins: tuple[str, ...] = ()
    workers: int = 1
    verbose: bool = False
    metrics_dir: str | None = None  # set by the --workers supervisor: where workers share metrics

    @property
    def reuse_port(self) -> bool:
        """Several worker processes share the ports (SO_REUSEPORT)."""
        return self.workers > 1


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def _port(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"not a TCP port: {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The command-line interface of ``websocket_server.py``."""
    parser = argparse.ArgumentParser(
        prog=None,  # websocket_server.py, or wsbench-server when installed
        description=(
            "WebSocket server that commits every number it receives to MySQL "
            "and acknowledges it once committed. Also serves the benchmark page."
        ),
    )
    parser.add_argument("--host", default=DEFAULT_HOST, help="address to listen on (%(default)s)")
    parser.add_argument(
        "--port",
        type=_port,
        default=DEFAULT_PORT,
        help="TCP port, 0 picks a free one (%(default)s)",
    )
    parser.add_argument(
        "--http-port",
        type=_port,
        default=DEFAULT_HTTP_PORT,
        help="TCP port of the HTTP endpoint POST /numbers, 0 picks a free one (%(default)s)",
    )
    parser.add_argument(
        "--h2-port",
        type=_port,
        default=DEFAULT_H2_PORT,
        help="with --tls: TCP port of POST /numbers over HTTP/2, 0 picks a free one (%(default)s)",
    )
    parser.add_argument(
        "--h3-port",
        type=_port,
        default=DEFAULT_H3_PORT,
        help="with --tls: UDP port of HTTP/3 and WebTransport (QUIC), 0 picks a free one "
        "(%(default)s)",
    )
    parser.add_argument(
        "--tls",
        action="store_true",
        help="serve every port over TLS: wss:// on --port, HTTPS with HTTP/1.1 on --http-port, "
        "with HTTP/2 on --h2-port, HTTP/3 and WebTransport on UDP --h3-port; without "
        "--tls-cert, a fresh self-signed certificate for 127.0.0.1, ::1 and localhost",
    )
    parser.add_argument(
        "--tls-cert",
        metavar="FILE",
        help="PEM certificate for the TLS ports (with --tls-key; implies --tls), e.g. from mkcert",
    )
    parser.add_argument(
        "--tls-key", metavar="FILE", help="PEM private key of --tls-cert (implies --tls)"
    )
    parser.add_argument(
        "--db",
        metavar="URL",
        default=None,
        help=(
            "mysql://user:password@host:port/database (several hosts, e.g. a Galera cluster's: "
            "host1:port,host2:port,...; the server fails over between them), sqlite:///file.db, "
            f"or null: to store nothing (default: ${DB_ENV}, else {DEFAULT_DB}, else the same "
            f"over MySQL's unix socket, else {FALLBACK_DB} when no MySQL answers)"
        ),
    )
    parser.add_argument(
        "--commit",
        choices=[mode.value for mode in CommitMode],
        default=CommitMode.GROUP.value,
        help=(
            "group: one transaction (INSERTs + COMMIT) for whatever has arrived; per-message: "
            "one INSERT + COMMIT per number, the naive way (%(default)s)"
        ),
    )
    parser.add_argument(
        "--max-batch",
        type=_positive_int,
        default=Config.max_batch,
        help="most rows per transaction (INSERTs + COMMIT), capped by max_allowed_packet "
        "(%(default)s)",
    )
    parser.add_argument(
        "--max-frame",
        type=_positive_int,
        default=Config.max_frame,
        help="largest WebSocket frame accepted, in bytes (%(default)s)",
    )
    parser.add_argument(
        "--max-body",
        type=_positive_int,
        default=Config.max_body,
        help="largest HTTP request body accepted, in bytes (%(default)s)",
    )
    parser.add_argument(
        "--max-pending",
        type=_positive_int,
        default=Config.max_pending,
        help="numbers waiting for a commit before reading pauses (%(default)s)",
    )
    parser.add_argument(
        "--max-connections",
        type=_positive_int,
        default=Config.max_connections,
        help="open connections on each port: WebSocket, HTTP/1.1, HTTPS, HTTP/2 and QUIC; "
        "beyond it a WebSocket handshake or an HTTP/1.1 connection gets 503, an HTTPS one "
        "waits in the accept queue, a QUIC one is closed (%(default)s)",
    )
    parser.add_argument(
        "--ping-interval",
        type=float,
        default=Config.ping_interval,
        help="seconds between pings that find dead peers (%(default)s)",
    )
    parser.add_argument(
        "--ping-timeout",
        type=float,
        default=Config.ping_timeout,
        help="seconds to wait for a pong before dropping the peer (%(default)s)",
    )
    parser.add_argument(
        "--allow-origin",
        metavar="ORIGIN",
        action="append",
        default=[],
        help=(
            "also accept browser pages from this origin, e.g. https://bench.example.com "
            "(repeatable; the page's own origins are always accepted)"
        ),
    )
    parser.add_argument(
        "--workers",
        type=_positive_int,
        default=1,
        help="server processes sharing the ports (SO_REUSEPORT), each with a writer (%(default)s)",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log each connection")
    return parser


def load_config(
    argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None
) -> Config:
    """Build the configuration from flags, then the environment, then defaults."""
    environ = os.environ if environ is None else environ
    parser = build_parser()
    args = parser.parse_args(argv)
    chosen = args.db or environ.get(DB_ENV)
    try:
        db = parse_database_url(chosen or DEFAULT_DB)
    except ValueError as exc:
        parser.error(str(exc))
    if (args.tls_cert is None) != (args.tls_key is None):
        parser.error("--tls-cert and --tls-key go together: give both, or neither")
    tls = args.tls or args.tls_cert is not None
    ports = (args.port, args.http_port, *((args.h2_port,) if tls else ()))
    if args.workers > 1 and 0 in ports:
        also = ", --h2-port" if tls else ""
        parser.error(f"--workers needs fixed ports: give --port{also} and --http-port other than 0")
    return Config(
        host=args.host,
        port=args.port,
        http_port=args.http_port,
        h2_port=args.h2_port,
        h3_port=args.h3_port,
        tls=tls,
        tls_cert=args.tls_cert,
        tls_key=args.tls_key,
        db=db,
        db_chosen=bool(chosen),
        commit=CommitMode(args.commit),
        max_batch=args.max_batch,
        max_frame=args.max_frame,
        max_body=args.max_body,
        max_pending=args.max_pending,
        max_connections=args.max_connections,
        ping_interval=args.ping_interval,
        ping_timeout=args.ping_timeout,
        allow_origins=tuple(args.allow_origin),
        workers=args.workers,
        verbose=args.verbose,
    )
