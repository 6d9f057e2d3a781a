"""The one writer: commits whatever has arrived, from every connection, in one transaction."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Hashable
from typing import Protocol

from ..batching import Batch, Batcher, Row
from ..store import Store, StoreUnavailable
from ..vocabulary import Transport
from .metrics import Metrics

logger = logging.getLogger("wsbench")

RETRY_FIRST_S = 0.05
RETRY_MAX_S = 2.0


class Sender(Hashable, Protocol):
    """Whoever sent rows and wants to hear what became of them."""

    transport: Transport  # for the metrics

    def committed(self, count: int) -> None:
        """``count`` more of this sender's rows are committed."""

    def failed(self, count: int, reason: str) -> None:
        """``count`` of this sender's rows were not committed and will not be."""


class GroupCommitWriter:
    """Group commit: the next batch starts as soon as the previous COMMIT returns.

    While one batch is being committed, rows keep arriving; they all go into the next one,
    so the number of commits adapts to the database's speed instead of the message rate.
    When the database is out of reach the batch is kept and retried (inserts are idempotent),
    so nothing is acknowledged that is not committed and nothing received is dropped.
    """

    def __init__(
        self, store: Store, max_batch: int, max_pending: int, metrics: Metrics | None = None
    ) -> None:
        self._store = store
        self._metrics = metrics or Metrics()
        self._batcher: Batcher[Sender] = Batcher(max_batch)
        self._max_pending = max_pending
        # Senders wait at max_pending and go on once the queue is down to half: one long pause
        # instead of every waiting sender waking up for every batch taken.
        self._resume_below = max(1, max_pending // 2)
        self._work = asyncio.Event()
        self._room = asyncio.Event()
        self._room.set()
        self.full = False  # True when senders should wait for room before adding more
        self._idle = asyncio.Event()
        self._idle.set()
        self._closing = False
        self._last_failure = ""
        self._task: asyncio.Task[None] | None = None

    @property
    def max_batch(self) -> int:
        """The most rows committed at once."""
        return self._batcher.max_batch

    @property
    def pending(self) -> int:
        """Rows waiting for a batch (not counting the one being committed)."""
        return len(self._batcher)

    async def __aenter__(self) -> GroupCommitWriter:
        self._task = asyncio.create_task(self._run(), name="wsbench-writer")
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        # Whatever was received is still committed before the writer stops.
        self._closing = True
        self._work.set()
        if self._task is not None:
            await self._task

    def submit(self, sender: Sender, row: Row) -> None:
        """Queue a row for the next commit."""
        pending = self._batcher.add(sender, row)
        if pending == 1:  # the queue was empty: the writer may be waiting for work
            self._idle.clear()
            self._work.set()
        if pending >= self._max_pending:
            self._room.clear()
            self.full = True

    async def wait_for_room(self) -> None:
        """Wait until the queue is down to half its limit: backpressure for fast senders."""
        await self._room.wait()

    async def flush(self) -> None:
        """Wait until every row submitted so far is committed (or reported as failed)."""
        await self._idle.wait()

    async def _run(self) -> None:
        while True:
            await self._work.wait()
            if not self._batcher:
                self._idle.set()
                if self._closing:
                    return
                self._work.clear()
                continue
            batch = self._batcher.take()
            if self.full and len(self._batcher) <= self._resume_below:
                self._room.set()
                self.full = False
            self._count_received(batch)
            self._metrics.batch_rows.observe(len(batch.rows))
            await self._commit(batch)

    def _count_received(self, batch: Batch[Sender]) -> None:
        """Count the batch's rows as received: once per batch and sender, not per number."""
        received = self._metrics.received
        for sender, count in batch.counts.items():
            received[sender.transport] += count

    async def _commit(self, batch: Batch[Sender]) -> None:
        """Commit one batch, retrying for as long as the database is out of reach."""
        outage_start = 0.0
        retries = 0
        delay = RETRY_FIRST_S
        while True:
            started = time.perf_counter()
            try:
                await self._store.insert(batch.rows)
                break
            except StoreUnavailable as exc:
                if not outage_start:
                    outage_start = time.monotonic()
                    self._metrics.outages += 1
                    logger.warning(
                        "database outage: %s; holding %d rows and retrying until it is back "
                        "(clients stay connected; nothing is acked meanwhile)",
                        exc,
                        len(batch.rows) + len(self._batcher),
                    )
                retries += 1
                await asyncio.sleep(delay)  # backoff between reconnection attempts
                delay = min(delay * 2, RETRY_MAX_S)
            except Exception as exc:  # noqa: BLE001 - reported to senders, the writer goes on
                self._fail(batch, str(exc))
                return
        if outage_start:
            logger.warning(
                "database outage over after %.1f s and %d retries; committed %d held rows",
                time.monotonic() - outage_start,
                retries,
                len(batch.rows),
            )
        self._metrics.commit_seconds.observe(time.perf_counter() - started)
        self._last_failure = ""
        committed = self._metrics.committed
        for sender, count in batch.counts.items():
            committed[sender.transport] += count
            sender.committed(count)

    def _fail(self, batch: Batch[Sender], reason: str) -> None:
        """Tell the senders their rows are not stored; log each new cause once."""
        if reason != self._last_failure:
            logger.error("rows NOT committed, the clients were told: %s", reason)
            self._last_failure = reason
        for sender, count in batch.counts.items():
            self._metrics.not_stored[sender.transport] += count
            sender.failed(count, f"not stored: {reason}")
