"""The HTTP driver: ``POST /numbers`` over keep-alive connections, one number per request."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import aiohttp

from ..vocabulary import Mode
from .driver import Progress
from .models import Case, Sample
from .server_api import get_json


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
    session: aiohttp.ClientSession,
    url: str,
    stream: _HttpStream,
    gate: asyncio.Semaphore,
    progress: Progress | None,
) -> None:
    """Post the stream's next numbers, one request at a time, until none is left.

    A request waits at ``gate`` (first come, first served) for one of the pool's connections;
    its latency counts that wait, as a browser's ``fetch`` counts its wait for a connection.
    """
    clock = time.perf_counter
    headers = {"Content-Type": "text/plain"}
    while stream.next_seq <= stream.n:
        seq = stream.next_seq
        stream.next_seq += 1
        sent = clock()
        stream.first_send = min(stream.first_send, sent)
        try:
            async with (
                gate,
                session.post(
                    f"{url}/numbers?run={stream.run_id}&seq={seq}",
                    data=str(seq).encode(),
                    headers=headers,
                ) as response,
            ):
                body = await response.read()
                status = response.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            status, body = 0, repr(exc).encode()
        answered = clock()
        stream.last_answer = max(stream.last_answer, answered)
        if status == 200:
            stream.acked += 1
            stream.latencies.append(answered - sent)
            if progress:
                progress(1)
        else:
            stream.errors.append(f"seq {seq}: {status} {body.decode(errors='replace')[:200]}")


@dataclass(frozen=True)
class HttpDriver:
    """``POST /numbers`` to ``url``: C clients, each with its run id, sharing ``pool`` keep-alive
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

    async def measure(
        self, case: Case, run_ids: Sequence[str], progress: Progress | None
    ) -> Sample:
        """One repetition over HTTP/1.1 keep-alive."""
        url, pool = self.url, self.pool
        in_flight = self.window if case.mode is Mode.PIPELINED else 1
        gate = asyncio.Semaphore(pool)  # fair since Python 3.11.1: no barging past waiters
        connector = aiohttp.TCPConnector(limit=pool)
        async with aiohttp.ClientSession(connector=connector) as session:
            # Open the pool's connections before the clock starts: WebSocket handshakes are not
            # timed either.
            await asyncio.gather(*(get_json(session, f"{url}/info") for _ in range(pool)))
            streams = [_HttpStream(run_id, case.n) for run_id in run_ids]
            async with asyncio.timeout(self.timeout_s):
                await asyncio.gather(
                    *(
                        _http_worker(session, url, stream, gate, progress)
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
            connections=pool,
            error_messages=errors[:10],
        )
