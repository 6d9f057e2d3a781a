"""Where committed numbers live, and which store a configuration opens.

With no database chosen (no --db, no $WSBENCH_DB) and no MySQL answering at the default address,
SQLite stands in, loudly. A database that was chosen and fails is an error.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import AsyncIterator

from ..config import FALLBACK_DB, Config, DatabaseURL, parse_database_url
from ..vocabulary import StoreKind
from .base import DatabaseUnreachable, StartupError, Store, StoreUnavailable
from .mysql import MySQLStore, mysql_connect
from .mysql_errors import explain, schema_command
from .null import NullStore
from .sqlite import SQLiteStore

__all__ = [
    "DatabaseUnreachable",
    "MySQLStore",
    "NullStore",
    "SQLiteStore",
    "StartupError",
    "Store",
    "StoreUnavailable",
    "explain",
    "mysql_connect",
    "open_store",
]

logger = logging.getLogger("wsbench")


@contextlib.asynccontextmanager
async def open_store(config: Config) -> AsyncIterator[Store]:
    """Open the store the configuration names, checked and ready to write."""
    url = config.db
    async with contextlib.AsyncExitStack() as stack:
        store: Store
        if url.scheme is StoreKind.NULL:
            store = NullStore()
        elif url.scheme is StoreKind.SQLITE:
            store = await stack.enter_async_context(SQLiteStore(url.path))
        else:
            try:
                store = await stack.enter_async_context(MySQLStore(url))
            except DatabaseUnreachable as exc:
                if config.db_chosen:
                    raise
                store = await stack.enter_async_context(fallback_store(url, exc))
        yield store


def fallback_store(url: DatabaseURL, reason: Exception) -> SQLiteStore:
    """The embedded SQLite store that stands in when no MySQL answers."""
    path = parse_database_url(FALLBACK_DB).path
    notice = (
        f"No MySQL answered at {url.host}:{url.port}, so numbers go to SQLite in "
        f"{os.path.abspath(path)}. To use MySQL: start it, run `{schema_command()}`, and "
        "restart the server (or choose a database with --db)."
    )
    logger.debug("MySQL fallback because: %s", reason)
    return SQLiteStore(path, notice=notice)
