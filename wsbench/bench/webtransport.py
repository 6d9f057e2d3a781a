"""The WebTransport driver: C QUIC connections, a session each, numbers on its stream or as
datagrams.

Stream modes speak the WebSocket protocol's messages one a line, so a session that ends early
(the server restarted) is opened again with the same run id and sends from ``committed + 1``,
as the WebSocket client resumes. Datagram mode sends "SEQ NUMBER" per datagram and resends
whatever the server has not acked in time (``datagrams``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass

from ..stats import ack_latencies
from ..vocabulary import FloorMethod, Mode
from .client import RETRY_FIRST_S, RETRY_MAX_S, RunResult
from .datagrams import AckError, DatagramTracker, datagram, parse_ack
from .driver import Progress
from .models import BenchError, Case, Sample
from .quic import QuicClosed, SessionRefused, Trust, WebTransportSession, quic_connection

DATAGRAM_WINDOW = 256  # datagrams in flight per session when --window is not given
MAX_SESSIONS = 50  # sessions per run before giving up, as the WebSocket client's connections


@dataclass
class _Run:
    """One connection's run: what was sent when, and what came back."""

    run_id: str
    n: int
    result: RunResult
    send_times: list[float]
    latencies: list[float]
    tracker: DatagramTracker | None = None  # datagram mode: kept across sessions

    @property
    def resends(self) -> int:
        """Datagrams sent again because their ack did not come in time."""
        return self.tracker.resends if self.tracker else 0


@dataclass(frozen=True)
class WebTransportDriver:
    """WebTransport sessions at ``url`` + ``path`` (the server's UDP port).

    Pipelined: up to ``window`` numbers sent and not acked per session (None: all of them; in
    datagram mode ``DATAGRAM_WINDOW``); one at a time: one.
    """

    url: str
    path: str
    window: int | None
    timeout_s: float
    trust: Trust

    async def measure(
        self, case: Case, run_ids: Sequence[str], progress: Progress | None
    ) -> Sample:
        """One repetition: every session opened, then all sending at once."""
        ready = asyncio.Barrier(len(run_ids))
        runs = [_Run(run_id, case.n, RunResult(), [0.0] * case.n, []) for run_id in run_ids]
        async with asyncio.timeout(self.timeout_s):
            await asyncio.gather(*(self.run(case.mode, run, ready, progress) for run in runs))
        for run in runs:
            if run.result.hello.get("committed") and run.result.connections == 1:
                raise BenchError(f"run {run.run_id} already had rows: choose another --run-prefix")
        ends = [max(run.result.ack_times.values()) for run in runs if run.result.ack_times]
        elapsed = max(ends) - min(run.send_times[0] for run in runs) if ends else 0.0
        errors = [json.dumps(error) for run in runs for error in run.result.errors]
        connections = sum(run.result.connections for run in runs)
        return Sample(
            run_ids=list(run_ids),
            sent=case.n * case.c,
            acked_by_run={run.run_id: run.result.acked for run in runs},
            errors=sum(run.result.failed for run in runs),
            elapsed_s=elapsed,
            latencies_s=[latency for run in runs for latency in run.latencies],
            connections=connections,
            # Datagram mode counts its resent numbers here, as HTTP's page counts resent requests.
            reconnects=connections - len(runs) + sum(run.resends for run in runs),
            error_messages=errors[:10],
        )

    async def run(
        self, mode: Mode | FloorMethod, run: _Run, ready: asyncio.Barrier, progress: Progress | None
    ) -> None:
        """One run to its end, opening a new session whenever one ends before it."""
        delay = RETRY_FIRST_S
        result = run.result
        while result.connections < MAX_SESSIONS:
            result.connections += 1
            barrier = ready if result.connections == 1 else None
            try:
                async with quic_connection(self.url, self.trust) as client:
                    session = await client.open_session(f"{self.path}?run={run.run_id}")
                    try:
                        if mode is Mode.DATAGRAMS:
                            await self.datagrams(session, run, barrier, progress)
                        else:
                            window = self.window if mode is Mode.PIPELINED else 1
                            await stream_run(session, run, window, barrier, progress)
                    finally:
                        session.close()
                if mode is not Mode.DATAGRAMS:
                    run.latencies = ack_latencies(run.send_times, result.ack_times.items())
                return
            except SessionRefused as exc:
                if exc.status != 503:  # 503: stopping or full, worth another try
                    raise BenchError(f"run {run.run_id}: {exc}") from None
            except (QuicClosed, ConnectionError, OSError, TimeoutError):
                pass
            await asyncio.sleep(delay)  # backoff before the next session
            delay = min(delay * 2, RETRY_MAX_S)
        raise BenchError(f"run {run.run_id}: gave up after {MAX_SESSIONS} sessions")

    async def datagrams(
        self,
        session: WebTransportSession,
        run: _Run,
        ready: asyncio.Barrier | None,
        progress: Progress | None,
    ) -> None:
        """Every number as a datagram, resent until acked."""
        result = run.result
        result.hello = (await session.receive())["hello"]
        if ready is not None:
            await ready.wait()
        if run.tracker is None:
            run.tracker = DatagramTracker(run.n, self.window or DATAGRAM_WINDOW)
        tracker = run.tracker
        news = asyncio.Event()

        async def read_acks() -> None:
            while True:
                data = await session.datagrams.get()
                now = time.perf_counter()
                try:
                    ranges, error = parse_ack(data)
                except AckError as exc:
                    raise BenchError(f"run {run.run_id}: {exc}") from None
                if error is not None:
                    result.errors.append({"error": error})
                newly = tracker.ack(ranges, now)
                if newly:
                    result.acked += newly
                    result.ack_times[result.acked] = now
                    if progress:
                        progress(newly)
                news.set()

        reader = asyncio.create_task(read_acks())
        try:
            while not tracker.done:
                if reader.done():
                    reader.result()  # its error
                now = time.perf_counter()
                for seq in tracker.due(now):
                    if seq not in tracker.resent:
                        run.send_times[seq - 1] = now
                    session.send_datagram(datagram(seq, seq), transmit=False)
                session.client.transmit()
                if session.closed_reason is not None:
                    raise QuicClosed(session.closed_reason)
                deadline = tracker.next_deadline()
                news.clear()
                wait = None if deadline is None else max(0.0, deadline - time.perf_counter())
                # Timing out means a number's ack is overdue: resent in the next round.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(news.wait(), wait)
        finally:
            reader.cancel()
            run.latencies = tracker.latencies


