"""Hostile input against the real server and the real MariaDB.

Every kind of bad input must leave the server up, store no row, get a clear error (an error
frame, a close code or an HTTP 4xx), and leave valid traffic on other connections untouched.
The kinds are tables; each test runs one row of a table.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
from websockets.client import ClientProtocol
from websockets.exceptions import ConnectionClosed
from websockets.frames import Opcode
from websockets.http11 import Response
from websockets.protocol import State
from websockets.uri import parse_uri

from wsbench.testing.server import ServerProcess

from .conftest import Database
from .helpers import numbers, open_run, send_run

NOT_AN_INTEGER = "not an integer"
OUT_OF_RANGE = "out of range"
EMPTY = "empty frame"
BINARY = "binary frame"
MAX_FRAME = 1024  # the server's default --max-frame and --max-body
MIB = 2**20
TIMEOUT = 10  # seconds for any single exchange with the server

# 1. Text (and binary) frames over a normal WebSocket connection: an error frame each.
FRAMES = [  # one per class of error; every other bad frame is a unit test of the parser
    pytest.param("1); DROP TABLE testing; --", NOT_AN_INTEGER, id="sql-drop-table"),
    pytest.param("1" * MAX_FRAME, OUT_OF_RANGE, id="1024-digits-largest-frame"),
    pytest.param("", EMPTY, id="empty-frame"),
    pytest.param(b"42", BINARY, id="binary-frame-digits"),
]


# 2. Frames that break RFC 6455, written byte by byte on a raw socket: a close code each.
TEXT, CONTINUATION, CLOSE, PING = Opcode.TEXT, Opcode.CONT, Opcode.CLOSE, Opcode.PING
RESERVED_OPCODE = 0x3


def frame(
    opcode: int,
    payload: bytes,
    *,
    fin: bool = True,
    rsv: int = 0,
    mask: bool = True,
    declared_length: int | None = None,
) -> bytes:
    """One client frame built by hand, so that it may break any rule."""
    length = len(payload) if declared_length is None else declared_length
    mask_bit = 0x80 if mask else 0
    head = bytes([fin << 7 | rsv << 4 | opcode])
    if length < 126:
        head += bytes([mask_bit | length])
    elif length < 2**16:
        head += bytes([mask_bit | 126]) + length.to_bytes(2, "big")
    else:
        head += bytes([mask_bit | 127]) + length.to_bytes(8, "big")
    if not mask:
        return head + payload
    key = os.urandom(4)
    return head + key + bytes(byte ^ key[i % 4] for i, byte in enumerate(payload))


VIOLATIONS = [
    pytest.param([frame(TEXT, b"\xff\xfe")], 1007, id="invalid-utf8"),
    pytest.param([frame(TEXT, b"\xc0\xb5")], 1007, id="overlong-utf8"),
    pytest.param([frame(TEXT, b"\xed\xa0\x80")], 1007, id="utf8-encoded-surrogate"),
    pytest.param(
        [frame(TEXT, b"4\xe2\x82", fin=False), frame(CONTINUATION, b"")],
        1007,
        id="utf8-cut-at-end-of-fragmented-message",
    ),
    pytest.param([frame(CLOSE, b"\x03\xe8\xff")], 1007, id="close-reason-invalid-utf8"),
    pytest.param([frame(TEXT, b"5", mask=False)], 1002, id="unmasked-frame"),
    pytest.param([frame(RESERVED_OPCODE, b"5")], 1002, id="reserved-opcode"),
    pytest.param([frame(TEXT, b"5", rsv=0b100)], 1002, id="reserved-bit-set"),
    pytest.param([frame(CONTINUATION, b"5")], 1002, id="continuation-without-start"),
    pytest.param(
        [frame(TEXT, b"4", fin=False), frame(TEXT, b"2")],
        1002,
        id="new-message-inside-fragmented-one",
    ),
    pytest.param([frame(PING, b"", fin=False)], 1002, id="fragmented-ping"),
    pytest.param([frame(PING, b"x" * 126)], 1002, id="ping-over-125-bytes"),
    pytest.param([frame(CLOSE, (999).to_bytes(2, "big"))], 1002, id="close-code-999"),
    pytest.param([frame(CLOSE, b"\x03")], 1002, id="close-payload-1-byte"),
    pytest.param([frame(TEXT, b"", declared_length=2**63 - 1)], 1009, id="declared-length-2^63"),
]


# 3. Malformed requests on a raw socket, to the WebSocket port and to the HTTP port.
#    Expected: this HTTP status, or None for "closed without an answer".
KEY = base64.b64encode(b"0123456789abcdef").decode()
UPGRADE = {
    "Host": "127.0.0.1",
    "Upgrade": "websocket",
    "Connection": "Upgrade",
    "Sec-WebSocket-Key": KEY,
    "Sec-WebSocket-Version": "13",
}
POST = {
    "Host": "127.0.0.1",
    "Content-Type": "text/plain",
    "Content-Length": "1",
    "Connection": "close",
}
TLS_CLIENT_HELLO = b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03" + bytes(32)


def request(
    line: str,
    base: Mapping[str, str],
    changes: Mapping[str, str | None] | None = None,
    *,
    extra: Sequence[str] = (),
    body: bytes = b"",
) -> bytes:
    """An HTTP request; ``changes`` replace headers of ``base`` (None drops one), ``extra``
    adds raw header lines. ``{run}`` in the result stands for the test's run id."""
    headers = {**base, **(changes or {})}
    lines = [line, *(f"{name}: {value}" for name, value in headers.items() if value is not None)]
    return "\r\n".join([*lines, *extra, "", ""]).encode() + body


