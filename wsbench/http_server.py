"""The HTTP side, for comparison: ``POST /numbers`` answered after the commit, over keep-alive.

Served by aiohttp: a real HTTP/1.1 server with keep-alive and request bodies, which the
``process_request`` hook of websockets is not.
"""

from __future__ import annotations

import asyncio
import contextlib
import http
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from urllib.parse import urlsplit

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from .protocol import FrameError, parse_number, parse_run_id, parse_seq
from .routes import GET_ROUTES, answer_get
from .service import Service
from .vocabulary import Transport

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class QuietBadRequests(logging.Filter):
    """Drop aiohttp's traceback for each malformed request: the client got its 400 already."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        return not isinstance(error, HttpProcessingError)


QUIET_BAD_REQUESTS = QuietBadRequests()


class BadRequest(Exception):
    """A request that holds no valid number; the message says why."""

    def __init__(self, message: str, status: http.HTTPStatus = http.HTTPStatus.BAD_REQUEST):
        super().__init__(message)
        self.status = status


class NotStored(Exception):
    """The writer could not commit the number."""


class PendingNumber:
    """One request's number, waiting for the commit that holds it."""

    __slots__ = ("done",)
    transport = Transport.HTTP

    def __init__(self) -> None:
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def committed(self, count: int) -> None:
        """The number is committed: answer 200."""
        if not self.done.done():  # the client may have gone away
            self.done.set_result(None)

    def failed(self, count: int, reason: str) -> None:
        """The number is not committed: answer 503."""
        if not self.done.done():
            self.done.set_exception(NotStored(reason))


def error(status: http.HTTPStatus, message: str) -> web.Response:
    """A JSON error answer."""
    return web.json_response({"error": message}, status=status.value)


class HttpServer:
    """``POST /numbers`` through the shared writer; also the page, ``/info`` and ``/runs/<id>``."""

    def __init__(self, service: Service) -> None:
        self.service = service
        self.app = web.Application(middlewares=[self.cors], client_max_size=service.config.max_body)
        self.app.add_routes(
            [
                *(web.get(path, self.shared_route) for path in GET_ROUTES),
                web.get("/metrics", self.metrics),
                web.post("/numbers", self.post_number),
                web.options("/numbers", self.preflight),
            ]
        )

    @contextlib.asynccontextmanager
    async def serve(self) -> AsyncIterator[int]:
        """Listen until the context exits, finishing requests in flight; yield the port."""
        logging.getLogger("aiohttp.server").addFilter(QUIET_BAD_REQUESTS)
        runner = web.AppRunner(self.app, access_log=None, handle_signals=False)
        await runner.setup()
        try:
            config = self.service.config
            site = web.TCPSite(runner, config.host, config.http_port, reuse_port=config.reuse_port)
            await site.start()
            yield runner.addresses[0][1]
        finally:
            await runner.cleanup()

    @web.middleware
    async def cors(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Refuse writes from foreign pages; add CORS headers for the allowed ones."""
        origin = request.headers.get("Origin")
        allowed = origin is None or origin in self.service.origins
        if request.method == "POST" and not allowed:
            # A cross-site form or fetch can POST text/plain without a preflight: refuse it.
            response: web.StreamResponse = error(http.HTTPStatus.FORBIDDEN, "origin not allowed")
        else:
            try:
                response = await handler(request)
            except web.HTTPException as exc:  # routing errors: 404, 405
                response = error(http.HTTPStatus(exc.status), exc.reason)
        for name, value in self.service.cors_headers(origin):
            response.headers[name] = value
        response.headers["Cache-Control"] = "no-store"
        return response

    async def post_number(self, request: web.Request) -> web.Response:
        """Commit one number; answer only once it is committed. A resent (run, seq) is a no-op."""
        try:
            row = await self.read_row(request)
        except BadRequest as exc:
            self.service.metrics.rejected[Transport.HTTP] += 1
            return error(exc.status, str(exc))
        self.service.metrics.received[Transport.HTTP] += 1
        writer = self.service.writer
        if writer.full:
            await writer.wait_for_room()
        pending = PendingNumber()
        writer.submit(pending, row)
        try:
            await pending.done
        except NotStored as exc:
            return error(http.HTTPStatus.SERVICE_UNAVAILABLE, str(exc))
        return web.json_response({"acked": 1})

    async def read_row(self, request: web.Request) -> tuple[str, int, int]:
        """The (run, seq, number) a request carries, or BadRequest saying what is wrong."""
        try:
            if not request.query.get("run"):
                raise ValueError("run is required: the id of the run this number belongs to")
            run_id = parse_run_id(request.query["run"])
            seq = parse_seq(request.query.get("seq"))
        except ValueError as exc:
            raise BadRequest(str(exc)) from None
        if request.content_type != "text/plain":
            raise BadRequest(
                f"Content-Type must be text/plain, not {request.content_type}",
                http.HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
            )
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            limit = self.service.config.max_body
            raise BadRequest(
                f"body over {limit} bytes", http.HTTPStatus.REQUEST_ENTITY_TOO_LARGE
            ) from None
        except ConnectionResetError:  # the client left before its body was complete
            raise BadRequest("the request body was cut short") from None
        try:
            return run_id, seq, parse_number(body.decode("utf-8"))
        except UnicodeDecodeError:
            raise BadRequest("not an integer: the body is not UTF-8") from None
        except FrameError as exc:
            raise BadRequest(str(exc)) from None

    async def preflight(self, request: web.Request) -> web.Response:
        """CORS preflight, for clients that send one; the page's plain-text POSTs need none."""
        return web.Response(
            status=204,
            headers={
                "Access-Control-Allow-Methods": "POST",
                "Access-Control-Allow-Headers": "Content-Type",
                "Access-Control-Max-Age": "600",
            },
        )

    async def shared_route(self, request: web.Request) -> web.Response:
        """The page, ``/info`` and ``/runs/<id>``, answered as the WebSocket port answers them."""
        answer = await answer_get(self.service, urlsplit(request.raw_path).path)
        if answer is None:  # the routes above are the shared ones, so this is a bug
            raise web.HTTPNotFound()
        return web.Response(
            status=answer.status.value,
            body=answer.body,
            headers={"Content-Type": answer.content_type},
        )

    async def metrics(self, request: web.Request) -> web.Response:
        """Prometheus metrics."""
        body, content_type = self.service.metrics.render()
        return web.Response(body=body, headers={"Content-Type": content_type})
