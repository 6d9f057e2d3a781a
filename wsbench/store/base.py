"""What every store is: the interface the writer and servers use, the threaded base, the errors."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol, TypeVar

from ..batching import Row
from ..errors import StartupError
from ..vocabulary import StoreKind

T = TypeVar("T")

TABLE = "testing"
# IGNORE: a row whose (run_id, seq) is already there was committed by an earlier try; keeping
# the first copy makes retries and resends idempotent. It needs only the INSERT privilege.
INSERT = f"INSERT IGNORE INTO {TABLE} (run_id, seq, number) VALUES (%s, %s, %s)"
COUNT = f"SELECT COUNT(*) FROM {TABLE} WHERE run_id = %s"


class DatabaseUnreachable(StartupError):
    """Nothing answers at the database's address."""


class StoreUnavailable(Exception):
    """The database is out of reach for now (restart, killed connection, lock timeout): retry."""


class ClusterUnavailable(Exception):
    """No node of a cluster committed a batch within the failover bound: the batch fails."""


class Store(Protocol):
    """What the writer and the server need from a store."""

    kind: StoreKind
    durable: bool
    target: str | None
    max_allowed_packet: int
    notice: str | None  # what users must be told, on the page and in the log

    async def insert(self, rows: Sequence[Row]) -> None:
        """Insert the rows and commit them; raise if they are not committed."""

    async def count_rows(self, run_id: str) -> int | None:
        """How many rows a run has, or None when the store keeps nothing."""


class ThreadedStore:
    """A synchronous database driver run on one private thread, so the event loop never blocks.

    One thread also means one connection per role and no locking: calls run one at a time.
    """

    kind: StoreKind
    durable = True
    target: str | None = None
    max_allowed_packet = 1 << 30
    notice: str | None = None

    def __init__(self) -> None:
        self._executor = ThreadPoolExecutor(1, thread_name_prefix=f"wsbench-{self.kind}")

    async def __aenter__(self) -> ThreadedStore:
        try:
            await self._call(self._open)
        except BaseException:
            await self.__aexit__()
            raise
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self._call(self._close)
        self._executor.shutdown()

    async def insert(self, rows: Sequence[Row]) -> None:
        """Insert the rows in one transaction and commit them."""
        await self._call(self._insert, rows)

    async def count_rows(self, run_id: str) -> int | None:
        """How many committed rows a run has."""
        return await self._call(self._count, run_id)

    async def _call(self, function: Callable[..., T], *args: object) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, function, *args)

    # Run on the store's thread; raise StartupError from _open when the store is unusable.
    def _open(self) -> None:
        raise NotImplementedError

    def _insert(self, rows: Sequence[Row]) -> None:
        raise NotImplementedError

    def _count(self, run_id: str) -> int:
        raise NotImplementedError

    def _close(self) -> None:
        raise NotImplementedError
