"""A WebSocket client for one run: sends numbers pipelined, resumes after drops until all are acked.

result = await send_run("ws://127.0.0.1:8765", "run-1", range(1, 10_001))
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

RETRY_FIRST_S = 0.05
RETRY_MAX_S = 2.0


@dataclass
class RunResult:
    """What became of a run's numbers."""

    acked: int = 0
    failed: int = 0  # numbers rejected or not stored
    errors: list[dict] = field(default_factory=list)
    connections: int = 0
    hello: dict = field(default_factory=dict)
    ack_times: dict[int, float] = field(default_factory=dict)  # acked count -> when it arrived


async def send_run(
    url: str,
    run_id: str,
    numbers: Sequence[int | str],
    *,
    origin: str | None = None,
    on_ack: Callable[[ClientConnection, int], object] | None = None,
    max_connections: int = 50,
    timeout_s: float = 120,
) -> RunResult:
    """Send every number of a run; after a drop, reconnect and send what is not committed yet."""
    result = RunResult()
    delay = RETRY_FIRST_S
    async with asyncio.timeout(timeout_s):
        while result.connections < max_connections:
            result.connections += 1
            try:
                async with connect(
                    f"{url}/?run={run_id}", compression=None, origin=origin, open_timeout=10
                ) as websocket:
                    await _one_connection(websocket, numbers, result, on_ack)
                    return result
            except (ConnectionClosed, OSError, InvalidHandshake, TimeoutError):
                await asyncio.sleep(delay)  # backoff before reconnecting
                delay = min(delay * 2, RETRY_MAX_S)
    raise RuntimeError(f"run {run_id}: gave up after {max_connections} connections: {result}")


async def _one_connection(
    websocket: ClientConnection,
    numbers: Sequence[int | str],
    result: RunResult,
    on_ack: Callable[[ClientConnection, int], object] | None,
) -> None:
    result.hello = json.loads(await websocket.recv())["hello"]
    start = result.acked = result.hello["committed"]  # the server has these already

    async def send_rest() -> None:
        for number in numbers[start:]:
            await websocket.send(str(number))

    sender = asyncio.create_task(send_rest())
    try:
        while result.acked + result.failed < len(numbers):
            message = json.loads(await websocket.recv())
            if "acked" in message:
                result.acked = message["acked"]
                result.ack_times[result.acked] = time.perf_counter()
                if on_ack is not None:
                    on_ack(websocket, result.acked)
            elif "error" in message:
                result.errors.append(message)
                result.failed += message.get("not_stored", 1)
    finally:
        sender.cancel()
