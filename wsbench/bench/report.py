"""What the bench prints and writes: the table, the ratio lines, the JSON document, the versions."""

from __future__ import annotations

import json
import os
import platform
import sqlite3
import statistics
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from tqdm import tqdm

from .. import __version__
from ..stats import ratio_line, spread
from ..store import mysql_connect
from ..store.mysql import scalar
from ..store.url import parse_database_url
from ..vocabulary import StoreKind
from .models import Case, CaseResult, Sample, comparisons

if TYPE_CHECKING:
    from .settings import BenchConfig


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def results_table(results: Sequence[CaseResult]) -> list[str]:
    """The per-case lines: throughput median (min..max), latency medians, errors, rows."""
    width = max(len("case"), *(len(r.case.label) for r in results))
    rates = [spread([s.throughput for s in r.samples]) for r in results]
    rate_width = max(len("numbers/s median (min..max)"), *(len(rate) for rate in rates))
    header = (
        f"{'case':<{width}}  {'N x C':>11}  {'numbers/s median (min..max)':<{rate_width}}"
        f"  {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'max ms':>8}  {'errors':>6}  rows"
    )
    lines = [header]
    for result, rate in zip(results, rates, strict=True):
        case = result.case
        latency = result.latency_medians()
        lines.append(
            f"{case.label:<{width}}  {f'{case.n} x {case.c}':>11}  {rate:<{rate_width}}"
            f"  {_ms(latency['p50']):>8} {_ms(latency['p95']):>8} {_ms(latency['p99']):>8}"
            f" {_ms(latency['max']):>8}  {result.errors:>6}  {result.rows}"
        )
    return lines


def sample_line(case: Case, label: str, sample: Sample) -> str:
    """One repetition, as the progress output shows it."""
    latency = sample.latency_ms
    return (
        f"{case.label} {label}: {sample.acked:,} numbers in {sample.elapsed_s:.3f} s = "
        f"{sample.throughput:,.0f}/s, p50 {_ms(latency['p50'])} ms, p99 {_ms(latency['p99'])} ms,"
        f" {sample.errors} errors, rows {sample.rows}"
        + (f", {sample.reconnects} reconnects" if sample.reconnects else "")
    )


@dataclass
class Output:
    """Where the results go (stdout) and the chatter (stderr, only on a terminal)."""

    interactive: bool
    out: TextIO | None = None  # None: sys.stdout at the time of printing
    bar: tqdm | None = None

    def result(self, line: str = "") -> None:
        """A line of the results."""
        print(line, file=self.out, flush=True)

    def chatter(self, line: str) -> None:
        """A line for the person watching, on stderr, beside the progress bar."""
        if self.interactive:
            tqdm.write(line, file=sys.stderr)

    def close_bar(self) -> None:
        """Take the progress bar off the terminal."""
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def progress(self, count: int) -> None:
        """Numbers acked."""
        if self.bar is not None:
            self.bar.update(count)


def report(results: list[CaseResult], output: Output) -> list[tuple[str, str, list[float]]]:
    """Print the per-case lines and the comparisons; return the comparisons."""
    output.result()
    for line in results_table(results):
        output.result(line)
    output.result(
        "latency: send to the ack covering the number (HTTP: to its response), in ms, "
        "median of each run's percentile"
    )
    pairs = comparisons(results)
    if pairs:
        output.result()
        for fast, slow, ratios in pairs:
            output.result(ratio_line(fast, slow, ratios))
    return pairs


def write_json(
    path: Path,
    config: BenchConfig,
    argv: Sequence[str],
    info: dict[str, Any],
    results: list[CaseResult],
    pairs: list[tuple[str, str, list[float]]],
    http_url: str,
) -> None:
    """The raw samples, the settings and the environment, as JSON."""
    document = {
        "command": ["python", "-m", "wsbench.bench", *argv],
        "settings": {
            "server": config.server,
            "http": http_url,
            "n": config.n,
            "nhttp": config.nhttp,
            "c": config.c,
            "runs": config.runs,
            "warmup": config.warmup,
            "window": config.window,
            "http_pool": config.http_pool,
            "verify": config.verify,
            "link": config.link.as_json() if config.link else None,  # None: no emulated link
        },
        "environment": environment(info, config.db_url),
        "cases": [
            {
                "label": result.case.label,
                "transport": result.case.transport,
                "mode": result.case.mode,
                "n": result.case.n,
                "c": result.case.c,
                "numbers_per_s_median": statistics.median(s.throughput for s in result.samples),
                "latency_ms_median": result.latency_medians(),
                "errors": result.errors,
                "runs": [
                    {
                        "run_ids": sample.run_ids,
                        "sent": sample.sent,
                        "acked": sample.acked,
                        "errors": sample.errors,
                        "error_messages": sample.error_messages,
                        "connections": sample.connections,
                        "reconnects": sample.reconnects,
                        "rows": sample.rows,
                        "elapsed_s": sample.elapsed_s,
                        "numbers_per_s": sample.throughput,
                        "latency_ms": sample.latency_ms,
                        "latencies_ms": [round(s * 1000, 4) for s in sample.latencies_s],
                    }
                    for sample in result.samples
                ],
            }
            for result in results
        ],
        "comparisons": [
            {
                "faster": fast,
                "slower": slow,
                "ratios": ratios,
                "median": statistics.median(ratios),
                "text": ratio_line(fast, slow, ratios),
            }
            for fast, slow, ratios in pairs
        ],
    }
    path.write_text(json.dumps(document, indent=1) + "\n")


def database_version(store: str | None, db_url: str) -> str:
    """The database server's version: ``SELECT VERSION()`` for MySQL; "unknown" if unreachable."""
    if store == StoreKind.SQLITE:
        return f"SQLite {sqlite3.sqlite_version} (this Python's library)"
    if store != StoreKind.MYSQL:
        return f"none ({store} store)"
    try:
        connection = mysql_connect(parse_database_url(db_url))
        try:
            return str(scalar(connection, "SELECT VERSION()"))
        finally:
            connection.close()
    except Exception:  # noqa: BLE001 - the version is a nicety, never a reason to fail
        return "unknown"


def environment(info: dict[str, Any], db_url: str) -> dict[str, Any]:
    """Versions and machine the numbers were measured with."""

    def version(package: str) -> str:
        try:
            return metadata.version(package)
        except metadata.PackageNotFoundError:
            return "not installed"

    return {
        "wsbench": __version__,
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "websockets": version("websockets"),
        "aiohttp": version("aiohttp"),
        "mysql_connector": version("mysql-connector-python"),
        "tqdm": version("tqdm"),
        "database_server": database_version(info.get("store"), db_url),
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "server_info": info,
    }
