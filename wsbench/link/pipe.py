"""One direction of a link, without I/O: when each packet leaves, or why it is dropped.

A packet waits in the buffer behind the ones before it, is serialised at the link's rate, then
travels for the one-way delay. Release times only grow, so a FIFO holds the packets in flight,
as in mahimahi's delay and rate shells. Drop-tail when the buffer is full; random loss in flight.
"""

from __future__ import annotations

import random
from collections import deque
from dataclasses import dataclass, field
from enum import StrEnum


class Verdict(StrEnum):
    """What happened to a packet offered to a pipe."""

    SENT = "sent"
    LOST = "lost"  # the random loss the link was asked for
    QUEUE_FULL = "queue-full"  # the buffer was full: a real link drops it too


@dataclass
class PipeCounters:
    """What a pipe did since it was last reset."""

    packets: int = 0  # offered, whatever their fate
    bytes: int = 0
    lost: int = 0
    queue_full: int = 0

    def add(self, verdict: Verdict, size: int) -> None:
        """Count one offered packet and its fate."""
        self.packets += 1
        self.bytes += size
        if verdict is Verdict.LOST:
            self.lost += 1
        elif verdict is Verdict.QUEUE_FULL:
            self.queue_full += 1


@dataclass
class Pipe:
    """A direction: ``rate_bps`` (None: unlimited), ``delay_s`` one way, ``loss``, a buffer."""

    rate_bps: float | None
    delay_s: float
    loss: float = 0.0
    queue_packets: int = 1000
    rng: random.Random = field(default_factory=random.Random)
    counters: PipeCounters = field(default_factory=PipeCounters)
    _free_at: float = 0.0  # when the last packet admitted has been serialised
    _serialising: deque[float] = field(default_factory=deque)  # their end times, oldest first

    def offer(self, now: float, size: int) -> tuple[Verdict, float]:
        """Admit a packet of ``size`` bytes at ``now``; return its fate and its release time."""
        while self._serialising and self._serialising[0] <= now:
            self._serialising.popleft()
        if len(self._serialising) >= self.queue_packets:
            self.counters.add(Verdict.QUEUE_FULL, size)
            return Verdict.QUEUE_FULL, now
        start = max(now, self._free_at)
        end = start + (size * 8 / self.rate_bps if self.rate_bps else 0.0)
        self._free_at = end
        if self.rate_bps:
            self._serialising.append(end)
        # Lost in flight: it took its time on the link like any other packet.
        verdict = Verdict.LOST if self.loss and self.rng.random() < self.loss else Verdict.SENT
        self.counters.add(verdict, size)
        return verdict, end + self.delay_s
