"""The WebSocket server: numbers in, cumulative acks out; also serves the page and run counts."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import http
import json
import logging
import os
import signal
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from . import __version__
from .batching import batch_limit
from .config import Config, is_loopback, load_config
from .protocol import (
    FrameError,
    ack_message,
    error_message,
    hello_message,
    parse_number,
    parse_run_id,
)
from .store import StartupError, Store, open_store
from .writer import GroupCommitWriter

logger = logging.getLogger("wsbench")

PAGE = Path(__file__).resolve().parent.parent / "websocket.html"


def allowed_origins(host: str, port: int) -> list[str | None]:
    """Origins whose pages may open a WebSocket here: the page's own, and file:// on loopback."""
    hosts = {host if ":" not in host else f"[{host}]"}
    origins: list[str | None] = [None]  # non-browser clients send no Origin
    if is_loopback(host):
        hosts |= {"127.0.0.1", "localhost", "[::1]"}
        origins.append("null")  # a page opened from disk
    origins += sorted(f"http://{name}:{port}" for name in hosts)
    return origins


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


class App:
    """Connection handling and HTTP answers, given a store and its writer."""

    def __init__(self, config: Config, store: Store, writer: GroupCommitWriter) -> None:
        self.config = config
        self.store = store
        self.writer = writer
        self.origins: list[str | None] = []  # filled once the port is known
        try:
            self.page = PAGE.read_bytes()
        except OSError as exc:
            raise StartupError(f"cannot read the page {PAGE}: {exc.strerror}") from None

    @contextlib.asynccontextmanager
    async def serve(self) -> AsyncIterator[Server]:
        """Listen until the context exits, then close every connection with 1001."""
        async with serve(
            self.handle,
            self.config.host,
            self.config.port,
            origins=self.origins,
            process_request=self.process_request,
            compression=None,  # tiny frames: deflate costs CPU and memory, saves nothing
            max_size=self.config.max_frame,
        ) as server:
            port = server.sockets[0].getsockname()[1]
            self.origins.extend(allowed_origins(self.config.host, port))
            yield server

    async def handle(self, websocket: ServerConnection) -> None:
        """Read numbers from one connection until it closes."""
        client = Client(websocket, run_id_of(websocket.request))
        opened = time.monotonic()
        try:
            await websocket.send(self.hello(client.run_id))
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
        writer = self.writer
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

    def hello(self, run_id: str) -> str:
        """The first frame of every connection."""
        return hello_message(
            server="wsbench",
            version=__version__,
            run=run_id,
            store=self.store.kind,
            target=self.store.target,
            durable=self.store.durable,
        )

    async def process_request(
        self, connection: ServerConnection, request: Request
    ) -> Response | None:
        """Answer plain HTTP requests; let WebSocket handshakes through."""
        if request.headers.get("Upgrade", "").lower() == "websocket":
            try:
                run_id_of(request)
            except ValueError as exc:
                return connection.respond(http.HTTPStatus.BAD_REQUEST, f"{exc}\n")
            return None
        path = urlsplit(request.path).path
        if path in ("/", "/websocket.html"):
            return response(http.HTTPStatus.OK, self.page, "text/html; charset=utf-8")
        if path.startswith("/runs/"):
            return await self.run_count(path.removeprefix("/runs/"), request)
        return connection.respond(http.HTTPStatus.NOT_FOUND, "Not found: the page is at /\n")

    async def run_count(self, run_id: str, request: Request) -> Response:
        """``GET /runs/<id>``: how many rows a run has in the table."""
        origin = request.headers.get("Origin")
        cors = [("Access-Control-Allow-Origin", origin)] if origin in self.origins else []
        try:
            run_id = parse_run_id(run_id)
            status, body = (
                http.HTTPStatus.OK,
                {
                    "run": run_id,
                    "store": self.store.kind,
                    "rows": await self.store.count_rows(run_id),
                },
            )
        except ValueError as exc:
            status, body = http.HTTPStatus.BAD_REQUEST, {"error": str(exc)}
        except Exception as exc:  # noqa: BLE001 - the caller gets the reason, the server goes on
            logger.error("counting rows of run %s failed: %s", run_id, exc)
            status, body = http.HTTPStatus.SERVICE_UNAVAILABLE, {"error": f"database: {exc}"}
        return response(status, json.dumps(body).encode(), "application/json", cors)


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


async def run_server(config: Config, stop: asyncio.Event) -> None:
    """Serve until ``stop`` is set, then close connections and commit what was received."""
    # Exits in reverse: connections close, the writer commits what it holds, the store closes.
    async with (
        open_store(config.db) as store,
        GroupCommitWriter(
            store, batch_limit(config.max_batch, store.max_allowed_packet), config.max_pending
        ) as writer,
        App(config, store, writer).serve() as server,
    ):
        log_start(config, store, server, writer.max_batch)
        await stop.wait()
        logger.info("stopping: closing connections, committing what was received")
    logger.info("stopped")


def log_start(config: Config, store: Store, server: Server, max_batch: int) -> None:
    """One line: where the server listens and where numbers go."""
    host, port = server.sockets[0].getsockname()[:2]
    host = f"[{host}]" if ":" in host else host
    if store.durable:
        logger.info(
            "wsbench %s listening on ws://%s:%d (page: http://%s:%d/), "
            "committing to %s table %s, up to %d rows per commit",
            __version__,
            host,
            port,
            host,
            port,
            config.db.redacted(),
            store.target,
            max_batch,
        )
    else:
        logger.warning(
            "wsbench %s listening on ws://%s:%d (page: http://%s:%d/) with --db null: "
            "NOTHING IS STORED, acks mean received, not committed",
            __version__,
            host,
            port,
            host,
            port,
        )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the server from the command line; return the exit status."""
    config = load_config(argv)
    logging.basicConfig(
        level=logging.DEBUG if config.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(message)s",
    )
    logging.getLogger("websockets").setLevel(logging.WARNING)  # not one line per connection
    try:
        asyncio.run(_main(config))
    except StartupError as exc:
        logger.error("cannot start: %s", exc)
        return 1
    except OSError as exc:
        hint = (
            ": is another server running? Pick a free port with --port"
            if exc.errno == errno.EADDRINUSE
            else ""
        )
        logger.error(
            "cannot listen on %s:%d: %s%s", config.host, config.port, exc.strerror or exc, hint
        )
        return 1
    return 0


async def _main(config: Config) -> None:
    stop = asyncio.Event()

    def on_signal() -> None:
        if stop.is_set():
            logger.warning("second signal: exiting at once")
            os._exit(1)
        stop.set()

    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, on_signal)
    await run_server(config, stop)
