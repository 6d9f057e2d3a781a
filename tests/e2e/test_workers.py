"""--workers: several server processes sharing the ports, stopped together."""

from __future__ import annotations

import asyncio
import re
import signal
import time

import pytest

from wsbench.bench.client import send_run
from wsbench.server.metrics import SHARED_SYNC_S
from wsbench.testing.server import ServerProcess

from .conftest import MYSQL_URL, Database
from .helpers import free_port, scrape


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
async def test_two_workers_share_the_ports_and_stop_together(
    database: Database, stop_signal: signal.Signals
):
    ports = ["--port", str(free_port()), "--http-port", str(free_port())]
    server = ServerProcess("--db", MYSQL_URL, "--workers", "2", *ports, "-v")
    try:
        server.wait_for(r"worker \d INFO wsbench .* listening on")  # the second worker
        run_ids = [database.new_run_id() for _ in range(40)]
        results = await asyncio.gather(
            *(send_run(server.ws_url, run_id, range(1, 501)) for run_id in run_ids)
        )
        assert all(result.acked == 500 for result in results)
        assert sum(database.count(run_id) for run_id in run_ids) == 40 * 500
        # Whichever worker answers a scrape counts for both, once both have shared their counts.
        committed = ("wsbench_numbers_committed_total", "websocket")
        deadline = time.monotonic() + 10 * SHARED_SYNC_S
        while (seen := {scrape(server)[committed] for _ in range(10)}) != {40 * 500}:
            assert time.monotonic() < deadline, f"scrapes saw {seen}, not {40 * 500}"
            await asyncio.sleep(SHARED_SYNC_S / 4)  # polling: the next sharing is at most 1 s away
        server.process.send_signal(stop_signal)
        assert server.process.wait(timeout=30) == 0
    finally:
        server.stop()
    log = server.log
    assert log.count("INFO stopped") == 2
    assert "second signal" not in log
    for worker in (1, 2):  # SO_REUSEPORT spread the connections over both
        assert re.search(rf"worker {worker} DEBUG run pytest-\S+: connection closed", log)


def test_workers_need_fixed_ports():
    import subprocess
    import sys

    from wsbench.testing.server import SERVER

    result = subprocess.run(
        [sys.executable, str(SERVER), "--workers", "2", "--port", "0"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "--workers needs fixed ports" in result.stderr
