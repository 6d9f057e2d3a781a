"""Benchmark a running server from the command line: WebSocket against HTTP, pipelined or not.

    python -m wsbench.bench --server ws://127.0.0.1:8765 --transport websocket,http \\
        --mode pipelined,one-at-a-time -n 10000 --nhttp 1000 --runs 5 --json bench.json

Every combination of transport and mode is a case; the runs of the cases are interleaved so the
machine's drift hits them alike. Each connection of each run gets a fresh run id, and after every
run the server is asked how many rows each run id has: a count that differs from what was acked
stops the benchmark with exit status 1. Prints per case the median throughput with min..max and
the ack latency percentiles, then hyperfine-style ratios between the cases.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import platform
import re
import secrets
import statistics
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urlsplit

import aiohttp
from tqdm import tqdm

from . import __version__
from .client import send_run
from .config import parse_database_url

TRANSPORTS = ("websocket", "http")
MODES = ("pipelined", "one-at-a-time")
DEFAULT_SERVER = "ws://127.0.0.1:8765"
DEFAULT_DB_URL = "mysql://wsbench@127.0.0.1:3306/test"
HTTP_WINDOW = 32  # requests in flight per HTTP client when --window is not given
PERCENTILES = (50, 95, 99)
_RUN_PREFIX = re.compile(r"[A-Za-z0-9_-]{1,32}")
_SHORT = {
    "websocket": "ws",
    "http": "http",
    "mysql": "db",
    "pipelined": "p",
    "one-at-a-time": "1",
    "executemany": "x",
    "prepared": "s",
}

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class BenchError(Exception):
    """The benchmark cannot go on or its result is wrong; the message says why (exit status 1)."""


# ---------------------------------------------------------------------------------------------
# The pure parts: statistics, latency bookkeeping, verification, formatting. No I/O.


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


def spread(values: Sequence[float], fmt: str = ",.0f") -> str:
    """``median (min..max)`` of values."""
    median = statistics.median(values)
    return f"{median:{fmt}} ({min(values):{fmt}}..{max(values):{fmt}})"


def paired_ratios(slow: Sequence[float], fast: Sequence[float]) -> list[float]:
    """Per-run ratios of time per number, slow over fast, pairing the runs made side by side."""
    return [s / f for s, f in zip(slow, fast, strict=True)]


def ratio_line(fast: str, slow: str, ratios: Sequence[float]) -> str:
    """``A is 7.42x faster than B (6.90..8.01)``: the median of paired ratios and their range."""
    median = statistics.median(ratios)
    return f"{fast} is {median:.2f}x faster than {slow} ({min(ratios):.2f}..{max(ratios):.2f})"


@dataclass
class Verification:
    """What the row count said about a run."""

    ok: bool
    status: str  # one word for the table: verified, not-stored, MISMATCH
    note: str


def verify_rows(acked: dict[str, int], rows: dict[str, int | None]) -> Verification:
    """Compare each run id's acked numbers with the rows the server counts for it."""
    if rows and all(count is None for count in rows.values()):
        return Verification(
            True,
            "not-stored",
            "rows not verified: the server stores nothing (--db null:), its acks mean received",
        )
    problems = [
        f"run {run_id}: {count} acked but {rows.get(run_id)} rows in the database"
        for run_id, count in acked.items()
        if rows.get(run_id) != count
    ]
    if problems:
        return Verification(False, "MISMATCH", "ROW COUNT MISMATCH: " + "; ".join(problems))
    return Verification(True, "verified", f"{sum(acked.values()):,} rows verified")


@dataclass(frozen=True)
class Case:
    """One thing measured: a transport in a mode, n numbers on each of c connections."""

    transport: str
    mode: str
    n: int
    c: int

    @property
    def label(self) -> str:
        """``websocket/pipelined``."""
        return f"{self.transport}/{self.mode}"


