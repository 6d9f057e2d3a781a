"""MySQL: batches through server-side prepared multi-row INSERTs, then one COMMIT."""

from __future__ import annotations

import contextlib
import itertools
import logging
from collections.abc import Sequence
from typing import Any, cast

import mysql.connector
from _mysql_connector import MySQLInterfaceError  # the C extension's error; some calls leak it
from mysql.connector.connection_cext import CMySQLConnection

from ..batching import Row, statement_sizes
from ..config import DatabaseURL
from ..vocabulary import StoreKind
from .base import (
    COUNT,
    INSERT,
    TABLE,
    DatabaseUnreachable,
    StartupError,
    StoreUnavailable,
    ThreadedStore,
)
from .mysql_errors import UNREACHABLE, explain, is_transient, schema_command

# A table made by wsbench 0.2: an auto-increment id as its primary key, (run_id, seq) unique.
OLD_KEY = (
    "SELECT COUNT(*) FROM information_schema.columns WHERE table_schema = DATABASE() "
    "AND table_name = %s AND column_name = 'id'"
)
# A table whose run ids compare without case, as every table did before: run "a" would share
# run "A"'s rows.
CASELESS_RUN_ID = (
    "SELECT COUNT(*) FROM information_schema.columns WHERE table_schema = DATABASE() "
    "AND table_name = %s AND column_name = 'run_id' AND collation_name <> 'ascii_bin'"
)
logger = logging.getLogger("wsbench")

# MySQL's batches go through server-side prepared statements of these many rows: the binary
# protocol spares the connector's per-row quoting and the server's parsing (half the time of
# executemany's text INSERT, a tenth of its client CPU).
LARGEST_STATEMENT = 1024
# A batch smaller than this is one statement of its exact size, committed by autocommit: one
# round trip, where powers of two took up to six statements and a COMMIT. Small batches are the
# common case whenever the senders are slower than the commits, as a browser is.
EXACT_BELOW = 64


def prepared_insert(rows: int) -> str:
    """The INSERT for ``rows`` rows, with ``?`` placeholders for prepared statements."""
    return INSERT.replace("%s", "?").replace("(?, ?, ?)", ", ".join(["(?, ?, ?)"] * rows))


MySQLConnection = mysql.connector.abstracts.MySQLConnectionAbstract


def mysql_connect(url: DatabaseURL, **options: object) -> MySQLConnection:
    """A connection to the database a URL names, with the settings MariaDB needs."""
    # Without pool options, connect() returns a plain connection, never a pooled one.
    return cast(
        MySQLConnection,
        mysql.connector.connect(
            host=url.host,
            port=url.port,
            user=url.user,
            password=url.password,
            database=url.database,
            collation="utf8mb4_general_ci",  # MySQL 8's default collation is unknown to MariaDB
            connection_timeout=5,
            **({"unix_socket": url.unix_socket} if url.unix_socket else {}),
            **options,
        ),
    )


def _close_quietly(connection: MySQLConnection | None) -> None:
    """Close a connection that may be dead already; the caller forgets it."""
    if connection is not None:
        with contextlib.suppress(Exception):
            connection.close()


def scalar(connection: MySQLConnection, sql: str, params: tuple[Any, ...] = ()) -> Any:
    """The first column of the first row that a query answers."""
    cursor = connection.cursor()
    try:
        cursor.execute(sql, params)
        row: Any = cursor.fetchone()
        cursor.fetchall()  # a cursor must be read to the end before the next query
        return row[0]
    finally:
        cursor.close()


