"""``POST /numbers`` and the headers of every HTTP port, whichever server library carries them.

The checks and answers live here once; ``http_server`` (aiohttp) and ``https_server`` (granian)
only move bytes.
"""

from __future__ import annotations

import asyncio
import http
from collections.abc import Mapping
from typing import TYPE_CHECKING

from ..batching import Row
from ..protocol import FrameError, parse_number, parse_run_id, parse_seq
from ..vocabulary import Transport
from .routes import Answer

if TYPE_CHECKING:
    from .service import Service

NUMBERS_PATH = "/numbers"
ACKED = Answer.json(http.HTTPStatus.OK, {"acked": 1})
PREFLIGHT = (
    ("Access-Control-Allow-Methods", "POST"),
    ("Access-Control-Allow-Headers", "Content-Type"),
    ("Access-Control-Max-Age", "600"),
)
# What aiohttp reports for a request without a Content-Type; both servers say the same.
NO_CONTENT_TYPE = "application/octet-stream"


class BadRequest(Exception):
    """A request that holds no valid number; the message says why."""

    def __init__(self, message: str, status: http.HTTPStatus = http.HTTPStatus.BAD_REQUEST):
        super().__init__(message)
        self.status = status


class NotStored(Exception):
    """The writer could not commit the number."""


class PendingNumber:
    """One request's number, waiting for the commit that holds it."""

    __slots__ = ("done", "transport")

    def __init__(self, transport: Transport) -> None:
        self.transport = transport
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def committed(self, count: int) -> None:
        """The number is committed: answer 200."""
        if not self.done.done():  # the client may have gone away
            self.done.set_result(None)

    def failed(self, count: int, reason: str) -> None:
        """The number is not committed: answer 503."""
        if not self.done.done():
            self.done.set_exception(NotStored(reason))


def error(status: http.HTTPStatus, message: str) -> Answer:
    """A JSON error answer."""
    return Answer.json(status, {"error": message})


def refused(service: Service, method: str, origin: str | None) -> Answer | None:
    """403 for a write from a page of a foreign origin, None for anything else."""
    # A cross-site form or fetch can POST text/plain without a preflight: refuse it.
    if method == "POST" and origin is not None and origin not in service.origins:
        return error(http.HTTPStatus.FORBIDDEN, "origin not allowed")
    return None


def headers(service: Service, origin: str | None) -> list[tuple[str, str]]:
    """The headers every HTTP answer carries: CORS for allowed pages, never cached."""
    return [*service.cors_headers(origin), ("Cache-Control", "no-store")]


def media_type(content_type: str | None) -> str:
    """``text/plain`` of ``text/plain; charset=utf-8``, as aiohttp's ``content_type`` says it."""
    if not content_type:
        return NO_CONTENT_TYPE
    return content_type.split(";", 1)[0].strip().lower()


def target(query: Mapping[str, str], content_type: str) -> tuple[str, int]:
    """The (run, seq) a request is for, or BadRequest saying what is wrong."""
    try:
        if not query.get("run"):
            raise ValueError("run is required: the id of the run this number belongs to")
        run_id = parse_run_id(query["run"])
        seq = parse_seq(query.get("seq"))
    except ValueError as exc:
        raise BadRequest(str(exc)) from None
    if content_type != "text/plain":
        raise BadRequest(
            f"Content-Type must be text/plain, not {content_type}",
            http.HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
        )
    return run_id, seq


def too_big(limit: int) -> BadRequest:
    """The answer to a body over ``--max-body``."""
    return BadRequest(f"body over {limit} bytes", http.HTTPStatus.REQUEST_ENTITY_TOO_LARGE)


def number(body: bytes) -> int:
    """The number a request body holds, or BadRequest."""
    try:
        return parse_number(body.decode("utf-8"))
    except UnicodeDecodeError:
        raise BadRequest("not an integer: the body is not UTF-8") from None
    except FrameError as exc:
        raise BadRequest(str(exc)) from None


async def commit(service: Service, transport: Transport, row: Row) -> Answer:
    """Commit one number; answer only once it is committed. A resent (run, seq) is a no-op."""
    writer = service.writer
    if writer.full:
        await writer.wait_for_room()
    pending = PendingNumber(transport)
    writer.submit(pending, row)
    try:
        await pending.done
    except NotStored as exc:
        return error(http.HTTPStatus.SERVICE_UNAVAILABLE, str(exc))
    return ACKED


def rejected(service: Service, transport: Transport, exc: BadRequest) -> Answer:
    """Count a request that held no valid number and answer it."""
    service.metrics.rejected[transport] += 1
    return error(exc.status, str(exc))
