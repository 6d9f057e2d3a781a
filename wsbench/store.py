"""Where committed numbers live: MySQL, an embedded SQLite file, or nowhere (``null:``)."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import sqlite3
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Protocol, TypeVar

import mysql.connector
from _mysql_connector import MySQLInterfaceError  # the C extension's error; some calls leak it
from mysql.connector import errorcode

from .batching import Row, statement_sizes
from .config import FALLBACK_DB, Config, DatabaseURL, parse_database_url

T = TypeVar("T")
logger = logging.getLogger("wsbench")

TABLE = "testing"
SCHEMA = Path(__file__).resolve().parent.parent / "schema.sql"
# IGNORE: a row whose (run_id, seq) is already there was committed by an earlier try; keeping
# the first copy makes retries and resends idempotent. It needs only the INSERT privilege.
INSERT = f"INSERT IGNORE INTO {TABLE} (run_id, seq, number) VALUES (%s, %s, %s)"
COUNT = f"SELECT COUNT(*) FROM {TABLE} WHERE run_id = %s"
# MySQL's batches go through server-side prepared statements of these many rows: the binary
# protocol spares the connector's per-row quoting and the server's parsing (half the time of
# executemany's text INSERT, a tenth of its client CPU).
LARGEST_STATEMENT = 1024


def prepared_insert(rows: int) -> str:
    """The INSERT for ``rows`` rows, with ``?`` placeholders for prepared statements."""
    return INSERT.replace("%s", "?").replace("(?, ?, ?)", ", ".join(["(?, ?, ?)"] * rows))


class StartupError(Exception):
    """The server cannot start; the message names the cause and the command that fixes it."""


class DatabaseUnreachable(StartupError):
    """Nothing answers at the database's address."""


class StoreUnavailable(Exception):
    """The database is out of reach for now (restart, killed connection, lock timeout): retry."""


# Errors that go away by themselves: the writer keeps its batch and retries.
TRANSIENT_MYSQL_ERRORS = {
    errorcode.CR_CONNECTION_ERROR,
    errorcode.CR_CONN_HOST_ERROR,
    errorcode.CR_SERVER_GONE_ERROR,
    errorcode.CR_SERVER_LOST,
    errorcode.CR_SERVER_LOST_EXTENDED,
    errorcode.ER_CON_COUNT_ERROR,
    errorcode.ER_LOCK_DEADLOCK,
    errorcode.ER_LOCK_WAIT_TIMEOUT,
    errorcode.ER_QUERY_INTERRUPTED,
    errorcode.ER_SERVER_SHUTDOWN,
    1927,  # MariaDB: connection was killed
    4031,  # disconnected by the server because of inactivity
}


class Store(Protocol):
    """What the writer and the server need from a store."""

    kind: str
    durable: bool
    target: str | None
    max_allowed_packet: int
    notice: str | None  # what users must be told, on the page and in the log

    async def insert(self, rows: Sequence[Row]) -> None:
        """Insert the rows and commit them; raise if they are not committed."""

    async def count_rows(self, run_id: str) -> int | None:
        """How many rows a run has, or None when the store keeps nothing."""


class NullStore:
    """Stores nothing: acknowledgements then measure the transport alone."""

    kind = "null"
    durable = False
    target = None
    max_allowed_packet = 1 << 30
    notice = "--db null: NOTHING IS STORED, acks mean received, not committed"

    async def insert(self, rows: Sequence[Row]) -> None:
        """Drop the rows."""

    async def count_rows(self, run_id: str) -> int | None:
        """Nothing is kept, so there is nothing to count."""
        return None


def schema_command() -> str:
    """The shell command that creates the database, table and user."""
    path = os.path.relpath(SCHEMA)
    return f"mysql -u root < {SCHEMA if path.startswith('..') else path}"


def explain(error: mysql.connector.Error, url: DatabaseURL, option: str = "--db") -> str:
    """Turn a connector error into one line: what is wrong and what to run.

    ``option``: the command-line option that names the database.
    """
    where = f"{url.host}:{url.port}"
    fix = schema_command()
    if error.errno in (errorcode.CR_CONN_HOST_ERROR, errorcode.CR_CONNECTION_ERROR):
        return (
            f"cannot connect to MySQL at {where}: is it running? Start it with "
            "`sudo systemctl start mariadb` (or `sudo service mariadb start`), "
            f"or point {option} at a running server"
        )
    if error.errno == errorcode.ER_ACCESS_DENIED_ERROR:
        return (
            f"access denied for MySQL user {url.user!r} at {where}: create the user with "
            f"`{fix}`, or give the right user and password with "
            f"{option} mysql://USER:PASSWORD@HOST:PORT/DATABASE"
        )
    if error.errno == errorcode.ER_BAD_DB_ERROR:
        return f"database {url.database!r} does not exist at {where}: create it with `{fix}`"
    if error.errno == errorcode.ER_NO_SUCH_TABLE:
        return f"table {url.database}.{TABLE} does not exist at {where}: create it with `{fix}`"
    if error.errno in (
        errorcode.ER_TABLEACCESS_DENIED_ERROR,
        errorcode.ER_DBACCESS_DENIED_ERROR,
        errorcode.ER_COLUMNACCESS_DENIED_ERROR,
    ):
        return f"MySQL user {url.user!r} may not use {url.database}.{TABLE}: grant it with `{fix}`"
    if error.errno == errorcode.ER_BAD_FIELD_ERROR:
        return (
            f"table {url.database}.{TABLE} has an old layout ({error.msg}): upgrade it with the "
            "three statements under 'Upgrading the table' in README.md"
        )
    return f"MySQL error {error.errno} at {where}: {error.msg}"


