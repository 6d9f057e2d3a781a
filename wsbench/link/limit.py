"""The physical lower bound of a run on a link, and a run's size that fits a time budget. Pure.

One at a time, every number waits a full round trip plus its own bytes' time on each direction.
Streamed (pipelined or concurrent), the bytes flow back to back: the slower direction's bytes at
its rate, plus the one round trip the last number needs to come back acknowledged. Either way,
plus the round trips that open connections inside the timed region (TCP, then TLS 1.3).
"""

from __future__ import annotations

import math
from enum import StrEnum

from .profiles import Link


class Pattern(StrEnum):
    """How a run uses the link."""

    ONE_AT_A_TIME = "one-at-a-time"  # a round trip per number
    STREAMED = "streamed"  # back to back: pipelined frames, or concurrent requests


def transfer_ms(nbytes: float, mbit: float | None) -> float:
    """The time ``nbytes`` take at ``mbit`` Mbit/s; zero on an unlimited direction."""
    return 0.0 if mbit is None else nbytes * 8 / (mbit * 1000)


def limit_ms(
    link: Link,
    pattern: Pattern,
    n: int,
    bytes_up: float,
    bytes_down: float,
    setup_round_trips: int = 0,
) -> float:
    """The least a run of ``n`` numbers can take on ``link``, given the bytes that crossed it."""
    setup = setup_round_trips * link.rtt_ms
    up, down = transfer_ms(bytes_up, link.up_mbit), transfer_ms(bytes_down, link.down_mbit)
    if pattern is Pattern.ONE_AT_A_TIME:
        return setup + n * link.rtt_ms + up + down
    return setup + link.rtt_ms + max(up, down)


def rounds_ms(link: Link, n: int, connections: int, setup_round_trips: int = 0) -> float:
    """The least ``n`` requests take over ``connections`` connections without pipelining.

    Each connection carries one request per round trip (HTTP/1.1 in browsers), so however fast
    the link, the run needs ``ceil(n / connections)`` round trips, plus its connections' setup.
    """
    return (setup_round_trips + math.ceil(n / connections)) * link.rtt_ms


def choose_n(
    link: Link,
    pattern: Pattern,
    bytes_up: float,
    bytes_down: float,
    budget_ms: float,
    most: int,
    parallel: int = 1,
    least: int = 5,
) -> int:
    """How many numbers fit in about ``budget_ms`` (never more than ``most``), from each
    number's expected bytes.

    ``parallel``: requests in flight at once where each still waits its round trip (a browser's
    six HTTP/1.1 connections); a streamed run of ``parallel`` 1 is bounded by the bytes alone.
    """
    per_number = transfer_ms(bytes_up, link.up_mbit) + transfer_ms(bytes_down, link.down_mbit)
    if pattern is Pattern.ONE_AT_A_TIME:
        per_number += link.rtt_ms
    else:
        per_number = max(
            transfer_ms(bytes_up, link.up_mbit),
            transfer_ms(bytes_down, link.down_mbit),
            link.rtt_ms / parallel if parallel > 1 else 0.0,
        )
    if per_number <= 0:
        return most
    return min(most, max(least, math.floor(budget_ms / per_number)))
