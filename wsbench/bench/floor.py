"""The database floor: the same rows in one transaction, with no client or server in between."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import mysql.connector

from ..batching import Row
from ..store import MySQLStore, StartupError, explain, mysql_connect
from ..store.base import INSERT
from ..store.url import parse_database_url
from ..vocabulary import FloorMethod
from .driver import Progress
from .models import BenchError, Case, Sample


def connect(db_url: str, **options: Any) -> Any:
    """A connection to the database a URL names, as the server makes them."""
    return mysql_connect(parse_database_url(db_url), **options)


@dataclass(frozen=True)
class FloorDriver:
    """The database's floor: the same rows in one transaction, no network client.

    ``executemany``: one multi-row INSERT through the connector, the plain way. ``prepared``:
    the server's own store (its prepared statements, prepared within the timing), one COMMIT.
    """

    db_url: str

    async def measure(
        self, case: Case, run_ids: Sequence[str], progress: Progress | None
    ) -> Sample:
        """Time one repetition of the floor: every row inserted, then one COMMIT."""
        url = parse_database_url(self.db_url)
        rows = [(run_id, seq, seq) for run_id in run_ids for seq in range(1, case.n + 1)]
        try:
            if case.mode is FloorMethod.PREPARED:
                async with MySQLStore(url) as store:
                    started = time.perf_counter()
                    await store.insert(rows)
                    elapsed = time.perf_counter() - started
            else:
                elapsed = await asyncio.to_thread(_executemany, self.db_url, rows)
        except mysql.connector.Error as exc:
            raise BenchError(f"--floor: {explain(exc, url, option='--db-url')}") from None
        except StartupError as exc:  # the store's checks, worded for the server's --db
            raise BenchError(f"--floor (--db-url {url.redacted()}): {exc}") from None
        return _floor_sample(case, list(run_ids), elapsed)


def _executemany(db_url: str, rows: list[Row]) -> float:
    """Insert the rows with one executemany + COMMIT; return the seconds it took."""
    connection = connect(db_url, use_pure=False, autocommit=False)
    try:
        cursor = connection.cursor()
        started = time.perf_counter()
        cursor.executemany(INSERT, rows)  # one multi-row INSERT
        connection.commit()
        return time.perf_counter() - started
    finally:
        connection.close()


def _floor_sample(case: Case, run_ids: list[str], elapsed: float) -> Sample:
    """A floor run: every row became visible at its one COMMIT."""
    return Sample(
        run_ids=run_ids,
        sent=case.n * len(run_ids),
        acked_by_run={run_id: case.n for run_id in run_ids},
        errors=0,
        elapsed_s=elapsed,
        latencies_s=[elapsed] * (case.n * len(run_ids)),
    )
