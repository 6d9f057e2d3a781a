"""The WebSocket driver: C connections, opened first, then all sending at once."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from ssl import SSLContext

from ..stats import ack_latencies
from ..vocabulary import Mode
from .client import send_run
from .driver import Progress
from .models import BenchError, Case, Sample


def _ack_progress(progress: Progress) -> Callable[[object, int], None]:
    """An on_ack callback that reports newly acked numbers."""
    last = 0

    def on_ack(websocket: object, acked: int) -> None:
        nonlocal last
        if acked > last:
            progress(acked - last)
            last = acked

    return on_ack


@dataclass(frozen=True)
class WebSocketDriver:
    """Numbers as text frames to ``url``; cumulative acks back.

    Pipelined: up to ``window`` numbers sent and not acked per connection (None: all of them).
    """

    url: str
    window: int | None
    timeout_s: float
    ssl: SSLContext | None = None

    async def measure(
        self, case: Case, run_ids: Sequence[str], progress: Progress | None
    ) -> Sample:
        """One repetition over WebSocket: every connection opened, then all sending at once."""
        numbers = range(1, case.n + 1)
        window = self.window if case.mode is Mode.PIPELINED else 1
        ready = asyncio.Barrier(len(run_ids))
        send_times = [[0.0] * case.n for _ in run_ids]
        results = await asyncio.gather(
            *(
                send_run(
                    self.url,
                    run_id,
                    numbers,
                    window=window,
                    send_times=times,
                    ready=ready,
                    on_ack=_ack_progress(progress) if progress else None,
                    timeout_s=self.timeout_s,
                    ssl=self.ssl,
                )
                for run_id, times in zip(run_ids, send_times, strict=True)
            )
        )
        for run_id, result in zip(run_ids, results, strict=True):
            if result.connections == 1 and result.hello.get("committed"):
                raise BenchError(f"run {run_id} already had rows: choose another --run-prefix")
        latencies = [
            latency
            for times, result in zip(send_times, results, strict=True)
            for latency in ack_latencies(times, result.ack_times.items())
        ]
        ends = [max(result.ack_times.values()) for result in results if result.ack_times]
        elapsed = max(ends) - min(times[0] for times in send_times) if ends else 0.0
        errors = [json.dumps(error) for result in results for error in result.errors]
        return Sample(
            run_ids=list(run_ids),
            sent=case.n * case.c,
            acked_by_run={run_id: r.acked for run_id, r in zip(run_ids, results, strict=True)},
            errors=sum(result.failed for result in results),
            elapsed_s=elapsed,
            latencies_s=latencies,
            connections=sum(result.connections for result in results),
            reconnects=sum(result.connections for result in results) - len(run_ids),
            error_messages=errors[:10],
        )
