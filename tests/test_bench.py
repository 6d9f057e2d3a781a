"""The command-line benchmark: its pure parts, then the real thing against the server and MySQL."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import statistics
import struct
import subprocess
import sys
import termios
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from wsbench.bench import (
    BenchError,
    Case,
    CaseResult,
    RunSample,
    ack_latencies,
    comparisons,
    count_rows,
    http_base,
    latency_summary,
    parse_choices,
    percentile,
    ratio_line,
    results_table,
    verify_rows,
    with_port,
)
from wsbench.client import send_run
from wsbench.harness import ROOT, ServerProcess

from .conftest import Database

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


def sample(elapsed_s: float, sent: int = 100, latency_s: float = 0.002) -> RunSample:
    """A made-up run."""
    return RunSample(
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
        Case("websocket", "pipelined", 1000, 1), [sample(1.0, 1000), sample(2.0, 1000)]
    )
    # Ten times fewer numbers in the same time: ten times slower per number.
    slow = CaseResult(Case("http", "one-at-a-time", 100, 1), [sample(1.0, 100), sample(4.0, 100)])
    middle = CaseResult(Case("http", "pipelined", 100, 1), [sample(0.2, 100), sample(0.4, 100)])
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
    server = CaseResult(Case("websocket", "pipelined", 100, 1), [sample(1.0, 100)])
    plain = CaseResult(Case("mysql", "executemany", 100, 1), [sample(2.0, 100)])
    prepared = CaseResult(Case("mysql", "prepared", 100, 1), [sample(0.5, 100)])
    http = CaseResult(Case("http", "pipelined", 100, 1), [sample(4.0, 100)])
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
        Case("websocket", "pipelined", 100, 2),
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


# --- the client's benchmark hooks, against the real server --------------------------------------


async def test_window_one_sends_the_next_number_only_after_the_ack(
    mysql_server: ServerProcess, database: Database
):
    run_id = database.new_run_id()
    send_times = [0.0] * 50
    result = await send_run(
        mysql_server.ws_url, run_id, range(1, 51), window=1, send_times=send_times
    )
    assert result.acked == 50 and database.count(run_id) == 50
    assert list(result.ack_times) == list(range(1, 51))  # one ack per number, none skipped
    acks = list(result.ack_times.values())
    # Each number left only after the ack of the one before it arrived.
    assert all(acks[i] <= send_times[i + 1] for i in range(49))
    assert ack_latencies(send_times, result.ack_times.items()) == pytest.approx(
        [ack - sent for ack, sent in zip(acks, send_times, strict=True)]
    )


# --- the command line, against the real server and MariaDB --------------------------------------


def bench(*args: str, **kwargs: object) -> subprocess.CompletedProcess[str]:
    """``python -m wsbench.bench ARGS``, stderr not a terminal."""
    return subprocess.run(
        [sys.executable, "-m", "wsbench.bench", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        **kwargs,
    )


def table_rows(stdout: str) -> list[str]:
    """The per-case lines of the results table."""
    lines = stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("case "))
    end = next(i for i, line in enumerate(lines) if line.startswith("latency: "))
    return lines[start + 1 : end]


@pytest.fixture
def run_prefix(database: Database) -> Iterator[str]:
    """A run-id prefix of this test's own; its rows are deleted afterwards."""
    prefix = f"pytest-{uuid.uuid4().hex[:12]}"
    yield prefix
    database.query("DELETE FROM test.testing WHERE run_id LIKE %s", f"{prefix}-%")


def test_help_explains_every_flag():
    result = bench("--help")
    assert result.returncode == 0
    for flag in ("--server", "--http ", "--transport", "--mode", "-n ", "--nhttp", "-c ", "--runs",
                 "--warmup", "--window", "--http-pool", "--json", "--no-verify", "--db-url",
                 "--run-prefix", "--timeout", "--quiet"):  # fmt: skip
        assert flag in result.stdout, flag
    assert "concurrent requests over keep-alive" in result.stdout  # what pipelined means for HTTP


