"""A WebSocket client for one run: sends numbers pipelined, resumes after drops until all are acked.

result = await send_run("ws://127.0.0.1:8765", "run-1", range(1, 10_001))

For benchmarks (``wsbench.bench``): ``window=1`` sends one number at a time, waiting for its ack;
``send_times`` records when each number was sent; ``ready`` starts several connections together.
Frames are built before the first one is sent and written in bursts, as load generators such as
wrk do, so the client's own CPU stays out of the way of the server it measures.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from ssl import SSLContext
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake
from websockets.frames import Frame, Opcode
from websockets.protocol import State
from websockets.typing import Origin

RETRY_FIRST_S = 0.05
RETRY_MAX_S = 2.0


@dataclass
class RunResult:
    """What became of a run's numbers."""

    acked: int = 0
    failed: int = 0  # numbers rejected or not stored
    errors: list[dict[str, Any]] = field(default_factory=list)
    connections: int = 0
    hello: dict[str, Any] = field(default_factory=dict)
    ack_times: dict[int, float] = field(default_factory=dict)  # acked count -> when it arrived

    def record(self, message: dict[str, Any]) -> bool:
        """Take one of the server's messages; whether it was an ack (else an error, or other)."""
        if "acked" in message:
            self.acked = message["acked"]
            self.ack_times[self.acked] = time.perf_counter()
            return True
        if "error" in message:
            self.errors.append(message)
            self.failed += message.get("not_stored", 1)
        return False


async def send_run(
    url: str,
    run_id: str,
    numbers: Sequence[int | str],
    *,
    origin: Origin | None = None,
    on_ack: Callable[[ClientConnection, int], object] | None = None,
    max_connections: int = 50,
    timeout_s: float = 120,
    window: int | None = None,
    send_times: list[float] | None = None,
    ready: asyncio.Barrier | None = None,
    ssl: SSLContext | None = None,
) -> RunResult:
    """Send every number of a run; after a drop, reconnect and send what is not committed yet.

    ``window``: at most this many numbers sent and not yet acked (``None``: no limit, pipelined;
    ``1``: one at a time). ``send_times``: a list as long as ``numbers``; ``send_times[i]`` is set
    to ``time.perf_counter()`` just before ``numbers[i]`` is sent (again if it is resent).
    ``ready``: after the first hello, wait at this barrier before sending anything.
    ``ssl``: for a ``wss://`` URL, how to check the server's certificate (None: the system's CAs).
    """
    if window is not None and window < 1:
        raise ValueError("window must be at least 1")
    if send_times is not None and len(send_times) < len(numbers):
        raise ValueError("send_times must have room for every number")
    result = RunResult()
    frames = [text_frame(str(number)) for number in numbers]
    delay = RETRY_FIRST_S
    # Only when given: for wss:// websockets then defaults to the system's CAs.
    tls_options: dict[str, Any] = {} if ssl is None else {"ssl": ssl}
    async with asyncio.timeout(timeout_s):
        while result.connections < max_connections:
            result.connections += 1
            try:
                async with connect(
                    f"{url}/?run={run_id}",
                    compression=None,
                    origin=origin,
                    open_timeout=10,
                    **tls_options,
                ) as websocket:
                    barrier = ready if result.connections == 1 else None
                    await _one_connection(
                        websocket, frames, result, on_ack, window, send_times, barrier
                    )
                    return result
            except (ConnectionClosed, OSError, InvalidHandshake, TimeoutError):
                await asyncio.sleep(delay)  # backoff before reconnecting
                delay = min(delay * 2, RETRY_MAX_S)
    raise RuntimeError(f"run {run_id}: gave up after {max_connections} connections: {result}")


def text_frame(text: str) -> bytes:
    """A client's (masked) text frame holding ``text``, ready for the wire."""
    return Frame(Opcode.TEXT, text.encode()).serialize(mask=True)


async def _one_connection(
    websocket: ClientConnection,
    frames: Sequence[bytes],
    result: RunResult,
    on_ack: Callable[[ClientConnection, int], object] | None,
    window: int | None = None,
    send_times: list[float] | None = None,
    ready: asyncio.Barrier | None = None,
) -> None:
    result.hello = json.loads(await websocket.recv())["hello"]
    start = result.acked = result.hello["committed"]  # the server has these already
    if ready is not None:
        await ready.wait()
    room = asyncio.Event()  # set when an ack or an error may have made room in the window
    limit = len(frames) if window is None else window

    async def send_rest() -> None:
        sent = start
        while sent < len(frames) and websocket.state is State.OPEN:
            upto = min(len(frames), result.acked + result.failed + limit)
            if upto <= sent:
                room.clear()
                await room.wait()
                continue
            if send_times is not None:
                send_times[sent:upto] = [time.perf_counter()] * (upto - sent)
            # Whole frames, one write per burst; websockets' own frames (pongs, close) go
            # through the same transport in order, between bursts.
            websocket.transport.write(b"".join(frames[sent:upto]))
            sent = upto

    sender = asyncio.create_task(send_rest())
    try:
        while result.acked + result.failed < len(frames):
            message = json.loads(await websocket.recv())
            if result.record(message) and on_ack is not None:
                on_ack(websocket, result.acked)
            room.set()
    finally:
        sender.cancel()
