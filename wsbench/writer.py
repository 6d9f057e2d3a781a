"""The one writer: commits whatever has arrived, from every connection, as one INSERT + COMMIT."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Hashable
from typing import Protocol

from .batching import Batcher, Row
from .store import Store

logger = logging.getLogger("wsbench")


class Sender(Hashable, Protocol):
    """Whoever sent rows and wants to hear what became of them."""

    def committed(self, count: int) -> None:
        """``count`` more of this sender's rows are committed."""

    def failed(self, count: int, reason: str) -> None:
        """``count`` of this sender's rows were not committed."""


class GroupCommitWriter:
    """Group commit: the next batch starts as soon as the previous COMMIT returns.

    While one batch is being committed, rows keep arriving; they all go into the next one,
    so the number of commits adapts to the database's speed instead of the message rate.
    """

    def __init__(self, store: Store, max_batch: int, max_pending: int) -> None:
        self._store = store
        self._batcher: Batcher[Sender] = Batcher(max_batch)
        self._max_pending = max_pending
        self._work = asyncio.Event()
        self._room = asyncio.Event()
        self._room.set()
        self._closing = False
        self._task: asyncio.Task[None] | None = None

    @property
    def max_batch(self) -> int:
        """The most rows committed at once."""
        return self._batcher.max_batch

    @property
    def full(self) -> bool:
        """True when senders should wait for room before adding more."""
        return not self._room.is_set()

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
        self._batcher.add(sender, row)
        self._work.set()
        if len(self._batcher) >= self._max_pending:
            self._room.clear()

    async def wait_for_room(self) -> None:
        """Wait until the queue is below its limit: backpressure for fast senders."""
        await self._room.wait()

    async def _run(self) -> None:
        while True:
            await self._work.wait()
            if not self._batcher:
                if self._closing:
                    return
                self._work.clear()
                continue
            batch = self._batcher.take()
            if len(self._batcher) < self._max_pending:
                self._room.set()
            try:
                await self._store.insert(batch.rows)
            except Exception as exc:  # noqa: BLE001 - reported to senders, the writer goes on
                reason = f"not stored: database error ({exc})"
                logger.error(
                    "a batch of %d rows was NOT committed: %s; the senders were told",
                    len(batch.rows),
                    exc,
                )
                for sender, count in batch.counts.items():
                    sender.failed(count, reason)
                continue
            for sender, count in batch.counts.items():
                sender.committed(count)
