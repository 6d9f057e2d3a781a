"""MariaDB's commit latency on a quiet machine, and while a browser runs the page next to it.

    python benchmarks/commit_latency.py                      # Chromium, 10 s each
    python benchmarks/commit_latency.py --browser firefox --seconds 20

A client of its own commits 10-row INSERTs one after another into a scratch table, first with
nothing else running, then while the browser runs the benchmark page (WebSocket, pipelined,
10,000 numbers) again and again against a wsbench server that stores nothing, so the browser is
the only other load. Prints the percentiles of both, and MariaDB's CPU per commit on the quiet
machine. It tells how long a commit takes when the browser fills the machine's cores, which is
what the MySQL run of benchmarks/browser.py waits for. Needs a user that may create and drop
tables (default: root, as in schema.sql).
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from wsbench.stats import percentile
from wsbench.store.mysql import mysql_connect, prepared_insert
from wsbench.store.url import parse_database_url
from wsbench.testing.browser import BrowserMissing, BrowserName, launch, run_page
from wsbench.testing.cpu import cpu_seconds, mariadb_pid
from wsbench.testing.server import ServerProcess, page_url
from wsbench.vocabulary import PageMode

TABLE = "wsbench_commit_latency"
ROWS = 10  # per commit: a browser's batches are mostly this small


def commit_latencies(url: str, seconds: float) -> list[float]:
    """Commit ``ROWS``-row INSERTs for ``seconds``; return each commit's time in ms, sorted."""
    connection = mysql_connect(parse_database_url(url), autocommit=True, use_pure=False)
    cursor = connection.cursor()
    try:
        cursor.execute(f"DROP TABLE IF EXISTS {TABLE}")
        cursor.execute(f"CREATE TABLE {TABLE} LIKE testing")  # schema.sql's layout
        statement = connection.cmd_stmt_prepare(
            prepared_insert(ROWS).replace("testing", TABLE).encode()
        )
        latencies: list[float] = []
        deadline = time.perf_counter() + seconds
        while (started := time.perf_counter()) < deadline:
            first = len(latencies) * ROWS + 1
            rows = [("latency", seq, seq) for seq in range(first, first + ROWS)]
            # autocommit: one statement is one commit
            connection.cmd_stmt_execute(statement, *itertools.chain.from_iterable(rows))
            latencies.append((time.perf_counter() - started) * 1000)
        return sorted(latencies)
    finally:
        cursor.execute(f"DROP TABLE IF EXISTS {TABLE}")
        connection.close()


def during_load(
    measure: Callable[[], list[float]], load: Callable[[], object]
) -> tuple[list[float], int]:
    """``measure()`` on a thread while ``load()`` runs again and again on this one (Playwright
    drives a browser from the thread that started it); return the result and the loads run."""
    with ThreadPoolExecutor(1) as pool:
        measuring = pool.submit(measure)
        loads = 0
        while not measuring.done():
            load()
            loads += 1
        return measuring.result(), loads


def summary(latencies: list[float]) -> str:
    """``12,345 commits: p50 0.33, p99 0.64, p99.9 2.13, max 7.74 ms``."""
    cuts = ", ".join(f"p{p:g} {percentile(latencies, p):.2f}" for p in (50, 99, 99.9))
    slow = sum(latency > 50 for latency in latencies)
    return f"{len(latencies):,} commits: {cuts}, max {latencies[-1]:.2f} ms; {slow} over 50 ms"


def main() -> int:
    """Measure both ways and print them."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--browser", choices=list(BrowserName), default=BrowserName.CHROMIUM)
    parser.add_argument("--seconds", type=float, default=10, help="each way (%(default)s)")
    parser.add_argument("--db-url", default="mysql://root@127.0.0.1:3306/test")
    args = parser.parse_args()
    browser_name = BrowserName(args.browser)
    mariadb = mariadb_pid()
    mariadb_before = cpu_seconds(mariadb) if mariadb else 0.0
    quiet = commit_latencies(args.db_url, args.seconds)
    # Per commit, its rows included; unknown when MariaDB's process is not readable here.
    per_commit = (
        f"; MariaDB {(cpu_seconds(mariadb) - mariadb_before) / len(quiet) * 1e6:.0f} µs CPU each"
        if mariadb
        else ""
    )
    try:
        with ServerProcess("--db", "null:") as server, launch(browser_name) as browser:
            url = page_url(server, n=10_000, mode=PageMode.WEBSOCKET_PIPELINED, autorun=1)
            run_page(browser, url)  # warm-up: the browser's start is not what we measure
            loaded, pages = during_load(
                lambda: commit_latencies(args.db_url, args.seconds), lambda: run_page(browser, url)
            )
            version = browser.version
    except BrowserMissing as exc:
        print(f"cannot start a browser: {exc}", file=sys.stderr)
        return 2
    print(f"MariaDB commits of {ROWS} rows, {args.seconds:g} s each way")
    print(f"quiet machine:          {summary(quiet)}{per_commit}")
    print(f"{browser_name.value} {version} running the page ({pages} runs): {summary(loaded)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
