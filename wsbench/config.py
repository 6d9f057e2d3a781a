"""The server's configuration: one object built from command-line flags and the environment."""

from __future__ import annotations

import argparse
import ipaddress
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import parse_qsl, unquote, urlsplit

from .vocabulary import CommitMode, StoreKind

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
DEFAULT_HTTP_PORT = 8766
DEFAULT_H2_PORT = 8767
DEFAULT_H3_PORT = 8768
DEFAULT_DB = "mysql://wsbench@127.0.0.1:3306/test"
DB_ENV = "WSBENCH_DB"
# Where numbers go when no database was asked for and no MySQL answers at the default address
# nor over its unix socket.
FALLBACK_DB = "sqlite:///wsbench.db"


# With several hosts, how long a batch may go from node to node before it fails, per host.
FAILOVER_S_PER_HOST = 3.0
URL_OPTIONS = ("unix_socket", "failover_timeout")


@dataclass(frozen=True)
class DatabaseURL:
    """Where numbers go: ``mysql://user:password@host:port/database`` (or several hosts,
    ``mysql://user@h1:3306,h2:3306,h3:3306/test``), ``sqlite:///file.db``
    (``sqlite:////absolute/file.db``) or ``null:``."""

    scheme: StoreKind
    user: str = "wsbench"
    password: str = ""
    host: str = "127.0.0.1"  # with several hosts: the first
    port: int = 3306
    database: str = "test"
    path: str = ""  # the SQLite file
    unix_socket: str = ""  # MySQL over a unix socket instead of TCP: ?unix_socket=/run/...
    hosts: tuple[tuple[str, int], ...] = ()  # every (host, port) of a cluster; () for one host
    failover_s: float = 0.0  # ?failover_timeout=S: a batch's bound across hosts (0: per host)

    def __repr__(self) -> str:
        return f"DatabaseURL({self.redacted()!r})"

    @property
    def nodes(self) -> tuple[tuple[str, int], ...]:
        """Every (host, port) the URL names, in order: one, or a cluster's."""
        return self.hosts or ((self.host, self.port),)

    @property
    def failover_deadline_s(self) -> float:
        """How long a batch may go from node to node before it fails."""
        return self.failover_s or FAILOVER_S_PER_HOST * len(self.nodes)

    def redacted(self) -> str:
        """The URL as it may be logged: never with the password."""
        if self.scheme is StoreKind.NULL:
            return "null:"
        if self.scheme is StoreKind.SQLITE:
            return f"sqlite:///{self.path}"
        secret = ":***" if self.password else ""
        where = ",".join(f"{_bracketed(host)}:{port}" for host, port in self.nodes)
        options = [f"unix_socket={self.unix_socket}"] if self.unix_socket else []
        options += [f"failover_timeout={self.failover_s:g}"] if self.failover_s else []
        query = f"?{'&'.join(options)}" if options else ""
        return f"mysql://{self.user}{secret}@{where}/{self.database}{query}"


def _bracketed(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _host_and_port(text: str) -> tuple[str, int]:
    """One ``host:port`` of a host list (``[v6]:port``; a host alone means port 3306)."""
    host, port = text, "3306"
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port = rest.removeprefix(":") or port
    elif ":" in text:
        host, _, port = text.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) <= 65535:
        raise ValueError(f"bad host {text!r} in the database URL: use HOST:PORT,HOST:PORT,...")
    return host, int(port)


def _hosts(netloc: str) -> tuple[tuple[str, int], ...]:
    """The hosts of a URL's network location, after any ``user:password@``."""
    hosts = netloc.rpartition("@")[2]
    return tuple(_host_and_port(part.strip()) for part in hosts.split(",")) if hosts else ()


def parse_database_url(url: str) -> DatabaseURL:
    """Parse a database URL, raising ValueError with a readable reason (never the password)."""
    parts = urlsplit(url.strip())
    if parts.scheme == "null":
        return DatabaseURL(scheme=StoreKind.NULL)
    if parts.scheme == "sqlite":
        # As in SQLAlchemy: sqlite:///relative.db and sqlite:////absolute.db
        if parts.netloc or not parts.path.startswith("/") or len(parts.path) < 2:
            raise ValueError("bad SQLite URL: use sqlite:///file.db or sqlite:////absolute/file.db")
        return DatabaseURL(scheme=StoreKind.SQLITE, path=unquote(parts.path[1:]))
    if parts.scheme != "mysql":
        raise ValueError(
            f"unsupported database URL scheme {parts.scheme + ':' if parts.scheme else '(none)'}"
            " use mysql://user:password@host:port/database, sqlite:///file.db or null:"
        )
    hosts = _hosts(parts.netloc) or (("127.0.0.1", 3306),)
    database = unquote(parts.path.lstrip("/")) or "test"
    if "/" in database:
        raise ValueError(f"bad database name {database!r} in the database URL")
    options = dict(parse_qsl(parts.query))
    if set(options) - set(URL_OPTIONS):
        raise ValueError(
            f"unknown database URL option {sorted(set(options) - set(URL_OPTIONS))[0]!r}: the "
            "options are ?unix_socket=/path/to/mysqld.sock and ?failover_timeout=SECONDS"
        )
    if len(hosts) > 1 and "unix_socket" in options:
        raise ValueError("a unix socket is one host: give either several hosts or ?unix_socket=")
    try:
        failover_s = float(options.get("failover_timeout", 0))
    except ValueError:
        failover_s = -1.0
    if not 0 <= failover_s < float("inf"):
        raise ValueError("bad ?failover_timeout= in the database URL: give seconds, e.g. 6")
    user, _, password = parts.netloc.rpartition("@")[0].partition(":")
    return DatabaseURL(
        scheme=StoreKind.MYSQL,
        user=unquote(user or "wsbench"),
        password=unquote(password),
        host=hosts[0][0],
        port=hosts[0][1],
        database=database,
        unix_socket=options.get("unix_socket", ""),
        hosts=hosts if len(hosts) > 1 else (),
        failover_s=failover_s,
    )


def is_loopback(host: str) -> bool:
    """True when ``host`` can only be reached from this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


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
        help="open WebSocket connections; beyond it handshakes get 503 (%(default)s)",
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