def upgrade(
    changes: Mapping[str, str | None] | None = None,
    *,
    line: str = "GET /?run={run} HTTP/1.1",
    extra: Sequence[str] = (),
    body: bytes = b"",
) -> bytes:
    """A WebSocket handshake request for the test's run, with ``changes``."""
    return request(line, UPGRADE, changes, extra=extra, body=body)


def post(
    changes: Mapping[str, str | None] | None = None,
    *,
    line: str = "POST /numbers?run={run}&seq=1 HTTP/1.1",
    extra: Sequence[str] = (),
    body: bytes = b"5",
) -> bytes:
    """``POST /numbers`` of the valid number 5 for the test's run, with ``changes``."""
    return request(line, POST, changes, extra=extra, body=body)


class ThenEOF(bytes):
    """Request bytes after which the client half-closes: it will send nothing more."""


MALFORMED_REQUESTS = [
    pytest.param("ws", ThenEOF(TLS_CLIENT_HELLO), None, id="ws-tls-client-hello"),
    pytest.param("ws", b"hello, server\r\n\r\n", None, id="ws-garbage-line"),
    pytest.param("ws", upgrade({"Sec-WebSocket-Key": None}), 400, id="ws-missing-key"),
    pytest.param("ws", upgrade({"Sec-WebSocket-Key": "short"}), 400, id="ws-bad-key"),
    pytest.param("ws", upgrade(extra=[f"Sec-WebSocket-Key: {KEY}"]), 400, id="ws-duplicate-key"),
    pytest.param("ws", upgrade({"Sec-WebSocket-Version": None}), 400, id="ws-missing-version"),
    pytest.param("ws", upgrade({"Sec-WebSocket-Version": "8"}), 400, id="ws-bad-version"),
    pytest.param("ws", upgrade({"Connection": "close"}), 426, id="ws-connection-not-upgrade"),
    pytest.param("ws", upgrade(line="GET /?run={run} HTTP/1.0"), 505, id="ws-http-1.0"),
    pytest.param("ws", upgrade({"X-Pad": "a" * 9000}), 431, id="ws-over-long-header-line"),
    pytest.param("ws", upgrade(extra=[f"X-{i}: a" for i in range(200)]), 431, id="ws-200-headers"),
    pytest.param(
        "ws", upgrade(line="GET /?run={run}&" + "a" * 9000 + " HTTP/1.1"), 414, id="ws-long-url"
    ),
    pytest.param(
        "ws",
        upgrade(line="POST /?run={run} HTTP/1.1", extra=["Content-Length: 1"], body=b"5"),
        None,
        id="ws-post",
    ),
    pytest.param(
        "ws", upgrade(extra=["Content-Length: 1"], body=b"5"), None, id="ws-get-with-body"
    ),
    pytest.param("ws", upgrade({"X-Nul": "a\x00b"}), None, id="ws-nul-in-header"),
    pytest.param("ws", upgrade().replace(b"\r\n", b"\n"), None, id="ws-bare-lf"),
    pytest.param("ws", ThenEOF(upgrade()[:40]), None, id="ws-truncated-handshake"),
    pytest.param("ws", upgrade(line="GET /?run=a%20b HTTP/1.1"), 400, id="ws-bad-run-id"),
    pytest.param("http", TLS_CLIENT_HELLO, 400, id="http-tls-client-hello"),
    pytest.param("http", b"hello, server\r\n\r\n", 400, id="http-garbage-line"),
    pytest.param("http", post({"X-Pad": "a" * 9000}), 400, id="http-over-long-header-line"),
    pytest.param(
        "http",
        post({"Transfer-Encoding": "chunked"}, body=b"1\r\n5\r\n0\r\n\r\n"),
        400,
        id="http-content-length-and-chunked",
    ),
    pytest.param("http", post({"Content-Length": "-1"}), 400, id="http-negative-length"),
    pytest.param("http", post(extra=["Content-Length: 2"], body=b"55"), 400, id="http-two-lengths"),
    pytest.param(
        "http",
        post({"Content-Length": None, "Transfer-Encoding": "chunked"}, body=b"zz\r\n5\r\n"),
        400,
        id="http-bad-chunk-size",
    ),
    pytest.param("http", post({"X-Nul": "a\x00b"}), 400, id="http-nul-in-header"),
    pytest.param("http", post().replace(b"\r\n", b"\n"), 400, id="http-bare-lf"),
    pytest.param("http", ThenEOF(post({"Content-Length": "100"})), None, id="http-truncated-body"),
    pytest.param("http", post(line="PUT /numbers?run={run}&seq=1 HTTP/1.1"), 405, id="http-put"),
]


