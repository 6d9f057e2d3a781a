"""The HTTP/3 driver: ``POST /numbers`` over QUIC, one connection, a stream per request."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

from ..vocabulary import Mode
from .driver import Progress
from .http import HEADERS, measure_posts
from .models import BenchError, Case, Sample
from .quic import QuicClosed, Trust, quic_connection


@dataclass(frozen=True)
class Http3Driver:
    """HTTP/3 to ``url`` (the server's UDP port): one QUIC connection, C clients' requests as
    its streams.

    Pipelined: up to ``window`` requests in flight per client; one at a time: one per client.
    All of them stay within the streams the server allows at once (checked with the flags).
    """

    url: str
    window: int
    timeout_s: float
    trust: Trust

    async def measure(
        self, case: Case, run_ids: Sequence[str], progress: Progress | None
    ) -> Sample:
        """One repetition over HTTP/3."""
        in_flight = self.window if case.mode is Mode.PIPELINED else 1
        async with quic_connection(self.url, self.trust) as client:
            if in_flight * case.c > client.stream_limit:
                raise BenchError(
                    f"{in_flight * case.c} requests in flight (-c x --window) but the server at "
                    f"{self.url} allows {client.stream_limit} streams at once: lower --window"
                )
            gate = asyncio.Semaphore(in_flight * case.c)  # every request goes: no pool

            async def post(url: str, body: bytes) -> tuple[int, bytes]:
                try:
                    status, _, answer = await client.request("POST", url, HEADERS, body)
                except QuicClosed as exc:
                    return 0, str(exc).encode()
                return status, answer

            status, _, body = await client.request("GET", "/info")  # opened before the clock
            if status != 200:
                raise BenchError(f"GET {self.url}/info over HTTP/3 answered {status}: {body!r}")
            return await measure_posts(
                post, "", case, run_ids, in_flight, gate, 1, self.timeout_s, progress
            )
