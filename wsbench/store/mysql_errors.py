"""MySQL's errors: which ones pass by themselves, and one line for users that names the fix."""

from __future__ import annotations

import os

import mysql.connector
from _mysql_connector import MySQLInterfaceError  # the C extension's error; some calls leak it
from mysql.connector import errorcode

from ..config import DatabaseURL
from ..resources import SCHEMA
from .base import TABLE

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


def schema_command() -> str:
    """The shell command that creates the database, table and user."""
    path = os.path.relpath(SCHEMA)
    return f"mysql -u root < {SCHEMA if path.startswith('..') else path}"


def explain(error: mysql.connector.Error, url: DatabaseURL, option: str = "--db") -> str:
    """Turn a connector error into one line: what is wrong and what to run.

    ``option``: the command-line option that names the database. Over a unix socket the messages
    name the socket: the URL's host and port are then not used.
    """
    where = url.unix_socket or f"{url.host}:{url.port}"
    fix = schema_command()
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
