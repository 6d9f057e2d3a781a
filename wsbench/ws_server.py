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

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.frames import CloseCode
from websockets.http11 import Request, Response

from .protocol import (
    FrameError,
    ack_message,
    error_message,
    hello_message,
    parse_number,
    parse_run_id,
)
from .routes import Answer, answer_get
from .service import Service
from .vocabulary import Transport

logger = logging.getLogger("wsbench")


class RunConnection:
    """One WebSocket connection feeding one run: sequence numbers, commits, and its acks."""

    transport = Transport.WEBSOCKET

    def __init__(self, websocket: ServerConnection, run_id: str) -> None:
        self.websocket = websocket
        self.run_id = run_id
        self.acked = 0  # committed numbers of the whole run, including earlier connections
        self.next_seq = 1  # the seq of the next number: the receive loop counts it up
        self.resumed_at = 1  # this connection's first seq
        self.not_stored = 0
        self.rejected = 0
        self.acks_sent = 0
        self.superseded = False  # another connection has taken over this run
        self.settled = asyncio.Event()  # set when the last number in flight settled
        self._failures: list[str] = []
        self._news = asyncio.Event()
        self._delivered = asyncio.Event()  # set while every ack is on the wire
        self._delivered.set()

    def resume_after(self, committed: int) -> None:
        """Continue a run whose first ``committed`` numbers are already stored."""
        self.acked = committed
        self.next_seq = self.resumed_at = committed + 1

    @property
    def received(self) -> int:
        """Numbers this connection submitted for a commit."""
        return self.next_seq - self.resumed_at

    @property
    def in_flight(self) -> int:
        """Numbers submitted and neither committed nor failed yet."""
        # Derived, so the receive loop only counts next_seq up: nothing else per number.
        return self.next_seq - 1 - self.acked - self.not_stored

    async def until_settled(self) -> None:
        """Wait until nothing of this connection is in flight."""
        self.settled.clear()
        if self.in_flight:
            await self.settled.wait()

    def committed(self, count: int) -> None:
        """Count newly committed rows; the ack sender reports them."""
        self.acked += count
        self._settle(count)

    def failed(self, count: int, reason: str) -> None:
        """Remember rows that were not committed; the ack sender reports them."""
        self.not_stored += count
        self._failures.append(json.dumps({"error": reason, "not_stored": count}))
        self._settle(count)

    def _settle(self, count: int) -> None:
        if not self.in_flight:
            self.settled.set()
        self._news.set()
        self._delivered.clear()

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
                if not self._news.is_set():
                    self._delivered.set()
        finally:
            self._delivered.set()  # closed: nothing more can be delivered

    async def acks_delivered(self) -> None:
        """Wait until the latest ack has been sent."""
        await self._delivered.wait()


class WebSocketServer:
    """Reads numbers from WebSocket connections into the service's writer."""

    def __init__(self, service: Service) -> None:
        self.service = service
        self.runs: dict[str, RunConnection] = {}  # the connection currently feeding each run
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
        connections = list(self.runs.values())
        if connections:
            delivered = asyncio.gather(*(feed.acks_delivered() for feed in connections))
            with contextlib.suppress(TimeoutError):  # a client that stopped reading
                await asyncio.wait_for(delivered, self.service.config.ping_timeout)

    async def handle(self, websocket: ServerConnection) -> None:
        """Attach the connection to its run, then read numbers until it closes."""
        self.open_connections += 1
        feed = RunConnection(websocket, run_id_of(websocket.request))
        opened = time.monotonic()
        try:
            await self.take_over(feed)
            try:
                committed = await self.service.store.count_rows(feed.run_id)
            except Exception as exc:  # noqa: BLE001 - the client is told to come back
                logger.debug("cannot resume run %s: %s", feed.run_id, exc)
                await websocket.close(CloseCode.TRY_AGAIN_LATER, "database unavailable")
                return
            feed.resume_after(committed or 0)
            hello = hello_message(**self.service.info(), run=feed.run_id, committed=feed.acked)
            await websocket.send(hello)
            acks = asyncio.create_task(feed.send_acks())
            try:
                await self.receive(feed)
            finally:
                acks.cancel()
        except ConnectionClosed:
            pass
        finally:
            self.open_connections -= 1
            if self.runs.get(feed.run_id) is feed:
                del self.runs[feed.run_id]
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

    async def take_over(self, feed: RunConnection) -> None:
        """Make ``feed`` the run's only connection, once the previous one's rows are settled."""
        # A reconnecting client may arrive before the server noticed its old connection died.
        while (previous := self.runs.get(feed.run_id)) is not None:
            previous.superseded = True
            await previous.websocket.close(CloseCode.POLICY_VIOLATION, "run resumed elsewhere")
            await previous.until_settled()
            if self.runs.get(feed.run_id) is previous:
                del self.runs[feed.run_id]
        self.runs[feed.run_id] = feed

    async def receive(self, feed: RunConnection) -> None:
        """Parse each frame; queue numbers for the writer, answer bad frames with an error."""
        # The hot path: per number, a parse, a row and a submit; everything else is derived
        # (the frame's index, what is in flight) or counted per batch (the metrics).
        writer, submit, run_id = self.service.writer, self.service.writer.submit, feed.run_id
        async for message in feed.websocket:
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
                await feed.websocket.send(error_message(str(exc), frame))
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
