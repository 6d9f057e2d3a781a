"""The GET routes both servers answer: the page, its scripts, /info, /runs/<id>.

Each server adapts an ``Answer`` to its own response type and adds its own headers. The only I/O of
their own: the page's scripts, read once when the server starts.
"""

from __future__ import annotations

import http
import json
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..protocol import parse_run_id
from ..resources import PAGE_SCRIPTS, page_scripts

if TYPE_CHECKING:
    from .service import Service

logger = logging.getLogger("wsbench")

# In aiohttp's route syntax; the WebSocket server matches the same paths.
PAGE_PATHS = ("/", "/websocket.html")
SCRIPTS_PREFIX = "/page/"
# The allow-list of /page/: the scripts in page/ at start, by path. Only these exact paths are
# answered, so a request's path is never joined to a directory ("/page/../schema.sql" is a 404).
SCRIPTS = {SCRIPTS_PREFIX + name: body for name, body in page_scripts(PAGE_SCRIPTS).items()}
INFO_PATH = "/info"
RUNS_PREFIX = "/runs/"
GET_ROUTES = (*PAGE_PATHS, *SCRIPTS, INFO_PATH, RUNS_PREFIX + "{run_id}")

HTML = "text/html; charset=utf-8"
JAVASCRIPT = "text/javascript; charset=utf-8"
JSON = "application/json"


@dataclass(frozen=True)
class Answer:
    """A complete answer to a GET: status, body and its content type."""

    status: http.HTTPStatus
    body: bytes
    content_type: str

    @classmethod
    def json(cls, status: http.HTTPStatus, document: object) -> Answer:
        """A JSON answer."""
        return cls(status, json.dumps(document).encode(), JSON)


async def answer_get(service: Service, path: str) -> Answer | None:
    """The answer to ``GET path``, or None when the path is not one of the shared routes."""
    if path in PAGE_PATHS:
        return Answer(http.HTTPStatus.OK, service.page, HTML)
    if path in SCRIPTS:
        return Answer(http.HTTPStatus.OK, SCRIPTS[path], JAVASCRIPT)
    if path == INFO_PATH:
        return Answer.json(http.HTTPStatus.OK, service.info())
    if path.startswith(RUNS_PREFIX):
        return Answer.json(*await run_count(service, path.removeprefix(RUNS_PREFIX)))
    return None


async def run_count(service: Service, run_id: str) -> tuple[http.HTTPStatus, dict[str, Any]]:
    """``GET /runs/<id>``: how many committed rows a run has."""
    try:
        run_id = parse_run_id(run_id)
    except ValueError as exc:
        return http.HTTPStatus.BAD_REQUEST, {"error": str(exc)}
    try:
        rows = await service.store.count_rows(run_id)
    except Exception as exc:  # noqa: BLE001 - the caller gets the reason, the server goes on
        logger.error("counting the rows of run %s failed: %s", run_id, exc)
        return http.HTTPStatus.SERVICE_UNAVAILABLE, {"error": f"database: {exc}"}
    return http.HTTPStatus.OK, {"run": run_id, "store": service.store.kind, "rows": rows}
