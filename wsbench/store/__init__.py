"""Where committed numbers live, and which store a configuration opens.

With no database chosen (no --db, no $WSBENCH_DB) and no MySQL answering at the default address,
the same MySQL over its usual unix socket stands in (what answers inside a network namespace), and
failing that SQLite, loudly. A database that was chosen and fails is an error.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

from ..errors import StartupError
from ..vocabulary import StoreKind
from .base import ClusterUnavailable, DatabaseUnreachable, Store, StoreUnavailable
from .mysql import MySQLStore, mysql_connect
from .mysql_errors import explain, schema_command
from .null import NullStore
from .sqlite import SQLiteStore
from .url import FALLBACK_DB, DatabaseURL, parse_database_url

__all__ = [
    "ClusterUnavailable",
    "DatabaseUnreachable",
    "MySQLStore",
    "NullStore",
    "SQLiteStore",
    "StartupError",
    "Store",
    "StoreUnavailable",
    "default_socket",
    "explain",
    "mysql_connect",
    "open_store",
]

logger = logging.getLogger("wsbench")


# Where MariaDB and MySQL put their unix socket, in order: Debian's, its old path, the upstream
# default.
DEFAULT_SOCKETS = ("/run/mysqld/mysqld.sock", "/var/run/mysqld/mysqld.sock", "/tmp/mysql.sock")


@contextlib.asynccontextmanager
async def open_store(url: DatabaseURL, chosen: bool = True) -> AsyncIterator[Store]:
    """Open the store ``url`` names, checked and ready to write; unless it was ``chosen`` (by a
    flag or the environment), an unreachable default MySQL gets a stand-in."""
    async with contextlib.AsyncExitStack() as stack:
        store: Store
        if url.scheme is StoreKind.NULL:
            store = NullStore()
        elif url.scheme is StoreKind.SQLITE:
            store = await stack.enter_async_context(SQLiteStore(url.path))
        else:
            try:
                store = await open_mysql(stack, url)
            except DatabaseUnreachable as exc:
                if chosen:
                    raise
                store = await stand_in(stack, url, exc)
        yield store


async def open_mysql(stack: contextlib.AsyncExitStack, url: DatabaseURL) -> MySQLStore:
    """A MySQL store, closed with ``stack``; its target names the socket it goes through."""
    store = MySQLStore(url)
    await stack.enter_async_context(store)
    if url.unix_socket:  # the host and port in the URL are not used: say where it goes instead
        store.target = f"{store.target} over {url.unix_socket}"
    return store


async def stand_in(stack: contextlib.AsyncExitStack, url: DatabaseURL, reason: Exception) -> Store:
    """For the default database that did not answer: the same over a unix socket, else SQLite."""
    socket = default_socket(DEFAULT_SOCKETS)
    if socket:  # a network namespace has a 127.0.0.1 of its own, but shares the host's files
        try:
            return await open_mysql(stack, dataclasses.replace(url, unix_socket=socket))
        except DatabaseUnreachable as exc:  # e.g. a socket left behind by a stopped server
            reason = exc
    return await stack.enter_async_context(fallback_store(url, reason, socket))


def default_socket(candidates: Sequence[str]) -> str | None:
    """The first of ``candidates`` that is a unix socket, if any."""
    return next((path for path in candidates if Path(path).is_socket()), None)


def fallback_store(url: DatabaseURL, reason: Exception, socket: str | None = None) -> SQLiteStore:
    """The embedded SQLite store that stands in when no MySQL answers."""
    path = parse_database_url(FALLBACK_DB).path
    tried = f" or on {socket}" if socket else ""
    notice = (
        f"No MySQL answered at {url.host}:{url.port}{tried}, so numbers go to SQLite in "
        f"{os.path.abspath(path)}. To use MySQL: start it, run `{schema_command()}`, and "
        "restart the server (or choose a database with --db)."
    )
    logger.debug("MySQL fallback because: %s", reason)
    return SQLiteStore(path, notice=notice)