# 4. POST /numbers bodies of the wrong type or size, sent by a normal HTTP client.
@dataclass(frozen=True)
class Chunked:
    """A body sent with Transfer-Encoding: chunked, ``size`` bytes of digits."""

    size: int

    async def stream(self) -> AsyncIterator[bytes]:
        for _ in range(self.size // 65536):
            yield b"1" * 65536


WRONG_TYPE = "Content-Type must be text/plain"
TOO_BIG = f"body over {MAX_FRAME} bytes"
BODIES = [  # one per class of error; the parser's other cases are unit tests
    pytest.param(b'{"n": 5}', "application/json", 415, WRONG_TYPE, id="json-object"),
    pytest.param(b"5", None, 415, WRONG_TYPE, id="no-content-type"),
    pytest.param(b"1" * MIB, "text/plain", 413, TOO_BIG, id="1-MiB-body"),
    pytest.param(Chunked(MIB), "text/plain", 413, TOO_BIG, id="chunked-1-MiB-body"),
    pytest.param(b"\xff\xfe", "text/plain", 400, "not UTF-8", id="invalid-utf8"),
    pytest.param(b"1); DROP TABLE testing; --", "text/plain", 400, NOT_AN_INTEGER, id="sql"),
    pytest.param(b"9223372036854775808", "text/plain", 400, OUT_OF_RANGE, id="out-of-range"),
    pytest.param(b"", "text/plain", 400, EMPTY, id="empty-body"),
]


# Helpers: raw sockets, the sans-I/O WebSocket client, HTTP posts, and the health check.


@contextlib.asynccontextmanager
async def tcp(
    host: str, port: int
) -> AsyncIterator[tuple[asyncio.StreamReader, asyncio.StreamWriter]]:
    """A bare TCP connection, closed on exit."""
    reader, writer = await asyncio.open_connection(host, port)
    try:
        yield reader, writer
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


async def read_until_closed(reader: asyncio.StreamReader) -> bytes:
    """Everything the server sends until it closes the connection (a reset counts as closed)."""
    chunks = []
    with contextlib.suppress(ConnectionResetError):
        async with asyncio.timeout(TIMEOUT):
            while chunk := await reader.read(65536):
                chunks.append(chunk)
    return b"".join(chunks)


async def exchange(host: str, port: int, data: bytes, run_id: str) -> int | None:
    """Send raw bytes (``{run}`` replaced by ``run_id``); the HTTP status answered, or None if
    the server closed the connection without an answer."""
    async with tcp(host, port) as (reader, writer):
        writer.write(data.replace(b"{run}", run_id.encode()))
        if isinstance(data, ThenEOF):
            writer.write_eof()
        answer = await read_until_closed(reader)
    if not answer:
        return None
    status_line = answer.split(b"\r\n", 1)[0]  # b"HTTP/1.1 400 Bad Request"
    return int(status_line.split()[1])


class RawWebSocket:
    """A WebSocket client on a bare TCP connection.

    websockets' sans-I/O ``ClientProtocol`` writes the handshake and parses what the server
    sends; what the test writes after the handshake goes to the socket as raw bytes.
    """

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, url: str):
        self.reader, self.writer = reader, writer
        self.protocol = ClientProtocol(parse_uri(url))
        self.events: list[object] = []

    @classmethod
    @contextlib.asynccontextmanager
    async def open(cls, server: ServerProcess, run_id: str) -> AsyncIterator[RawWebSocket]:
        """Connect and complete the handshake, up to the server's hello frame."""
        async with tcp(server.host, server.port) as (reader, writer):
            websocket = cls(reader, writer, f"{server.ws_url}/?run={run_id}")
            await websocket.handshake()
            yield websocket

    async def handshake(self) -> None:
        self.protocol.send_request(self.protocol.connect())
        self.writer.write(b"".join(self.protocol.data_to_send()))
        async with asyncio.timeout(TIMEOUT):
            response = await self.next_event()
            assert isinstance(response, Response) and response.status_code == 101
            hello = await self.next_event()
        assert "hello" in json.loads(hello.data)

    def write(self, data: bytes) -> None:
        """Put bytes on the wire as they are."""
        self.writer.write(data)

    async def close_code(self) -> int:
        """Read until the server has closed the connection; the code of its close frame."""
        async with asyncio.timeout(TIMEOUT):
            while self.protocol.state is not State.CLOSED:
                await self.receive()
        return self.protocol.close_code

    async def next_event(self) -> object:
        while not self.events:
            if self.protocol.state is State.CLOSED:
                raise EOFError("the server closed the connection")
            await self.receive()
        return self.events.pop(0)

    async def receive(self) -> None:
        try:
            data = await self.reader.read(65536)
        except ConnectionResetError:
            data = b""
        if data:
            self.protocol.receive_data(data)
        else:
            self.protocol.receive_eof()
        self.events.extend(self.protocol.events_received())


