"""The HTTP drivers: ``POST /numbers``, one number per request, over HTTP/1.1 or HTTP/2.

HTTP/1.1 goes through aiohttp over a pool of keep-alive connections; HTTP/2 through httpx (with
h2) over one connection and many streams. Both share the request loop and its bookkeeping, so
they differ only in how one POST is made.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field

import aiohttp
import httpx

from ..vocabulary import Mode
from .driver import Progress
from .models import Case, Sample
from .server_api import get_json

Post = Callable[[str, bytes], Awaitable[tuple[int, bytes]]]  # (url, body) -> (status, body)
HEADERS = {"Content-Type": "text/plain"}


@dataclass
class _HttpStream:
    """One HTTP client's run: its next sequence number and what came back."""

    run_id: str
    n: int
    next_seq: int = 1
    acked: int = 0
    first_send: float = math.inf
    last_answer: float = 0.0
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


async def _http_worker(
    post: Post, url: str, stream: _HttpStream, gate: asyncio.Semaphore, progress: Progress | None
) -> None:
    """Post the stream's next numbers, one request at a time, until none is left.

    A request waits at ``gate`` (first come, first served) for one of the pool's connections;
    its latency counts that wait, as a browser's ``fetch`` counts its wait for a connection.
    """
    clock = time.perf_counter
    while stream.next_seq <= stream.n:
        seq = stream.next_seq
        stream.next_seq += 1
        sent = clock()
        stream.first_send = min(stream.first_send, sent)
        async with gate:
            status, body = await post(
                f"{url}/numbers?run={stream.run_id}&seq={seq}", str(seq).encode()
            )
        answered = clock()
        stream.last_answer = max(stream.last_answer, answered)
        if status == 200:
            stream.acked += 1
            stream.latencies.append(answered - sent)
            if progress:
                progress(1)
        else:
            stream.errors.append(f"seq {seq}: {status} {body.decode(errors='replace')[:200]}")


async def measure_posts(
    post: Post,
    url: str,
    case: Case,
    run_ids: Sequence[str],
    in_flight: int,
    gate: asyncio.Semaphore,
    connections: int,
    timeout_s: float,
    progress: Progress | None,
) -> Sample:
    """One repetition: each client keeps ``in_flight`` requests going until its N are answered."""
    streams = [_HttpStream(run_id, case.n) for run_id in run_ids]
    async with asyncio.timeout(timeout_s):
        await asyncio.gather(
            *(
                _http_worker(post, url, stream, gate, progress)
                for stream in streams
                for _ in range(in_flight)
            )
        )
    acked = [stream for stream in streams if stream.acked]
    elapsed = (
        max(s.last_answer for s in acked) - min(s.first_send for s in streams) if acked else 0.0
    )
    errors = [error for stream in streams for error in stream.errors]
    return Sample(
        run_ids=list(run_ids),
        sent=case.n * case.c,
        acked_by_run={stream.run_id: stream.acked for stream in streams},
        errors=len(errors),
        elapsed_s=elapsed,
        latencies_s=[latency for stream in streams for latency in stream.latencies],
        connections=connections,
        error_messages=errors[:10],
    )


@dataclass(frozen=True)
class HttpDriver:
    """HTTP/1.1 to ``url``: C clients, each with its run id, sharing ``pool`` keep-alive
    connections.

    Pipelined: up to ``window`` requests in flight per client; one at a time: one. Requests
    beyond the pool's size queue in order for a connection: aiohttp's own queue lets a request
    that just got its answer take the connection ahead of the ones waiting, which starves some
    requests for most of a run.
    """

    url: str
    window: int
    pool: int
    timeout_s: float
    ssl: ssl.SSLContext | None = None

    async def measure(
        self, case: Case, run_ids: Sequence[str], progress: Progress | None
    ) -> Sample:
        """One repetition over HTTP/1.1 keep-alive."""
        in_flight = self.window if case.mode is Mode.PIPELINED else 1
        gate = asyncio.Semaphore(self.pool)  # fair since Python 3.11.1: no barging past waiters
        connector = aiohttp.TCPConnector(limit=self.pool, ssl=self.ssl if self.ssl else True)
        async with aiohttp.ClientSession(connector=connector) as session:

            async def post(url: str, body: bytes) -> tuple[int, bytes]:
                try:
                    async with session.post(url, data=body, headers=HEADERS) as response:
                        return response.status, await response.read()
                except (aiohttp.ClientError, TimeoutError) as exc:
                    return 0, repr(exc).encode()

            # Open the pool's connections before the clock starts: WebSocket handshakes are not
            # timed either.
            await asyncio.gather(*(get_json(session, f"{self.url}/info") for _ in range(self.pool)))
            return await measure_posts(
                post, self.url, case, run_ids, in_flight, gate, self.pool, self.timeout_s, progress
            )


@dataclass(frozen=True)
class Http2Driver:
    """HTTP/2 over TLS to ``url``: one connection, C clients' requests as its streams.

    Pipelined: up to ``window`` requests in flight per client, all on the one connection (the
    server's stream limit queues the rest in the client); one at a time: one per client.
    """

    url: str
    window: int
    timeout_s: float
    ssl: ssl.SSLContext | bool = True

    async def measure(
        self, case: Case, run_ids: Sequence[str], progress: Progress | None
    ) -> Sample:
        """One repetition over HTTP/2."""
        in_flight = self.window if case.mode is Mode.PIPELINED else 1
        gate = asyncio.Semaphore(in_flight * case.c)  # no pool to wait for: every request goes
        async with self.client() as client:

            async def post(url: str, body: bytes) -> tuple[int, bytes]:
                try:
                    response = await client.post(url, content=body, headers=HEADERS)
                except httpx.HTTPError as exc:
                    return 0, repr(exc).encode()
                return response.status_code, response.content

            opened = await client.get(f"{self.url}/info")  # the connection, before the clock
            if opened.http_version != "HTTP/2":
                raise RuntimeError(f"{self.url} answered over {opened.http_version}, not HTTP/2")
            return await measure_posts(
                post, self.url, case, run_ids, in_flight, gate, 1, self.timeout_s, progress
            )

    @contextlib.asynccontextmanager
    async def client(self) -> AsyncIterator[httpx.AsyncClient]:
        """An HTTP/2-only client with one connection."""
        limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        async with httpx.AsyncClient(
            http1=False, http2=True, verify=self.ssl, limits=limits, timeout=60
        ) as client:
            yield client