@dataclass
class RunSample:
    """One run of a case, all of its connections together."""

    run_ids: list[str]
    sent: int  # numbers the run set out to send
    acked_by_run: dict[str, int]
    errors: int
    elapsed_s: float  # first send to last ack, connections opened beforehand
    latencies_s: list[float]
    connections: int = 0  # WebSocket connections opened; HTTP: the pool's size
    reconnects: int = 0  # WebSocket connections that dropped and were opened again
    error_messages: list[str] = field(default_factory=list)
    rows: str = "skipped"  # the verification's status

    @property
    def acked(self) -> int:
        """Numbers acked over all connections."""
        return sum(self.acked_by_run.values())

    @property
    def throughput(self) -> float:
        """Acked numbers per second."""
        return self.acked / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def seconds_per_number(self) -> float:
        """Elapsed time per number sent: what the comparisons compare."""
        return self.elapsed_s / self.sent

    @property
    def latency_ms(self) -> dict[str, float | None]:
        """The run's latency percentiles in milliseconds."""
        return latency_summary(self.latencies_s)


@dataclass
class CaseResult:
    """A case and its measured runs."""

    case: Case
    samples: list[RunSample] = field(default_factory=list)

    @property
    def seconds_per_number(self) -> list[float]:
        """Per run, elapsed time per number."""
        return [sample.seconds_per_number for sample in self.samples]

    def latency_medians(self) -> dict[str, float | None]:
        """Each latency percentile's median over the runs."""
        summaries = [sample.latency_ms for sample in self.samples]
        medians: dict[str, float | None] = {}
        for key in summaries[0]:
            values = [s[key] for s in summaries if s[key] is not None]
            medians[key] = statistics.median(values) if values else None
        return medians

    @property
    def errors(self) -> int:
        """Numbers not acked over all measured runs."""
        return sum(sample.errors for sample in self.samples)

    @property
    def rows(self) -> str:
        """The verification status of the runs, when they all agree."""
        statuses = {sample.rows for sample in self.samples}
        return statuses.pop() if len(statuses) == 1 else "/".join(sorted(statuses))


def comparisons(results: Sequence[CaseResult]) -> list[tuple[str, str, list[float]]]:
    """The fastest case, and each database floor, against each other case: (fast, slow, ratios).

    Closest first; every pair once, the faster case first.
    """

    def speed(result: CaseResult) -> float:
        return statistics.median(result.seconds_per_number)

    if len(results) < 2:
        return []
    fastest = min(results, key=speed)
    anchors = [fastest, *(r for r in results if r.case.transport == "mysql" and r is not fastest)]
    lines = []
    seen: set[frozenset[int]] = set()
    for anchor in anchors:
        for other in results:
            pair = frozenset((id(anchor), id(other)))
            if other is anchor or pair in seen:
                continue
            seen.add(pair)
            fast, slow = sorted((anchor, other), key=speed)
            ratios = paired_ratios(slow.seconds_per_number, fast.seconds_per_number)
            lines.append((fast.case.label, slow.case.label, ratios))
    return sorted(lines, key=lambda line: (statistics.median(line[2]), line[0], line[1]))


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


def run_line(case: Case, label: str, sample: RunSample) -> str:
    """One run, as the progress output shows it."""
    latency = sample.latency_ms
    return (
        f"{case.label} {label}: {sample.acked:,} numbers in {sample.elapsed_s:.3f} s = "
        f"{sample.throughput:,.0f}/s, p50 {_ms(latency['p50'])} ms, p99 {_ms(latency['p99'])} ms,"
        f" {sample.errors} errors, rows {sample.rows}"
        + (f", {sample.reconnects} reconnects" if sample.reconnects else "")
    )


def parse_choices(values: Sequence[str] | None, allowed: Sequence[str], default: str) -> list[str]:
    """Flatten repeated and comma-separated choices, in order, without duplicates."""
    chosen: list[str] = []
    for value in values or [default]:
        for item in value.split(","):
            item = item.strip()
            if item not in allowed:
                raise ValueError(f"{item!r} is not one of {', '.join(allowed)}")
            if item not in chosen:
                chosen.append(item)
    return chosen


