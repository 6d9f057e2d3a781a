"""The Prometheus endpoint, scraped from a real server after real traffic."""

from __future__ import annotations

import aiohttp

from wsbench.client import send_run
from wsbench.testing.server import ServerProcess

from .conftest import MYSQL_URL, Database
from .helpers import scrape


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
    assert 10 * 2**20 < after[("wsbench_peak_rss_bytes", "")] < 2**30
