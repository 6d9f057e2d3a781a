"""MySQL: batches through server-side prepared multi-row INSERTs, then one COMMIT."""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar, cast

import mysql.connector
from _mysql_connector import MySQLInterfaceError  # the C extension's error; some calls leak it
from mysql.connector.connection_cext import CMySQLConnection

from ..batching import Row, statement_sizes
from ..errors import StartupError
from ..vocabulary import StoreKind
from .base import (
    COUNT,
    INSERT,
    TABLE,
    ClusterUnavailable,
    DatabaseUnreachable,
    StoreUnavailable,
    ThreadedStore,
)
from .failover import Rotation, Step, node_name
from .mysql_errors import (
    UNREACHABLE,
    Failure,
    classify_error,
    explain,
    is_transient,
    no_node_took,
    schema_command,
)
from .url import DatabaseURL

T = TypeVar("T")

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
# With several nodes, a node that does not answer must not hold a batch for long: a node cut off
# leaves the connection silent (no reset), so without these a query would wait for TCP to give up.
# 3 s outlasts a commit stalled while the cluster evicts a dead node (about 1.3 s tuned).
CLUSTER_CONNECT_TIMEOUT_S = 1
CLUSTER_READ_TIMEOUT_S = 3
# On Galera, a read waits until the node has applied every write set committed before it, so a
# resuming client is never told less than what was acked on another node.
SYNC_WAIT = "SET SESSION wsrep_sync_wait = 1"


def prepared_insert(rows: int) -> str:
    """The INSERT for ``rows`` rows, with ``?`` placeholders for prepared statements."""
    return INSERT.replace("%s", "?").replace("(?, ?, ?)", ", ".join(["(?, ?, ?)"] * rows))


MySQLConnection = mysql.connector.abstracts.MySQLConnectionAbstract


