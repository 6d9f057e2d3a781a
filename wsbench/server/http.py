"""The HTTP side, for comparison: ``POST /numbers`` answered after the commit, over keep-alive.

Served by aiohttp: a real HTTP/1.1 server with keep-alive and request bodies, which the
``process_request`` hook of websockets is not.
"""

from __future__ import annotations

import asyncio
import contextlib
import http
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from urllib.parse import urlsplit

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from ..vocabulary import Port, Transport
from . import http_api
from .limits import HEADER_TIMEOUT_S, RefusalLog
from .routes import GET_ROUTES, Answer, answer_get
from .service import Service

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
REFUSAL_LINGER_S = 1.0


class QuietBadRequests(logging.Filter):
    """Drop aiohttp's traceback for each malformed request: the client got its 400 already."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        return not isinstance(error, HttpProcessingError)


QUIET_BAD_REQUESTS = QuietBadRequests()


class HttpServer:
    """``POST /numbers`` through the shared writer; also the page, ``/info`` and ``/runs/<id>``."""

    port = Port.HTTP

    def __init__(self, service: Service) -> None:
        self.service = service
        self.app = web.Application(middlewares=[self.cors], client_max_size=service.config.max_body)
        self.app.add_routes(
            [
                *(web.get(path, self.shared_route) for path in GET_ROUTES),
                web.get("/metrics", self.metrics),
                web.post(http_api.NUMBERS_PATH, self.post_number),
                web.options(http_api.NUMBERS_PATH, self.preflight),
            ]
        )

    @contextlib.asynccontextmanager
    async def serve(self) -> AsyncIterator[int]:
        """Listen until the context exits, finishing requests in flight; yield the port."""
        logging.getLogger("aiohttp.server").addFilter(QUIET_BAD_REQUESTS)
        # aiohttp closes a connection whose request has not fully arrived this long after it
        # opened, or after its previous answer: the header timeout (it has no other).
        runner = web.AppRunner(
            self.app, access_log=None, handle_signals=False, keepalive_timeout=HEADER_TIMEOUT_S
        )
        await runner.setup()
        try:
            config = self.service.config
            assert runner.server is not None
            budget = Budget(runner.server, config.max_connections)
            listener = await asyncio.get_running_loop().create_server(
                budget.protocol,
                config.host,
                config.http_port,
                backlog=max(128, config.max_connections),
                reuse_port=config.reuse_port,
            )
            try:
                yield listener.sockets[0].getsockname()[1]
            finally:
                listener.close()
        finally:
            await runner.cleanup()

    async def drain(self) -> None:
        """Nothing to refuse early: requests under way are answered before the port closes."""

    @web.middleware
    async def cors(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Refuse writes from foreign pages; add CORS headers for the allowed ones."""
        origin = request.headers.get("Origin")
        response: web.StreamResponse
        if refusal := http_api.refused(self.service, request.method, origin):
            response = to_response(refusal)
        else:
            try:
                response = await handler(request)
            except web.HTTPException as exc:  # routing errors: 404, 405
                response = to_response(http_api.error(http.HTTPStatus(exc.status), exc.reason))
        for name, value in http_api.headers(self.service, origin):
            response.headers[name] = value
        return response

    async def post_number(self, request: web.Request) -> web.Response:
        """Commit one number; answer only once it is committed."""
        try:
            run_id, seq = http_api.target(request.query, request.content_type)
            try:
                body = await request.read()
            except web.HTTPRequestEntityTooLarge:
                raise http_api.too_big(self.service.config.max_body) from None
            except ConnectionResetError:  # the client left before its body was complete
                raise http_api.BadRequest("the request body was cut short") from None
            row = (run_id, seq, http_api.number(body))
        except http_api.BadRequest as exc:
            return to_response(http_api.rejected(self.service, Transport.HTTP, exc))
        return to_response(await http_api.commit(self.service, Transport.HTTP, row))

    async def preflight(self, request: web.Request) -> web.Response:
        """CORS preflight, for clients that send one; the page's plain-text POSTs need none."""
        return web.Response(status=204, headers=dict(http_api.PREFLIGHT))

    async def shared_route(self, request: web.Request) -> web.Response:
        """The page, its scripts, ``/info`` and ``/runs/<id>``, as the WebSocket port answers."""
        answer = await answer_get(self.service, urlsplit(request.raw_path).path)
        if answer is None:  # the routes above are the shared ones, so this is a bug
            raise web.HTTPNotFound()
        return to_response(answer)

    async def metrics(self, request: web.Request) -> web.Response:
        """Prometheus metrics."""
        body, content_type = self.service.metrics.render()
        return web.Response(body=body, headers={"Content-Type": content_type})


class Budget:
    """At most ``limit`` connections at once: the next one is answered 503 and closed at once."""

    def __init__(self, server: web.Server, limit: int) -> None:
        self.server = server
        self.limit = limit
        self.starting = 0  # protocols made whose connection_made has not run yet
        self.refusals = RefusalLog("HTTP", limit)
        body = json.dumps({"error": f"too many connections (limit {limit})"}).encode()
        self.refusal = (
            b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
            b"Connection: close\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
        )

    def protocol(self) -> asyncio.BaseProtocol:
        """A new connection's protocol: aiohttp's, or a refusal beyond the budget."""
        if len(self.server.connections) + self.starting >= self.limit:
            self.refusals.refusal()
            return Refusal(self.refusal)
        # asyncio runs connection_made right after this callback, which counts it from then on.
        self.starting += 1
        asyncio.get_running_loop().call_soon(self.started)
        return self.server()

    def started(self) -> None:
        self.starting -= 1


class Refusal(asyncio.Protocol):
    """Answers 503 to a connection beyond the budget and ends it: the answer, then the end of
    the stream, then closed once the client closes too, or REFUSAL_LINGER_S later (closing at
    once, with the request unread, would reset the connection before the client read why)."""

    def __init__(self, answer: bytes) -> None:
        self.answer = answer

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        transport.write(self.answer)
        transport.write_eof()
        asyncio.get_running_loop().call_later(REFUSAL_LINGER_S, transport.abort)

    def data_received(self, data: bytes) -> None:
        """The request: already answered."""


def to_response(answer: Answer) -> web.Response:
    """An answer as aiohttp's response."""
    return web.Response(
        status=answer.status.value,
        body=answer.body,
        headers={"Content-Type": answer.content_type, "X-Content-Type-Options": "nosniff"},
    )


def offer(service: Service) -> list[HttpServer]:
    """Without --tls: HTTP/1.1 in cleartext (with --tls, ``https`` serves the HTTP port)."""
    return [] if service.certificate else [HttpServer(service)]
