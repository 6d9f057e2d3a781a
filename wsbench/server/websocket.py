"""The WebSocket server: numbers in, cumulative acks out; plain GETs for the page and run counts."""

from __future__ import annotations

import asyncio
import contextlib
import http
import logging
import time
from collections.abc import AsyncIterator, Sequence
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from ..protocol import (
    FrameError,
    error_message,
    parse_number,
    parse_run_id,
)
from ..vocabulary import Transport
from .routes import Answer, answer_get
from .runs import RunFeed, Runs
from .service import Service

logger = logging.getLogger("wsbench")


class WebSocketServer:
    """Reads numbers from WebSocket connections into the service's writer."""

    def __init__(self, service: Service) -> None:
        self.service = service
        self.runs = Runs()  # the connection currently feeding each run
        self.open_connections = 0
        self.stopping = False
        service.metrics.gauge(
            "wsbench_connections_open", "Open WebSocket connections", lambda: self.open_connections
        )

    @contextlib.asynccontextmanager
    async def serve(self) -> AsyncIterator[int]:
        """Listen until the context exits, then stop in order; yield the port."""
        config = self.service.config
        async with serve(
            self.handle,
            config.host,
            config.port,
            origins=self.service.origins,
            process_request=self.process_request,
            compression=None,  # tiny frames: deflate costs CPU and memory, saves nothing
            max_size=config.max_frame,
            ping_interval=config.ping_interval,
            ping_timeout=config.ping_timeout,
            reuse_port=config.reuse_port,
            ssl=self.service.certificate.server_context() if self.service.certificate else None,
        ) as server:
            try:
                yield server.sockets[0].getsockname()[1]
            finally:
                await self.drain(server)
        # Leaving serve() closed the remaining connections with 1001 (going away).

    async def drain(self, server: Server) -> None:
        """Stop taking numbers, commit what was received and ack it, before connections close."""
        self.stopping = True
        server.server.close()  # no new connections; handshakes under way get 503
        await self.service.writer.flush()
        await self.runs.acks_delivered(self.service.config.ping_timeout)

    async def handle(self, websocket: ServerConnection) -> None:
        """Attach the connection to its run, then read numbers until it closes."""
        self.open_connections += 1
        feed = RunFeed(websocket, run_id_of(websocket.request), Transport.WEBSOCKET)
        opened = time.monotonic()
        try:
            if not await self.runs.start(feed, self.service.store, self.service.info()):
                return
            acks = asyncio.create_task(feed.send_acks())
            try:
                await self.receive(feed, websocket)
            finally:
                acks.cancel()
        except ConnectionClosed:
            pass
        finally:
            self.open_connections -= 1
            self.runs.release(feed)
        logger.debug(
            "run %s: connection closed after %.3f s: %d numbers received, "
            "%d acked in %d acks, %d rejected",
            feed.run_id,
            time.monotonic() - opened,
            feed.received,
            feed.acked,
            feed.acks_sent,
            feed.rejected,
        )

    async def receive(self, feed: RunFeed, websocket: ServerConnection) -> None:
        """Parse each frame; queue numbers for the writer, answer bad frames with an error."""
        # The hot path: per number, a parse, a row and a submit; everything else is derived
        # (the frame's index, what is in flight) or counted per batch (the metrics).
        writer, submit, run_id = self.service.writer, self.service.writer.submit, feed.run_id
        async for message in websocket:
            if self.stopping or feed.superseded:
                # Dropped and never acked, so the client sends it again after reconnecting.
                # Reading on lets the closing handshake through the frames still in flight.
                continue
            try:
                number = parse_number(message)
            except FrameError as exc:
                feed.rejected += 1
                self.service.metrics.rejected[Transport.WEBSOCKET] += 1
                frame = feed.received + feed.rejected  # this connection's frames so far
                await websocket.send(error_message(str(exc), frame))
                continue
            seq = feed.next_seq
            submit(feed, (run_id, seq, number))
            feed.next_seq = seq + 1
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
            if self.stopping:
                return connection.respond(http.HTTPStatus.SERVICE_UNAVAILABLE, "Stopping.\n")
            if self.open_connections >= self.service.config.max_connections:
                limit = self.service.config.max_connections
                return connection.respond(
                    http.HTTPStatus.SERVICE_UNAVAILABLE, f"Too many connections (limit {limit}).\n"
                )
            return None
        answer = await answer_get(self.service, urlsplit(request.path).path)
        if answer is None:
            return connection.respond(http.HTTPStatus.NOT_FOUND, "Not found: the page is at /\n")
        return response(answer, self.service.cors_headers(request.headers.get("Origin")))


def run_id_of(request: Request | None) -> str:
    """The run id a handshake asked for (``?run=...``), or a fresh one."""
    query = parse_qs(urlsplit(request.path).query) if request is not None else {}
    return parse_run_id(query.get("run", [""])[0])


def response(answer: Answer, extra_headers: Sequence[tuple[str, str]] = ()) -> Response:
    """A shared route's answer as a complete response; websockets closes the connection after it."""
    headers = Headers(
        [
            ("Content-Type", answer.content_type),
            ("Content-Length", str(len(answer.body))),
            ("Cache-Control", "no-store"),
            ("X-Content-Type-Options", "nosniff"),
            ("Connection", "close"),
            *extra_headers,
        ]
    )
    return Response(answer.status.value, answer.status.phrase, headers, answer.body)
