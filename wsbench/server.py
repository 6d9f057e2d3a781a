"""The WebSocket server: numbers in, cumulative acks out; plain GETs for the page and run counts."""

from __future__ import annotations

import asyncio
import contextlib
import http
import json
import logging
import time
from collections.abc import AsyncIterator, Sequence
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from .protocol import (
    FrameError,
    ack_message,
    error_message,
    hello_message,
    parse_number,
    parse_run_id,
)
from .service import Service

logger = logging.getLogger("wsbench")


class Client:
    """One WebSocket connection: what it sent, what is committed, and its ack sender."""

    def __init__(self, websocket: ServerConnection, run_id: str) -> None:
        self.websocket = websocket
        self.run_id = run_id
        self.received = 0
        self.rejected = 0
        self.acked = 0
        self.acks_sent = 0
        self._failures: list[str] = []
        self._news = asyncio.Event()

    def committed(self, count: int) -> None:
        """Count newly committed rows; the ack sender reports them."""
        self.acked += count
        self._news.set()

    def failed(self, count: int, reason: str) -> None:
        """Remember rows that were not committed; the ack sender reports them."""
        self._failures.append(json.dumps({"error": reason, "not_stored": count}))
        self._news.set()

    async def send_acks(self) -> None:
        """Send one cumulative ack per wake-up, however many commits happened meanwhile."""
        # A task of its own, so one slow reader never holds up the writer or other clients.
        try:
            while True:
                await self._news.wait()
                self._news.clear()
                failures, self._failures = self._failures, []
                for failure in failures:
                    await self.websocket.send(failure)
                await self.websocket.send(ack_message(self.acked))
                self.acks_sent += 1
        except ConnectionClosed:
            pass


class WebSocketServer:
    """Reads numbers from WebSocket connections into the service's writer."""

    def __init__(self, service: Service) -> None:
        self.service = service

    @contextlib.asynccontextmanager
    async def serve(self) -> AsyncIterator[int]:
        """Listen until the context exits, then close every connection with 1001; yield the port."""
        config = self.service.config
        async with serve(
            self.handle,
            config.host,
            config.port,
            origins=self.service.origins,
            process_request=self.process_request,
            compression=None,  # tiny frames: deflate costs CPU and memory, saves nothing
            max_size=config.max_frame,
        ) as server:
            yield server.sockets[0].getsockname()[1]

    async def handle(self, websocket: ServerConnection) -> None:
        """Read numbers from one connection until it closes."""
        client = Client(websocket, run_id_of(websocket.request))
        opened = time.monotonic()
        try:
            await websocket.send(hello_message(**self.service.info(), run=client.run_id))
            acks = asyncio.create_task(client.send_acks())
            try:
                await self.receive(client)
            finally:
                acks.cancel()
        except ConnectionClosed:
            pass
        logger.debug(
            "run %s closed after %.3f s: %d numbers received, %d acked in %d acks, %d rejected",
            client.run_id,
            time.monotonic() - opened,
            client.received,
            client.acked,
            client.acks_sent,
            client.rejected,
        )

    async def receive(self, client: Client) -> None:
        """Parse each frame; queue numbers for the writer, answer bad frames with an error."""
        writer = self.service.writer
        frame = 0
        async for message in client.websocket:
            frame += 1
            try:
                number = parse_number(message)
            except FrameError as exc:
                client.rejected += 1
                await client.websocket.send(error_message(str(exc), frame))
                continue
            client.received += 1
            writer.submit(client, (client.run_id, number))
            if writer.full:
                await writer.wait_for_room()

    async def process_request(
        self, connection: ServerConnection, request: Request
    ) -> Response | None:
        """Answer plain HTTP GETs; let WebSocket handshakes through."""
        if request.headers.get("Upgrade", "").lower() == "websocket":
            try:
                run_id_of(request)
            except ValueError as exc:
                return connection.respond(http.HTTPStatus.BAD_REQUEST, f"{exc}\n")
            return None
        path = urlsplit(request.path).path
        cors = self.service.cors_headers(request.headers.get("Origin"))
        if path in ("/", "/websocket.html"):
            return response(http.HTTPStatus.OK, self.service.page, "text/html; charset=utf-8")
        if path == "/info":
            return json_response(http.HTTPStatus.OK, self.service.info(), cors)
        if path.startswith("/runs/"):
            status, body = await self.service.run_count(path.removeprefix("/runs/"))
            return json_response(status, body, cors)
        return connection.respond(http.HTTPStatus.NOT_FOUND, "Not found: the page is at /\n")


def run_id_of(request: Request | None) -> str:
    """The run id a handshake asked for (``?run=...``), or a fresh one."""
    query = parse_qs(urlsplit(request.path).query) if request is not None else {}
    return parse_run_id(query.get("run", [""])[0])


def response(
    status: http.HTTPStatus,
    body: bytes,
    content_type: str,
    extra_headers: Sequence[tuple[str, str]] = (),
) -> Response:
    """A complete HTTP response; websockets closes the connection after it."""
    headers = Headers(
        [
            ("Content-Type", content_type),
            ("Content-Length", str(len(body))),
            ("Cache-Control", "no-store"),
            ("X-Content-Type-Options", "nosniff"),
            ("Connection", "close"),
            *extra_headers,
        ]
    )
    return Response(status.value, status.phrase, headers, body)


def json_response(
    status: http.HTTPStatus, body: object, extra_headers: Sequence[tuple[str, str]] = ()
) -> Response:
    """A JSON response."""
    return response(status, json.dumps(body).encode(), "application/json", extra_headers)
