"""Helpers the end-to-end tests share: WebSocket runs, metrics scrapes, free ports, page scripts."""

from __future__ import annotations

import asyncio
import json
import socket
import urllib.request
from collections.abc import Mapping, Sequence
from typing import Any

from prometheus_client.parser import text_string_to_metric_families
from websockets.asyncio.client import ClientConnection, connect

from wsbench.resources import PAGE_SCRIPTS
from wsbench.testing.server import ServerProcess

# Paths beside the page's scripts that every port must refuse (404), however they are spelled.
REFUSED_SCRIPT_PATHS = (
    "/page/../schema.sql",
    "/page/%2e%2e/schema.sql",
    "/page/..%2fschema.sql",
    "/page/x.js",
)


async def open_run(
    server: ServerProcess, run_id: str, **kwargs: Any
) -> tuple[ClientConnection, dict[str, Any]]:
    """Connect for a run and return the connection and its hello frame."""
    if server.tls:
        kwargs.setdefault("ssl", server.client_ssl())
    websocket = await connect(f"{server.ws_url}/?run={run_id}", compression=None, **kwargs)
    hello = json.loads(await websocket.recv())["hello"]
    assert hello["run"] == run_id
    return websocket, hello


async def send_run(
    server: ServerProcess, run_id: str, frames: Sequence[str | bytes], valid: int
) -> tuple[list[int], list[dict]]:
    """Send frames pipelined; return every ack value and error frame until ``valid`` are acked."""
    websocket, _ = await open_run(server, run_id)
    async with websocket:
        for frame in frames:
            await websocket.send(frame)
        acks: list[int] = []
        errors: list[dict] = []
        async with asyncio.timeout(60):
            while not acks or acks[-1] < valid or len(errors) < len(frames) - valid:
                message = json.loads(await websocket.recv())
                if "acked" in message:
                    acks.append(message["acked"])
                else:
                    errors.append(message)
    return acks, errors


def numbers(n: int) -> list[str]:
    """The numbers 1..n as frames."""
    return [str(i) for i in range(1, n + 1)]


def scrape(server: ServerProcess) -> dict[tuple[str, str], float]:
    """Every sample of GET /metrics, keyed by (name, transport label)."""
    url, context = f"{server.http_url}/metrics", server.client_ssl()
    with urllib.request.urlopen(url, timeout=10, context=context) as response:
        assert response.headers["Content-Type"].startswith("text/plain; version=")
        text = response.read().decode()
    return {
        (sample.name, sample.labels.get("transport", "")): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def free_port() -> int:
    """A port nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def assert_script(status: int, headers: Mapping[str, str], body: bytes, name: str) -> None:
    """``GET /page/<name>``'s answer: that file of page/, as JavaScript, not sniffed, not cached."""
    assert status == 200
    assert headers["Content-Type"] == "text/javascript; charset=utf-8"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Cache-Control"] == "no-store"
    assert body == (PAGE_SCRIPTS / name).read_bytes()
