"""Where committed numbers live: MySQL through mysql-connector-python, or nowhere (``null:``)."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Protocol, TypeVar

import mysql.connector
from mysql.connector import errorcode

from .batching import Row
from .config import DatabaseURL

T = TypeVar("T")

TABLE = "testing"
SCHEMA = Path(__file__).resolve().parent.parent / "schema.sql"
INSERT = f"INSERT INTO {TABLE} (run_id, number) VALUES (%s, %s)"
COUNT = f"SELECT COUNT(*) FROM {TABLE} WHERE run_id = %s"


class StartupError(Exception):
    """The server cannot start; the message names the cause and the command that fixes it."""


class Store(Protocol):
    """What the writer and the server need from a store."""

    kind: str
    durable: bool
    target: str | None
    max_allowed_packet: int

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

    async def insert(self, rows: Sequence[Row]) -> None:
        """Drop the rows."""

    async def count_rows(self, run_id: str) -> int | None:
        """Nothing is kept, so there is nothing to count."""
        return None


def schema_command() -> str:
    """The shell command that creates the database, table and user."""
    path = os.path.relpath(SCHEMA)
    return f"mysql -u root < {SCHEMA if path.startswith('..') else path}"


def explain(error: mysql.connector.Error, url: DatabaseURL) -> str:
    """Turn a connector error into one line: what is wrong and what to run."""
    where = f"{url.host}:{url.port}"
    fix = schema_command()
    if error.errno in (errorcode.CR_CONN_HOST_ERROR, errorcode.CR_CONNECTION_ERROR):
        return (
            f"cannot connect to MySQL at {where}: is it running? Start it with "
            "`sudo systemctl start mariadb` (or `sudo service mariadb start`), "
            f"or point --db / $WSBENCH_DB at a running server"
        )
    if error.errno == errorcode.ER_ACCESS_DENIED_ERROR:
        return (
            f"access denied for MySQL user {url.user!r} at {where}: create the user with "
            f"`{fix}`, or give the right user and password with "
            "--db mysql://USER:PASSWORD@HOST:PORT/DATABASE"
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
            f"table {url.database}.{TABLE} has an old layout ({error.msg}): move it aside with "
            f"`mysql -u root -e 'RENAME TABLE {url.database}.{TABLE} TO "
            f"{url.database}.{TABLE}_old'`, then run `{fix}`"
        )
    return f"MySQL error {error.errno} at {where}: {error.msg}"


class MySQLStore:
    """A MySQL table written through one connection on one thread of its own.

    The connector is synchronous; its C extension is the fastest way to send a multi-row
    INSERT, so every call runs on a private thread and the event loop never blocks.
    """

    kind = "mysql"
    durable = True

    def __init__(self, url: DatabaseURL) -> None:
        self.url = url
        self.target = f"{url.database}.{TABLE}"
        self.max_allowed_packet = 0
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="wsbench-mysql")
        self._writer: mysql.connector.abstracts.MySQLConnectionAbstract | None = None
        self._reader: mysql.connector.abstracts.MySQLConnectionAbstract | None = None

    async def __aenter__(self) -> MySQLStore:
        try:
            await self._call(self._check)
        except mysql.connector.Error as exc:
            await self._call(self._close)
            self._executor.shutdown()
            raise StartupError(explain(exc, self.url)) from None
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self._call(self._close)
        self._executor.shutdown()

    async def insert(self, rows: Sequence[Row]) -> None:
        """Insert the rows as one multi-row INSERT and COMMIT them."""
        await self._call(self._insert, rows)

    async def count_rows(self, run_id: str) -> int | None:
        """How many rows a run has, as another connection sees them."""
        return await self._call(self._count, run_id)

    async def _call(self, function: Callable[..., T], *args: object) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, function, *args)

    # Everything below runs on the store's own thread.

    def _connect(self, autocommit: bool) -> mysql.connector.abstracts.MySQLConnectionAbstract:
        return mysql.connector.connect(
            host=self.url.host,
            port=self.url.port,
            user=self.url.user,
            password=self.url.password,
            database=self.url.database,
            autocommit=autocommit,
            use_pure=False,
            collation="utf8mb4_general_ci",  # MySQL 8's default collation is unknown to MariaDB
            connection_timeout=5,
        )

    def _check(self) -> None:
        self._writer = self._connect(autocommit=False)
        cursor = self._writer.cursor()
        cursor.execute("SELECT @@max_allowed_packet")
        (self.max_allowed_packet,) = cursor.fetchone()
        cursor.execute(f"SELECT run_id, number FROM {TABLE} LIMIT 0")
        cursor.fetchall()
        cursor.close()
        self._writer.rollback()

    def _insert(self, rows: Sequence[Row]) -> None:
        if self._writer is None:
            self._writer = self._connect(autocommit=False)
        try:
            cursor = self._writer.cursor()
            cursor.executemany(INSERT, rows)
            cursor.close()
            self._writer.commit()
        except mysql.connector.Error:
            self._writer = self._drop(self._writer)
            raise

    def _count(self, run_id: str) -> int:
        if self._reader is None:
            self._reader = self._connect(autocommit=True)
        try:
            cursor = self._reader.cursor()
            cursor.execute(COUNT, (run_id,))
            (count,) = cursor.fetchone()
            cursor.close()
            return int(count)
        except mysql.connector.Error:
            self._reader = self._drop(self._reader)
            raise

    @staticmethod
    def _drop(connection: mysql.connector.abstracts.MySQLConnectionAbstract) -> None:
        with contextlib.suppress(Exception):
            connection.close()
        return None

    def _close(self) -> None:
        for connection in (self._writer, self._reader):
            if connection is not None:
                self._drop(connection)
        self._writer = self._reader = None


@contextlib.asynccontextmanager
async def open_store(url: DatabaseURL) -> AsyncIterator[Store]:
    """Open the store a database URL names, checked and ready to write."""
    if url.scheme == "null":
        yield NullStore()
        return
    async with MySQLStore(url) as store:
        yield store
