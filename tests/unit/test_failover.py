"""Several database hosts: the URL, the errors' classes, and the node-to-node retry policy."""

from __future__ import annotations

import mysql.connector
import pytest
from mysql.connector import errorcode

from wsbench.store.failover import Rotation, Step
from wsbench.store.mysql_errors import Failure, classify, explain, no_node_took
from wsbench.store.url import parse_database_url

NODES = (("h1", 3306), ("h2", 3307), ("h3", 3306))


def test_a_url_with_several_hosts_names_them_all_in_order() -> None:
    url = parse_database_url("mysql://u:secret@h1:3306,h2:3307,h3/test")
    assert url.nodes == NODES
    assert (url.host, url.port, url.user, url.password) == ("h1", 3306, "u", "secret")
    assert url.failover_deadline_s == 9.0  # 3 s a host
    assert url.redacted() == "mysql://u:***@h1:3306,h2:3307,h3:3306/test"


def test_one_host_stays_as_it_was() -> None:
    url = parse_database_url("mysql://u@db.example:3310/bench")
    assert url.hosts == ()
    assert url.nodes == (("db.example", 3310),)
    assert url.redacted() == "mysql://u@db.example:3310/bench"


def test_ipv6_hosts_and_the_failover_bound() -> None:
    url = parse_database_url("mysql://u@[::1]:3306,[fd00::2]/test?failover_timeout=4.5")
    assert url.nodes == (("::1", 3306), ("fd00::2", 3306))
    assert url.failover_deadline_s == 4.5
    assert url.redacted() == "mysql://u@[::1]:3306,[fd00::2]:3306/test?failover_timeout=4.5"


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("mysql://u@h1:3306,h2:99999/test", "bad host 'h2:99999'"),
        ("mysql://u@h1:3306,,h2/test", "bad host ''"),
        ("mysql://u@h1,h2/test?unix_socket=/run/x.sock", "a unix socket is one host"),
        ("mysql://u@h1,h2/test?failover_timeout=soon", "bad ?failover_timeout="),
        ("mysql://u@h1,h2/test?failover=1", "unknown database URL option 'failover'"),
    ],
)
def test_bad_host_lists_are_refused_with_a_reason(url: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason.replace("?", r"\?")):
        parse_database_url(url)


@pytest.mark.parametrize(
    ("errno", "lost", "failure"),
    [
        (errorcode.ER_LOCK_DEADLOCK, False, Failure.RETRY),  # 1213: Galera certification conflict
        (errorcode.ER_UNKNOWN_COM_ERROR, False, Failure.NEXT_NODE),  # 1047: WSREP not ready
        (errorcode.ER_ERROR_DURING_COMMIT, False, Failure.NEXT_NODE),  # 1180: primary lost
        (errorcode.CR_SERVER_LOST, True, Failure.NEXT_NODE),  # 2013
        (errorcode.CR_SERVER_GONE_ERROR, True, Failure.NEXT_NODE),  # 2006
        (errorcode.CR_SERVER_LOST_EXTENDED, True, Failure.NEXT_NODE),  # 2055
        (errorcode.CR_CONN_HOST_ERROR, True, Failure.NEXT_NODE),  # 2003
        (None, True, Failure.NEXT_NODE),  # the C extension's errors without a number
        (errorcode.ER_TABLEACCESS_DENIED_ERROR, False, Failure.PERMANENT),
        (errorcode.ER_NO_SUCH_TABLE, False, Failure.PERMANENT),
    ],
)
def test_errors_are_classified(errno: int | None, lost: bool, failure: Failure) -> None:
    assert classify(errno, lost) is failure


def test_the_messages_name_the_fix() -> None:

    url = parse_database_url("mysql://u@10.0.0.1:3306/test")
    error = mysql.connector.Error(msg="WSREP has not yet prepared node", errno=1047)
    assert "outside the primary component" in explain(error, url)
    assert "bring a majority of the cluster's nodes back" in explain(error, url)
    message = no_node_took("h1:3306,h2:3306", 9, "MySQL error 1047: x")
    assert "within 9 s" in message and "?failover_timeout=SECONDS" in message


def test_the_rotation_moves_on_then_pauses_after_a_round() -> None:
    rotation = Rotation(NODES, deadline_s=9)
    rotation.start_batch()
    assert rotation.after(Failure.NEXT_NODE, 0.1) is Step.NEXT
    assert rotation.node == ("h2", 3307)
    assert rotation.after(Failure.NEXT_NODE, 0.2) is Step.NEXT
    assert rotation.after(Failure.NEXT_NODE, 0.3) is Step.PAUSE_THEN_NEXT
    assert rotation.node == ("h1", 3306)
    assert rotation.pause_s == 0.05
    for _ in range(3):
        rotation.after(Failure.NEXT_NODE, 1)
    assert rotation.pause_s == 0.1


def test_a_conflict_retries_the_same_node_and_permanent_errors_fail_at_once() -> None:
    rotation = Rotation(NODES, deadline_s=9)
    assert rotation.after(Failure.RETRY, 0.1) is Step.RETRY
    assert rotation.node == ("h1", 3306)
    assert rotation.after(Failure.PERMANENT, 0.1) is Step.FAIL


def test_past_the_deadline_the_batch_gives_up() -> None:
    rotation = Rotation(NODES, deadline_s=9)
    assert rotation.after(Failure.NEXT_NODE, 9.0) is Step.GIVE_UP
    assert rotation.after(Failure.RETRY, 12) is Step.GIVE_UP


def test_the_node_written_to_stays_across_batches() -> None:
    rotation = Rotation(NODES, deadline_s=9)
    rotation.after(Failure.NEXT_NODE, 0.1)
    rotation.start_batch()
    assert rotation.node == ("h2", 3307)


def test_no_node_answering_names_every_node_and_the_cluster_command() -> None:
    url = parse_database_url("mysql://u@10.0.0.1:3306,10.0.0.2:3306/test")
    error = mysql.connector.Error(msg="Can't connect", errno=errorcode.CR_CONN_HOST_ERROR)
    message = explain(error, url)
    assert message.startswith("no database node answers at 10.0.0.1:3306,10.0.0.2:3306: start")
    assert "python -m wsbench.cluster up" in message
