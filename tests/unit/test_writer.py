"""The group-commit writer against a fake store whose commits the test controls."""

import asyncio
from collections.abc import Sequence

import pytest

from wsbench.batching import Row
from wsbench.server.writer import GroupCommitWriter
from wsbench.store import StoreUnavailable


class GatedStore:
    """Each insert waits for the test to open the gate; inserts are recorded."""

    def __init__(self) -> None:
        self.batches: list[list[Row]] = []
        self.gate = asyncio.Semaphore(0)
        self.started = asyncio.Event()
        self.fail_next = False

    async def insert(self, rows: Sequence[Row]) -> None:
        self.started.set()
        await self.gate.acquire()
        if self.fail_next:
            self.fail_next = False
            raise RuntimeError("server has gone away")
        self.batches.append(list(rows))


class Recorder:
    transport = "websocket"

    def __init__(self) -> None:
        self.acked = 0
        self.failures: list[tuple[int, str]] = []

    def committed(self, count: int) -> None:
        self.acked += count

    def failed(self, count: int, reason: str) -> None:
        self.failures.append((count, reason))


async def until(condition, timeout: float = 5) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0)


async def test_rows_arriving_during_a_commit_share_the_next_one() -> None:
    store, a, b = GatedStore(), Recorder(), Recorder()
    async with GroupCommitWriter(store, max_batch=100, max_pending=1000) as writer:
        writer.submit(a, ("a", 1, 1))
        await store.started.wait()  # the first commit is in flight with one row
        for i in range(2, 6):
            writer.submit(a, ("a", i, i))
            writer.submit(b, ("b", i, i))
        assert (a.acked, b.acked) == (0, 0)  # nothing acked before its commit
        store.gate.release()
        await until(lambda: a.acked == 1)
        assert b.acked == 0
        store.gate.release()
        await until(lambda: b.acked == 4)
    assert [len(batch) for batch in store.batches] == [1, 8]
    assert (a.acked, b.acked) == (5, 4)


async def test_a_failed_commit_is_reported_not_acked_and_the_writer_goes_on() -> None:
    store, sender = GatedStore(), Recorder()
    store.fail_next = True
    async with GroupCommitWriter(store, max_batch=100, max_pending=1000) as writer:
        writer.submit(sender, ("r", 1, 1))
        store.gate.release()
        await until(lambda: sender.failures)
        writer.submit(sender, ("r", 2, 2))
        store.gate.release()
        await until(lambda: sender.acked == 1)
    assert sender.failures[0][0] == 1 and "server has gone away" in sender.failures[0][1]
    assert store.batches == [[("r", 2, 2)]]


async def test_leaving_commits_everything_still_pending() -> None:
    store, sender = GatedStore(), Recorder()
    writer = GroupCommitWriter(store, max_batch=3, max_pending=1000)
    async with writer:
        for i in range(7):
            writer.submit(sender, ("r", i, i))
        for _ in range(3):
            store.gate.release()
    assert sender.acked == 7
    assert [len(batch) for batch in store.batches] == [3, 3, 1]


async def test_a_full_queue_makes_senders_wait_until_a_batch_is_taken() -> None:
    store, sender = GatedStore(), Recorder()
    async with GroupCommitWriter(store, max_batch=2, max_pending=4) as writer:
        writer.submit(sender, ("r", 0, 0))
        await store.started.wait()  # one row taken, in flight
        for i in range(1, 5):
            writer.submit(sender, ("r", i, i))
        assert writer.full
        room = asyncio.create_task(writer.wait_for_room())
        await asyncio.sleep(0)
        assert not room.done()
        store.gate.release()  # the next batch takes two rows: room again
        await asyncio.wait_for(room, 5)
        assert not writer.full
        for _ in range(2):
            store.gate.release()
    assert sender.acked == 5


class FlakyStore:
    """Out of reach for the first ``outages`` inserts, then fine."""

    def __init__(self, outages: int) -> None:
        self.outages = outages
        self.attempts = 0
        self.batches: list[list[Row]] = []

    async def insert(self, rows: Sequence[Row]) -> None:
        self.attempts += 1
        if self.attempts <= self.outages:
            raise StoreUnavailable("MySQL error 2013: Lost connection to server during query")
        self.batches.append(list(rows))


async def test_an_outage_holds_the_batch_retries_and_logs_once_each_way(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store, sender = FlakyStore(outages=3), Recorder()
    async with GroupCommitWriter(store, max_batch=100, max_pending=1000) as writer:
        for i in range(10):
            writer.submit(sender, ("r", i, i))
        await writer.flush()
        assert sender.acked == 10
    assert store.attempts == 4
    assert store.batches == [[("r", i, i) for i in range(10)]]
    assert sender.failures == []
    outage_lines = [r.getMessage() for r in caplog.records if "outage" in r.getMessage()]
    assert len(outage_lines) == 2
    assert outage_lines[0].startswith("database outage: MySQL error 2013")
    assert outage_lines[1].startswith("database outage over after")


async def test_a_permanent_failure_is_logged_once_per_cause(caplog: pytest.LogCaptureFixture):
    class DeniedStore:
        async def insert(self, rows: Sequence[Row]) -> None:
            raise RuntimeError("INSERT command denied to user 'wsbench'")

    sender = Recorder()
    async with GroupCommitWriter(DeniedStore(), max_batch=1, max_pending=1000) as writer:
        for i in range(5):
            writer.submit(sender, ("r", i, i))
        await writer.flush()
    assert sender.acked == 0 and sum(count for count, _ in sender.failures) == 5
    assert all(
        reason.startswith("not stored: INSERT command denied") for _, reason in sender.failures
    )
    assert len([r for r in caplog.records if r.levelname == "ERROR"]) == 1
