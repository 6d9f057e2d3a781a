"""Breaking things for real: killed database connections, dropped clients, restarts, overload."""

from __future__ import annotations

import asyncio
import json
import resource
import signal
from collections.abc import Iterator

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from wsbench.client import send_run
from wsbench.testing.server import ServerProcess

from .conftest import MYSQL_URL, Database, admin_connect


def assert_exactly(database: Database, run_id: str, n: int) -> None:
    """The run has numbers 1..n, each once, each at its own sequence number."""
    (count, distinct, in_place, top) = database.query(
        "SELECT COUNT(*), COUNT(DISTINCT number), SUM(number = seq), MAX(seq) "
        "FROM test.testing WHERE run_id = %s",
        run_id,
    )[0]
    assert (count, distinct, in_place, top) == (n, n, n, n)


def server_connections(database: Database) -> list[int]:
    """Ids of the MySQL connections the server's user holds."""
    rows = database.query("SELECT id FROM information_schema.PROCESSLIST WHERE user = 'wsbench'")
    return [connection_id for (connection_id,) in rows]


async def test_killed_database_connections_lose_and_double_nothing(database: Database):
    """KILL the server's MySQL connections at five acks during a run of 20,000 numbers."""
    run_id = database.new_run_id()
    kills = 0

    def kill_on_ack(websocket, acked: int) -> None:
        nonlocal kills
        if kills < 5 and acked < 20_000:
            for connection_id in server_connections(database):
                database.query(f"KILL {int(connection_id)}")
            kills += 1

    # Small batches: many acks during the run, so the kills land in the middle of it.
    with ServerProcess("--db", MYSQL_URL, "--max-batch", "500") as server:
        result = await send_run(
            server.ws_url, run_id, range(1, 20_001), on_ack=kill_on_ack, timeout_s=180
        )
        log = server.log
    assert kills == 5
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


async def test_a_locked_table_pushes_back_on_senders_and_loses_nothing(database: Database):
    """LOCK TABLES ... WRITE for 5 s while a client sends a million numbers.

    The server stops reading once --max-pending numbers wait, TCP pushes back on the sender,
    and the server's memory stays under MEMORY_BOUND_KIB; without the limit it would hold every
    number (about 200 bytes each). When the lock goes, every number is committed and acked.
    """
    run_id = database.new_run_id()
    with ServerProcess("--db", MYSQL_URL, "--max-pending", "10000") as server:
        async with connect(f"{server.ws_url}/?run={run_id}", compression=None) as websocket:
            await websocket.recv()  # hello: taken before the lock, which would block it
            locker = admin_connect(database.url)
            locker.cursor().execute("LOCK TABLES test.testing WRITE")
            sent = 0

            async def send_all() -> None:
                nonlocal sent
                for number in range(1, LOCKED_N + 1):
                    await websocket.send(str(number))
                    sent = number

            sender = asyncio.create_task(send_all())
            peak = 0
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 5
            try:
                while loop.time() < deadline:  # sample the memory while the lock holds
                    peak = max(peak, rss_kib(server.process.pid))
                    await asyncio.sleep(0.1)
                sent_while_locked = sent
            finally:
                locker.cursor().execute("UNLOCK TABLES")
                locker.close()
            async with asyncio.timeout(120):
                while json.loads(await websocket.recv())["acked"] < LOCKED_N:
                    pass
            await sender
    print(f"server RSS peaked at {peak} KiB; {sent_while_locked} numbers sent while locked")
    assert sent_while_locked < LOCKED_N, "the sender should have been held back"
    assert peak < MEMORY_BOUND_KIB, f"server RSS peaked at {peak} KiB"
    assert_exactly(database, run_id, LOCKED_N)


def test_the_servers_user_cannot_delete_update_or_drop(database: Database):
    from mysql.connector import Error

    from wsbench.config import parse_database_url

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


async def test_a_revoked_privilege_reaches_the_client_as_an_error(database: Database):
    """A permanent failure: error frames for the numbers, one log line, nothing acked."""
    run_id = database.new_run_id()
    with ServerProcess("--db", MYSQL_URL) as server:
        database.query("REVOKE INSERT ON test.testing FROM 'wsbench'@'127.0.0.1'")
        try:
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
        finally:
            database.query("GRANT INSERT ON test.testing TO 'wsbench'@'127.0.0.1'")
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
    mysql_server: ServerProcess, database: Database
):
    """The server's idle connections die (KILL); the next client is still served at once."""
    run_id = database.new_run_id()
    await send_run(mysql_server.ws_url, run_id, range(1, 11))  # the connections exist now
    for connection_id in server_connections(database):
        database.query(f"KILL {int(connection_id)}")
    async with connect(f"{mysql_server.ws_url}/?run={run_id}") as websocket:
        hello = json.loads(await websocket.recv())["hello"]
        assert hello["committed"] == 10