def is_transient(error: mysql.connector.Error | MySQLInterfaceError) -> bool:
    """True for errors that pass by themselves: lost connections, restarts, lock timeouts."""
    lost = isinstance(
        error,
        mysql.connector.InterfaceError | mysql.connector.OperationalError | MySQLInterfaceError,
    )
    errno = getattr(error, "errno", None)
    return lost or errno in TRANSIENT_MYSQL_ERRORS or errno in (None, -1)


class ThreadedStore:
    """A synchronous database driver run on one private thread, so the event loop never blocks.

    One thread also means one connection per role and no locking: calls run one at a time.
    """

    kind = "?"
    durable = True
    target: str | None = None
    max_allowed_packet = 1 << 30
    notice: str | None = None

    def __init__(self) -> None:
        self._executor = ThreadPoolExecutor(1, thread_name_prefix=f"wsbench-{self.kind}")

    async def __aenter__(self) -> ThreadedStore:
        try:
            await self._call(self._open)
        except BaseException:
            await self.__aexit__()
            raise
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self._call(self._close)
        self._executor.shutdown()

    async def insert(self, rows: Sequence[Row]) -> None:
        """Insert the rows in one transaction and commit them."""
        await self._call(self._insert, rows)

    async def count_rows(self, run_id: str) -> int | None:
        """How many committed rows a run has."""
        return await self._call(self._count, run_id)

    async def _call(self, function: Callable[..., T], *args: object) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, function, *args)

    # Run on the store's thread; raise StartupError from _open when the store is unusable.
    def _open(self) -> None:
        raise NotImplementedError

    def _insert(self, rows: Sequence[Row]) -> None:
        raise NotImplementedError

    def _count(self, run_id: str) -> int:
        raise NotImplementedError

    def _close(self) -> None:
        raise NotImplementedError


class MySQLStore(ThreadedStore):
    """A MySQL table, written through the connector's C extension with prepared statements."""

    kind = "mysql"

    def __init__(self, url: DatabaseURL) -> None:
        super().__init__()
        self.url = url
        self.target = f"{url.database}.{TABLE}"
        self._writer: MySQLConnection | None = None
        self._reader: MySQLConnection | None = None
        self._statements: dict[int, tuple[str, Any]] = {}  # rows -> (SQL, prepared cursor)

    def _connect(self, autocommit: bool) -> MySQLConnection:
        return mysql_connect(self.url, autocommit=autocommit, use_pure=False)

    def _open(self) -> None:
        try:
            self._writer = self._connect(autocommit=False)
            cursor = self._writer.cursor()
            cursor.execute("SELECT @@max_allowed_packet")
            (self.max_allowed_packet,) = cursor.fetchone()
            cursor.execute(f"SELECT run_id, seq, number FROM {TABLE} LIMIT 0")
            cursor.fetchall()
            cursor.close()
            self._writer.rollback()
        except mysql.connector.Error as exc:
            unreachable = exc.errno in (errorcode.CR_CONN_HOST_ERROR, errorcode.CR_CONNECTION_ERROR)
            error = DatabaseUnreachable if unreachable else StartupError
            raise error(explain(exc, self.url)) from None

    def _insert(self, rows: Sequence[Row]) -> None:
        try:
            if self._writer is None:
                self._writer = self._connect(autocommit=False)
            start = 0
            for size in statement_sizes(len(rows), LARGEST_STATEMENT):
                sql, cursor = self._statement(self._writer, size)
                cursor.execute(sql, list(itertools.chain.from_iterable(rows[start : start + size])))
                start += size
            self._writer.commit()
        except (mysql.connector.Error, MySQLInterfaceError) as exc:
            self._writer = _close_quietly(self._writer)
            self._statements.clear()  # they died with the connection
            reason = (
                f"MySQL error {getattr(exc, 'errno', None)}: {getattr(exc, 'msg', None) or exc}"
            )
            if is_transient(exc):
                raise StoreUnavailable(reason) from None
            if isinstance(exc, mysql.connector.Error):
                reason = explain(exc, self.url)
            raise RuntimeError(reason) from None

    def _statement(self, connection: MySQLConnection, rows: int) -> tuple[str, Any]:
        """The SQL and prepared cursor that insert ``rows`` rows, prepared on first use."""
        if rows not in self._statements:
            # The cursor prepares on its first execute and reuses the statement while it is
            # given the very same string object.
            self._statements[rows] = (prepared_insert(rows), connection.cursor(prepared=True))
        return self._statements[rows]

    def _count(self, run_id: str) -> int:
        # The reader connection may have died while idle (killed, server restarted): one more
        # try on a fresh connection tells that apart from a database that is really down.
        for attempt in (1, 2):
            try:
                if self._reader is None:
                    self._reader = self._connect(autocommit=True)
                cursor = self._reader.cursor()
                cursor.execute(COUNT, (run_id,))
                (count,) = cursor.fetchone()
                cursor.close()
                return int(count)
            except (mysql.connector.Error, MySQLInterfaceError) as exc:
                self._reader = _close_quietly(self._reader)
                if attempt == 2 or not is_transient(exc):
                    raise
        raise AssertionError("unreachable")

    def _close(self) -> None:
        self._statements.clear()
        self._writer = _close_quietly(self._writer)
        self._reader = _close_quietly(self._reader)


