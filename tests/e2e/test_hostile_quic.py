"""Hostile input on the QUIC port (HTTP/3 and WebTransport), against the real server and MariaDB.

As tests/e2e/test_hostile.py does for the TCP ports: every kind of bad input gets a clear error
(a status, an error line or datagram, a closed session or connection), stores nothing for its
run, and leaves the server serving normal requests and sessions.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import time
from collections.abc import Callable
from urllib.parse import urlsplit

import pytest
from aioquic.quic.connection import QuicConnection

from wsbench.bench.quic import (
    STREAM_LIMIT,
    QuicClient,
    QuicClosed,
    SessionRefused,
    WebTransportSession,
    quic_configuration,
)
from wsbench.testing.server import ServerProcess

from .conftest import MYSQL_URL, Database
from .quic import INSECURE, QUIC_ARGS, h3, h3_url

NOT_AN_INTEGER = "not an integer"
OUT_OF_RANGE = "out of range"
MAX_FRAME = 1024  # the server's default --max-frame and --max-body
MIB = 2**20
TIMEOUT = 10  # seconds for any single exchange with the server
TEXT = {"Content-Type": "text/plain"}
FOREIGN = "https://evil.example"

# POST /numbers over HTTP/3: (body, headers, query, status, what the error says).
REQUESTS = [
    pytest.param(b"1); DROP TABLE testing; --", TEXT, "", 400, NOT_AN_INTEGER, id="sql"),
    pytest.param(b"9223372036854775808", TEXT, "", 400, OUT_OF_RANGE, id="out-of-range"),
    pytest.param(b"", TEXT, "", 400, "empty", id="empty-body"),
    pytest.param(b"\xff\xfe", TEXT, "", 400, "not UTF-8", id="invalid-utf8"),
    pytest.param(
        b'{"n": 5}', {"Content-Type": "application/json"}, "", 415, "text/plain", id="json-object"
    ),  # fmt: skip
    pytest.param(b"5", {}, "", 415, "text/plain", id="no-content-type"),
    pytest.param(b"1" * MIB, TEXT, "", 413, f"body over {MAX_FRAME} bytes", id="1-MiB-body"),
    pytest.param(
        b"5", {**TEXT, "Origin": FOREIGN}, "", 403, "origin not allowed", id="foreign-origin"
    ),  # fmt: skip
    pytest.param(b"5", TEXT, "no-run", 400, "run is required", id="missing-run"),
    pytest.param(b"5", TEXT, "no-seq", 400, "seq is required", id="missing-seq"),
    pytest.param(b"5", TEXT, "seq=0", 400, "seq must be", id="seq-zero"),
    pytest.param(b"5", TEXT, "run=a%20b", 400, "run id must be", id="bad-run-id"),
]

# WebTransport CONNECTs the server refuses: (path, origin, status, reason).
CONNECTS = [
    pytest.param(
        "/webtransport?run={run}", FOREIGN, 403, "origin not allowed", id="foreign-origin"
    ),
    pytest.param("/webtransport?run=a%20b", None, 400, "run id must be", id="bad-run-id"),
    pytest.param(
        "/elsewhere?run={run}", None, 404, "WebTransport is at /webtransport", id="wrong-path"
    ),  # fmt: skip
]


@pytest.fixture(scope="module")
def quic_server(database: Database, start_server: Callable[..., ServerProcess]) -> ServerProcess:
    """A --tls server with its QUIC port, writing to MySQL."""
    return start_server(*QUIC_ARGS, "--db", MYSQL_URL)


def query_for(run_id: str, query: str) -> str:
    """The query string of a case: the test's run and seq 1, or the case's own."""
    if query == "no-run":
        return "seq=1"
    if query == "no-seq":
        return f"run={run_id}"
    if query.startswith("seq="):
        return f"run={run_id}&{query}"
    return query or f"run={run_id}&seq=1"


async def post(
    client: QuicClient, run_id: str, body: bytes, headers: dict[str, str], query: str = ""
) -> tuple[int, dict[str, object]]:
    """POST /numbers over HTTP/3; the status and the JSON answer."""
    async with asyncio.timeout(TIMEOUT):
        status, _, answer = await client.request(
            "POST", f"/numbers?{query_for(run_id, query)}", headers, body
        )
    return status, json.loads(answer)


async def open_session(client: QuicClient, run_id: str) -> WebTransportSession:
    """A session for ``run_id``, past its hello."""
    async with asyncio.timeout(TIMEOUT):
        session = await client.open_session(f"/webtransport?run={run_id}")
        hello = (await session.receive())["hello"]
    assert (hello["run"], hello["committed"]) == (run_id, 0)
    return session


async def assert_still_serving(server: ServerProcess, database: Database, since: int) -> None:
    """The process is alive, a fresh HTTP/3 POST and a fresh WebTransport session each get a
    number committed, and the server logged no traceback since line ``since``."""
    assert server.process.poll() is None, f"the server died:\n{server.log}"
    http_run, session_run = database.new_run_id(), database.new_run_id()
    async with h3(server) as client:
        assert await post(client, http_run, b"4", TEXT) == (200, {"acked": 1})
        session = await open_session(client, session_run)
        session.send(b"5\n")
        async with asyncio.timeout(TIMEOUT):
            assert await session.receive() == {"acked": 1}
        session.close()
    assert (database.numbers(http_run), database.numbers(session_run)) == ([4], [5])
    log = server.log_since(since)
    assert "Traceback" not in log, f"the server logged a traceback:\n{log}"


# --- HTTP/3 -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("body", "headers", "query", "status", "reason"), REQUESTS)
async def test_a_bad_http3_request_gets_a_json_error_and_stores_nothing(
    quic_server: ServerProcess,
    database: Database,
    body: bytes,
    headers: dict[str, str],
    query: str,
    status: int,
    reason: str,
):
    """The same checks and answers as the HTTPS ports."""
    since, run_id = quic_server.mark(), database.new_run_id()
    async with h3(quic_server) as client:
        answer_status, answer = await post(client, run_id, body, headers, query)
    assert answer_status == status
    assert reason in str(answer["error"])
    assert database.count(run_id) == 0
    await assert_still_serving(quic_server, database, since)


async def test_more_requests_than_the_server_allows_at_once_are_all_answered(
    quic_server: ServerProcess, database: Database
):
    """300 POSTs at once on one connection: the server's stream limit (128) holds the rest
    back, none is refused, and each is stored once."""
    since, run_id = quic_server.mark(), database.new_run_id()
    async with h3(quic_server) as client, asyncio.timeout(60):
        answers = await asyncio.gather(
            *(
                client.request("POST", f"/numbers?run={run_id}&seq={seq}", TEXT, str(seq).encode())
                for seq in range(1, 301)
            )  # fmt: skip
        )
    assert [status for status, _, _ in answers] == [200] * 300
    assert database.numbers(run_id) == list(range(1, 301))
    await assert_still_serving(quic_server, database, since)


async def test_a_client_that_ignores_the_stream_limit_loses_its_connection_alone(
    quic_server: ServerProcess, database: Database
):
    """A client opening more streams than the server allows breaks QUIC's rules: the server
    closes that connection (STREAM_LIMIT_ERROR) and serves everyone else."""
    since, run_id = quic_server.mark(), database.new_run_id()
    async with h3(quic_server) as client:
        client._quic._remote_max_streams_bidi = 10 * STREAM_LIMIT  # lie to our own client
        async with asyncio.timeout(30):
            answers = await asyncio.gather(
                *(
                    client.request("POST", f"/numbers?run={run_id}&seq={seq}", TEXT, b"5")
                    for seq in range(1, 2 * STREAM_LIMIT + 1)
                ),  # fmt: skip
                return_exceptions=True,
            )
        assert client.closed_reason is not None
    refused = [answer for answer in answers if isinstance(answer, QuicClosed)]
    assert refused, "the server accepted streams beyond its own limit"
    assert database.count(run_id) <= STREAM_LIMIT
    await assert_still_serving(quic_server, database, since)


async def test_a_connection_beyond_max_connections_is_refused_with_the_reason(
    database: Database, start_server: Callable[..., ServerProcess]
):
    server = start_server(*QUIC_ARGS, "--db", MYSQL_URL, "--max-connections", "2")
    since, run_id = server.mark(), database.new_run_id()
    async with h3(server) as first, h3(server) as second:
        for client in (first, second):
            assert (await client.request("GET", "/info"))[0] == 200
        with pytest.raises(ConnectionError) as refused:
            async with h3(server) as third:
                await post(third, run_id, b"5", TEXT)
        assert "too many connections (limit 2)" in str(refused.value)
    assert database.count(run_id) == 0
    await assert_still_serving(server, database, since)


# --- WebTransport -------------------------------------------------------------------------------


@pytest.mark.parametrize(("path", "origin", "status", "reason"), CONNECTS)
async def test_a_refused_webtransport_session_gets_its_status_and_reason(
    quic_server: ServerProcess,
    database: Database,
    path: str,
    origin: str | None,
    status: int,
    reason: str,
):
    since, run_id = quic_server.mark(), database.new_run_id()
    async with h3(quic_server) as client, asyncio.timeout(TIMEOUT):
        with pytest.raises(SessionRefused) as refused:
            await client.open_session(path.replace("{run}", run_id), origin)
    assert (refused.value.status, reason in refused.value.reason) == (status, True)
    assert database.count(run_id) == 0
    await assert_still_serving(quic_server, database, since)


async def test_more_sessions_than_a_connection_may_have_get_429(
    quic_server: ServerProcess, database: Database
):
    since = quic_server.mark()
    runs = [database.new_run_id() for _ in range(5)]
    async with h3(quic_server) as client:
        for run_id in runs[:4]:
            await open_session(client, run_id)
        with pytest.raises(SessionRefused) as refused:
            async with asyncio.timeout(TIMEOUT):
                await client.open_session(f"/webtransport?run={runs[4]}")
    assert refused.value.status == 429 and "too many sessions" in refused.value.reason
    assert [database.count(run_id) for run_id in runs] == [0] * 5
    await assert_still_serving(quic_server, database, since)


async def test_a_bad_line_gets_an_error_line_and_the_session_stays_usable(
    quic_server: ServerProcess, database: Database
):
    since, run_id = quic_server.mark(), database.new_run_id()
    async with h3(quic_server) as client:
        session = await open_session(client, run_id)
        session.send(b"1); DROP TABLE testing; --\n9223372036854775808\n7\n")
        async with asyncio.timeout(TIMEOUT):
            messages = [await session.receive() for _ in range(3)]
    errors = [(m["frame"], str(m["error"]).split(":")[0]) for m in messages if "error" in m]
    assert errors == [(1, NOT_AN_INTEGER), (2, OUT_OF_RANGE)]
    assert messages[-1] == {"acked": 1}
    assert database.numbers(run_id) == [7]
    await assert_still_serving(quic_server, database, since)


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"1" * (MAX_FRAME + 1), id="unfinished-line-over-the-limit"),
        pytest.param(b"1" * (4 * MAX_FRAME) + b"\n", id="4-KiB-line"),
    ],
)
async def test_an_oversized_line_gets_an_error_and_the_session_closes(
    quic_server: ServerProcess, database: Database, data: bytes
):
    since, run_id = quic_server.mark(), database.new_run_id()
    async with h3(quic_server) as client:
        session = await open_session(client, run_id)
        session.send(data)
        async with asyncio.timeout(TIMEOUT):
            message = await session.receive()
            with pytest.raises(QuicClosed):
                await session.receive()
    assert f"line over {MAX_FRAME} bytes" in message["error"]
    assert session.close_code == 1009
    assert database.count(run_id) == 0
    await assert_still_serving(quic_server, database, since)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        pytest.param(b"garbage", '"SEQ NUMBER"', id="no-space"),
        pytest.param(b"0 5", "seq must be", id="seq-zero"),
        pytest.param(b"1 x", NOT_AN_INTEGER, id="not-a-number"),
        pytest.param(b"1 99999999999999999999", OUT_OF_RANGE, id="out-of-range"),
        pytest.param(b"\xff\xfe \xff", "seq must be", id="invalid-utf8"),
    ],
)
async def test_a_bad_datagram_gets_an_error_datagram(
    quic_server: ServerProcess, database: Database, data: bytes, reason: str
):
    since, run_id = quic_server.mark(), database.new_run_id()
    async with h3(quic_server) as client:
        session = await open_session(client, run_id)
        session.send_datagram(data)
        async with asyncio.timeout(TIMEOUT):
            answer = json.loads(await session.datagrams.get())
    assert reason in answer["error"]
    assert database.count(run_id) == 0
    await assert_still_serving(quic_server, database, since)


# --- not QUIC at all ----------------------------------------------------------------------------


def truncated_initial(server_name: str) -> bytes:
    """The first 100 bytes of a real client's first packet (a QUIC Initial, cut short)."""
    connection = QuicConnection(configuration=quic_configuration(INSECURE))
    connection._configuration.server_name = server_name
    connection.connect(("127.0.0.1", 1), now=time.monotonic())
    [(packet, _), *_] = connection.datagrams_to_send(now=time.monotonic())
    return packet[:100]


async def test_garbage_udp_packets_leave_the_server_serving(
    quic_server: ServerProcess, database: Database
):
    """Random datagrams of every size up to 1,500 bytes, empty ones, a QUIC Initial cut short,
    and long-header packets of an unknown version: dropped (or answered with a version
    negotiation), and the server keeps serving."""
    since = quic_server.mark()
    address = urlsplit(h3_url(quic_server))
    packets = [os.urandom(size) for size in (1, 20, 100, 1200, 1500) for _ in range(20)]
    packets += [b"", truncated_initial(address.hostname or "127.0.0.1")]
    packets += [b"\xc0\x0a\x0b\x0c\x0d" + os.urandom(1195) for _ in range(10)]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        for packet in packets:
            udp.sendto(packet, (address.hostname, address.port))
    await assert_still_serving(quic_server, database, since)
