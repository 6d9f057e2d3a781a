"""The HTTP side through the real server and the real stores: POST /numbers, one number each."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from wsbench.testing.server import ServerProcess

from .conftest import Database, Target

TEXT = {"Content-Type": "text/plain"}


def counting_connections() -> tuple[aiohttp.TraceConfig, list[int]]:
    """A trace that counts the TCP connections a client session opens."""
    opened: list[int] = []
    trace = aiohttp.TraceConfig()

    async def on_create(session, context, params) -> None:
        opened.append(1)

    trace.on_connection_create_end.append(on_create)
    return trace, opened


async def test_n_posts_make_n_rows_over_few_connections(target: Target, database: Database):
    run_id = database.new_run_id()
    trace, opened = counting_connections()
    connector = aiohttp.TCPConnector(limit=4)
    url = f"{target.server.http_url}/numbers?run={run_id}"
    async with aiohttp.ClientSession(connector=connector, trace_configs=[trace]) as session:

        async def post(number: int) -> dict:
            params = {"seq": number}
            async with session.post(url, params=params, data=str(number), headers=TEXT) as response:
                assert response.status == 200, await response.text()
                return await response.json()

        answers = await asyncio.gather(*(post(i) for i in range(1, 1001)))
    assert answers == [{"acked": 1}] * 1000
    assert sorted(target.numbers(run_id)) == list(range(1, 1001))
    assert len(opened) <= 4, "keep-alive: connections are reused"


async def test_a_post_is_answered_only_after_its_commit(target: Target, database: Database):
    run_id = database.new_run_id()
    async with aiohttp.ClientSession() as session:
        for number in range(1, 51):
            async with session.post(
                f"{target.server.http_url}/numbers?run={run_id}&seq={number}",
                data=str(number),
                headers=TEXT,
            ) as response:
                assert response.status == 200
            assert target.count(run_id) == number  # visible from another connection already


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ("run=a%20b&seq=1", "run id must be"),
        ("seq=1", "run is required"),
        ("run=ok", "seq is required"),
        ("run=ok&seq=0", "seq must be"),
        ("run=ok&seq=-3", "seq must be"),
        ("run=ok&seq=1.5", "seq must be"),
        ("run=ok&seq=99999999999999999999", "seq must be"),
    ],
)
async def test_a_bad_run_or_seq_is_refused(mysql_server: ServerProcess, query: str, reason: str):
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{mysql_server.http_url}/numbers?{query}", data="1", headers=TEXT) as r,
    ):
        assert r.status == 400
        assert reason in (await r.json())["error"]


async def test_a_resent_post_is_acked_again_and_stored_once(target: Target, database: Database):
    run_id = database.new_run_id()
    url = f"{target.server.http_url}/numbers?run={run_id}&seq=1"
    async with aiohttp.ClientSession() as session:
        for _ in range(3):  # e.g. a retry after a timeout whose answer was lost
            async with session.post(url, data="42", headers=TEXT) as response:
                assert (response.status, await response.json()) == (200, {"acked": 1})
    assert target.numbers(run_id) == [42]


async def test_cors_admits_the_pages_origins_and_refuses_foreign_writes(
    mysql_server: ServerProcess, database: Database
):
    run_id = database.new_run_id()
    url = f"{mysql_server.http_url}/numbers?run={run_id}"
    allowed = ["null", f"http://127.0.0.1:{mysql_server.port}", mysql_server.http_url]
    async with aiohttp.ClientSession() as session:
        for seq, origin in enumerate(allowed, 1):
            headers = {**TEXT, "Origin": origin}
            async with session.post(f"{url}&seq={seq}", data="1", headers=headers) as response:
                assert response.status == 200
                assert response.headers["Access-Control-Allow-Origin"] == origin
        foreign = {**TEXT, "Origin": "https://evil.example"}
        async with session.post(f"{url}&seq=9", data="1", headers=foreign) as response:
            assert response.status == 403
            assert "Access-Control-Allow-Origin" not in response.headers
        async with session.get(f"{mysql_server.http_url}/info", headers=foreign) as response:
            assert response.status == 200
            assert "Access-Control-Allow-Origin" not in response.headers
    assert database.count(run_id) == len(allowed)


async def test_null_store_over_http_acks_and_stores_nothing(
    null_server: ServerProcess, database: Database
):
    run_id = database.new_run_id()
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{null_server.http_url}/numbers?run={run_id}&seq=1", data="5", headers=TEXT
        ) as r,
    ):
        assert (r.status, await r.json()) == (200, {"acked": 1})
    assert database.count(run_id) == 0
