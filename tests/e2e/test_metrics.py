"""The Prometheus endpoint, scraped from a real server after real traffic."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import aiohttp
import httpx

from wsbench.bench.client import send_run
from wsbench.testing.server import ServerProcess
from wsbench.vocabulary import Transport

from .conftest import MYSQL_URL, Database
from .helpers import scrape
from .quic import QUIC_ARGS, h3
from .test_bench import bench, peak_rss_of

TEXT = {"Content-Type": "text/plain"}
COUNTERS = ("received", "committed", "rejected", "not_stored")


async def test_metrics_count_what_each_transport_did(database: Database):
    ws_run, http_run = database.new_run_id(), database.new_run_id()
    with ServerProcess("--db", MYSQL_URL) as server:
        before = scrape(server)
        assert before[("wsbench_numbers_received_total", "websocket")] == 0
        result = await send_run(server.ws_url, ws_run, [*range(1, 101), "oops"])
        assert (result.acked, result.failed) == (100, 1)
        async with aiohttp.ClientSession() as session:
            for seq in range(1, 11):
                url = f"{server.http_url}/numbers?run={http_run}&seq={seq}"
                async with session.post(url, data="7", headers={"Content-Type": "text/plain"}):
                    pass
            async with session.post(f"{server.http_url}/numbers?run={http_run}&seq=11", data="x"):
                pass  # no text/plain: rejected
        after = scrape(server)
        peak = (peak_rss_of(server.process.pid), after[("wsbench_peak_rss_bytes", "")])
    assert after[("wsbench_numbers_received_total", "websocket")] == 100
    assert after[("wsbench_numbers_committed_total", "websocket")] == 100
    assert after[("wsbench_numbers_rejected_total", "websocket")] == 1
    assert after[("wsbench_numbers_received_total", "http")] == 10
    assert after[("wsbench_numbers_committed_total", "http")] == 10
    assert after[("wsbench_numbers_rejected_total", "http")] == 1
    assert after[("wsbench_numbers_not_stored_total", "http")] == 0
    assert after[("wsbench_database_outages_total", "")] == 0
    assert after[("wsbench_queue_depth", "")] == 0
    assert after[("wsbench_batch_rows_sum", "")] == 110
    assert after[("wsbench_commit_seconds_count", "")] == after[("wsbench_batch_rows_count", "")]
    assert after[("wsbench_connections_open", "")] in (0, 1)  # the last one may still be closing
    # The server's own high-water mark, as the kernel keeps it (not its parent's: pytest's).
    assert abs(peak[0] - peak[1]) <= 2**20, peak


def rises(before: dict[tuple[str, str], float], after: dict[tuple[str, str], float]) -> dict:
    """How much each counter rose, by transport label: {transport: {counter: rise}}."""
    return {
        transport.value: {
            counter: after[(f"wsbench_numbers_{counter}_total", transport)]
            - before[(f"wsbench_numbers_{counter}_total", transport)]
            for counter in COUNTERS
        }
        for transport in Transport
    }


async def test_metrics_count_http2_http3_and_webtransport_under_their_own_labels(
    database: Database, run_prefix: str, tmp_path: Path
):
    """The bench client sends through each (its real drivers), then one bad number each: the
    counters of that transport's label rise by exactly that, and no other label moves."""
    out = tmp_path / "bench.json"
    bad_run = database.new_run_id()
    with ServerProcess(*QUIC_ARGS, "--db", MYSQL_URL) as server:
        before = scrape(server)
        result = await asyncio.to_thread(
            bench,
            "--server", server.ws_url, "--insecure", "-n", "150", "-c", "2", "--runs", "1",
            "--warmup", "0", "--transport", "http2,http3,webtransport", "--mode", "pipelined",
            "--run-prefix", run_prefix, "--json", str(out),
        )  # fmt: skip
        assert result.returncode == 0, result.stdout + result.stderr
        async with httpx.AsyncClient(http2=True, verify=False) as client:
            url = f"{server.h2_url}/numbers?run={bad_run}&seq=1"
            answer = await client.post(url, content=b"x", headers=TEXT)
            assert (answer.http_version, answer.status_code) == ("HTTP/2", 400)
        async with h3(server) as client, asyncio.timeout(10):
            status, _, _ = await client.request("POST", f"/numbers?run={bad_run}&seq=1", TEXT, b"x")
            assert status == 400
            session = await client.open_session(f"/webtransport?run={bad_run}")
            assert "hello" in await session.receive()
            session.send(b"x\n")
            assert "error" in await session.receive()
            session.close()
        after = scrape(server)
    acked = {case["transport"]: sum(run["acked"] for run in case["runs"]) for case in
             json.loads(out.read_text())["cases"]}  # fmt: skip
    assert acked == {"http2": 300, "http3": 300, "webtransport": 300}
    assert rises(before, after) == {
        "websocket": {"received": 0, "committed": 0, "rejected": 0, "not_stored": 0},
        "http": {"received": 0, "committed": 0, "rejected": 0, "not_stored": 0},
        **{
            transport: {"received": 300, "committed": 300, "rejected": 1, "not_stored": 0}
            for transport in ("http2", "http3", "webtransport")
        },
    }
    assert database.count(bad_run) == 0
