"""A run fed over one ordered channel: sequence numbers, commits and cumulative acks.

WebSocket connections and WebTransport streams both carry the same messages (numbers in, a hello
and cumulative acks out), so both feed a run through a ``RunFeed`` (``run_loop`` reads them); only
the ``Channel`` differs. ``Runs`` keeps one channel per run for the whole process.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any, Protocol

from ..protocol import ack_message, hello_message
from ..store import Store
from ..vocabulary import Transport

logger = logging.getLogger("wsbench")


class Channel(Protocol):
    """Where a run's acks go: a WebSocket connection, or a WebTransport stream."""

    async def send(self, message: str) -> None:
        """Send one message (a hello, an ack, an error) to the client."""

    async def close(self, code: int, reason: str) -> None:
        """Close the channel, telling the client why."""


class RunFeed:
    """One channel feeding one run: sequence numbers, commits, and its acks."""

    def __init__(self, channel: Channel, run_id: str, transport: Transport) -> None:
        self.channel = channel
        self.run_id = run_id
        self.transport = transport
        self.acked = 0  # committed numbers of the whole run, including earlier channels
        self.next_seq = 1  # the seq of the next number: the receive loop counts it up
        self.resumed_at = 1  # this channel's first seq
        self.not_stored = 0
        self.rejected = 0
        self.acks_sent = 0
        self.superseded = False  # another channel has taken over this run
        self.settled = asyncio.Event()  # set when the last number in flight settled
        self._failures: list[str] = []
        self._news = asyncio.Event()
        self._delivered = asyncio.Event()  # set while every ack is on the wire
        self._delivered.set()

    def resume_after(self, committed: int) -> None:
        """Continue a run whose first ``committed`` numbers are already stored."""
        self.acked = committed
        self.next_seq = self.resumed_at = committed + 1

    @property
    def received(self) -> int:
        """Numbers this channel submitted for a commit."""
        return self.next_seq - self.resumed_at

    @property
    def in_flight(self) -> int:
        """Numbers submitted and neither committed nor failed yet."""
        # Derived, so the receive loop only counts next_seq up: nothing else per number.
        return self.next_seq - 1 - self.acked - self.not_stored

    async def until_settled(self) -> None:
        """Wait until nothing of this channel is in flight."""
        self.settled.clear()
        if self.in_flight:
            await self.settled.wait()

    def committed(self, count: int) -> None:
        """Count newly committed rows; the ack sender reports them."""
        self.acked += count
        self._settle(count)

    def failed(self, count: int, reason: str) -> None:
        """Remember rows that were not committed; the ack sender reports them."""
        self.not_stored += count
        self._failures.append(json.dumps({"error": reason, "not_stored": count}))
        self._settle(count)

    def _settle(self, count: int) -> None:
        if not self.in_flight:
            self.settled.set()
        self._news.set()
        self._delivered.clear()

    async def send_acks(self) -> None:
        """Send one cumulative ack per wake-up, however many commits happened meanwhile."""
        # A task of its own, so one slow reader never holds up the writer or other clients.
        try:
            while True:
                await self._news.wait()
                self._news.clear()
                failures, self._failures = self._failures, []
                for failure in failures:
                    await self.channel.send(failure)
                await self.channel.send(ack_message(self.acked))
                self.acks_sent += 1
                if not self._news.is_set():
                    self._delivered.set()
        finally:
            self._delivered.set()  # closed: nothing more can be delivered

    async def acks_delivered(self) -> None:
        """Wait until the latest ack has been sent."""
        await self._delivered.wait()


# WebSocket close codes (RFC 6455, 7.4.1), which WebTransport sessions reuse: a superseded channel
# gets 1008 (policy violation), one whose run the database cannot place 1013 (try again later),
# one that sent too much 1009 (message too big), and every one 1001 when the server stops.
GOING_AWAY_CODE = 1001
SUPERSEDED_CODE = 1008
TOO_BIG_CODE = 1009
TRY_AGAIN_LATER_CODE = 1013


class Runs:
    """The channel currently feeding each run, so a resumed run has exactly one."""

    def __init__(self) -> None:
        self.feeds: dict[str, RunFeed] = {}

    async def take_over(self, feed: RunFeed) -> None:
        """Make ``feed`` the run's only channel, once the previous one's rows are settled."""
        # A reconnecting client may arrive before the server noticed its old channel died.
        while (previous := self.feeds.get(feed.run_id)) is not None:
            previous.superseded = True
            await previous.channel.close(SUPERSEDED_CODE, "run resumed elsewhere")
            await previous.until_settled()
            if self.feeds.get(feed.run_id) is previous:
                del self.feeds[feed.run_id]
        self.feeds[feed.run_id] = feed

    async def start(self, feed: RunFeed, store: Store, info: dict[str, Any], **extra: Any) -> bool:
        """Make ``feed`` the run's channel and greet the client with where the run stands (the
        hello: ``info``, then ``extra``); False, the channel closed, when the store cannot say."""
        await self.take_over(feed)
        try:
            committed = await store.count_rows(feed.run_id)
        except Exception as exc:  # noqa: BLE001 - the client is told to come back
            logger.debug("cannot resume run %s: %s", feed.run_id, exc)
            await feed.channel.close(TRY_AGAIN_LATER_CODE, "database unavailable")
            return False
        feed.resume_after(committed or 0)
        hello = hello_message(**info, run=feed.run_id, committed=feed.acked, **extra)
        await feed.channel.send(hello)
        return True

    def release(self, feed: RunFeed) -> None:
        """Forget ``feed`` when it is still the run's channel."""
        if self.feeds.get(feed.run_id) is feed:
            del self.feeds[feed.run_id]

    async def acks_delivered(self, timeout: float) -> None:
        """Wait up to ``timeout`` s until every feed's latest ack is sent."""
        feeds = list(self.feeds.values())
        if feeds:
            delivered = asyncio.gather(*(feed.acks_delivered() for feed in feeds))
            with contextlib.suppress(TimeoutError):  # a client that stopped reading
                await asyncio.wait_for(delivered, timeout)
