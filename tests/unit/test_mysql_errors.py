"""The one line a MySQL error becomes: where the server was looked for, and the fix."""

from __future__ import annotations

import mysql.connector
import pytest
from mysql.connector import errorcode

from wsbench.store.mysql_errors import explain
from wsbench.store.url import parse_database_url

SOCKET = "/run/mysqld/mysqld.sock"
TCP = parse_database_url("mysql://wsbench@127.0.0.1:3306/test")
OVER_SOCKET = parse_database_url(f"mysql://wsbench@127.0.0.1:3306/test?unix_socket={SOCKET}")

# Every errno explain() has words for, and one it has none for.
ERRNOS = [
    errorcode.CR_CONN_HOST_ERROR,
    errorcode.CR_CONNECTION_ERROR,
    errorcode.ER_ACCESS_DENIED_ERROR,
    errorcode.ER_BAD_DB_ERROR,
    errorcode.ER_NO_SUCH_TABLE,
    errorcode.ER_TABLEACCESS_DENIED_ERROR,
    errorcode.ER_BAD_FIELD_ERROR,
    errorcode.ER_PARSE_ERROR,
]


def error(errno: int) -> mysql.connector.Error:
    return mysql.connector.Error(msg="the server's words", errno=errno)


def test_over_tcp_the_messages_name_the_host_and_port() -> None:
    message = explain(error(errorcode.CR_CONN_HOST_ERROR), TCP)
    assert message.startswith("cannot connect to MySQL at 127.0.0.1:3306: is it running?")


def test_over_a_socket_the_messages_name_the_socket() -> None:
    unreachable = explain(error(errorcode.CR_CONNECTION_ERROR), OVER_SOCKET)
    assert unreachable.startswith(f"cannot connect to MySQL at {SOCKET}: is it running?")
    denied = explain(error(errorcode.ER_ACCESS_DENIED_ERROR), OVER_SOCKET)
    assert denied.startswith(f"access denied for MySQL user 'wsbench' at {SOCKET}: create the")
    other = explain(error(errorcode.ER_PARSE_ERROR), OVER_SOCKET)
    assert other == f"MySQL error {errorcode.ER_PARSE_ERROR} at {SOCKET}: the server's words"


@pytest.mark.parametrize("errno", ERRNOS)
def test_a_socket_changes_only_where_the_message_says_mysql_is(errno: int) -> None:
    over_tcp, over_socket = explain(error(errno), TCP), explain(error(errno), OVER_SOCKET)
    assert "127.0.0.1:3306" not in over_socket
    assert over_socket == over_tcp.replace("127.0.0.1:3306", SOCKET)
