"""HTTPS for the comparison: HTTP/1.1 on one port, HTTP/2 on another, one library for both.

Served by granian's embedded server (its Rust HTTP stack, our ASGI app in this event loop, so it
shares the writer): a difference between the two ports is the protocol's, not a library's.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import http
import logging
import os
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, MutableMapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from granian.constants import HTTPModes, Interfaces
from granian.http import HTTP1Settings, HTTP2Settings
from granian.server.embed import Server

from ..vocabulary import Port, Transport
from . import http_api
from .limits import H2_PING_INTERVAL_S, H2_PING_TIMEOUT_S, HEADER_TIMEOUT_S
from .routes import INFO_PATH, PAGE_PATHS, RUNS_PREFIX, SCRIPTS, Answer, answer_get
from .service import Service
from .silence import watching

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

logger = logging.getLogger("wsbench")

# The HTTP/3 port's TCP side speaks both, as any HTTPS origin does, and points to QUIC.
HTTP_MODES = {
    Transport.HTTP: HTTPModes.http1,
    Transport.HTTP2: HTTPModes.http2,
    Transport.HTTP3: HTTPModes.auto,
}
READY_TIMEOUT_S = 10
DRAIN_BYTES = 8 << 20  # beyond this a sender of an oversized body may see its connection reset


class HttpsServer:
    """``POST /numbers``, the page, ``/info``, ``/runs/<id>`` and ``/metrics`` over TLS."""

    def __init__(self, service: Service, transport: Transport, port: Port | None = None) -> None:
        if service.certificate is None:
            raise ValueError("HTTPS needs the service's certificate (--tls)")
        self.service = service
        self.transport = transport
        self.port = port or Port.HTTP  # the kind of port it serves, when it serves one alone
        # On the HTTP/3 port: the Alt-Svc header that tells a browser QUIC is there.
        self.alt_svc: tuple[tuple[str, str], ...] = ()
        self.certificate = service.certificate

    @contextlib.asynccontextmanager
    async def serve(self, port: int | None = None) -> AsyncIterator[int]:
        """Listen on ``port`` (0: a free one; by default its kind's configured one) until the
        context exits; yield the port."""
        config = self.service.config
        if port is None:
            port = config.h2_port if self.port is Port.HTTP2 else config.http_port
        with reserved_port(config.host, port, config.reuse_port) as port:
            server = Server(
                self.app,
                address=config.host,
                port=port,
                interface=Interfaces.ASGINL,  # no lifespan: this process owns the lifecycle
                http=HTTP_MODES[self.transport],
                websockets=False,
                ssl_cert=Path(self.certificate.cert),
                ssl_key=Path(self.certificate.key),
                log_enabled=False,  # granian would reconfigure logging for the whole process
                **budget(config.max_connections),
            )
            task = asyncio.create_task(server.serve(), name=f"wsbench-{self.transport}")
            try:
                await until_listening(config.host, port, task)
            except BaseException:
                server.stop()  # type: ignore[no-untyped-call]
                await asyncio.gather(task, return_exceptions=True)
                raise
        # hyper has no timeout for an HTTP/2 preface: on the ports that speak HTTP/2, a client
        # silent for too long is cut off from outside (silence.py).
        try:
            http1_only = self.transport is Transport.HTTP  # its header timeout is enough
            async with contextlib.nullcontext() if http1_only else watching(port):
                yield port
        finally:
            server.stop()  # type: ignore[no-untyped-call]
            await task

    async def drain(self) -> None:
        """Nothing to refuse early: requests under way are answered before the port closes."""

    async def app(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The ASGI application: one answer per request."""
        if scope["type"] != "http":
            return
        headers = {
            name.decode("latin-1").lower(): value.decode("latin-1")
            for name, value in scope["headers"]
        }
        origin = headers.get("origin")
        answer, extra = await self.answer(scope, headers, receive)
        await send(
            {
                "type": "http.response.start",
                "status": answer.status.value,
                "headers": [
                    (name.encode("latin-1"), value.encode("latin-1"))
                    for name, value in (
                        ("Content-Type", answer.content_type),
                        ("Content-Length", str(len(answer.body))),
                        ("X-Content-Type-Options", "nosniff"),
                        *extra,
                        *self.alt_svc,
                        *http_api.headers(self.service, origin),
                    )
                ],
            }
        )
        await send({"type": "http.response.body", "body": answer.body})

    async def answer(
        self, scope: Scope, headers: dict[str, str], receive: Receive
    ) -> tuple[Answer, tuple[tuple[str, str], ...]]:
        """The answer to one request, and headers of its own."""
        method, path = scope["method"], scope["path"]
        if refusal := http_api.refused(self.service, method, headers.get("origin")):
            return refusal, ()
        if path == http_api.NUMBERS_PATH:
            if method == "POST":
                return await self.post_number(scope, headers, receive), ()
            if method == "OPTIONS":
                return Answer(http.HTTPStatus.NO_CONTENT, b"", "text/plain"), http_api.PREFLIGHT
        elif method == "GET" and path == "/metrics":
            body, content_type = self.service.metrics.render()
            return Answer(http.HTTPStatus.OK, body, content_type), ()
        elif method == "GET" and (answer := await answer_get(self.service, path)) is not None:
            return answer, ()
        elif not is_get_route(path):
            return http_api.error(http.HTTPStatus.NOT_FOUND, "Not Found"), ()
        return http_api.error(http.HTTPStatus.METHOD_NOT_ALLOWED, "Method Not Allowed"), ()

    async def post_number(self, scope: Scope, headers: dict[str, str], receive: Receive) -> Answer:
        """Commit one number; answer only once it is committed."""
        limit = self.service.config.max_body
        try:
            query = dict(parse_qsl(scope["query_string"].decode("latin-1")))
            run_id, seq = http_api.target(query, http_api.media_type(headers.get("content-type")))
            row = (run_id, seq, http_api.number(await read_body(receive, limit)))
        except http_api.BadRequest as exc:
            return http_api.rejected(self.service, self.transport, exc)
        return await http_api.commit(self.service, self.transport, row)


def budget(max_connections: int) -> dict[str, Any]:
    """Granian's connection budget and timeouts, from --max-connections.

    Granian holds at most ``backpressure`` connections (TLS done) at once; the next ones wait in
    the kernel's accept queue, as deep as the budget, and take the place of one that ends.
    The timeouts make sure one does: a client that sends no request headers within
    HEADER_TIMEOUT_S, or an HTTP/2 connection that answers no PING, is closed.
    """
    return {
        "backlog": max_connections,  # granian raises it to 128 at least; the kernel caps it
        "backpressure": max_connections,
        "http1_settings": HTTP1Settings(header_read_timeout=HEADER_TIMEOUT_S * 1000),
        "http2_settings": HTTP2Settings(
            keep_alive_interval=H2_PING_INTERVAL_S * 1000,  # milliseconds
            keep_alive_timeout=H2_PING_TIMEOUT_S,  # seconds
        ),
    }


def is_get_route(path: str) -> bool:
    """A path that GET answers (the shared routes and /metrics), so another method gets 405."""
    return path in (*PAGE_PATHS, *SCRIPTS, INFO_PATH, "/metrics") or path.startswith(RUNS_PREFIX)


async def read_body(receive: Receive, limit: int) -> bytes:
    """The request body, at most ``limit`` bytes, or BadRequest."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise http_api.BadRequest("the request body was cut short")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            await drain(receive, message)
            raise http_api.too_big(limit)
        chunks.append(chunk)
        if not message.get("more_body"):
            return b"".join(chunks)


async def drain(receive: Receive, message: MutableMapping[str, Any]) -> None:
    """Read and drop the rest of an oversized body, up to DRAIN_BYTES, so an HTTP/1.1 client
    that is still sending gets to read its 413 instead of a reset connection."""
    drained = 0
    while message.get("more_body") and drained < DRAIN_BYTES:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
        drained += len(message.get("body", b""))


@contextlib.contextmanager
def reserved_port(host: str, port: int, shared: bool) -> Iterator[int]:
    """Hold ``port`` (0: pick a free one) until granian, which binds with SO_REUSEPORT, listens.

    Yields the port number. The holding socket never listens, so it takes no connections.
    Unless ``shared`` (--workers), a port some other server listens on is an error, as it would
    be without SO_REUSEPORT.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as holder:
        if port and not shared and holder.connect_ex((host.strip("[]"), port)) == 0:
            raise address_in_use("TCP", host, port)
    with socket.socket(family, socket.SOCK_STREAM) as holder:
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        holder.bind((host.strip("[]"), port))
        yield holder.getsockname()[1]


async def until_listening(host: str, port: int, task: asyncio.Task[None]) -> None:
    """Wait until the server accepts connections, or fail with what stopped it."""
    deadline = asyncio.get_running_loop().time() + READY_TIMEOUT_S
    while True:
        if task.done():
            raise OSError(f"the HTTPS server on port {port} stopped at start: {task.exception()}")
        try:
            _, writer = await asyncio.open_connection(host.strip("[]"), port)
        except OSError:
            if asyncio.get_running_loop().time() > deadline:
                raise OSError(f"the HTTPS server did not listen on port {port}") from None
            await asyncio.sleep(0.01)  # granian binds in its own thread; poll until it has
            continue
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
        return


def address_in_use(protocol: str, host: str, port: int) -> OSError:
    """EADDRINUSE naming the address, as asyncio's own bind error does."""
    address = (host.strip("[]"), port)
    return OSError(
        errno.EADDRINUSE,
        f"error while attempting to bind on {protocol} address {address!r}: "
        f"{os.strerror(errno.EADDRINUSE).lower()}",
    )


def offer(service: Service) -> list[HttpsServer]:
    """With --tls: HTTP/1.1 and HTTP/2 over TLS, each on its own port, from one library."""
    if service.certificate is None:
        return []
    return [
        HttpsServer(service, Transport.HTTP, Port.HTTP),
        HttpsServer(service, Transport.HTTP2, Port.HTTP2),
    ]