async def post_number(
    session: aiohttp.ClientSession,
    server: ServerProcess,
    run_id: str,
    body: bytes | Chunked,
    content_type: str | None = "text/plain",
    seq: int = 1,
) -> tuple[int, dict]:
    """POST one body to /numbers; the status and the JSON answer."""
    headers = {} if content_type is None else {"Content-Type": content_type}
    async with session.post(
        f"{server.http_url}/numbers?run={run_id}&seq={seq}",
        data=body.stream() if isinstance(body, Chunked) else body,
        headers=headers,
        skip_auto_headers=["Content-Type"],  # None means: no Content-Type at all
    ) as response:
        assert response.content_type == "application/json", await response.text()
        return response.status, await response.json()


async def assert_still_serving(server: ServerProcess, database: Database, since: int) -> None:
    """The process is alive, fresh runs on both ports get their numbers committed, and the
    server logged no traceback since line ``since``."""
    assert server.process.poll() is None, f"the server died:\n{server.log}"
    ws_run, http_run = database.new_run_id(), database.new_run_id()
    acks, errors = await send_run(server, ws_run, numbers(3), valid=3)
    assert (acks[-1], errors, database.count(ws_run)) == (3, [], 3)
    async with aiohttp.ClientSession() as session:
        assert await post_number(session, server, http_run, b"4") == (200, {"acked": 1})
    assert database.count(http_run) == 1
    log = server.log_since(since)
    assert "Traceback" not in log, f"the server logged a traceback:\n{log}"


