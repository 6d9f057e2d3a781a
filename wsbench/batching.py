"""Group-commit batching, without I/O: which rows go into the next INSERT and whose they are."""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

Sender = TypeVar("Sender", bound=Hashable)
Row = tuple[str, int, int]  # (run id, sequence number in the run, number)

# A row's worst case in a multi-row INSERT: 64-character run id, two 20-digit numbers, quotes.
MAX_ROW_BYTES = 120


def batch_limit(max_batch: int, max_allowed_packet: int) -> int:
    """The most rows per INSERT that stay well below the server's packet limit."""
    return max(1, min(max_batch, max_allowed_packet // 2 // MAX_ROW_BYTES))


def statement_sizes(rows: int, largest: int, exact_below: int = 1) -> list[int]:
    """Statement sizes for a batch: powers of two, biggest first, and an exact rest."""
    # A few fixed sizes let a handful of prepared statements carry batches of any size; a rest
    # below exact_below stays whole, so a small batch is one statement and one round trip.
    if largest < 1 or largest & (largest - 1):
        raise ValueError("largest must be a power of two")
    sizes = [largest] * (rows // largest)
    rest = rows % largest
    while rest >= exact_below:
        sizes.append(1 << (rest.bit_length() - 1))
        rest -= sizes[-1]
    if rest:
        sizes.append(rest)
    return sizes


@dataclass
class Batch(Generic[Sender]):
    """Rows for one transaction, and how many of them each sender gave."""

    rows: list[Row] = field(default_factory=list)
    counts: Counter[Sender] = field(default_factory=Counter)


class Batcher(Generic[Sender]):
    """A FIFO of rows from many senders, cut into batches of at most ``max_batch`` rows."""

    def __init__(self, max_batch: int) -> None:
        if max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        self.max_batch = max_batch
        # Two parallel lists: taking a batch is then two slices and a count, all in C.
        self._rows: list[Row] = []
        self._senders: list[Sender] = []

    def __len__(self) -> int:
        return len(self._rows)

    def add(self, sender: Sender, row: Row) -> int:
        """Queue one row for the next batch; return how many rows are queued now."""
        self._rows.append(row)
        self._senders.append(sender)
        return len(self._rows)

    def take(self) -> Batch[Sender]:
        """Remove and return the oldest rows, up to ``max_batch`` of them."""
        size = self.max_batch
        batch: Batch[Sender] = Batch(self._rows[:size], Counter(self._senders[:size]))
        del self._rows[:size], self._senders[:size]
        return batch
