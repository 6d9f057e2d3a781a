"""Breaking things for real: killed database connections, dropped clients, restarts, overload."""

from __future__ import annotations

import asyncio
import json
import resource
import signal
import time
import uuid
from collections.abc import Iterator

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus
from websockets.frames import Frame

from wsbench.bench.client import send_run
from wsbench.testing.server import ServerProcess

from .conftest import MYSQL_URL, Database, ServerUser, admin_connect
from .helpers import scrape
from .test_hostile import TEXT, RawWebSocket, frame


def assert_exactly(database: Database, run_id: str, n: int, schema: str = "test") -> None:
    """The run has numbers 1..n, each once, each at its own sequence number."""
    (count, distinct, in_place, top) = database.query(
        "SELECT COUNT(*), COUNT(DISTINCT number), SUM(number = seq), MAX(seq) "
        f"FROM {schema}.testing WHERE run_id = %s",
        run_id,
    )[0]
    assert (count, distinct, in_place, top) == (n, n, n, n)


@pytest.fixture
def server_user(database: Database) -> Iterator[ServerUser]:
    """A MySQL user for this test's server alone: its connections are killed and its grants
    revoked, while the session's servers (and other sessions') go on as ``wsbench``."""
    with database.own_user() as user:
        yield user


@pytest.fixture
def scratch_user(database: Database) -> Iterator[ServerUser]:
    """A database of this test's own with schema.sql's table, and a user writing to it; both
    dropped at the end. A lock on its table stops no other server."""
    schema = f"wsbt_{uuid.uuid4().hex[:12]}"
    database.query(f"CREATE DATABASE {schema}")
    try:
        database.query(f"CREATE TABLE {schema}.testing LIKE test.testing")
        with database.own_user(schema) as user:
            yield user
    finally:
        database.query(f"DROP DATABASE IF EXISTS {schema}")


def kill_connections(database: Database, user: ServerUser) -> int:
    """KILL every MySQL connection of ``user``; how many there were."""
    killed = database.connections_of(user.name)
    for connection_id in killed:
        database.query(f"KILL {int(connection_id)}")
    return len(killed)


async def test_killed_database_connections_lose_and_double_nothing(
    database: Database, server_user: ServerUser
):
    """KILL the server's MySQL connections at five acks during a run of 20,000 numbers."""
    run_id = database.new_run_id()
    kills = killed = 0

    def kill_on_ack(websocket, acked: int) -> None:
        nonlocal kills, killed
        if kills < 5 and acked < 20_000:
            killed += kill_connections(database, server_user)  # none while it reconnects
            kills += 1

    # Small batches: many acks during the run, so the kills land in the middle of it.
    with ServerProcess("--db", server_user.url, "--max-batch", "500") as server:
        result = await send_run(
            server.ws_url, run_id, range(1, 20_001), on_ack=kill_on_ack, timeout_s=180
        )
        log = server.log
    assert kills == 5 and killed >= 1
    assert (result.acked, result.failed) == (20_000, 0)
    assert_exactly(database, run_id, 20_000)
    assert 1 <= log.count("database outage:") == log.count("database outage over") <= 5
    assert "Traceback" not in log


async def test_a_dropped_client_resumes_and_sends_only_the_rest(
    mysql_server: ServerProcess, database: Database
):
    """The client's TCP connection dies mid-run; it reconnects and the run ends with N rows."""
    run_id = database.new_run_id()
    dropped = []

    def drop_once(websocket, acked: int) -> None:
        if not dropped and acked < 10_000:  # the first ack: batches hold at most 5,000
            dropped.append(acked)
            websocket.transport.abort()  # no closing handshake: like a pulled cable

    result = await send_run(mysql_server.ws_url, run_id, range(1, 10_001), on_ack=drop_once)
    assert dropped and result.connections == 2
    assert dropped[0] <= result.hello["committed"] <= 10_000  # told to the new connection
    assert result.acked == 10_000
    assert_exactly(database, run_id, 10_000)


async def test_hello_tells_a_returning_client_how_far_its_run_got(
    mysql_server: ServerProcess, database: Database
):
    run_id = database.new_run_id()
    await send_run(mysql_server.ws_url, run_id, range(1, 101))
    async with connect(f"{mysql_server.ws_url}/?run={run_id}") as websocket:
        hello = json.loads(await websocket.recv())["hello"]
        assert hello["committed"] == 100
        await websocket.send("101")
        assert json.loads(await websocket.recv()) == {"acked": 101}
    assert_exactly(database, run_id, 101)