def http_base(ws_url: str) -> str:
    """The plain-HTTP address of a WebSocket URL's host and port: ws://h:p -> http://h:p."""
    for ws, http in (("ws://", "http://"), ("wss://", "https://")):
        if ws_url.startswith(ws):
            return http + ws_url.removeprefix(ws).split("/", 1)[0]
    raise ValueError(f"not a WebSocket URL: {ws_url} (use ws://HOST:PORT)")


def with_port(base: str, port: int) -> str:
    """The same scheme and host on another port: http://h:8765, 8766 -> http://h:8766."""
    parts = urlsplit(base)
    host = parts.hostname or ""
    return f"{parts.scheme}://{f'[{host}]' if ':' in host else host}:{port}"


# ---------------------------------------------------------------------------------------------
# The I/O: connections, requests, the database's version.

Progress = Callable[[int], object]


def _ack_progress(progress: Progress) -> Callable[[object, int], None]:
    """An on_ack callback that reports newly acked numbers."""
    last = 0

    def on_ack(websocket: object, acked: int) -> None:
        nonlocal last
        if acked > last:
            progress(acked - last)
            last = acked

    return on_ack


async def run_websocket(
    url: str,
    case: Case,
    run_ids: Sequence[str],
    window: int | None,
    timeout_s: float,
    progress: Progress | None,
) -> RunSample:
    """One run over WebSocket: C connections, opened first, then all sending at once.

    Pipelined: up to ``window`` numbers sent and not acked per connection (None: all of them).
    """
    numbers = range(1, case.n + 1)
    if case.mode != "pipelined":
        window = 1
    ready = asyncio.Barrier(len(run_ids))
    send_times = [[0.0] * case.n for _ in run_ids]
    results = await asyncio.gather(
        *(
            send_run(
                url,
                run_id,
                numbers,
                window=window,
                send_times=times,
                ready=ready,
                on_ack=_ack_progress(progress) if progress else None,
                timeout_s=timeout_s,
            )
            for run_id, times in zip(run_ids, send_times, strict=True)
        )
    )
    for run_id, result in zip(run_ids, results, strict=True):
        if result.connections == 1 and result.hello.get("committed"):
            raise BenchError(f"run {run_id} already had rows: choose another --run-prefix")
    latencies = [
        latency
        for times, result in zip(send_times, results, strict=True)
        for latency in ack_latencies(times, result.ack_times.items())
    ]
    ends = [max(result.ack_times.values()) for result in results if result.ack_times]
    elapsed = max(ends) - min(times[0] for times in send_times) if ends else 0.0
    errors = [json.dumps(error) for result in results for error in result.errors]
    return RunSample(
        run_ids=list(run_ids),
        sent=case.n * case.c,
        acked_by_run={run_id: r.acked for run_id, r in zip(run_ids, results, strict=True)},
        errors=sum(result.failed for result in results),
        elapsed_s=elapsed,
        latencies_s=latencies,
        connections=sum(result.connections for result in results),
        reconnects=sum(result.connections for result in results) - len(run_ids),
        error_messages=errors[:10],
    )


@dataclass
class _HttpStream:
    """One HTTP client's run: its next sequence number and what came back."""

    run_id: str
    n: int
    next_seq: int = 1
    acked: int = 0
    first_send: float = math.inf
    last_answer: float = 0.0
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


async def _http_worker(
    session: aiohttp.ClientSession,
    url: str,
    stream: _HttpStream,
    gate: asyncio.Semaphore,
    progress: Progress | None,
) -> None:
    """Post the stream's next numbers, one request at a time, until none is left.

    A request waits at ``gate`` (first come, first served) for one of the pool's connections;
    its latency counts that wait, as a browser's ``fetch`` counts its wait for a connection.
    """
    clock = time.perf_counter
    headers = {"Content-Type": "text/plain"}
    while stream.next_seq <= stream.n:
        seq = stream.next_seq
        stream.next_seq += 1
        sent = clock()
        stream.first_send = min(stream.first_send, sent)
        try:
            async with (
                gate,
                session.post(
                    f"{url}/numbers?run={stream.run_id}&seq={seq}",
                    data=str(seq).encode(),
                    headers=headers,
                ) as response,
            ):
                body = await response.read()
                status = response.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            status, body = 0, repr(exc).encode()
        answered = clock()
        stream.last_answer = max(stream.last_answer, answered)
        if status == 200:
            stream.acked += 1
            stream.latencies.append(answered - sent)
            if progress:
                progress(1)
        else:
            stream.errors.append(f"seq {seq}: {status} {body.decode(errors='replace')[:200]}")


