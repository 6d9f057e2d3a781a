"""The benchmark client's pure parts: statistics, comparisons, row checks, flags."""

from __future__ import annotations

import os
import statistics
from pathlib import Path

import pytest

from wsbench.bench.cli import build_parser
from wsbench.bench.models import BenchError, Case, CaseResult, Sample, comparisons, verify_rows
from wsbench.bench.report import results_table
from wsbench.bench.server_api import count_rows
from wsbench.bench.settings import http_base, parse_choices, with_port
from wsbench.stats import ack_latencies, latency_summary, percentile, ratio_line
from wsbench.testing.cpu import MachineTime, cpu_seconds, main_thread_cpu_seconds, mariadb_pid
from wsbench.vocabulary import FloorMethod, Mode, StoreKind, Transport

from .helpers import help_text

# --- the pure parts ---------------------------------------------------------------------------


def test_percentile_interpolates_like_statistics_quantiles_inclusive():
    values = sorted([5.0, 1.0, 9.0, 3.0, 7.0, 2.0, 8.0, 4.0, 6.0, 10.0, 11.5])
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    for p in (1, 25, 50, 95, 99):
        assert percentile(values, p) == pytest.approx(cuts[p - 1])
    assert percentile(values, 0) == 1.0
    assert percentile(values, 100) == 11.5
    assert percentile([4.2], 99) == 4.2
    with pytest.raises(ValueError):
        percentile([], 50)
    with pytest.raises(ValueError):
        percentile([1.0], 101)


def test_latency_summary_is_in_milliseconds():
    summary = latency_summary([0.001 * i for i in range(1, 101)])  # 1..100 ms
    assert summary["p50"] == pytest.approx(50.5)
    assert summary["p95"] == pytest.approx(95.05)
    assert summary["p99"] == pytest.approx(99.01)
    assert summary["max"] == pytest.approx(100)
    assert latency_summary([]) == {"p50": None, "p95": None, "p99": None, "max": None}


def test_a_cumulative_ack_times_every_number_it_covers_from_its_own_send():
    send_times = [0.0, 1.0, 2.0, 3.0, 4.0]
    # {"acked": 2} at 5 s covers numbers 1 and 2; a repeated count covers nothing new.
    acks = [(2, 5.0), (2, 6.0), (5, 10.0)]
    assert ack_latencies(send_times, acks) == [5.0, 4.0, 8.0, 7.0, 6.0]


def test_numbers_committed_before_the_connection_are_not_timed():
    # Resumed at 3 committed: only numbers 4 and 5 were sent and get a latency.
    assert ack_latencies([0.0, 0.0, 0.0, 3.0, 4.0], [(4, 5.0), (5, 6.0)], first=3) == [2.0, 2.0]
    assert ack_latencies([1.0], [(7, 2.0)]) == [1.0]  # an ack beyond what was sent


def test_ratio_line_reads_like_hyperfine():
    assert (
        ratio_line("websocket/pipelined", "http/one-at-a-time", [8.01, 6.90, 7.42])
        == "websocket/pipelined is 7.42x faster than http/one-at-a-time (6.90..8.01)"
    )


def sample(elapsed_s: float, sent: int = 100, latency_s: float = 0.002) -> Sample:
    """A made-up run."""
    return Sample(
        run_ids=["r"],
        sent=sent,
        acked_by_run={"r": sent},
        errors=0,
        elapsed_s=elapsed_s,
        latencies_s=[latency_s] * sent,
        rows="verified",
    )


def test_comparisons_pair_runs_and_normalise_per_number():
    fast = CaseResult(
        Case(Transport.WEBSOCKET, Mode.PIPELINED, 1000, 1), [sample(1.0, 1000), sample(2.0, 1000)]
    )
    # Ten times fewer numbers in the same time: ten times slower per number.
    slow = CaseResult(
        Case(Transport.HTTP, Mode.ONE_AT_A_TIME, 100, 1), [sample(1.0, 100), sample(4.0, 100)]
    )
    middle = CaseResult(
        Case(Transport.HTTP, Mode.PIPELINED, 100, 1), [sample(0.2, 100), sample(0.4, 100)]
    )
    pairs = comparisons([slow, fast, middle])
    assert [(a, b) for a, b, _ in pairs] == [
        ("websocket/pipelined", "http/pipelined"),
        ("websocket/pipelined", "http/one-at-a-time"),
    ]
    assert pairs[0][2] == pytest.approx([2.0, 2.0])
    assert pairs[1][2] == pytest.approx([10.0, 20.0])
    assert ratio_line(*pairs[1]) == (
        "websocket/pipelined is 15.00x faster than http/one-at-a-time (10.00..20.00)"
    )
    assert comparisons([fast]) == []