async def test_sigterm_mid_run_commits_and_acks_what_it_received(database: Database):
    """SIGTERM: acked numbers are all stored, connections close with 1001; a restart resumes."""
    run_id = database.new_run_id()
    server = ServerProcess("--db", MYSQL_URL)
    acks: list[int] = []

    async def send_all(websocket) -> None:
        for number in range(1, 50_001):
            await websocket.send(str(number))

    try:
        async with connect(f"{server.ws_url}/?run={run_id}", compression=None) as websocket:
            await websocket.recv()  # hello
            sender = asyncio.create_task(send_all(websocket))
            try:
                async for message in websocket:  # ends when the server closes
                    acks.append(json.loads(message)["acked"])
                    if len(acks) == 1:
                        server.process.send_signal(signal.SIGTERM)
            finally:
                sender.cancel()
        assert websocket.close_code == 1001  # going away
        assert server.process.wait(timeout=30) == 0
    finally:
        server.stop()
    stored = database.count(run_id)
    assert acks and acks[-1] == stored, "the last ack covers exactly what was committed"
    assert "committing and acking what was received" in server.log

    with ServerProcess("--db", MYSQL_URL) as restarted:
        result = await send_run(restarted.ws_url, run_id, range(1, 50_001), timeout_s=180)
    assert result.hello["committed"] == stored
    assert_exactly(database, run_id, 50_000)


async def test_a_full_connection_table_refuses_handshakes_with_503(database: Database):
    with ServerProcess("--db", MYSQL_URL, "--max-connections", "3") as server:
        held = [await connect(f"{server.ws_url}/?run=held{i}") for i in range(3)]
        try:
            with pytest.raises(InvalidStatus) as refused:
                await connect(f"{server.ws_url}/?run=one-too-many")
            assert refused.value.response.status_code == 503
        finally:
            for websocket in held:
                await websocket.close()


@pytest.fixture
def many_files() -> Iterator[None]:
    """Room for a thousand client sockets in this process."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 8192)), hard))
    yield
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


async def test_a_thousand_concurrent_connections_are_all_served(
    mysql_server: ServerProcess, database: Database, many_files: None
):
    run_ids = [database.new_run_id() for _ in range(1000)]
    results = await asyncio.gather(
        *(send_run(mysql_server.ws_url, run_id, range(1, 21), timeout_s=180) for run_id in run_ids)
    )
    assert all(result.acked == 20 for result in results)
    assert sum(database.count(run_id) for run_id in run_ids) == 20_000


def rss_kib(pid: int) -> int:
    """A process's resident memory."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


MEMORY_BOUND_KIB = 100 * 1024
LOCKED_N = 1_000_000
MAX_PENDING = 10_000
HELD_S = 1.5  # the lock's last seconds, in which the sender must not get a number out


async def test_a_locked_table_pushes_back_on_senders_and_loses_nothing(
    database: Database, scratch_user: ServerUser
):
    """LOCK TABLES ... WRITE for 5 s while a client sends a million numbers.

    The server stops reading once --max-pending numbers wait, TCP pushes back on the sender,
    and the server's memory stays under MEMORY_BOUND_KIB; without the limit it would hold every
    number (about 200 bytes each). When the lock goes, every number is committed and acked.
    The table is a scratch copy: the lock stops this test's server only.
    """
    run_id = database.new_run_id()
    table = f"{scratch_user.schema}.testing"
    pending = str(MAX_PENDING)
    with ServerProcess("--db", scratch_user.url, "--max-pending", pending) as server:
        async with connect(f"{server.ws_url}/?run={run_id}", compression=None) as websocket:
            await websocket.recv()  # hello: taken before the lock, which would block it
            locker = admin_connect(database.url)
            locker.cursor().execute(f"LOCK TABLES {table} WRITE")
            sent = 0

            async def send_all() -> None:
                nonlocal sent
                for number in range(1, LOCKED_N + 1):
                    await websocket.send(str(number))
                    sent = number

            sender = asyncio.create_task(send_all())
            peak = 0
            sent_at: list[tuple[float, int]] = []  # (time, numbers sent by then)
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 5
            try:
                while loop.time() < deadline:  # sample the memory while the lock holds
                    peak = max(peak, rss_kib(server.process.pid))
                    sent_at.append((loop.time(), sent))
                    await asyncio.sleep(0.1)
                sent_at.append((loop.time(), sent))
                depth = scrape(server)[("wsbench_queue_depth", "")]
            finally:
                locker.cursor().execute("UNLOCK TABLES")
                locker.close()
            async with asyncio.timeout(120):
                while json.loads(await websocket.recv())["acked"] < LOCKED_N:
                    pass
            await sender
    held = [count for at, count in sent_at if at >= deadline - HELD_S]
    print(f"server RSS peaked at {peak} KiB; {held[-1]} numbers sent while locked")
    # Held back, not merely slow: in the lock's last seconds not one more number got out.
    assert held[0] == held[-1] < LOCKED_N, f"the sender went on: {sent_at}"
    assert depth == MAX_PENDING, "the server reads no more than --max-pending ahead"
    assert peak < MEMORY_BOUND_KIB, f"server RSS peaked at {peak} KiB"
    assert_exactly(database, run_id, LOCKED_N, scratch_user.schema)