async def run_http(
    url: str,
    case: Case,
    run_ids: Sequence[str],
    window: int,
    pool: int,
    timeout_s: float,
    progress: Progress | None,
) -> RunSample:
    """One run over HTTP: C clients, each with its run id, sharing ``pool`` keep-alive connections.

    Pipelined: up to ``window`` requests in flight per client; one at a time: one. Requests
    beyond the pool's size queue in order for a connection: aiohttp's own queue lets a request
    that just got its answer take the connection ahead of the ones waiting, which starves some
    requests for most of a run.
    """
    in_flight = window if case.mode == "pipelined" else 1
    gate = asyncio.Semaphore(pool)  # fair since Python 3.11.1: no barging past waiters
    connector = aiohttp.TCPConnector(limit=pool)
    async with aiohttp.ClientSession(connector=connector) as session:
        # Open the pool's connections before the clock starts: WebSocket handshakes are not timed
        # either.
        await asyncio.gather(*(_get_json(session, f"{url}/info") for _ in range(pool)))
        streams = [_HttpStream(run_id, case.n) for run_id in run_ids]
        async with asyncio.timeout(timeout_s):
            await asyncio.gather(
                *(
                    _http_worker(session, url, stream, gate, progress)
                    for stream in streams
                    for _ in range(in_flight)
                )
            )
    acked = [stream for stream in streams if stream.acked]
    elapsed = (
        max(s.last_answer for s in acked) - min(s.first_send for s in streams) if acked else 0.0
    )
    errors = [error for stream in streams for error in stream.errors]
    return RunSample(
        run_ids=list(run_ids),
        sent=case.n * case.c,
        acked_by_run={stream.run_id: stream.acked for stream in streams},
        errors=len(errors),
        elapsed_s=elapsed,
        latencies_s=[latency for stream in streams for latency in stream.latencies],
        connections=pool,
        error_messages=errors[:10],
    )


async def _get_json(session: aiohttp.ClientSession, url: str, retries: int = 0) -> Any:
    """GET a JSON document; any status but 200 is an error naming the answer.

    A 503 (the server's database is out for a moment) is tried again up to ``retries`` times.
    """
    delay = 0.05
    for attempt in range(retries + 1):
        async with session.get(url) as response:
            body = await response.text()
            if response.status == 200:
                return json.loads(body)
            if response.status != 503 or attempt == retries:
                raise BenchError(f"GET {url} answered {response.status}: {body.strip()[:200]}")
        await asyncio.sleep(delay)
        delay = min(delay * 2, 1.0)


async def count_rows(
    session: aiohttp.ClientSession, http_url: str, run_ids: Iterable[str], retries: int = 8
) -> dict[str, int | None]:
    """Each run's committed rows, as the server counts them in its store (None: null store)."""
    counts: dict[str, int | None] = {}
    for run_id in run_ids:
        answer = await _get_json(session, f"{http_url}/runs/{run_id}", retries)
        counts[run_id] = answer["rows"]
    return counts


async def fetch_peak_rss(http_url: str) -> float | None:
    """The server's peak resident memory from ``GET /metrics``, or None if it does not say."""
    from prometheus_client.parser import text_string_to_metric_families

    timeout = aiohttp.ClientTimeout(total=10)
    try:
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.get(f"{http_url}/metrics") as response,
        ):
            text = await response.text() if response.status == 200 else ""
    except (aiohttp.ClientError, TimeoutError):
        return None
    for family in text_string_to_metric_families(text):
        if family.name == "wsbench_peak_rss_bytes" and family.samples:
            return family.samples[0].value
    return None


