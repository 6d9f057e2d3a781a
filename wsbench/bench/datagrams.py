"""Datagram mode's bookkeeping, without I/O: what to send or resend, and when, from the acks.

Each number goes as one datagram "SEQ NUMBER"; the server answers with datagrams of committed
ranges, '{"seqs":[[1,40],[42,42]]}'. Either may be lost, so a number whose ack has not come
within the timeout is sent again; the server stores each (run, seq) once and acks it again.
The timeout adapts to the acks' round trip as TCP's does (RFC 6298, simplified): at least
``MIN_TIMEOUT_S``, else ``TIMEOUT_FACTOR`` times the smoothed latency of numbers sent once.
"""

from __future__ import annotations

import heapq
import json
from collections.abc import Sequence

MIN_TIMEOUT_S = 0.05
TIMEOUT_FACTOR = 4
INITIAL_LATENCY_S = 0.05  # before any ack: a first timeout of 200 ms
SMOOTHING = 1 / 8  # each sample's weight in the smoothed latency (RFC 6298's alpha)


class AckError(ValueError):
    """An ack datagram that is not one; the message says what it held."""


def datagram(seq: int, number: int) -> bytes:
    """One number as the server reads a datagram: "SEQ NUMBER"."""
    return f"{seq} {number}".encode()


def parse_ack(data: bytes) -> tuple[list[tuple[int, int]], str | None]:
    """The ranges ``[first, last]`` an ack datagram covers, or the error it reports."""
    try:
        message = json.loads(data)
    except ValueError:
        raise AckError(f"not JSON: {data[:80]!r}") from None
    if not isinstance(message, dict):
        raise AckError(f"not an object: {data[:80]!r}")
    if "error" in message:
        return [], str(message["error"])
    seqs = message.get("seqs")
    if not isinstance(seqs, list) or not all(
        isinstance(pair, list) and len(pair) == 2 and all(type(x) is int for x in pair)
        for pair in seqs
    ):
        raise AckError(f'neither "seqs" nor "error": {data[:80]!r}')
    return [(first, last) for first, last in seqs], None


class DatagramTracker:
    """Seqs 1..n: which are due to be sent (new or again), which are acked, and their latency.

    ``window``: at most this many sent and not yet acked at once.
    """

    def __init__(self, n: int, window: int) -> None:
        if n < 0 or window < 1:
            raise ValueError("n must not be negative and window must be at least 1")
        self.n = n
        self.window = window
        self.next_new = 1  # the lowest seq never sent
        self.first_sent: dict[int, float] = {}  # unacked seqs: their first send
        self.resent: set[int] = set()  # unacked seqs sent more than once
        self.acked: set[int] = set()
        self.latencies: list[float] = []  # per acked seq: first send to its first ack
        self.resends = 0
        self.smoothed_s = INITIAL_LATENCY_S
        self._deadlines: list[tuple[float, int]] = []  # (when, seq): a heap, stale entries kept

    @property
    def done(self) -> bool:
        """Every seq is acked."""
        return len(self.acked) == self.n

    @property
    def timeout_s(self) -> float:
        """How long an ack may take before its number is sent again."""
        return max(MIN_TIMEOUT_S, TIMEOUT_FACTOR * self.smoothed_s)

    @property
    def in_flight(self) -> int:
        """Seqs sent and not acked."""
        return len(self.first_sent)

    def due(self, now: float) -> list[int]:
        """The seqs to send at ``now``: those whose ack is overdue, then new ones within the
        window. Each is taken as sent at ``now``."""
        seqs: list[int] = []
        while self._deadlines and self._deadlines[0][0] <= now:
            _, seq = heapq.heappop(self._deadlines)
            if seq in self.first_sent:  # else acked since: a stale entry
                seqs.append(seq)
                self.resent.add(seq)
                self.resends += 1
        room = self.window - self.in_flight
        while room > 0 and self.next_new <= self.n:
            seq = self.next_new
            self.next_new += 1
            self.first_sent[seq] = now
            seqs.append(seq)
            room -= 1
        deadline = now + self.timeout_s
        for seq in seqs:
            heapq.heappush(self._deadlines, (deadline, seq))
        return seqs

    def next_deadline(self) -> float | None:
        """When the earliest unacked number times out (None: nothing in flight)."""
        while self._deadlines and self._deadlines[0][1] not in self.first_sent:
            heapq.heappop(self._deadlines)
        return self._deadlines[0][0] if self._deadlines else None

    def ack(self, ranges: Sequence[tuple[int, int]], now: float) -> int:
        """Take an ack's ranges arrived at ``now``; return how many seqs it newly acked."""
        newly = 0
        for first, last in ranges:
            for seq in range(max(first, 1), min(last, self.n) + 1):
                sent = self.first_sent.pop(seq, None)
                if sent is None:
                    continue  # acked before, or never sent
                self.acked.add(seq)
                self.latencies.append(now - sent)
                newly += 1
                if seq in self.resent:
                    self.resent.discard(seq)
                else:  # Karn: a resent number's ack may answer either send
                    self.smoothed_s += SMOOTHING * (now - sent - self.smoothed_s)
        return newly