def test_the_servers_user_cannot_delete_update_or_drop(database: Database):
    from mysql.connector import Error

    from wsbench.store.url import parse_database_url

    server_user = admin_connect(parse_database_url(MYSQL_URL))
    try:
        for statement in (
            "DELETE FROM testing",
            "UPDATE testing SET number = 0",
            "DROP TABLE testing",
            "TRUNCATE TABLE testing",
            "CREATE TABLE wsbench_evil (x INT)",
        ):
            cursor = server_user.cursor()
            with pytest.raises(Error) as denied:
                cursor.execute(statement)
            assert denied.value.errno in (1142, 1044), statement  # command denied
    finally:
        server_user.close()


async def test_a_revoked_privilege_reaches_the_client_as_an_error(
    database: Database, server_user: ServerUser
):
    """A permanent failure: error frames for the numbers, one log line, nothing acked."""
    run_id = database.new_run_id()
    with ServerProcess("--db", server_user.url) as server:
        database.query(f"REVOKE INSERT ON test.testing FROM {server_user.account}")
        async with connect(f"{server.ws_url}/?run={run_id}") as websocket:
            await websocket.recv()  # hello
            for number in range(1, 6):
                await websocket.send(str(number))
            lost = 0
            async with asyncio.timeout(30):
                while lost < 5:
                    message = json.loads(await websocket.recv())
                    assert "acked" not in message or message["acked"] == 0
                    if "error" in message:
                        assert "may not use test.testing" in message["error"]
                        lost += message["not_stored"]
        log = server.log
    assert database.count(run_id) == 0
    assert log.count("rows NOT committed") == 1


async def test_a_second_connection_for_a_run_takes_over_from_the_first(
    mysql_server: ServerProcess, database: Database
):
    run_id = database.new_run_id()
    url = f"{mysql_server.ws_url}/?run={run_id}"
    async with connect(url) as first:
        await first.recv()  # hello
        for number in range(1, 101):
            await first.send(str(number))
        while json.loads(await first.recv())["acked"] < 100:
            pass
        async with connect(url) as second:
            hello = json.loads(await second.recv())["hello"]
            await first.wait_closed()
            assert (first.close_code, first.close_reason) == (1008, "run resumed elsewhere")
            assert hello["committed"] == 100


async def test_a_killed_idle_connection_does_not_turn_clients_away(
    database: Database, server_user: ServerUser
):
    """The server's idle connections die (KILL); the next client is still served at once."""
    run_id = database.new_run_id()
    with ServerProcess("--db", server_user.url) as server:
        await send_run(server.ws_url, run_id, range(1, 11))  # the connections exist now
        assert kill_connections(database, server_user) > 0
        async with connect(f"{server.ws_url}/?run={run_id}") as websocket:
            hello = json.loads(await websocket.recv())["hello"]
            assert hello["committed"] == 10


PING_S = 0.5  # the dead-peer test's --ping-interval and --ping-timeout


async def test_a_peer_that_answers_no_ping_is_closed_and_what_it_was_acked_stays(
    database: Database,
):
    """--ping-interval and --ping-timeout: a client that stops answering (a raw socket that
    never sends a pong, like a peer whose host went away) is closed by the server with 1011
    within the interval plus the timeout; a client that answers stays; the numbers acked to the
    dead one are committed, and its run resumes from them."""
    dead_run, live_run = database.new_run_id(), database.new_run_id()
    ping = ("--ping-interval", str(PING_S), "--ping-timeout", str(PING_S))
    with ServerProcess("--db", MYSQL_URL, *ping) as server:
        async with connect(f"{server.ws_url}/?run={live_run}") as live:  # it answers pings
            await live.recv()  # hello
            async with RawWebSocket.open(server, dead_run) as dead:
                opened = time.monotonic()
                for number in range(1, 101):
                    dead.write(frame(TEXT, str(number).encode()))
                acked = 0
                async with asyncio.timeout(10):
                    while acked < 100:
                        event = await dead.next_event()
                        if isinstance(event, Frame) and event.opcode is TEXT:
                            acked = json.loads(event.data)["acked"]
                code = await dead.close_code()  # reads on, never answering the pings
                lived = time.monotonic() - opened
            assert (code, dead.protocol.close_reason) == (1011, "keepalive ping timeout")
            # The first ping goes out an interval after the handshake; a timeout later, the
            # close. A second of slack for a busy machine.
            assert PING_S <= lived <= 2 * PING_S + 1, lived
            await live.send("7")  # open longer than the dead one, and still served
            assert json.loads(await live.recv()) == {"acked": 1}
        async with connect(f"{server.ws_url}/?run={dead_run}") as resumed:
            assert json.loads(await resumed.recv())["hello"]["committed"] == 100
    assert database.numbers(dead_run) == list(range(1, 101))