def mysql_connect(url: DatabaseURL, **options: object) -> MySQLConnection:
    """A connection to the database a URL names, with the settings MariaDB needs."""
    # Without pool options, connect() returns a plain connection, never a pooled one.
    options = {"connection_timeout": 5, **options}
    return cast(
        MySQLConnection,
        mysql.connector.connect(
            host=url.host,
            port=url.port,
            user=url.user,
            password=url.password,
            database=url.database,
            collation="utf8mb4_general_ci",  # MySQL 8's default collation is unknown to MariaDB
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


def describe(error: mysql.connector.Error | MySQLInterfaceError) -> str:
    """An error as one short line: its number and the server's words."""
    return f"MySQL error {getattr(error, 'errno', None)}: {getattr(error, 'msg', None) or error}"


class MySQLStore(ThreadedStore):
    """A MySQL table, written through the connector's C extension with prepared statements.

    With several hosts (a Galera cluster) it writes to one node and, when that node is gone or
    not primary, moves on to the next and retries the batch: the (run_id, seq) key makes the
    retry of a COMMIT whose outcome is unknown safe. A batch that no node takes within the URL's
    failover bound fails, and its clients are told so: nothing uncommitted is acked.
    """

    kind = StoreKind.MYSQL

    def __init__(self, url: DatabaseURL) -> None:
        super().__init__()
        self.url = url
        self.target = f"{url.database}.{TABLE}"
        self.clustered = len(url.nodes) > 1
        self._writer: CMySQLConnection | None = None
        self._reader: CMySQLConnection | None = None
        self._statements: dict[int, Any] = {}  # rows -> the prepared statement
        self._writes = Rotation(url.nodes, url.failover_deadline_s)
        self._reads = Rotation(url.nodes, url.failover_deadline_s)
        if self.clustered:
            self.target += f" on {len(url.nodes)} nodes"

    def _connect(self, autocommit: bool, node: tuple[str, int] | None = None) -> CMySQLConnection:
        # use_pure=False: the C extension, or an ImportError rather than a silent pure Python.
        url = self.url
        options: dict[str, object] = {}
        if self.clustered:
            url = self._node_url(node or self._writes.node)
            options = {
                "connection_timeout": CLUSTER_CONNECT_TIMEOUT_S,
                "read_timeout": CLUSTER_READ_TIMEOUT_S,
                "write_timeout": CLUSTER_READ_TIMEOUT_S,
            }
        return cast(
            CMySQLConnection,
            mysql_connect(url, autocommit=autocommit, use_pure=False, **options),
        )

    def _open(self) -> None:
        # With several nodes, the first that answers and is primary; the others are named in the
        # log as they are passed over.
        for remaining in range(len(self.url.nodes) - 1, -1, -1):
            try:
                self._open_on_node()
                return
            except mysql.connector.Error as exc:
                self._drop_writer()
                unreachable = exc.errno in UNREACHABLE
                here = self._node_url(self._writes.node)
                if remaining and classify_error(exc) is Failure.NEXT_NODE:
                    self._writes.after(Failure.NEXT_NODE, 0)
                    logger.warning(
                        "database node %s: %s; trying %s",
                        node_name(here.nodes[0]),
                        describe(exc),
                        node_name(self._writes.node),
                    )
                    continue
                error = DatabaseUnreachable if unreachable else StartupError
                raise error(explain(exc, self.url if unreachable else here)) from None

    def _open_on_node(self) -> None:
        """Connect the writer to the current node and check the table there."""
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

    def _node_url(self, node: tuple[str, int]) -> DatabaseURL:
        """The URL of one node, as connections and messages about that node use it."""
        return dataclasses.replace(self.url, host=node[0], port=node[1], hosts=())

    def _insert(self, rows: Sequence[Row]) -> None:
        if self.clustered:
            self._on_cluster(self._writes, lambda: self._insert_once(rows), len(rows))
            return
        try:
            self._insert_once(rows)
        except (mysql.connector.Error, MySQLInterfaceError) as exc:
            self._drop_writer()
            if is_transient(exc):
                raise StoreUnavailable(describe(exc)) from None
            reason = explain(exc, self.url) if isinstance(exc, mysql.connector.Error) else ""
            raise RuntimeError(reason or describe(exc)) from None

    def _insert_once(self, rows: Sequence[Row]) -> None:
        """Insert and commit the rows on the current node; the connection stays on failure."""
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

    def _drop_writer(self) -> None:
        _close_quietly(self._writer)
        self._writer = None
        self._statements.clear()  # they died with the connection

    def _drop_reader(self) -> None:
        _close_quietly(self._reader)
        self._reader = None

    def _on_cluster(self, rotation: Rotation, attempt: Callable[[], T], rows: int = 0) -> T:
        """Run ``attempt`` on the rotation's node, moving from node to node until one takes it.

        One log line when it succeeded on another node than the one it started on; a batch no
        node takes within the failover bound raises ClusterUnavailable.
        """
        drop = self._drop_writer if rotation is self._writes else self._drop_reader
        rotation.start_batch()
        started = time.monotonic()
        first, first_error = rotation.node, ""
        while True:
            try:
                result = attempt()
                break
            except (mysql.connector.Error, MySQLInterfaceError) as exc:
                drop()
                first_error = first_error or describe(exc)
                step = rotation.after(classify_error(exc), time.monotonic() - started)
                if step is Step.FAIL:
                    here = self._node_url(rotation.node)
                    known = isinstance(exc, mysql.connector.Error)
                    raise RuntimeError(explain(exc, here) if known else describe(exc)) from None
                if step is Step.GIVE_UP:
                    nodes = ",".join(node_name(node) for node in self.url.nodes)
                    raise ClusterUnavailable(
                        no_node_took(nodes, rotation.deadline_s, describe(exc))
                    ) from None
                if step is Step.PAUSE_THEN_NEXT:
                    time.sleep(rotation.pause_s)
        if rotation.node != first:
            logger.warning(
                "database failover: %s failed (%s); %s now on %s, after %.2f s%s",
                node_name(first),
                first_error,
                "writing" if rotation is self._writes else "counting",
                node_name(rotation.node),
                time.monotonic() - started,
                f", the batch of {rows} rows retried there" if rows else "",
            )
        return result

    def _statement(self, connection: MySQLConnection, rows: int) -> Any:
        """The prepared statement that inserts ``rows`` rows, prepared on first use."""
        # The connection's own statements, not a prepared cursor: the cursor sends a
        # COM_STMT_RESET before every execute, one more round trip per statement.
        if rows not in self._statements:
            self._statements[rows] = connection.cmd_stmt_prepare(prepared_insert(rows).encode())
        return self._statements[rows]

    def _count(self, run_id: str) -> int:
        if self.clustered:
            return self._on_cluster(self._reads, lambda: self._count_once(run_id))
        # The reader connection may have died while idle (killed, server restarted): one more
        # try on a fresh connection tells that apart from a database that is really down.
        for attempt in (1, 2):
            try:
                return self._count_once(run_id)
            except (mysql.connector.Error, MySQLInterfaceError) as exc:
                self._drop_reader()
                if attempt == 2 or not is_transient(exc):
                    raise
        raise AssertionError("unreachable")

    def _count_once(self, run_id: str) -> int:
        """Count a run's rows on the reader's node, as of every commit before the query."""
        if self._reader is None:
            reader = self._connect(True, self._reads.node)
            if is_galera(reader):
                cursor = reader.cursor()
                cursor.execute(SYNC_WAIT)
                cursor.close()
            self._reader = reader
        return int(scalar(self._reader, COUNT, (run_id,)))

    def _close(self) -> None:
        self._drop_writer()
        self._drop_reader()


def is_galera(connection: MySQLConnection) -> bool:
    """True when the server is a Galera node (``wsrep_on`` is ON)."""
    cursor = connection.cursor()
    try:
        cursor.execute("SHOW VARIABLES LIKE 'wsrep_on'")
        row: Any = cursor.fetchone()
        cursor.fetchall()
        return row is not None and str(row[1]).upper() == "ON"
    finally:
        cursor.close()