def test_comparisons_set_each_floor_against_every_other_case():
    server = CaseResult(Case(Transport.WEBSOCKET, Mode.PIPELINED, 100, 1), [sample(1.0, 100)])
    plain = CaseResult(Case(StoreKind.MYSQL, FloorMethod.EXECUTEMANY, 100, 1), [sample(2.0, 100)])
    prepared = CaseResult(Case(StoreKind.MYSQL, FloorMethod.PREPARED, 100, 1), [sample(0.5, 100)])
    http = CaseResult(Case(Transport.HTTP, Mode.PIPELINED, 100, 1), [sample(4.0, 100)])
    pairs = {
        (fast, slow): ratios for fast, slow, ratios in comparisons([server, plain, prepared, http])
    }
    assert pairs == {
        ("mysql/prepared", "websocket/pipelined"): [2.0],
        ("mysql/prepared", "mysql/executemany"): [4.0],
        ("mysql/prepared", "http/pipelined"): [8.0],
        ("websocket/pipelined", "mysql/executemany"): [2.0],  # not the fastest: a floor's pair
        ("mysql/executemany", "http/pipelined"): [2.0],
    }


def test_results_table_has_throughput_spread_and_latency_medians():
    result = CaseResult(
        Case(Transport.WEBSOCKET, Mode.PIPELINED, 100, 2),
        [sample(0.01, 200, 0.001), sample(0.02, 200, 0.003), sample(0.04, 200, 0.002)],
    )
    header, line = results_table([result])
    assert "numbers/s median (min..max)" in header and "p99 ms" in header
    assert line.split()[:4] == ["websocket/pipelined", "100", "x", "2"]
    assert "10,000 (5,000..20,000)" in line
    assert line.split()[-6:] == ["2.00", "2.00", "2.00", "2.00", "0", "verified"]


def test_verify_rows():
    assert verify_rows({"a": 10, "b": 5}, {"a": 10, "b": 5}).ok
    assert verify_rows({"a": 10, "b": 5}, {"a": 10, "b": 5}).note == "15 rows verified"
    bad = verify_rows({"a": 10, "b": 5}, {"a": 10, "b": 4})
    assert not bad.ok and bad.status == "MISMATCH"
    assert bad.note == "ROW COUNT MISMATCH: run b: 5 acked but 4 rows in the database"
    assert not verify_rows({"a": 10}, {"a": 11}).ok  # a doubled row is as wrong as a lost one
    null = verify_rows({"a": 10}, {"a": None})
    assert null.ok and null.status == "not-stored" and "stores nothing" in null.note


def test_choices_come_repeated_or_comma_separated():
    allowed = ("websocket", "http")
    assert parse_choices(None, allowed, "websocket") == ["websocket"]
    assert parse_choices(["websocket,http"], allowed, "websocket") == ["websocket", "http"]
    assert parse_choices(["http", "websocket, http"], allowed, "x") == ["http", "websocket"]
    with pytest.raises(ValueError, match="'tcp' is not one of websocket, http"):
        parse_choices(["tcp"], allowed, "websocket")


def test_urls():
    assert http_base("ws://127.0.0.1:8765") == "http://127.0.0.1:8765"
    assert http_base("wss://example.org:443/x") == "https://example.org:443"
    assert with_port("http://127.0.0.1:8765", 8766) == "http://127.0.0.1:8766"
    assert with_port("http://[::1]:8765", 8766) == "http://[::1]:8766"
    with pytest.raises(ValueError):
        http_base("http://127.0.0.1:8765")


async def test_row_counts_are_asked_again_while_the_database_is_out():
    """A 503 from GET /runs/<id> (the server lost its database for a moment) is no mismatch."""
    from aiohttp import ClientSession, web
    from aiohttp.test_utils import TestServer

    answers = [503, 503, 200]

    async def runs(request: web.Request) -> web.Response:
        status = answers.pop(0) if answers else 503
        return web.json_response({"run": "a", "store": "mysql", "rows": 7}, status=status)

    app = web.Application()
    app.router.add_get("/runs/{run_id}", runs)
    async with TestServer(app) as server, ClientSession() as session:
        url = str(server.make_url("")).rstrip("/")
        assert await count_rows(session, url, ["a"]) == {"a": 7}
        with pytest.raises(BenchError, match="answered 503"):
            await count_rows(session, url, ["a"], retries=2)  # out for good


def test_help_explains_every_flag(capsys: pytest.CaptureFixture[str]) -> None:
    text = help_text(build_parser(), capsys)
    assert "concurrent requests over keep-alive" in text  # what pipelined means for HTTP


def test_cpu_counters_from_proc(tmp_path: Path) -> None:
    assert MachineTime(busy=3, total=10).busy_since(MachineTime(busy=1, total=6)) == 0.5
    assert MachineTime(1, 1).busy_since(MachineTime(1, 1)) == 0.0  # no time passed
    later, earlier = MachineTime.now(), MachineTime(0, 0)
    assert 0 < later.busy_since(earlier) <= 1
    assert cpu_seconds(os.getpid()) >= main_thread_cpu_seconds(os.getpid()) > 0
    (tmp_path / "mysqld.pid").write_text("not a pid\n")
    assert mariadb_pid(tmp_path / "mysqld.pid") is None
    assert mariadb_pid(tmp_path / "absent.pid") is None
