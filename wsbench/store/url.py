"""Where numbers go, as a URL: ``mysql://``, ``sqlite:///`` or ``null:``; parsed, checked and
redacted, for the server, the bench client, the cluster and the benchmarks alike."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qsl, unquote, urlsplit

from ..vocabulary import StoreKind

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
