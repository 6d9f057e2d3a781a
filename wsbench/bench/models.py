"""What a benchmark measures and concludes, without I/O: cases, samples, checks, comparisons."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field

from ..stats import latency_summary, paired_ratios
from ..vocabulary import FloorMethod, Mode, RowCheck, StoreKind, Transport


class BenchError(Exception):
    """The benchmark cannot go on or its result is wrong; the message says why (exit status 1)."""


@dataclass
class Verification:
    """What the row count said about a run."""

    ok: bool
    status: RowCheck  # one word for the table
    note: str


def verify_rows(acked: dict[str, int], rows: dict[str, int | None]) -> Verification:
    """Compare each run id's acked numbers with the rows the server counts for it."""
    if rows and all(count is None for count in rows.values()):
        return Verification(
            True,
            RowCheck.NOT_STORED,
            "rows not verified: the server stores nothing (--db null:), its acks mean received",
        )
    problems = [
        f"run {run_id}: {count} acked but {rows.get(run_id)} rows in the database"
        for run_id, count in acked.items()
        if rows.get(run_id) != count
    ]
    if problems:
        return Verification(False, RowCheck.MISMATCH, "ROW COUNT MISMATCH: " + "; ".join(problems))
    return Verification(True, RowCheck.VERIFIED, f"{sum(acked.values()):,} rows verified")


@dataclass(frozen=True)
class Case:
    """One thing measured: a transport in a mode, n numbers on each of c connections."""

    transport: Transport | StoreKind  # a database floor's case names its store
    mode: Mode | FloorMethod
    n: int
    c: int

    @property
    def label(self) -> str:
        """``websocket/pipelined``."""
        return f"{self.transport}/{self.mode}"


@dataclass
class Sample:
    """One measured repetition of a case, all of its connections together."""

    run_ids: list[str]
    sent: int  # numbers the run set out to send
    acked_by_run: dict[str, int]
    errors: int
    elapsed_s: float  # first send to last ack, connections opened beforehand
    latencies_s: list[float]
    connections: int = 0  # WebSocket connections opened; HTTP: the pool's size
    reconnects: int = 0  # WebSocket connections that dropped and were opened again
    error_messages: list[str] = field(default_factory=list)
    rows: RowCheck = RowCheck.SKIPPED

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
    samples: list[Sample] = field(default_factory=list)

    @property
    def seconds_per_number(self) -> list[float]:
        """Per run, elapsed time per number."""
        return [sample.seconds_per_number for sample in self.samples]

    def latency_medians(self) -> dict[str, float | None]:
        """Each latency percentile's median over the runs."""
        summaries = [sample.latency_ms for sample in self.samples]
        medians: dict[str, float | None] = {}
        for key in summaries[0]:
            values = [value for s in summaries if (value := s[key]) is not None]
            medians[key] = statistics.median(values) if values else None
        return medians

    @property
    def errors(self) -> int:
        """Numbers not acked over all measured runs."""
        return sum(sample.errors for sample in self.samples)

    @property
    def rows(self) -> str:
        """The row check of the samples, when they all agree."""
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
    anchors = [
        fastest,
        *(r for r in results if r.case.transport is StoreKind.MYSQL and r is not fastest),
    ]
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
