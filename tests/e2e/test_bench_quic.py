"""The bench client over HTTP/3 and WebTransport against the real server and MariaDB."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from wsbench.bench.models import Case
from wsbench.bench.webtransport import WebTransportDriver
from wsbench.link.tun import LinkUnavailable, check_privileges
from wsbench.testing.server import ROOT, ServerProcess
from wsbench.vocabulary import Mode, Transport

from .conftest import MYSQL_URL, Database, missing
from .helpers import free_port
from .quic import INSECURE, QUIC_ARGS, free_udp_port, h3_url
from .test_bench import bench, table_rows

SOCKET_DB = "mysql://wsbench@localhost:3306/test?unix_socket=/run/mysqld/mysqld.sock"


@pytest.fixture(scope="module")
def quic_server(database: Database, start_server: Callable[..., ServerProcess]) -> ServerProcess:
    """A --tls server with its QUIC port, writing to MySQL."""
    return start_server(*QUIC_ARGS, "--db", MYSQL_URL)


def assert_each_number_once(database: Database, run_ids: list[str], n: int) -> None:
    """Every run holds 1..n at seq 1..n, each once."""
    for run_id in run_ids:
        assert database.query(
            "SELECT COUNT(*), COUNT(DISTINCT seq), MIN(number), MAX(number), SUM(seq = number) "
            "FROM test.testing WHERE run_id = %s",
            run_id,
        ) == [(n, n, 1, n, n)], run_id


@pytest.mark.parametrize(
    ("transport", "modes"),
    [
        ("http3", ["pipelined", "one-at-a-time"]),
        ("webtransport", ["pipelined", "one-at-a-time", "datagrams"]),
    ],
)
def test_the_bench_over_quic_in_every_mode_with_rows_checked_in_mysql(
    quic_server: ServerProcess,
    database: Database,
    run_prefix: str,
    tmp_path: Path,
    transport: str,
    modes: list[str],
):
    out = tmp_path / "out.json"
    result = bench(
        "--server", quic_server.ws_url, "--insecure", "-n", "300", "-c", "2", "--runs", "1",
        "--warmup", "0", "--transport", transport, "--mode", ",".join(modes),
        "--run-prefix", run_prefix, "--json", str(out),
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    rows = table_rows(result.stdout)
    for mode in modes:
        [line] = [line for line in rows if line.startswith(f"{transport}/{mode} ")]
        assert "300 x 2" in line and line.endswith(" 0  verified"), line
    document = json.loads(out.read_text())
    assert document["environment"]["server_info"]["h3_port"] > 0
    run_ids = []
    for case in document["cases"]:
        [run] = case["runs"]
        assert (run["sent"], run["acked"], run["errors"], run["rows"]) == (600, 600, 0, "verified")
        assert len(run["latencies_ms"]) == 600 and all(x > 0 for x in run["latencies_ms"])
        run_ids += run["run_ids"]
    assert len(set(run_ids)) == 2 * len(modes)
    assert_each_number_once(database, run_ids, 300)


async def test_a_webtransport_run_resumes_across_a_server_restart(database: Database):
    """The server stops (SIGTERM) while a pipelined session is under way, and another starts
    on the same ports: the driver opens a new session for the run, the hello says how many
    numbers are committed, and it sends the rest. Every number is stored once."""
    n, restart_after = 20_000, 2000
    run_id = database.new_run_id()
    args = (
        "--tls", "--db", MYSQL_URL, "--port", str(free_port()), "--http-port", str(free_port()),
        "--h2-port", str(free_port()), "--h3-port", str(free_udp_port()),
    )  # fmt: skip
    servers = [ServerProcess(*args)]
    try:
        url = h3_url(servers[0])
        # A window of 500: at most 500 numbers are uncommitted when the server stops, so most
        # of the run is left for the new server.
        driver = WebTransportDriver(url, "/webtransport", 500, 120, INSECURE)
        halfway = asyncio.Event()
        acked = 0

        def progress(count: int) -> None:
            nonlocal acked
            acked += count
            if acked >= restart_after:
                halfway.set()

        case = Case(Transport.WEBTRANSPORT, Mode.PIPELINED, n, 1)
        measuring = asyncio.create_task(driver.measure(case, [run_id], progress))
        async with asyncio.timeout(60):
            await halfway.wait()
        servers[0].process.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(servers[0].process.wait, 30) == 0, servers[0].log
        stored_at_stop = database.count(run_id)
        assert restart_after <= stored_at_stop < n
        servers.append(await asyncio.to_thread(ServerProcess, *args))
        sample = await measuring
    finally:
        for server in servers:
            server.stop()
    assert sample.acked_by_run == {run_id: n} and sample.errors == 0
    assert sample.connections >= 2 and sample.reconnects >= 1  # a second session resumed it
    assert_each_number_once(database, [run_id], n)


def test_datagrams_over_a_lossy_link_store_every_number_once(
    database: Database, run_prefix: str, tmp_path: Path
):
    """2% of the packets lost each way: numbers and acks go missing, the bench resends, and
    (run, seq) keeps each number once."""
    try:
        check_privileges()
    except LinkUnavailable as exc:
        missing(str(exc))
    out = tmp_path / "bench.json"
    # On every address, so that the bench reaches it from behind the link.
    with ServerProcess("--host", "0.0.0.0", *QUIC_ARGS, "--db", SOCKET_DB) as server:
        command = [sys.executable, "-m", "wsbench.bench", "--link", "lossy", "--insecure"]
        command += ["--server", f"wss://127.0.0.1:{server.port}", "--transport", "webtransport"]
        # A small window: QUIC packs the datagrams of a burst in a few packets, and the test
        # needs hundreds of packets each way for the link's 2% to lose some.
        command += ["--mode", "datagrams", "-n", "2000", "--window", "16"]
        command += ["--runs", "1", "--warmup", "0"]
        command += ["--run-prefix", run_prefix, "--json", str(out)]
        result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "through the emulated link lossy" in result.stdout
    [case] = json.loads(out.read_text())["cases"]
    [run] = case["runs"]
    assert (run["acked"], run["errors"], run["rows"]) == (2000, 0, "verified"), run
    assert run["reconnects"] > 0, "nothing was resent: was the link lossy?"
    assert_each_number_once(database, run["run_ids"], 2000)
