"""The real server process against the real MariaDB, over real WebSocket connections."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus
from websockets.typing import Origin

from wsbench.server.origins import interface_addresses
from wsbench.testing.server import SERVER, ServerProcess

from .conftest import ADMIN_URL, Database, Target, apply_schema
from .helpers import (
    REFUSED_SCRIPT_PATHS,
    assert_script,
    free_port,
    numbers,
    open_run,
    send_run,
)


async def test_n_numbers_make_exactly_n_rows(target: Target, database: Database):
    run_id = database.new_run_id()
    acks, errors = await send_run(target.server, run_id, numbers(10_000), valid=10_000)
    assert errors == []
    assert acks[-1] == 10_000
    assert target.numbers(run_id) == list(range(1, 10_001))


async def test_runs_named_alike_but_for_case_keep_their_own_rows(
    target: Target, database: Database
):
    lower = database.new_run_id()
    upper = lower.upper()
    database.run_ids.append(upper)
    for run_id, first in ((lower, 1), (upper, 101)):
        frames = [str(number) for number in range(first, first + 5)]
        acks, errors = await send_run(target.server, run_id, frames, valid=5)
        assert (acks[-1], errors) == (5, [])  # acked: so it must be stored, under its own name
    assert target.numbers(lower) == [1, 2, 3, 4, 5]
    assert target.numbers(upper) == [101, 102, 103, 104, 105]


async def test_acks_are_cumulative_and_follow_the_commit(target: Target, database: Database):
    run_id = database.new_run_id()
    websocket, hello = await open_run(target.server, run_id)
    store, commit = target.name.split("-", 1)[0], hello["commit"]
    assert (hello["store"], hello["durable"]) == (store, True)
    assert commit == ("per-message" if target.name.endswith("per-message") else "group")
    acks = []
    async with websocket:
        for number in numbers(3000):
            await websocket.send(number)
        while not acks or acks[-1] < 3000:
            acks.append(json.loads(await websocket.recv())["acked"])
            # Another connection must already see every acknowledged row.
            assert target.count(run_id) >= acks[-1]
    assert acks == sorted(set(acks)), "acks must grow strictly"
    if commit == "group":
        assert len(acks) < 3000, "acks must be grouped, not one per number"


@pytest.mark.parametrize("clients", [2, 50])
async def test_concurrent_connections_each_get_their_own_count(
    mysql_server: ServerProcess, database: Database, clients: int
):
    per_client = 20_000 // clients
    run_ids = [database.new_run_id() for _ in range(clients)]
    results = await asyncio.gather(
        *(send_run(mysql_server, run_id, numbers(per_client), per_client) for run_id in run_ids)
    )
    for run_id, (acks, errors) in zip(run_ids, results, strict=True):
        assert errors == []
        assert acks[-1] == per_client
        assert database.count(run_id) == per_client


async def test_bad_frames_get_errors_and_the_numbers_around_them_are_stored(
    target: Target, database: Database
):
    run_id = database.new_run_id()
    frames = ["1", "abc", "2", "1.5", "", "99999999999999999999", b"\x00\x01", "3", " 4", "+5", "6"]
    acks, errors = await send_run(target.server, run_id, frames, valid=4)
    assert acks[-1] == 4
    assert [error["frame"] for error in errors] == [2, 4, 5, 6, 7, 9, 10]
    reasons = [error["error"].split(":")[0] for error in errors]
    assert reasons == [
        "not an integer",
        "not an integer",
        "empty frame",
        "out of range",
        "binary frame",
        "not an integer",
        "not an integer",
    ]
    assert target.numbers(run_id) == [1, 2, 3, 6]


async def test_an_oversized_frame_closes_only_its_own_connection(
    mysql_server: ServerProcess, database: Database
):
    run_id, other_run = database.new_run_id(), database.new_run_id()
    websocket, _ = await open_run(mysql_server, run_id)
    async with websocket:
        await websocket.send("1" * 2000)
        await websocket.wait_closed()
    assert websocket.close_code == 1009  # message too big
    acks, _ = await send_run(mysql_server, other_run, numbers(10), valid=10)
    assert acks[-1] == 10
    assert database.count(run_id) == 0


async def test_null_store_acks_and_stores_nothing(null_server: ServerProcess, database: Database):
    run_id = database.new_run_id()
    _, hello = await open_run(null_server, run_id)
    assert (hello["store"], hello["durable"], hello["target"]) == ("null", False, None)
    acks, _ = await send_run(null_server, run_id, numbers(1000), valid=1000)
    assert acks[-1] == 1000
    assert database.count(run_id) == 0
    assert "NOTHING IS STORED" in null_server.log
    assert get(f"{null_server.http_url}/runs/{run_id}")[1] == {
        "run": run_id,
        "store": "null",
        "rows": None,
    }


def http_base(server: ServerProcess, port: str) -> str:
    """Plain HTTP on the WebSocket port (websockets) or on the HTTP port (aiohttp)."""
    return f"http://{server.host}:{server.port}" if port == "ws" else server.http_url


def get(url: str, origin: str | None = None) -> tuple[int, dict, str | None]:
    """GET a JSON resource: status, body and the CORS header."""
    request = urllib.request.Request(url, headers={"Origin": origin} if origin else {})
    try:
        with urllib.request.urlopen(request) as response:
            return response.status, json.load(response), response.headers.get(CORS)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error), error.headers.get(CORS)


CORS = "Access-Control-Allow-Origin"


@pytest.mark.parametrize("port", ["ws", "http"])
async def test_run_counts_and_info_over_http_with_cors_for_allowed_origins_only(
    mysql_server: ServerProcess, database: Database, port: str
):
    run_id = database.new_run_id()
    await send_run(mysql_server, run_id, numbers(25), valid=25)
    base = http_base(mysql_server, port)
    count = {"run": run_id, "store": "mysql", "rows": 25}
    assert get(f"{base}/runs/{run_id}", "null") == (200, count, "null")
    for own_port in (mysql_server.port, mysql_server.http_port):
        own = f"http://localhost:{own_port}"
        assert get(f"{base}/runs/{run_id}", own) == (200, count, own)
    assert get(f"{base}/runs/{run_id}", "https://evil.example") == (200, count, None)
    status, body, _ = get(f"{base}/runs/not%20valid")
    assert status == 400 and "run id" in body["error"]
    status, info, cors = get(f"{base}/info", "null")
    assert (status, cors) == (200, "null")
    assert info["store"] == "mysql" and info["commit"] == "group" and info["notice"] is None
    assert (info["ws_port"], info["http_port"]) == (mysql_server.port, mysql_server.http_port)


@pytest.mark.parametrize("port", ["ws", "http"])
async def test_the_page_is_served(mysql_server: ServerProcess, port: str):
    base = http_base(mysql_server, port)
    with urllib.request.urlopen(f"{base}/") as response:
        assert response.headers["Content-Type"] == "text/html; charset=utf-8"
        assert b'<script src="page/runner.js">' in response.read()
    with urllib.request.urlopen(f"{base}/page/runner.js") as response:
        assert_script(response.status, response.headers, response.read(), "runner.js")
    for path in ("/nothing-here", *REFUSED_SCRIPT_PATHS):
        with pytest.raises(urllib.error.HTTPError) as error:
            urllib.request.urlopen(f"{base}{path}")
        assert error.value.code == 404, path


@pytest.mark.parametrize(
    ("origin", "accepted"),
    [
        (None, True),
        ("null", True),
        ("http://127.0.0.1:{port}", True),
        ("http://localhost:{port}", True),
        ("https://evil.example", False),
        ("http://127.0.0.1:1", False),
        ("http://127.0.0.1:{port}.evil.example", False),
    ],
)
async def test_handshakes_from_foreign_origins_are_refused(
    mysql_server: ServerProcess, database: Database, origin: str | None, accepted: bool
):
    origin = origin.format(port=mysql_server.port) if origin else None
    if accepted:
        websocket, _ = await open_run(mysql_server, database.new_run_id(), origin=origin)
        await websocket.close()
    else:
        with pytest.raises(InvalidStatus) as refused:
            await open_run(mysql_server, database.new_run_id(), origin=origin)
        assert refused.value.response.status_code == 403


async def test_a_bad_run_id_is_refused_at_the_handshake(mysql_server: ServerProcess):
    with pytest.raises(InvalidStatus) as refused:
        await connect(f"{mysql_server.ws_url}/?run=no%20spaces")
    assert refused.value.response.status_code == 400


async def test_a_wildcard_bind_admits_pages_from_this_hosts_addresses_only():
    # --host 0.0.0.0 as in a network namespace: the page comes from whichever address the
    # browser reached, say http://10.214.3.2:8765.
    before = set(interface_addresses())
    with ServerProcess("--host", "0.0.0.0", "--db", "null:") as server:
        # Addresses there before and after the start: links of other tests come and go.
        own = [
            f"http://{address}:{server.port}"
            for address in sorted(before & set(interface_addresses()))
            if ipaddress.ip_address(address).version == 4
        ]
        assert f"http://127.0.0.1:{server.port}" in own
        url = f"ws://127.0.0.1:{server.port}/?run=wildcard"
        for origin in own:
            async with connect(url, origin=Origin(origin)) as websocket:
                assert "hello" in json.loads(await websocket.recv()), origin
        for origin in (
            f"http://evil.example:{server.port}",
            "null",
            f"http://localhost:{server.port}",
        ):
            with pytest.raises(InvalidStatus) as refused:
                await connect(url, origin=Origin(origin))
            assert refused.value.response.status_code == 403, origin
        # The HTTP port's CORS names the same origins.
        info = f"http://127.0.0.1:{server.http_port}/info"
        page = f"http://127.0.0.1:{server.http_port}"
        assert get(info, page)[2] == page
        assert get(info, f"http://evil.example:{server.http_port}")[2] is None


def start_failure(*args: str) -> str:
    """Run the server expecting it to refuse to start; return what it printed."""
    result = subprocess.run(
        [sys.executable, str(SERVER), "--port", "0", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1, result.stderr
    assert result.stderr.count("\n") == 1, "one line, one message"
    return result.stderr


PORT_FLAGS = ("--port", "--http-port", "--h2-port", "--h3-port")
IN_USE = "address already in use (is another server running? choose free ports with " + ", ".join(
    PORT_FLAGS
)


def session_processes(session: int) -> list[int]:
    """The processes still in a session (its leader's pid): what a server left running."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            fields = stat.read_text().rpartition(")")[2].split()
            if int(fields[3]) == session and fields[0] != "Z":  # field 6: the session id
                found.append(int(stat.parent.name))
    return found


def outliving(session: int, grace_s: float = 5) -> list[int]:
    """The processes of a session still there ``grace_s`` after its leader ended. Some leave by
    themselves, moments after it: multiprocessing's resource tracker once its pipe closes."""
    deadline = time.monotonic() + grace_s
    while (left := session_processes(session)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left


@pytest.mark.parametrize(
    ("flag", "kind", "extra"),
    [
        pytest.param("--port", socket.SOCK_STREAM, (), id="websocket"),
        pytest.param("--http-port", socket.SOCK_STREAM, (), id="http"),
        pytest.param("--h2-port", socket.SOCK_STREAM, ("--tls",), id="http2"),
        pytest.param("--h3-port", socket.SOCK_DGRAM, ("--tls",), id="http3-udp"),
        pytest.param("--port", socket.SOCK_STREAM, ("--workers", "2"), id="websocket-workers"),
    ],
)
def test_a_port_in_use_stops_the_start_naming_it_and_the_fix(
    flag: str, kind: socket.SocketKind, extra: tuple[str, ...]
):
    """Another program holds one of the ports: the server exits with status 1 and says which
    port and what to do, and leaves nothing behind: no process, no port held."""
    flags = PORT_FLAGS if "--tls" in extra else PORT_FLAGS[:2]
    ports = {name: free_port() for name in flags}
    with socket.socket(socket.AF_INET, kind) as taken:
        taken.bind(("127.0.0.1", ports[flag]))
        if kind == socket.SOCK_STREAM:
            taken.listen()
        command = [sys.executable, str(SERVER), "--db", "null:", *extra]
        command += [arg for name, port in ports.items() for arg in (name, str(port))]
        server = subprocess.Popen(
            command, stderr=subprocess.PIPE, text=True, start_new_session=True
        )
        try:
            _, errors = server.communicate(timeout=60)
        finally:
            server.kill()
            server.wait()
            left = outliving(server.pid)
            for pid in left:  # left behind: after a failure too
                os.kill(pid, signal.SIGKILL)
    assert server.returncode == 1, errors
    assert f"('127.0.0.1', {ports[flag]}): {IN_USE}" in errors, errors
    assert "Traceback" not in errors, errors
    assert left == [], f"processes left running: {left}"
    kinds = {"--h3-port": (socket.SOCK_STREAM, socket.SOCK_DGRAM)}  # QUIC's port: UDP and TCP
    for name, port in ports.items():  # every port free again, the held one too
        for free_kind in kinds.get(name, (socket.SOCK_STREAM,)):
            with socket.socket(socket.AF_INET, free_kind) as probe:
                probe.bind(("127.0.0.1", port))


def test_start_up_without_a_database_server_says_so(database: Database):
    message = start_failure("--db", "mysql://wsbench@127.0.0.1:1/test")
    assert "cannot connect to MySQL at 127.0.0.1:1: is it running?" in message
    assert "systemctl start mariadb" in message


def test_start_up_with_a_wrong_password_says_so_without_showing_it(database: Database):
    message = start_failure("--db", "mysql://wsbench:s3cret-pw@127.0.0.1:3306/test")
    assert "access denied for MySQL user 'wsbench' at 127.0.0.1:3306" in message
    assert "mysql -u root < schema.sql" in message
    assert "s3cret-pw" not in message


def admin_url_of(name: str) -> str:
    """The tests' admin account on database ``name``."""
    return urlunsplit(urlsplit(ADMIN_URL)._replace(path=f"/{name}"))


def scratch_name(what: str) -> str:
    """A scratch database's name of this test's own: sessions sharing a MariaDB (two people,
    CI and a person) never drop each other's."""
    return f"wsbench_pytest_{what}_{uuid.uuid4().hex[:8]}"


def start_failure_in_scratch_database(database: Database, name: str, *statements: str) -> str:
    """Start the server on a database of the test's own, made by ``statements``, then dropped."""
    database.query(f"CREATE DATABASE IF NOT EXISTS {name}")
    try:
        for statement in statements:
            database.query(statement)
        return start_failure("--db", admin_url_of(name))
    finally:
        database.query(f"DROP DATABASE {name}")


def test_start_up_without_the_table_says_how_to_create_it(database: Database):
    name = scratch_name("empty")
    message = start_failure_in_scratch_database(database, name)
    assert f"table {name}.testing does not exist" in message
    assert "create it with `mysql -u root < schema.sql`" in message


def test_start_up_without_the_database_says_how_to_create_it(database: Database):
    message = start_failure("--db", admin_url_of("wsbench_no_such_db"))
    assert "database 'wsbench_no_such_db' does not exist" in message


def test_schema_is_rerunnable_and_the_server_user_has_least_privilege(database: Database):
    assert apply_schema(database.url).returncode == 0
    grants = database.query("SHOW GRANTS FOR 'wsbench'@'127.0.0.1'")
    privileges = sorted(grant for (grant,) in grants if "testing" in grant)
    assert privileges == ["GRANT SELECT, INSERT ON `test`.`testing` TO `wsbench`@`127.0.0.1`"]
    assert all("testing" in grant or "USAGE" in grant for (grant,) in grants)


@contextlib.contextmanager
def older_table(database: Database, name: str, columns: str, row: str) -> Iterator[None]:
    """A scratch database ``name`` whose ``testing`` table has ``columns`` and one ``row``."""
    database.query(f"CREATE DATABASE {name}")
    try:
        database.query(f"CREATE TABLE {name}.testing ({columns})")
        database.query(f"INSERT INTO {name}.testing (number, run_id, seq) VALUES {row}")
        yield
    finally:
        database.query(f"DROP DATABASE {name}")
        for host in ("localhost", "127.0.0.1", "::1"):  # the copy's grants outlive the table
            database.query(f"REVOKE ALL PRIVILEGES ON {name}.testing FROM 'wsbench'@'{host}'")


def apply_schema_twice(database: Database, name: str) -> None:
    """Run schema.sql on a scratch database twice: the second run finds nothing left to do."""
    for _ in range(2):
        result = apply_schema(database.url, name)
        assert result.returncode == 0, result.stderr


def test_schema_upgrades_a_table_of_wsbench_0_2_to_the_run_seq_primary_key(database: Database):
    name = scratch_name("upgrade")
    columns = (
        "id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT, number BIGINT NOT NULL, "
        "run_id VARCHAR(64) NOT NULL, seq BIGINT UNSIGNED NOT NULL, created_at TIMESTAMP(6) "
        "NOT NULL DEFAULT CURRENT_TIMESTAMP(6), PRIMARY KEY (id), UNIQUE KEY run_seq (run_id, seq)"
    )
    with older_table(database, name, columns, "(7, 'a', 1)"):
        apply_schema_twice(database, name)
        keys = database.query(
            "SELECT index_name, GROUP_CONCAT(column_name ORDER BY seq_in_index) "
            "FROM information_schema.statistics WHERE table_schema = %s AND table_name = "
            "'testing' GROUP BY index_name",
            name,
        )
        assert keys == [("PRIMARY", "run_id,seq")]
        assert database.query(f"SELECT number, run_id, seq FROM {name}.testing") == [(7, "a", 1)]


def test_schema_makes_an_older_tables_run_ids_compare_byte_by_byte(database: Database):
    name = scratch_name("caseless")
    columns = (
        "number BIGINT NOT NULL, "
        "run_id VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci NOT NULL, "
        "seq BIGINT UNSIGNED NOT NULL, created_at TIMESTAMP(6) NOT NULL "
        "DEFAULT CURRENT_TIMESTAMP(6), PRIMARY KEY (run_id, seq)"
    )
    warning = "compares run ids without case"
    with older_table(database, name, columns, "(7, 'Ab', 1)"):
        with ServerProcess("--db", admin_url_of(name)) as server:
            pass
        assert any(warning in line and "schema.sql" in line for line in server.lines), server.lines
        apply_schema_twice(database, name)
        collation = database.query(
            "SELECT collation_name FROM information_schema.columns WHERE table_schema = %s "
            "AND table_name = 'testing' AND column_name = 'run_id'",
            name,
        )
        assert collation == [("ascii_bin",)]
        assert database.query(f"SELECT number, run_id, seq FROM {name}.testing") == [(7, "Ab", 1)]
        # Now a second run, the same but for case, has a row of its own.
        database.query(f"INSERT INTO {name}.testing (number, run_id, seq) VALUES (8, 'ab', 1)")
        assert database.query(f"SELECT COUNT(*) FROM {name}.testing") == [(2,)]
        with ServerProcess("--db", admin_url_of(name)) as server:
            pass
        assert not any(warning in line for line in server.lines), server.lines


def test_start_up_with_an_old_table_says_how_to_replace_it(database: Database):
    name = scratch_name("old")
    message = start_failure_in_scratch_database(
        database, name, f"CREATE TABLE {name}.testing (value INT)"
    )
    assert f"table {name}.testing has an old layout" in message
    assert "'Upgrading the table' in docs/troubleshooting.md" in message