async def fetch_info(url: str) -> dict[str, Any]:
    """The server's ``GET /info``: store, commit mode, ports."""
    timeout = aiohttp.ClientTimeout(total=10)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        return await _get_json(session, f"{url}/info")


def _connect(db_url: str, **options: Any) -> Any:
    """A connection to the database a URL names, as the server makes them."""
    from .store import mysql_connect

    return mysql_connect(parse_database_url(db_url), **options)


async def run_floor(db_url: str, case: Case, run_ids: list[str]) -> RunSample:
    """The database's floor: the same rows in one transaction, no network client.

    ``executemany``: one multi-row INSERT through the connector, the plain way. ``prepared``:
    the server's own store (its prepared statements, prepared within the timing), one COMMIT.
    """
    import mysql.connector

    from .store import MySQLStore, StartupError, explain

    url = parse_database_url(db_url)
    rows = [(run_id, seq, seq) for run_id in run_ids for seq in range(1, case.n + 1)]
    try:
        if case.mode == "prepared":
            async with MySQLStore(url) as store:
                started = time.perf_counter()
                await store.insert(rows)
                elapsed = time.perf_counter() - started
        else:
            elapsed = await asyncio.to_thread(_executemany, db_url, rows)
    except mysql.connector.Error as exc:
        raise BenchError(f"--floor: {explain(exc, url, option='--db-url')}") from None
    except StartupError as exc:  # the store's checks, worded for the server's --db
        raise BenchError(f"--floor (--db-url {url.redacted()}): {exc}") from None
    return _floor_sample(case, run_ids, elapsed)


def _executemany(db_url: str, rows: list[tuple[str, int, int]]) -> float:
    """Insert the rows with one executemany + COMMIT; return the seconds it took."""
    from .store import INSERT

    connection = _connect(db_url, use_pure=False, autocommit=False)
    try:
        cursor = connection.cursor()
        started = time.perf_counter()
        cursor.executemany(INSERT, rows)  # one multi-row INSERT
        connection.commit()
        return time.perf_counter() - started
    finally:
        connection.close()


def _floor_sample(case: Case, run_ids: list[str], elapsed: float) -> RunSample:
    """A floor run: every row became visible at its one COMMIT."""
    return RunSample(
        run_ids=run_ids,
        sent=case.n * len(run_ids),
        acked_by_run={run_id: case.n for run_id in run_ids},
        errors=0,
        elapsed_s=elapsed,
        latencies_s=[elapsed] * (case.n * len(run_ids)),
    )


def database_version(store: str | None, db_url: str) -> str:
    """The database server's version: ``SELECT VERSION()`` for MySQL; "unknown" if unreachable."""
    if store == "sqlite":
        import sqlite3

        return f"SQLite {sqlite3.sqlite_version} (this Python's library)"
    if store != "mysql":
        return f"none ({store} store)"
    try:
        connection = _connect(db_url)
        try:
            cursor = connection.cursor()
            cursor.execute("SELECT VERSION()")
            (version,) = cursor.fetchone()
            return str(version)
        finally:
            connection.close()
    except Exception:  # noqa: BLE001 - the version is a nicety, never a reason to fail
        return "unknown"


def environment(info: dict[str, Any], db_url: str) -> dict[str, Any]:
    """Versions and machine the numbers were measured with."""
    from importlib import metadata

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


# ---------------------------------------------------------------------------------------------
# The command line.

