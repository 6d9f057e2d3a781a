"""MySQL's errors: which ones pass by themselves, and one line for users that names the fix."""

from __future__ import annotations

import os
from enum import StrEnum

import mysql.connector
from _mysql_connector import MySQLInterfaceError  # the C extension's error; some calls leak it
from mysql.connector import errorcode

from ..resources import SCHEMA
from .base import TABLE
from .url import DatabaseURL

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
UNREACHABLE = (errorcode.CR_CONN_HOST_ERROR, errorcode.CR_CONNECTION_ERROR)
# Galera: the node is not in the primary component (cut off, or a minority), or still joining.
WSREP_NOT_READY = errorcode.ER_UNKNOWN_COM_ERROR  # 1047, "WSREP has not yet prepared node"
# Galera at COMMIT when the node lost the primary component meanwhile: "Got error ... during
# COMMIT" / "Not connected to Primary Component". Another node may take the retried batch.
COMMIT_FAILED = errorcode.ER_ERROR_DURING_COMMIT  # 1180
# A certification conflict at COMMIT (Galera), a deadlock or lock wait (InnoDB): the same node
# takes the retried transaction.
RETRY_SAME_NODE = {errorcode.ER_LOCK_DEADLOCK, errorcode.ER_LOCK_WAIT_TIMEOUT}


class Failure(StrEnum):
    """What a failed write tells a store that has several nodes to choose from."""

    RETRY = "retry"  # this node again: a conflict that a retry resolves
    NEXT_NODE = "next-node"  # this node is gone or not primary: another one may take the write
    PERMANENT = "permanent"  # no node will take it (privileges, schema): tell the clients


def classify(errno: int | None, lost: bool = False) -> Failure:
    """Where a write that failed with ``errno`` goes next; ``lost``: the connection broke."""
    if errno in RETRY_SAME_NODE:
        return Failure.RETRY
    if (
        lost
        or errno in (WSREP_NOT_READY, COMMIT_FAILED, None, -1)
        or errno in TRANSIENT_MYSQL_ERRORS
    ):
        return Failure.NEXT_NODE
    return Failure.PERMANENT


def classify_error(error: mysql.connector.Error | MySQLInterfaceError) -> Failure:
    """:func:`classify` for a connector error."""
    return classify(getattr(error, "errno", None), lost=_lost(error))


def no_node_took(nodes: str, seconds: float, last: str) -> str:
    """Why a batch failed on every node of a cluster, and what to do."""
    return (
        f"no database node of {nodes} committed the batch within {seconds:g} s (last: {last}): "
        "the cluster has no primary component or no node answers; look at "
        "`SHOW STATUS LIKE 'wsrep_cluster_status'` on each node (`python -m wsbench.cluster "
        "status` for the local one), bring a majority back, or allow longer outages with "
        "?failover_timeout=SECONDS in --db"
    )


def schema_command() -> str:
    """The shell command that creates the database, table and user."""
    path = os.path.relpath(SCHEMA)
    return f"mysql -u root < {SCHEMA if path.startswith('..') else path}"


def explain(error: mysql.connector.Error, url: DatabaseURL, option: str = "--db") -> str:
    """Turn a connector error into one line: what is wrong and what to run.

    ``option``: the command-line option that names the database. Over a unix socket the messages
    name the socket: the URL's host and port are then not used.
    """
    where = url.unix_socket or ",".join(node_name(node) for node in url.nodes)
    fix = schema_command()
    if error.errno in UNREACHABLE and len(url.nodes) > 1:
        return (
            f"no database node answers at {where}: start them (the local cluster: "
            "`sudo python -m wsbench.cluster up`; see `... status`), or list running nodes "
            f"in {option}"
        )
    if error.errno in UNREACHABLE:
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
    if error.errno == WSREP_NOT_READY:
        return (
            f"MySQL at {where} is a Galera node outside the primary component (it is cut off, in "
            "a minority, or still joining): bring a majority of the cluster's nodes back, or list "
            f"the other nodes in {option} (mysql://USER@H1:PORT,H2:PORT,H3:PORT/DATABASE)"
        )
    if error.errno == errorcode.ER_BAD_FIELD_ERROR:
        return (
            f"table {url.database}.{TABLE} has an old layout ({error.msg}): upgrade it with the "
            "three statements under 'Upgrading the table' in docs/troubleshooting.md"
        )
    return f"MySQL error {error.errno} at {where}: {error.msg}"


def node_name(node: tuple[str, int]) -> str:
    """``host:port`` as logs and messages show a node (``[v6]:port``)."""
    host, port = node
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def is_transient(error: mysql.connector.Error | MySQLInterfaceError) -> bool:
    """True for errors that pass by themselves: lost connections, restarts, lock timeouts."""
    errno = getattr(error, "errno", None)
    return _lost(error) or errno in TRANSIENT_MYSQL_ERRORS or errno in (None, -1)


def _lost(error: mysql.connector.Error | MySQLInterfaceError) -> bool:
    """The connection broke (the connector's interface and operational errors)."""
    return isinstance(
        error,
        mysql.connector.InterfaceError | mysql.connector.OperationalError | MySQLInterfaceError,
    )