def test_websocket_against_http_with_rows_checked_in_mysql(
    mysql_server: ServerProcess, database: Database, run_prefix: str, tmp_path: Path
):
    out = tmp_path / "out.json"
    result = bench(
        "--server", mysql_server.ws_url, "-n", "500", "-c", "2", "--runs", "2", "--warmup", "0",
        "--transport", "websocket,http", "--mode", "pipelined,one-at-a-time",
        "--run-prefix", run_prefix, "--json", str(out),
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stderr == ""  # not a terminal: no progress bar, no line per run
    lines = result.stdout.splitlines()
    assert "store mysql test.testing, group commit" in lines[0]
    for label in ("websocket/pipelined", "websocket/one-at-a-time", "http/pipelined",
                  "http/one-at-a-time"):  # fmt: skip
        [line] = [line for line in table_rows(result.stdout) if line.startswith(label + " ")]
        assert "500 x 2" in line and line.endswith(" 0  verified"), line
    assert sum("x faster than" in line for line in lines) == 3
    assert any(line.startswith("websocket/pipelined is ") for line in lines)
    [rss_line] = [line for line in lines if line.startswith("server peak RSS: ")]
    assert 10 <= int(rss_line.split()[3]) < 1000, rss_line  # MiB, a Python process's size

    document = json.loads(out.read_text())
    environment = document["environment"]
    assert environment["cpu_count"] == os.cpu_count()
    assert environment["python"].endswith(sys.version.split()[0])
    for key in ("websockets", "aiohttp", "mysql_connector", "platform"):
        assert environment[key]
    assert (
        "MariaDB" in environment["database_server"] or environment["database_server"][0].isdigit()
    )
    assert environment["server_info"]["store"] == "mysql"
    assert environment["server_info"]["peak_rss_bytes"] > 10 * 2**20
    assert document["settings"]["n"] == 500 and document["settings"]["c"] == 2
    assert len(document["cases"]) == 4 and len(document["comparisons"]) == 3
    run_ids = []
    for case in document["cases"]:
        assert len(case["runs"]) == 2
        for run in case["runs"]:
            assert (run["sent"], run["acked"], run["errors"], run["rows"]) == (
                1000, 1000, 0, "verified"
            )  # fmt: skip
            assert len(run["latencies_ms"]) == 1000 and all(x > 0 for x in run["latencies_ms"])
            assert run["elapsed_s"] > 0 and run["numbers_per_s"] > 0
            assert run["latency_ms"]["p50"] <= run["latency_ms"]["p99"] <= run["latency_ms"]["max"]
            run_ids += run["run_ids"]
    assert len(set(run_ids)) == 16 and all(r.startswith(run_prefix + "-") for r in run_ids)
    # The rows are really in the table, each run's numbers once: 1..500 at seq 1..500.
    for run_id in run_ids:
        assert database.query(
            "SELECT COUNT(*), COUNT(DISTINCT seq), MIN(number), MAX(number) "
            "FROM test.testing WHERE run_id = %s",
            run_id,
        ) == [(500, 500, 1, 500)]


def test_a_null_store_is_benchmarked_with_a_note_that_nothing_is_verified(
    null_server: ServerProcess, run_prefix: str
):
    result = bench(
        "--server", null_server.ws_url, "-n", "300", "--runs", "1", "--warmup", "1",
        "--transport", "websocket,http", "--run-prefix", run_prefix,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "the server stores nothing (--db null:), so rows cannot be verified" in result.stdout
    rows = table_rows(result.stdout)
    assert len(rows) == 2 and all(line.endswith("not-stored") for line in rows)


def test_a_row_count_that_differs_from_the_acks_stops_the_benchmark_with_status_1(
    mysql_server: ServerProcess,
    start_server: Callable[..., ServerProcess],
    run_prefix: str,
    tmp_path: Path,
):
    """Numbers go to MySQL, but the rows are counted by a server writing to another (SQLite)."""
    elsewhere = start_server("--db", f"sqlite:///{tmp_path / 'elsewhere.db'}")
    result = bench(
        "--server", mysql_server.ws_url, "--http", elsewhere.http_url, "-n", "200",
        "--runs", "2", "--warmup", "0", "--run-prefix", run_prefix,
    )  # fmt: skip
    assert result.returncode == 1
    assert "ROW COUNT MISMATCH" in result.stderr
    assert "200 acked but 0 rows in the database" in result.stderr
    assert "websocket/pipelined" not in result.stdout.split("\n", 2)[-1]  # no results printed


def test_no_server_is_a_clear_error_with_status_2():
    result = bench("--server", "ws://127.0.0.1:1", "-n", "10")
    assert result.returncode == 2
    assert "cannot reach the server at http://127.0.0.1:1/info" in result.stderr


def test_a_progress_bar_on_a_terminal(null_server: ServerProcess, run_prefix: str):
    """stderr a terminal: a tqdm bar and a line per run; stdout keeps only the results."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))  # 100 columns
    chunks: list[bytes] = []

    def read() -> None:
        while True:
            try:
                chunk = os.read(leader, 4096)
            except OSError:  # the follower side closed
                return
            if not chunk:
                return
            chunks.append(chunk)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "wsbench.bench",
                "--server",
                null_server.ws_url,
                "-n",
                "2000",
                "--runs",
                "2",
                "--warmup",
                "0",
                "--run-prefix",
                run_prefix,
            ],  # fmt: skip
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=follower,
            text=True,
            timeout=120,
        )
    finally:
        os.close(follower)
        reader.join(timeout=10)
        os.close(leader)
    terminal = b"".join(chunks).decode(errors="replace")
    assert result.returncode == 0
    assert "num/s" in terminal or "num]" in terminal  # tqdm's bar, in numbers
    assert "websocket/pipelined run 1/2: 2,000 numbers in" in terminal
    assert "websocket/pipelined run" not in result.stdout


def test_the_database_floor_is_timed_in_the_same_session(
    mysql_server: ServerProcess, database: Database, run_prefix: str
):
    result = bench(
        "--server", mysql_server.ws_url, "-n", "300", "--runs", "2", "--warmup", "0", "--floor",
        "--db-url", "mysql://wsbench@127.0.0.1:3306/test", "--run-prefix", run_prefix,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    for floor in ("mysql/executemany", "mysql/prepared"):
        [line] = [line for line in table_rows(result.stdout) if line.startswith(f"{floor} ")]
        assert "300 x 1" in line and line.endswith(" 0  verified")
        # Each floor is compared with the server, whichever is faster.
        pairs = {
            frozenset((line.split(" is ")[0], line.split(" faster than ")[1].split(" (")[0]))
            for line in result.stdout.splitlines()
            if "x faster than" in line
        }
        assert frozenset((floor, "websocket/pipelined")) in pairs
        short = "dbx" if floor.endswith("executemany") else "dbs"
        rows = database.query(
            "SELECT COUNT(*) FROM test.testing WHERE run_id LIKE %s", f"{run_prefix}-%-{short}-%"
        )
        assert rows == [(600,)]  # 300 rows in each of the two runs


def test_a_floor_the_database_refuses_stops_with_the_reason(
    mysql_server: ServerProcess, run_prefix: str
):
    result = bench(
        "--server", mysql_server.ws_url, "-n", "10", "--runs", "1", "--warmup", "0", "--floor",
        "--db-url", "mysql://nobody@127.0.0.1:3306/test", "--run-prefix", run_prefix,
    )  # fmt: skip
    assert result.returncode == 1
    assert "ERROR: --floor: access denied for MySQL user 'nobody'" in result.stderr
    assert "--db-url mysql://USER:PASSWORD@HOST:PORT/DATABASE" in result.stderr
    assert "Traceback" not in result.stderr
