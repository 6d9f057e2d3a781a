"""Slow, idle and half-open clients against each port, at several times its connection budget.

Each case holds HOSTILE connections (a few times ``--max-connections``) open against one port,
as a hostile client would, then times a normal client on that same port until its number is
stored. It names the limit the hostile connections hit and what the log says, and checks that
the server's memory stays bounded. (The WebSocket port's own cases are in test_hostile.py.)
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

import aiohttp
import httpx
import pytest
from aioquic.quic.connection import QuicConnection

from wsbench.bench.quic import quic_configuration
from wsbench.server.limits import HEADER_TIMEOUT_S, SILENT_S
from wsbench.testing.server import ServerProcess

from .conftest import MYSQL_URL, Database
from .quic import INSECURE, QUIC_ARGS, h3, h3_url

BUDGET = 50  # --max-connections of the servers under attack
SLACK_S = 2.5  # timers, the silence watch's sweep (1 s) and a busy 2-core machine
MIB = 2**20
RSS_RISE_MIB = 32  # what the connections held open may cost the server, at most
TEXT = {"Content-Type": "text/plain"}
PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
SETTINGS = b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"  # an empty SETTINGS frame


@pytest.fixture(scope="module")
def clear_server(database: Database, start_server: Callable[..., ServerProcess]) -> ServerProcess:
    """Cleartext ports (aiohttp on the HTTP port), a small budget."""
    return start_server("--db", MYSQL_URL, "--max-connections", str(BUDGET))


@pytest.fixture(scope="module")
def tls_server(database: Database, start_server: Callable[..., ServerProcess]) -> ServerProcess:
    """TLS ports (granian for HTTPS/1.1 and HTTP/2, aioquic for QUIC), a small budget."""
    return start_server(*QUIC_ARGS, "--db", MYSQL_URL, "--max-connections", str(BUDGET))


@dataclass
class Held:
    """One hostile connection: when it was up, when the server closed it, what it answered."""

    opened: float | None = None
    closed: float | None = None
    answer: bytes = b""

    @property
    def lasted(self) -> float:
        assert self.opened is not None and self.closed is not None
        return self.closed - self.opened


def tls(alpn: str) -> ssl.SSLContext:
    """A client context that offers ``alpn`` and trusts any certificate."""
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    context.set_alpn_protocols([alpn])
    return context


async def hold(
    held: Held, port: int, context: ssl.SSLContext | None, first: bytes, trickle: bytes = b""
) -> None:
    """Connect (and finish TLS, however long the server keeps us waiting), send ``first``, then
    ``trickle`` once a second, until the server closes the connection."""
    try:
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", port, ssl=context, ssl_handshake_timeout=120 if context else None
        )
    except OSError:
        held.closed = time.monotonic()
        return
    held.opened = time.monotonic()
    try:
        writer.write(first)
        while True:
            try:
                async with asyncio.timeout(1):
                    chunk = await reader.read(65536)
            except TimeoutError:
                writer.write(trickle)
                continue
            if not chunk:
                break
            held.answer += chunk
    except OSError:  # a reset, or TLS cut short: closed all the same
        pass
    finally:
        held.closed = time.monotonic()
        writer.close()


@contextlib.asynccontextmanager
async def attack(
    count: int, port: int, context: ssl.SSLContext | None, *firsts: bytes, trickle: bytes = b""
) -> AsyncIterator[list[Held]]:
    """``count`` connections held as ``hold`` does, sending each of ``firsts`` in turn; once
    ``BUDGET`` of them are up."""
    held = [Held() for _ in range(count)]
    tasks = [
        asyncio.create_task(hold(one, port, context, firsts[i % len(firsts)], trickle))
        for i, one in enumerate(held)
    ]
    try:
        async with asyncio.timeout(30):
            while sum(one.opened is not None for one in held) < BUDGET:
                await asyncio.sleep(0.05)
        yield held
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def all_closed(held: list[Held], timeout_s: float) -> None:
    async with asyncio.timeout(timeout_s):
        while any(one.closed is None for one in held):
            await asyncio.sleep(0.1)


async def until_stored(post: Callable[[], Awaitable[int]], timeout_s: float) -> float:
    """Seconds until ``post`` answers 200, trying again after any refusal or error."""
    started = time.monotonic()
    async with asyncio.timeout(timeout_s):
        while True:
            try:
                if await post() == 200:
                    return time.monotonic() - started
            except (OSError, aiohttp.ClientError, httpx.HTTPError):
                pass
            await asyncio.sleep(0.2)


def rss_mib(server: ServerProcess) -> float:
    """The server process's resident memory, in MiB."""
    with open(f"/proc/{server.process.pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def assert_no_traceback(server: ServerProcess, since: int) -> None:
    assert server.process.poll() is None, f"the server died:\n{server.log}"
    log = server.log_since(since)
    assert "Traceback" not in log, f"the server logged a traceback:\n{log}"


async def test_slow_headers_on_the_cleartext_http_port(
    clear_server: ServerProcess, database: Database
):
    """4x the budget trickle a header line a second. Limits: --max-connections (beyond it, 503
    at once, one log line per burst) and the header timeout (HEADER_TIMEOUT_S from the
    connection's start). A normal POST is stored within one header timeout."""
    server, since, run_id = clear_server, clear_server.mark(), database.new_run_id()
    before = rss_mib(server)
    first = b"POST /numbers?run=x&seq=1 HTTP/1.1\r\nHost: 127.0.0.1\r\n"

    async def post() -> int:
        async with aiohttp.ClientSession() as session:
            url = f"{server.http_url}/numbers?run={run_id}&seq=1"
            async with session.post(url, data=b"4", headers=TEXT) as response:
                return response.status

    async with attack(4 * BUDGET, server.http_port, None, first, trickle=b"X: 1\r\n") as held:
        waited = await until_stored(post, HEADER_TIMEOUT_S + SLACK_S)
        await all_closed(held, HEADER_TIMEOUT_S + SLACK_S)
        peak = rss_mib(server)
    refused = [one for one in held if b"too many connections (limit 50)" in one.answer]
    assert all(one.answer.startswith(b"HTTP/1.1 503 ") for one in refused)
    assert 3 * BUDGET <= len(refused) < 4 * BUDGET
    slow = [one for one in held if one not in refused]
    assert all(one.answer == b"" for one in slow)  # closed without an answer
    assert all(one.lasted < HEADER_TIMEOUT_S + SLACK_S for one in slow)
    print(f"normal POST stored after {waited:.2f} s; RSS {before:.0f} -> {peak:.0f} MiB")
    assert database.numbers(run_id) == [4]
    assert peak - before < RSS_RISE_MIB
    log = server.log_since(since)
    assert 1 <= log.count("HTTP port: refused") <= 2, log
    assert "beyond --max-connections 50" in log
    assert_no_traceback(server, since)


async def test_idle_tls_on_the_https_port(tls_server: ServerProcess, database: Database):
    """3x the budget finish TLS, send half a request, then a header line a second. Limits:
    granian holds --max-connections connections; the others wait in the kernel's accept
    queue; each is closed HEADER_TIMEOUT_S after it starts (no log line). A normal POST waits
    its turn: at most one header timeout per budget's worth ahead of it."""
    server, since, run_id = tls_server, tls_server.mark(), database.new_run_id()
    before = rss_mib(server)
    waves = 3

    async def post() -> int:
        async with aiohttp.ClientSession() as session:
            url = f"{server.http_url}/numbers?run={run_id}&seq=1"
            async with session.post(url, data=b"4", headers=TEXT, ssl=False) as response:
                return response.status

    first, context = b"POST /numbers?run=x&seq=1 HTTP/1.1\r\n", tls("http/1.1")
    async with attack(
        waves * BUDGET, server.http_port, context, first, trickle=b"X: 1\r\n"
    ) as held:
        waited = await until_stored(post, waves * (HEADER_TIMEOUT_S + SLACK_S))
        await all_closed(held, HEADER_TIMEOUT_S + SLACK_S)
        peak = rss_mib(server)
    print(f"normal POST stored after {waited:.2f} s; RSS {before:.0f} -> {peak:.0f} MiB")
    # Not each within one timeout of its TLS handshake: granian finishes up to 64 handshakes
    # ahead of a free place, and the header timeout starts at the place. All within the waves.
    assert all(one.lasted < waves * (HEADER_TIMEOUT_S + SLACK_S) for one in held)
    assert waited > HEADER_TIMEOUT_S  # it did wait its turn
    assert database.numbers(run_id) == [4]
    assert peak - before < RSS_RISE_MIB
    assert_no_traceback(server, since)


async def test_idle_http2_on_the_http2_port(tls_server: ServerProcess, database: Database):
    """2x the budget finish TLS (ALPN h2), then send part of the preface, nothing at all, or
    the preface and SETTINGS, and nothing more. Limits: the preface and SETTINGS then silence
    meet granian's PING (closed after H2_PING_INTERVAL_S + H2_PING_TIMEOUT_S); the rest, the
    silence watch (closed after SILENT_S, logged once a sweep). A normal HTTP/2 POST waits its
    turn, as on the HTTPS/1.1 port."""
    server, since, run_id = tls_server, tls_server.mark(), database.new_run_id()
    before = rss_mib(server)
    waves = 2
    assert server.h2_port is not None

    async def post() -> int:
        async with httpx.AsyncClient(http1=False, http2=True, verify=False, timeout=60) as client:
            url = f"{server.h2_url}/numbers?run={run_id}&seq=1"
            response = await client.post(url, content=b"4", headers=TEXT)
            assert response.http_version == "HTTP/2"
            return response.status_code

    starts = (PREFACE[:10], b"", PREFACE + SETTINGS)
    async with attack(waves * BUDGET, server.h2_port, tls("h2"), *starts) as held:
        waited = await until_stored(post, waves * (SILENT_S + SLACK_S) + SLACK_S)
        await all_closed(held, SILENT_S + SLACK_S)
        peak = rss_mib(server)
    print(f"normal POST stored after {waited:.2f} s; RSS {before:.0f} -> {peak:.0f} MiB")
    assert all(one.lasted < waves * (SILENT_S + SLACK_S) for one in held)
    assert database.numbers(run_id) == [4]
    assert peak - before < RSS_RISE_MIB
    assert f"that sent nothing for {SILENT_S} s" in server.log_since(since)
    assert_no_traceback(server, since)


def initial(server_name: str) -> bytes:
    """A real client's first datagram: a QUIC Initial, padded to 1,200 bytes."""
    connection = QuicConnection(configuration=quic_configuration(INSECURE))
    connection._configuration.server_name = server_name
    connection.connect(("127.0.0.1", 1), now=time.monotonic())
    [(datagram, _), *_] = connection.datagrams_to_send(now=time.monotonic())
    return datagram


async def test_abandoned_quic_handshakes(tls_server: ServerProcess, database: Database):
    """2,000 clients each send an Initial from a socket of their own, then nothing (40x the
    budget). Limit: stateless Retry, so an Initial without the token the server gave its
    address creates no connection (and no log line); memory does not grow. A normal HTTP/3
    POST, which answers the Retry, is stored at once."""
    server, since, run_id = tls_server, tls_server.mark(), database.new_run_id()
    address = urlsplit(h3_url(server))
    before = rss_mib(server)
    for _ in range(2000):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.sendto(initial(address.hostname or "127.0.0.1"), (address.hostname, address.port))
    await asyncio.sleep(1)  # let the server read them all
    after = rss_mib(server)

    async def post() -> int:
        async with h3(server) as client:
            status, _, _ = await client.request("POST", f"/numbers?run={run_id}&seq=1", TEXT, b"4")
            return status

    waited = await until_stored(post, 10)
    print(f"normal POST stored after {waited:.2f} s; RSS {before:.0f} -> {after:.0f} MiB")
    assert database.numbers(run_id) == [4]
    assert after - before < RSS_RISE_MIB
    assert_no_traceback(server, since)