SQLITE_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS {TABLE} (
  id         INTEGER PRIMARY KEY AUTOINCREMENT,
  number     INTEGER NOT NULL,
  run_id     TEXT    NOT NULL,
  seq        INTEGER NOT NULL,
  created_at TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now')),
  UNIQUE (run_id, seq)
);
"""


SQLITE_INSERT = INSERT.replace("INSERT IGNORE", "INSERT OR IGNORE").replace("%s", "?")
SQLITE_COUNT = COUNT.replace("%s", "?")


class SQLiteStore(ThreadedStore):
    """The same table in an embedded SQLite file: WAL mode, and an fsync at every commit."""

    kind = "sqlite"

    def __init__(self, path: str, notice: str | None = None) -> None:
        super().__init__()
        self.path = path
        self.target = f"{path}:{TABLE}"
        self.notice = notice
        self._connection: sqlite3.Connection | None = None

    def _open(self) -> None:
        try:
            self._connection = sqlite3.connect(self.path)
            self._connection.execute("PRAGMA journal_mode = WAL")
            # FULL: a commit is on disk before it returns, as with InnoDB's default.
            self._connection.execute("PRAGMA synchronous = FULL")
            self._connection.executescript(SQLITE_SCHEMA)
            self._connection.execute(f"SELECT run_id, seq, number FROM {TABLE} LIMIT 0")
        except sqlite3.Error as exc:
            raise StartupError(
                f"cannot use the SQLite database {self.path!r}: {exc}; check that its directory "
                "exists and is writable, or choose another file with --db sqlite:///FILE"
            ) from None

    def _insert(self, rows: Sequence[Row]) -> None:
        assert self._connection is not None
        try:
            with self._connection:  # one transaction, committed on leaving the block
                self._connection.executemany(SQLITE_INSERT, rows)
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc) or "busy" in str(exc):  # another process holds the file
                raise StoreUnavailable(f"SQLite: {exc}") from None
            raise

    def _count(self, run_id: str) -> int:
        assert self._connection is not None
        (count,) = self._connection.execute(SQLITE_COUNT, (run_id,)).fetchone()
        return int(count)

    def _close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


MySQLConnection = mysql.connector.abstracts.MySQLConnectionAbstract


def mysql_connect(url: DatabaseURL, **options: object) -> MySQLConnection:
    """A connection to the database a URL names, with the settings MariaDB needs."""
    return mysql.connector.connect(
        host=url.host,
        port=url.port,
        user=url.user,
        password=url.password,
        database=url.database,
        collation="utf8mb4_general_ci",  # MySQL 8's default collation is unknown to MariaDB
        connection_timeout=5,
        **options,
    )


def _close_quietly(connection: MySQLConnection | None) -> None:
    if connection is not None:
        with contextlib.suppress(Exception):
            connection.close()


@contextlib.asynccontextmanager
async def open_store(config: Config) -> AsyncIterator[Store]:
    """Open the store the configuration names, checked and ready to write.

    With no database chosen (no --db, no $WSBENCH_DB) and no MySQL answering at the default
    address, SQLite stands in, loudly. A database that was chosen and fails is an error.
    """
    url = config.db
    async with contextlib.AsyncExitStack() as stack:
        store: Store
        if url.scheme == "null":
            store = NullStore()
        elif url.scheme == "sqlite":
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
