"""The statistics of a benchmark, without I/O: percentiles, latencies, spreads, paired ratios."""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Sequence

PERCENTILES = (50, 95, 99)


def percentile(sorted_values: Sequence[float], p: float) -> float:
    """The p-th percentile (0..100) of ascending values, interpolating linearly between ranks."""
    if not sorted_values:
        raise ValueError("percentile of no values")
    if not 0 <= p <= 100:
        raise ValueError("p must be within 0..100")
    position = (len(sorted_values) - 1) * p / 100
    lower = math.floor(position)
    upper = min(lower + 1, len(sorted_values) - 1)
    return sorted_values[lower] + (sorted_values[upper] - sorted_values[lower]) * (position - lower)


def latency_summary(latencies_s: Iterable[float]) -> dict[str, float | None]:
    """p50, p95, p99 and max of latencies given in seconds, in milliseconds (None when empty)."""
    values = sorted(latencies_s)
    keys = [f"p{p}" for p in PERCENTILES] + ["max"]
    if not values:
        return dict.fromkeys(keys)
    summary: dict[str, float | None] = {f"p{p}": percentile(values, p) * 1000 for p in PERCENTILES}
    summary["max"] = values[-1] * 1000
    return summary


def ack_latencies(
    send_times: Sequence[float], acks: Iterable[tuple[int, float]], first: int = 0
) -> list[float]:
    """Per number, the arrival of the first cumulative ack that covers it minus its send time.

    ``acks``: (acked, arrival time) in arrival order; ``{"acked": A}`` covers the numbers at
    indexes 0..A-1. Numbers before ``first`` were committed before this connection, not timed.
    A rejected number is never counted by an ack, so after one the mapping is off by one: such a
    run reports its errors, and its latencies are approximate.
    """
    latencies: list[float] = []
    done = first
    for acked, arrived in acks:
        upto = min(acked, len(send_times))
        latencies.extend(arrived - send_times[index] for index in range(done, upto))
        done = max(done, upto)
    return latencies


def spread(values: Sequence[float], fmt: str = ",.0f", unit: str = "") -> str:
    """``median (min..max)`` of values, the unit after the median: ``9.80x (6.73..10.52)``."""
    median = statistics.median(values)
    return f"{median:{fmt}}{unit} ({min(values):{fmt}}..{max(values):{fmt}})"


def paired_ratios(slow: Sequence[float], fast: Sequence[float]) -> list[float]:
    """Per-run ratios of time per number, slow over fast, pairing the runs made side by side."""
    return [s / f for s, f in zip(slow, fast, strict=True)]


def ratio_line(fast: str, slow: str, ratios: Sequence[float]) -> str:
    """``A is 7.42x faster than B (6.90..8.01)``: the median of paired ratios and their range."""
    median = statistics.median(ratios)
    return f"{fast} is {median:.2f}x faster than {slow} ({min(ratios):.2f}..{max(ratios):.2f})"
