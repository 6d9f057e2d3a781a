"""The WebSocket server: numbers in, cumulative acks out; plain GETs for the page and run counts."""

from __future__ import annotations

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

from ..protocol import parse_run_id
from ..vocabulary import Port, Transport
from .routes import Answer, answer_get
from .run_loop import serve_run
from .runs import RunFeed
from .service import Service

logger = logging.getLogger("wsbench")


class WebSocketServer:
    """Reads numbers from WebSocket connections into the service's writer."""

    port = Port.WEBSOCKET

    def __init__(self, service: Service) -> None:
        self.service = service
        self.open_connections = 0
        self.server: Server | None = None
        service.metrics.gauge(
            "wsbench_connections_open", "Open WebSocket connections", lambda: self.open_connections
        )

    @contextlib.asynccontextmanager
    async def serve(self) -> AsyncIterator[int]:
        """Listen until the context exits, then close the connections with 1001; yield the port."""
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
            self.server = server
            yield server.sockets[0].getsockname()[1]
        # Leaving serve() closed the remaining connections with 1001 (going away).

    async def drain(self) -> None:
        """No new connections; handshakes under way get 503."""
        if self.server is not None:
            self.server.server.close()

    async def handle(self, websocket: ServerConnection) -> None:
        """Attach the connection to its run, then read numbers until it closes."""
        self.open_connections += 1
        feed = RunFeed(websocket, run_id_of(websocket.request), Transport.WEBSOCKET)
        opened = time.monotonic()
        try:
            await serve_run(self.service, feed, websocket, closed=(ConnectionClosed,))
        finally:
            self.open_connections -= 1
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

    async def process_request(
        self, connection: ServerConnection, request: Request
    ) -> Response | None:
        """Answer plain HTTP GETs; let WebSocket handshakes through."""
        if request.headers.get("Upgrade", "").lower() == "websocket":
            try:
                run_id_of(request)
            except ValueError as exc:
                return connection.respond(http.HTTPStatus.BAD_REQUEST, f"{exc}\n")
            if self.service.stopping:
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


def offer(service: Service) -> list[WebSocketServer]:
    """The WebSocket port: always."""
    return [WebSocketServer(service)]
