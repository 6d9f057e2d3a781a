"""The command-line benchmark against the real server and MariaDB (its pure parts: tests/unit)."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import struct
import subprocess
import sys
import termios
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from wsbench.bench.client import send_run
from wsbench.stats import ack_latencies
from wsbench.testing.server import ROOT, ServerProcess

from .conftest import Database

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


def peak_rss_of(pid: int) -> int:
    """A process's peak resident memory, as the kernel keeps it (VmHWM), in bytes."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


def test_websocket_against_http_with_rows_checked_in_mysql(
    mysql_server: ServerProcess, database: Database, run_prefix: str, tmp_path: Path
):
    out = tmp_path / "out.json"
    peak_before = peak_rss_of(mysql_server.process.pid)
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
    peak_after = peak_rss_of(mysql_server.process.pid)

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
    # The server's own high-water mark (since it started: the session's server), read after
    # the runs: what the kernel says it was then.
    peak = environment["server_info"]["peak_rss_bytes"]
    assert peak_before <= peak <= peak_after, (peak_before, peak, peak_after)
    [rss_line] = [line for line in lines if line.startswith("server peak RSS: ")]
    assert rss_line.split()[3] == f"{peak / 2**20:.0f}", rss_line  # MiB
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