class MySQLStore(ThreadedStore):
    """A MySQL table, written through the connector's C extension with prepared statements."""

    kind = StoreKind.MYSQL

    def __init__(self, url: DatabaseURL) -> None:
        super().__init__()
        self.url = url
        self.target = f"{url.database}.{TABLE}"
        self._writer: CMySQLConnection | None = None
        self._reader: MySQLConnection | None = None
        self._statements: dict[int, Any] = {}  # rows -> the prepared statement

    def _connect(self, autocommit: bool) -> CMySQLConnection:
        # use_pure=False: the C extension, or an ImportError rather than a silent pure Python.
        return cast(
            CMySQLConnection, mysql_connect(self.url, autocommit=autocommit, use_pure=False)
        )

    def _open(self) -> None:
        try:
            self._writer = self._connect(autocommit=True)
            self.max_allowed_packet = int(scalar(self._writer, "SELECT @@max_allowed_packet"))
            cursor = self._writer.cursor()
            cursor.execute(f"SELECT run_id, seq, number FROM {TABLE} LIMIT 0")
            cursor.fetchall()
            cursor.close()
            if scalar(self._writer, OLD_KEY, (TABLE,)):
                logger.warning(
                    "table %s still has wsbench 0.2's surrogate id: run `%s` again to make "
                    "(run_id, seq) its primary key, which about halves the database's work per row",
                    self.target,
                    schema_command(),
                )
            if scalar(self._writer, CASELESS_RUN_ID, (TABLE,)):
                logger.warning(
                    "table %s compares run ids without case, so runs named alike but for case "
                    "(run=a, run=A) would share rows and the second one's numbers would be lost: "
                    "run `%s` again to compare them byte by byte",
                    self.target,
                    schema_command(),
                )
        except mysql.connector.Error as exc:
            error = DatabaseUnreachable if exc.errno in UNREACHABLE else StartupError
            raise error(explain(exc, self.url)) from None

    def _insert(self, rows: Sequence[Row]) -> None:
        try:
            if self._writer is None:
                self._writer = self._connect(autocommit=True)
            sizes = statement_sizes(len(rows), LARGEST_STATEMENT, EXACT_BELOW)
            one_transaction = len(sizes) > 1  # a single statement commits by itself
            if one_transaction:
                self._writer.start_transaction()
            start = 0
            for size in sizes:
                statement = self._statement(self._writer, size)
                self._writer.cmd_stmt_execute(
                    statement, *itertools.chain.from_iterable(rows[start : start + size])
                )
                start += size
            if one_transaction:
                self._writer.commit()
        except (mysql.connector.Error, MySQLInterfaceError) as exc:
            _close_quietly(self._writer)
            self._writer = None
            self._statements.clear()  # they died with the connection
            reason = (
                f"MySQL error {getattr(exc, 'errno', None)}: {getattr(exc, 'msg', None) or exc}"
            )
            if is_transient(exc):
                raise StoreUnavailable(reason) from None
            if isinstance(exc, mysql.connector.Error):
                reason = explain(exc, self.url)
            raise RuntimeError(reason) from None

    def _statement(self, connection: MySQLConnection, rows: int) -> Any:
        """The prepared statement that inserts ``rows`` rows, prepared on first use."""
        # The connection's own statements, not a prepared cursor: the cursor sends a
        # COM_STMT_RESET before every execute, one more round trip per statement.
        if rows not in self._statements:
            self._statements[rows] = connection.cmd_stmt_prepare(prepared_insert(rows).encode())
        return self._statements[rows]

    def _count(self, run_id: str) -> int:
        # The reader connection may have died while idle (killed, server restarted): one more
        # try on a fresh connection tells that apart from a database that is really down.
        for attempt in (1, 2):
            try:
                if self._reader is None:
                    self._reader = self._connect(autocommit=True)
                return int(scalar(self._reader, COUNT, (run_id,)))
            except (mysql.connector.Error, MySQLInterfaceError) as exc:
                _close_quietly(self._reader)
                self._reader = None
                if attempt == 2 or not is_transient(exc):
                    raise
        raise AssertionError("unreachable")

    def _close(self) -> None:
        self._statements.clear()
        _close_quietly(self._writer)
        _close_quietly(self._reader)
        self._writer = self._reader = None
