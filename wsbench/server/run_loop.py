"""The one run loop: an ordered channel's messages into the writer, its acks back.

A WebSocket connection and a WebTransport stream carry the same messages (numbers in, a hello and
cumulative acks out), so both feed a run here; only the channel and its messages differ.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable
from typing import Any

from ..protocol import FrameError, error_message, parse_number
from .runs import RunFeed
from .service import Service


async def serve_run(
    service: Service,
    feed: RunFeed,
    messages: AsyncIterable[str | bytes],
    closed: tuple[type[BaseException], ...] = (),
    **hello: Any,
) -> None:
    """Make ``feed`` its run's channel, greet (with ``hello`` too), and feed the run until the
    messages end or one of ``closed`` is raised; then let the run go."""
    runs = service.runs
    try:
        if not await runs.start(feed, service.store, service.info(), **hello):
            return
        acks = asyncio.create_task(feed.send_acks())
        try:
            await receive(service, feed, messages)
        finally:
            acks.cancel()
    except closed:
        pass
    finally:
        runs.release(feed)


async def receive(service: Service, feed: RunFeed, messages: AsyncIterable[str | bytes]) -> None:
    """Parse each message; queue numbers for the writer, answer bad messages with an error."""
    # The hot path: per number, a parse, a row and a submit; everything else is derived (the
    # message's index, what is in flight) or counted per batch (the metrics).
    writer, submit, run_id = service.writer, service.writer.submit, feed.run_id
    async for message in messages:
        if service.stopping or feed.superseded:
            # Dropped and never acked, so the client sends it again after resuming. Reading on
            # lets the closing handshake through the messages still in flight.
            continue
        try:
            number = parse_number(message)
        except FrameError as exc:
            feed.rejected += 1
            service.metrics.rejected[feed.transport] += 1
            await feed.channel.send(error_message(str(exc), feed.received + feed.rejected))
            continue
        seq = feed.next_seq
        submit(feed, (run_id, seq, number))
        feed.next_seq = seq + 1
        if writer.full:
            await writer.wait_for_room()