async def stream_run(
    session: WebTransportSession,
    run: _Run,
    window: int | None,
    ready: asyncio.Barrier | None,
    progress: Progress | None,
) -> None:
    """The run's numbers as lines on the session's stream, from where the server stands."""
    result = run.result
    hello = (await session.receive())["hello"]
    if result.connections == 1:
        result.hello = hello
    reported = result.acked  # what the progress bar has counted, over every session
    start = result.acked = hello["committed"]
    if ready is not None:
        await ready.wait()
    lines = [f"{seq}\n".encode() for seq in range(1, run.n + 1)]
    # The server takes at most hello["window"] numbers not yet acked (QUIC's flow control does not
    # hold a sender back while the writer is busy), so that bounds any window asked for.
    limit = min(len(lines) if window is None else window, hello.get("window") or len(lines))
    room = asyncio.Event()

    async def send_rest() -> None:
        sent = start
        while sent < len(lines):
            upto = min(len(lines), result.acked + result.failed + limit)
            if upto <= sent:
                room.clear()
                await room.wait()
                continue
            run.send_times[sent:upto] = [time.perf_counter()] * (upto - sent)
            session.send(b"".join(lines[sent:upto]))
            sent = upto

    sender = asyncio.create_task(send_rest())
    try:
        while result.acked + result.failed < len(lines):
            if sender.done():
                sender.result()  # its error
            if result.record(await session.receive()) and progress and result.acked > reported:
                progress(result.acked - reported)
                reported = result.acked
            room.set()
    finally:
        sender.cancel()
