"""What the bench asks the server over HTTP: ``/info``, ``/runs/<id>`` and ``/metrics``."""

from __future__ import annotations

import asyncio
import json
import ssl
from collections.abc import Iterable
from typing import Any

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from .models import BenchError


async def get_json(session: aiohttp.ClientSession, url: str, retries: int = 0) -> Any:
    """GET a JSON document; any status but 200 is an error naming the answer.

    A 503 (the server's database is out for a moment) is tried again up to ``retries`` times.
    """
    delay = 0.05
    for attempt in range(retries + 1):
        async with session.get(url) as response:
            body = await response.text()
            if response.status == 200:
                return json.loads(body)
            if response.status != 503 or attempt == retries:
                raise BenchError(f"GET {url} answered {response.status}: {body.strip()[:200]}")
        await asyncio.sleep(delay)
        delay = min(delay * 2, 1.0)


async def count_rows(
    session: aiohttp.ClientSession, http_url: str, run_ids: Iterable[str], retries: int = 8
) -> dict[str, int | None]:
    """Each run's committed rows, as the server counts them in its store (None: null store)."""
    counts: dict[str, int | None] = {}
    for run_id in run_ids:
        answer = await get_json(session, f"{http_url}/runs/{run_id}", retries)
        counts[run_id] = answer["rows"]
    return counts


async def fetch_peak_rss(http_url: str, tls: ssl.SSLContext | None = None) -> float | None:
    """The server's peak resident memory from ``GET /metrics``, or None if it does not say."""
    timeout = aiohttp.ClientTimeout(total=10)
    try:
        async with (
            session(timeout, tls) as client,
            client.get(f"{http_url}/metrics") as response,
        ):
            text = await response.text() if response.status == 200 else ""
    except (aiohttp.ClientError, TimeoutError):
        return None
    for family in text_string_to_metric_families(text):
        if family.name == "wsbench_peak_rss_bytes" and family.samples:
            return family.samples[0].value
    return None


async def fetch_info(url: str, tls: ssl.SSLContext | None = None) -> dict[str, Any]:
    """The server's ``GET /info``: store, commit mode, ports."""
    timeout = aiohttp.ClientTimeout(total=10)
    async with session(timeout, tls) as client:
        info: dict[str, Any] = await get_json(client, f"{url}/info")
        return info


def session(timeout: aiohttp.ClientTimeout, tls: ssl.SSLContext | None) -> aiohttp.ClientSession:
    """An HTTP client for the server's own GETs, verifying its certificate as ``tls`` says."""
    return aiohttp.ClientSession(
        timeout=timeout, connector=aiohttp.TCPConnector(ssl=tls if tls else True)
    )
