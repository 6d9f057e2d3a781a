"""The server's configuration: one object built from command-line flags and the environment."""

from __future__ import annotations

import argparse
import ipaddress
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
DEFAULT_DB = "mysql://wsbench@127.0.0.1:3306/test"
DB_ENV = "WSBENCH_DB"


@dataclass(frozen=True)
class DatabaseURL:
    """Where numbers go: ``mysql://user:password@host:port/database`` or ``null:``."""

    scheme: str
    user: str = "wsbench"
    password: str = ""
    host: str = "127.0.0.1"
    port: int = 3306
    database: str = "test"

    def __repr__(self) -> str:
        return f"DatabaseURL({self.redacted()!r})"

    def redacted(self) -> str:
        """The URL as it may be logged: never with the password."""
        if self.scheme == "null":
            return "null:"
        secret = ":***" if self.password else ""
        return f"mysql://{self.user}{secret}@{self.host}:{self.port}/{self.database}"


def parse_database_url(url: str) -> DatabaseURL:
    """Parse a database URL, raising ValueError with a readable reason."""
    parts = urlsplit(url.strip())
    if parts.scheme == "null":
        return DatabaseURL(scheme="null")
    if parts.scheme != "mysql":
        raise ValueError(
            f"unsupported database URL {url!r}: "
            "use mysql://user:password@host:port/database or null:"
        )
    try:
        port = parts.port or 3306
    except ValueError:
        raise ValueError(f"bad port in database URL {url!r}") from None
    database = unquote(parts.path.lstrip("/")) or "test"
    if "/" in database:
        raise ValueError(f"bad database name {database!r} in database URL")
    return DatabaseURL(
        scheme="mysql",
        user=unquote(parts.username or "wsbench"),
        password=unquote(parts.password or ""),
        host=parts.hostname or "127.0.0.1",
        port=port,
        database=database,
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
    db: DatabaseURL = parse_database_url(DEFAULT_DB)
    max_batch: int = 5000
    max_frame: int = 1024
    max_pending: int = 100_000
    verbose: bool = False


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
        prog="websocket_server.py",
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
        "--db",
        metavar="URL",
        default=None,
        help=(
            f"database URL, mysql://user:password@host:port/database or null: "
            f"to store nothing (default: ${DB_ENV}, else {DEFAULT_DB})"
        ),
    )
    parser.add_argument(
        "--max-batch",
        type=_positive_int,
        default=Config.max_batch,
        help="most rows per INSERT + COMMIT, capped by max_allowed_packet (%(default)s)",
    )
    parser.add_argument(
        "--max-frame",
        type=_positive_int,
        default=Config.max_frame,
        help="largest WebSocket frame accepted, in bytes (%(default)s)",
    )
    parser.add_argument(
        "--max-pending",
        type=_positive_int,
        default=Config.max_pending,
        help="numbers waiting for a commit before reading pauses (%(default)s)",
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
    url = args.db or environ.get(DB_ENV) or DEFAULT_DB
    try:
        db = parse_database_url(url)
    except ValueError as exc:
        parser.error(str(exc))
    return Config(
        host=args.host,
        port=args.port,
        db=db,
        max_batch=args.max_batch,
        max_frame=args.max_frame,
        max_pending=args.max_pending,
        verbose=args.verbose,
    )