HELP_EPILOG = """\
transports and modes:
  websocket/pipelined      each connection sends its N numbers as fast as it can (with --window W,
                           keeping at most W unacked); the server acks cumulatively after each
                           commit. Without a window every number is sent at t0, so its latency
                           includes the wait behind the numbers sent before it; a window
                           measures the server's answer time under a steady load
  websocket/one-at-a-time  send a number, wait for its ack, send the next
  http/pipelined           HTTP/1.1 has no usable pipelining (aiohttp sends one request at a time
                           per connection), so this is concurrent requests over keep-alive:
                           each of the C clients keeps up to --window POSTs in flight, over a
                           pool of --http-pool keep-alive connections (default C). With the
                           default pool, at most C requests are on the wire at once; the rest
                           queue in the client, first come first served, and their latency
                           counts that wait (as a browser's fetch does). Raise --http-pool to
                           put more requests on the wire at once
  http/one-at-a-time       each client POSTs a number and waits for the answer before the next

measurement:
  Every connection (HTTP: client) uses a fresh run id. Connections are opened before the clock
  starts; elapsed runs from the first send to the last ack. A number's latency is the time from
  its send to the arrival of the first ack that covers it (HTTP: its response). Throughput is
  acked numbers per second. Per case: the median over runs with (min..max); latency
  percentiles are medians over runs. Ratios pair the runs made side by side and compare time
  per number, so cases with different N compare fairly.

exit status: 0 done; 1 a row count differed from the acks, a number was not acked, or the
benchmark could not finish; 2 bad flags or no server.
"""


def build_parser() -> argparse.ArgumentParser:
    """The command line, every flag explained."""
    parser = argparse.ArgumentParser(
        prog="python -m wsbench.bench",
        description=(
            "Benchmark a running wsbench server: numbers per second and ack latency over "
            "WebSocket and HTTP, with every run's rows checked in the database."
        ),
        epilog=HELP_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--server",
        default=DEFAULT_SERVER,
        metavar="URL",
        help="the server's WebSocket URL (default: %(default)s)",
    )
    parser.add_argument(
        "--http",
        metavar="URL",
        help="the server's HTTP URL for POST /numbers and row counts (default: http://HOST:"
        "http_port, from GET /info on the WebSocket port)",
    )
    parser.add_argument(
        "--transport",
        action="append",
        metavar="LIST",
        help="websocket, http, or both to compare: --transport websocket,http or repeat the flag"
        " (default: websocket)",
    )
    parser.add_argument(
        "--mode",
        action="append",
        metavar="LIST",
        help="pipelined, one-at-a-time, or both to compare, as --transport (default: pipelined)",
    )
    parser.add_argument(
        "-n", type=int, default=10_000, help="numbers per connection and run (default: %(default)s)"
    )
    parser.add_argument(
        "--nhttp",
        type=int,
        metavar="N",
        help="numbers per connection for the HTTP cases, which are slower (default: -n)",
    )
    parser.add_argument(
        "-c", type=int, default=1, help="concurrent connections per run (default: %(default)s)"
    )
    parser.add_argument(
        "--runs", type=int, default=5, help="measured runs per case (default: %(default)s)"
    )
    parser.add_argument(
        "--warmup",
        type=int,
        default=1,
        help="runs per case before the measured ones, not counted (default: %(default)s)",
    )
    parser.add_argument(
        "--window",
        type=int,
        metavar="W",
        help="pipelined: at most W numbers sent and not yet acked per connection (HTTP: requests "
        f"in flight per client); default: WebSocket all N at once, HTTP {HTTP_WINDOW}",
    )
    parser.add_argument(
        "--http-pool",
        type=int,
        metavar="K",
        help="HTTP: keep-alive connections shared by the clients (default: -c; a browser uses 6)",
    )
    parser.add_argument(
        "--json", metavar="FILE", help="write the raw samples, settings and environment to FILE"
    )
    parser.add_argument(
        "--no-verify",
        action="store_true",
        help="do not ask the server for each run's row count afterwards",
    )
    parser.add_argument(
        "--db-url",
        default=DEFAULT_DB_URL,
        metavar="URL",
        help="the MySQL database behind the server: --json reads its version there, and --floor "
        "writes its rows there (default: %(default)s)",
    )
    parser.add_argument(
        "--run-prefix",
        default="bench",
        metavar="PREFIX",
        help="run ids are PREFIX-<random>-<case>-<run>-<connection> (default: %(default)s)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=600,
        metavar="SECONDS",
        help="give up on a run after this long (default: %(default)s)",
    )
    parser.add_argument(
        "--floor",
        action="store_true",
        help=(
            "also time the database's floor in the same session, the same N x C rows in one "
            "transaction with no client or server in between: mysql/executemany, one "
            "executemany + COMMIT straight through the connector (as --db-url); mysql/prepared, "
            "the server's own store code (prepared multi-row INSERTs) + COMMIT"
        ),
    )
    parser.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        help="only the results: no progress bar, no line per run (the default when stderr is "
        "not a terminal)",
    )
    return parser