def open_sockets(server: ServerProcess) -> int:
    """How many sockets the server process holds open (Linux)."""
    fds = Path(f"/proc/{server.process.pid}/fd")
    return sum(1 for fd in fds.iterdir() if os.readlink(fd).startswith("socket:"))


# The tests.


@pytest.mark.parametrize(("message", "reason"), FRAMES)
async def test_a_bad_frame_gets_an_error_and_the_connection_stays_usable(
    mysql_server: ServerProcess, database: Database, message: str | bytes, reason: str
):
    """The frame is answered with an error frame naming the reason and stores nothing; a valid
    number sent next on the same connection is acked and is the run's only row."""
    run_id = database.new_run_id()
    acks, errors = await send_run(mysql_server, run_id, [message, "7"], valid=1)
    assert [(error["frame"], error["error"].split(":")[0]) for error in errors] == [(1, reason)]
    assert acks[-1] == 1
    assert database.count(run_id) == 1
    assert database.numbers(run_id) == [7]


@pytest.mark.parametrize(("frames", "code"), VIOLATIONS)
async def test_a_protocol_violation_closes_the_connection_with_its_code(
    mysql_server: ServerProcess, database: Database, frames: list[bytes], code: int
):
    """A frame that breaks RFC 6455 (bad UTF-8: 1007, bad framing: 1002, too big: 1009) closes
    its connection with that code, stores nothing, and the server keeps serving."""
    since, run_id = mysql_server.mark(), database.new_run_id()
    async with RawWebSocket.open(mysql_server, run_id) as websocket:
        websocket.write(b"".join(frames))
        assert await websocket.close_code() == code
    assert database.count(run_id) == 0
    await assert_still_serving(mysql_server, database, since)


@pytest.mark.parametrize(
    "message",
    [
        pytest.param("1" * MIB, id="1-MiB-frame"),
        pytest.param(["1" * 600, "1" * 600], id="fragments-adding-up-to-1200-bytes"),
    ],
)
async def test_an_oversized_message_closes_the_connection_with_1009(
    mysql_server: ServerProcess, database: Database, message: str | list[str]
):
    """A message over the frame limit, whole or in fragments, closes its connection with 1009
    (message too big), stores nothing, and the server keeps serving."""
    since, run_id = mysql_server.mark(), database.new_run_id()
    websocket, _ = await open_run(mysql_server, run_id)
    async with websocket, asyncio.timeout(TIMEOUT):
        with contextlib.suppress(ConnectionClosed):  # the server may close while we write
            await websocket.send(message)
        await websocket.wait_closed()
    assert websocket.close_code == 1009
    assert database.count(run_id) == 0
    await assert_still_serving(mysql_server, database, since)


@pytest.mark.parametrize(
    ("fragments", "number"),
    [
        pytest.param(["4", "2"], 42, id="4+2"),
        pytest.param(list("-9223372036854775808"), -(2**63), id="one-byte-fragments"),
        pytest.param(["", "7", ""], 7, id="empty-fragments"),
    ],
)
async def test_a_fragmented_message_is_one_number(
    mysql_server: ServerProcess, database: Database, fragments: list[str], number: int
):
    """A text message split into continuation frames is one message: one number, one row."""
    run_id = database.new_run_id()
    websocket, _ = await open_run(mysql_server, run_id)
    async with websocket, asyncio.timeout(TIMEOUT):
        await websocket.send(fragments)
        assert json.loads(await websocket.recv()) == {"acked": 1}
    assert database.count(run_id) == 1
    assert database.numbers(run_id) == [number]