def parse_args(argv: Sequence[str] | None) -> tuple[argparse.Namespace, list[Case]]:
    """Flags, checked, and the cases they ask for."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        transports = parse_choices(args.transport, TRANSPORTS, "websocket")
        modes = parse_choices(args.mode, MODES, "pipelined")
        args.server = args.server.rstrip("/")
        args.http_base = http_base(args.server)
    except ValueError as exc:
        parser.error(str(exc))
    if args.window is not None and args.window < 1:
        parser.error("--window must be at least 1")
    for name in ("n", "c", "runs"):
        if getattr(args, name) < 1:
            parser.error(f"-{'-' if len(name) > 1 else ''}{name} must be at least 1")
    if args.warmup < 0:
        parser.error("--warmup must not be negative")
    args.nhttp = args.nhttp or args.n
    args.http_pool = args.http_pool or args.c
    if args.nhttp < 1 or args.http_pool < 1:
        parser.error("--nhttp and --http-pool must be at least 1")
    if not _RUN_PREFIX.fullmatch(args.run_prefix):
        parser.error("--run-prefix must be 1-32 characters of A-Z a-z 0-9 _ -")
    cases = [
        Case(transport, mode, args.nhttp if transport == "http" else args.n, args.c)
        for transport in transports
        for mode in modes
    ]
    if args.floor:
        cases.append(Case("mysql", "executemany", args.n, args.c))
        cases.append(Case("mysql", "prepared", args.n, args.c))
    return args, cases


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

    def progress(self, count: int) -> None:
        """Numbers acked."""
        if self.bar is not None:
            self.bar.update(count)


async def measure(
    args: argparse.Namespace, cases: list[Case], http_url: str, output: Output
) -> list[CaseResult]:
    """Run every case warmup + runs times, interleaved; verify each run's rows."""
    results = {case: CaseResult(case) for case in cases}
    session_id = secrets.token_hex(4)
    progress = output.progress if output.bar is not None else None
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as session:
        for index in range(args.warmup + args.runs):
            warm = index < args.warmup
            label = f"warm-up {index + 1}" if warm else f"run {index - args.warmup + 1}/{args.runs}"
            for case in cases if index % 2 == 0 else cases[::-1]:
                if output.bar is not None:
                    output.bar.set_description(f"{case.label} {label}")
                run_ids = [
                    f"{args.run_prefix}-{session_id}-{_SHORT[case.transport]}"
                    f"{_SHORT[case.mode]}-{'w' if warm else 'r'}{index}-c{connection}"
                    for connection in range(case.c)
                ]
                if case.transport == "websocket":
                    sample = await run_websocket(
                        args.server, case, run_ids, args.window, args.timeout, progress
                    )
                elif case.transport == "mysql":
                    sample = await run_floor(args.db_url, case, run_ids)
                else:
                    sample = await run_http(
                        http_url,
                        case,
                        run_ids,
                        args.window or HTTP_WINDOW,
                        args.http_pool,
                        args.timeout,
                        progress,
                    )
                if not args.no_verify:
                    counts = await count_rows(session, http_url, run_ids)
                    verification = verify_rows(sample.acked_by_run, counts)
                    sample.rows = verification.status
                    if not verification.ok:
                        raise BenchError(f"{case.label} {label}: {verification.note}")
                output.chatter(run_line(case, label, sample))
                for message in sample.error_messages[:3]:
                    output.chatter(f"  error: {message}")
                if not warm:
                    results[case].samples.append(sample)
    return list(results.values())


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
    args: argparse.Namespace,
    argv: Sequence[str],
    info: dict[str, Any],
    results: list[CaseResult],
    pairs: list[tuple[str, str, list[float]]],
) -> None:
    """The raw samples, the settings and the environment, as JSON."""
    document = {
        "command": ["python", "-m", "wsbench.bench", *argv],
        "settings": {
            "server": args.server,
            "http": args.http_url,
            "n": args.n,
            "nhttp": args.nhttp,
            "c": args.c,
            "runs": args.runs,
            "warmup": args.warmup,
            "window": args.window,
            "http_pool": args.http_pool,
            "verify": not args.no_verify,
        },
        "environment": environment(info, args.db_url),
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


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; return the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args, cases = parse_args(argv)
    interactive = sys.stderr.isatty() and not args.quiet
    output = Output(interactive)
    try:
        info = asyncio.run(fetch_info(args.http or args.http_base))
    except (aiohttp.ClientError, OSError, TimeoutError, BenchError, ValueError) as exc:
        where = args.http or args.http_base
        print(
            f"cannot reach the server at {where}/info: {exc or type(exc).__name__}; "
            "is `python websocket_server.py` running, and is --server right?",
            file=sys.stderr,
        )
        return EXIT_USAGE
    args.http_url = (args.http or with_port(args.http_base, info["http_port"])).rstrip("/")
    commit = f"{info.get('commit')} commit"
    store = " ".join(str(part) for part in (info.get("store"), info.get("target")) if part)
    output.result(
        f"wsbench {__version__} bench: {args.server} and {args.http_url}, store {store}, {commit}"
    )
    n_text = f"N={args.n}" + (f" (HTTP {args.nhttp})" if args.nhttp != args.n else "")
    output.result(
        f"{n_text} numbers per connection, C={args.c}, {args.runs} runs per case after "
        f"{args.warmup} warm-up, interleaved; medians with (min..max)"
        + (f"; window {args.window}" if args.window else "")
    )
    if info.get("store") == "null" and not args.no_verify:
        output.result("note: the server stores nothing (--db null:), so rows cannot be verified")
    total = sum(case.n * case.c for case in cases) * (args.warmup + args.runs)
    if interactive:
        output.bar = tqdm(total=total, unit="num", unit_scale=True, file=sys.stderr, leave=False)
    try:
        results = asyncio.run(measure(args, cases, args.http_url, output))
    except BenchError as exc:
        if output.bar is not None:
            output.bar.close()
        print(f"\nERROR: {exc}", file=sys.stderr)
        print("The benchmark stopped: its numbers would not mean anything.", file=sys.stderr)
        return EXIT_FAILED
    except (aiohttp.ClientError, OSError, TimeoutError, RuntimeError) as exc:
        if output.bar is not None:
            output.bar.close()
        print(f"\nERROR: the benchmark could not finish: {exc!r}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        if output.bar is not None:
            output.bar.close()
        print("\ninterrupted", file=sys.stderr)
        return 130
    if output.bar is not None:
        output.bar.close()
    pairs = report(results, output)
    peak_rss = asyncio.run(fetch_peak_rss(args.http_url))
    if peak_rss is not None:
        output.result(
            f"server peak RSS: {peak_rss / 2**20:.0f} MiB (wsbench_peak_rss_bytes from /metrics; "
            "with --workers, the sum over the workers)"
        )
    if args.json:
        info = {**info, "peak_rss_bytes": peak_rss}
        write_json(Path(args.json), args, argv, info, results, pairs)
        output.chatter(f"raw samples and environment written to {args.json}")
    errors = sum(result.errors for result in results)
    if errors:
        print(
            f"ERROR: {errors} numbers were not acked (see the errors column"
            f"{' and the JSON' if args.json else ''}): the server rejected or lost them",
            file=sys.stderr,
        )
        return EXIT_FAILED
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