DROP_STYLES = [
    "silent",
    "reset-mid-handshake",
    "reset-after-handshake",
    "fin-without-close-frame",
    "clean",
]


async def connect_and_drop(server: ServerProcess, run_id: str, style: str) -> None:
    """Open one connection and drop it in the given style."""
    if style == "clean":
        websocket, _ = await open_run(server, run_id)
        await websocket.close()
        return
    handshake = upgrade().replace(b"{run}", run_id.encode())
    async with tcp(server.host, server.port) as (reader, writer):
        if style == "silent":
            return  # connect, send nothing, close
        if style == "reset-mid-handshake":
            writer.write(handshake[: len(handshake) // 2])
            writer.transport.abort()
            return
        writer.write(handshake)
        async with asyncio.timeout(TIMEOUT):
            assert (await reader.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 101 ")
        if style == "reset-after-handshake":
            writer.transport.abort()
        # "fin-without-close-frame": the TCP connection is closed on leaving the context


async def test_rapid_connect_and_disconnect_leaves_nothing_behind(
    mysql_server: ServerProcess, database: Database
):
    """200 connections opened and dropped, 20 at a time: silently, reset mid-handshake, reset
    or closed without a close frame after it, or closed cleanly. Nothing is stored, the
    server keeps serving, and it ends up holding no more sockets than before."""
    since = mysql_server.mark()
    run_ids = [database.new_run_id() for _ in range(200)]  # one run per connection
    sockets_before = open_sockets(mysql_server)
    async with asyncio.timeout(60):
        for batch in range(0, len(run_ids), 20):
            await asyncio.gather(
                *(
                    connect_and_drop(mysql_server, run_id, DROP_STYLES[i % len(DROP_STYLES)])
                    for i, run_id in enumerate(run_ids[batch : batch + 20])
                )
            )
    assert [database.count(run_id) for run_id in run_ids] == [0] * len(run_ids)
    await assert_still_serving(mysql_server, database, since)
    # No event says "the server has closed its side"; poll for it, bounded.
    async with asyncio.timeout(TIMEOUT):
        while open_sockets(mysql_server) > sockets_before:
            await asyncio.sleep(0.05)


@pytest.mark.parametrize(("port", "data", "status"), MALFORMED_REQUESTS)
async def test_a_malformed_request_is_refused_and_the_server_stays_up(
    mysql_server: ServerProcess, database: Database, port: str, data: bytes, status: int | None
):
    """A malformed handshake on the WebSocket port, or a malformed request on the HTTP port,
    gets a 4xx/5xx answer or a closed connection; nothing is stored, and no traceback."""
    since, run_id = mysql_server.mark(), database.new_run_id()
    number = mysql_server.port if port == "ws" else mysql_server.http_port
    assert await exchange(mysql_server.host, number, data, run_id) == status
    assert database.count(run_id) == 0
    await assert_still_serving(mysql_server, database, since)


@pytest.mark.parametrize(("body", "content_type", "status", "reason"), BODIES)
async def test_a_bad_http_body_gets_a_json_error_and_stores_nothing(
    mysql_server: ServerProcess,
    database: Database,
    body: bytes | Chunked,
    content_type: str | None,
    status: int,
    reason: str,
):
    """POST /numbers with a body of the wrong type, size or content gets a 4xx JSON error
    saying why; nothing is stored and the server keeps serving."""
    since, run_id = mysql_server.mark(), database.new_run_id()
    async with aiohttp.ClientSession() as session:
        answer_status, answer = await post_number(session, mysql_server, run_id, body, content_type)
    assert answer_status == status
    assert reason in answer["error"]
    assert database.count(run_id) == 0
    await assert_still_serving(mysql_server, database, since)


# The mix for the concurrent test: one of each kind above, all at once.


async def send_bad_frames(server: ServerProcess, run_id: str) -> None:
    """Every bad frame of FRAMES pipelined on one connection; an error for each, in order."""
    messages = [param.values[0] for param in FRAMES]
    websocket, _ = await open_run(server, run_id)
    async with websocket, asyncio.timeout(30):
        for message in messages:
            await websocket.send(message)
        errors = [json.loads(await websocket.recv()) for _ in messages]
    assert [error["frame"] for error in errors] == list(range(1, len(messages) + 1))
    assert [e["error"].split(":")[0] for e in errors] == [p.values[1] for p in FRAMES]


async def violate(server: ServerProcess, run_id: str, frames: list[bytes], code: int) -> None:
    async with RawWebSocket.open(server, run_id) as websocket:
        websocket.write(b"".join(frames))
        assert await websocket.close_code() == code


async def send_too_big(server: ServerProcess, run_id: str) -> None:
    websocket, _ = await open_run(server, run_id)
    async with websocket, asyncio.timeout(TIMEOUT):
        with contextlib.suppress(ConnectionClosed):
            await websocket.send("1" * MIB)
        await websocket.wait_closed()
    assert websocket.close_code == 1009


async def send_malformed(
    server: ServerProcess, run_id: str, port: str, data: bytes, status: int | None
) -> None:
    number = server.port if port == "ws" else server.http_port
    assert await exchange(server.host, number, data, run_id) == status


async def post_bad_bodies(server: ServerProcess, run_id: str) -> None:
    async with aiohttp.ClientSession() as session:
        for param in BODIES:
            body, content_type, status, _ = param.values
            answer = await post_number(session, server, run_id, body, content_type)
            assert answer[0] == status


async def hostile_round(server: ServerProcess, new_run: Callable[[], str]) -> None:
    """Every hostile kind of this file once, concurrently, each connection on a run of its own
    (a run has one connection at a time: a second one would take it over)."""
    await asyncio.gather(
        send_bad_frames(server, new_run()),
        *(violate(server, new_run(), *param.values) for param in VIOLATIONS),
        send_too_big(server, new_run()),
        *(send_malformed(server, new_run(), *param.values) for param in MALFORMED_REQUESTS),
        post_bad_bodies(server, new_run()),
        *(connect_and_drop(server, new_run(), style) for style in DROP_STYLES * 4),
    )


async def post_numbers(server: ServerProcess, run_id: str, count: int) -> list[int]:
    """POST 1..count one after another, seq in order; the statuses."""
    async with aiohttp.ClientSession() as session:
        return [
            (await post_number(session, server, run_id, str(n).encode(), seq=n))[0]
            for n in range(1, count + 1)
        ]


async def test_valid_traffic_is_unaffected_by_a_concurrent_hostile_client(
    mysql_server: ServerProcess, database: Database
):
    """While a hostile client keeps sending one of every kind above (at least one full round,
    and until the valid clients are done), 5,000 pipelined numbers on one WebSocket and 100
    POSTs on their own runs are all acked and stored exactly once; no hostile run has a row
    and the server logs no traceback."""
    since = mysql_server.mark()
    ws_run, http_run = database.new_run_id(), database.new_run_id()
    hostile_runs: list[str] = []

    def new_run() -> str:
        hostile_runs.append(database.new_run_id())
        return hostile_runs[-1]

    rounds = 0
    async with asyncio.timeout(120), asyncio.TaskGroup() as group:
        websocket = group.create_task(send_run(mysql_server, ws_run, numbers(5000), valid=5000))
        http = group.create_task(post_numbers(mysql_server, http_run, 100))
        while rounds == 0 or not (websocket.done() and http.done()):
            await hostile_round(mysql_server, new_run)
            rounds += 1
    acks, errors = websocket.result()
    assert (errors, acks[-1], database.count(ws_run)) == ([], 5000, 5000)
    assert database.numbers(ws_run) == list(range(1, 5001))
    assert http.result() == [200] * 100
    assert database.count(http_run) == 100
    assert [database.count(run_id) for run_id in hostile_runs] == [0] * len(hostile_runs)
    assert mysql_server.process.poll() is None
    log = mysql_server.log_since(since)
    assert "Traceback" not in log, f"{rounds} hostile rounds; the server logged:\n{log}"
