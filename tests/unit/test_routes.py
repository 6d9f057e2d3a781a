"""The GET routes both servers share, answered for a fake service without sockets."""

from __future__ import annotations

import http
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from wsbench import __version__
from wsbench.batching import Row
from wsbench.resources import PAGE_SCRIPTS, page_scripts
from wsbench.server.config import load_config
from wsbench.server.routes import GET_ROUTES, SCRIPTS, answer_get
from wsbench.server.service import Service
from wsbench.vocabulary import Port, StoreKind


class CountingStore:
    """Holds a few runs' row counts and notes which runs it was asked for, or fails like a
    database that went away."""

    kind = StoreKind.MYSQL

    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.rows = {"abc": 7, "ABC": 3}
        self.asked: list[str] = []

    async def insert(self, rows: Sequence[Row]) -> None:
        """Nothing to do."""

    async def count_rows(self, run_id: str) -> int | None:
        self.asked.append(run_id)
        if self.fail:
            raise ConnectionError("MySQL went away")
        return self.rows.get(run_id, 0)


class FakeService:
    def __init__(self, store: CountingStore) -> None:
        self.store = store
        self.page = b"<!doctype html>"


async def answer(path: str, fail: bool = False) -> tuple[int, str, Any]:
    result = await answer_get(FakeService(CountingStore(fail)), path)  # type: ignore[arg-type]
    assert result is not None
    body = json.loads(result.body) if result.content_type == "application/json" else result.body
    return result.status, result.content_type, body


async def test_the_page_and_its_copy() -> None:
    assert await answer("/") == (http.HTTPStatus.OK, "text/html; charset=utf-8", b"<!doctype html>")
    assert await answer("/websocket.html") == await answer("/")


async def test_a_run_count_is_the_stores_count_of_that_run() -> None:
    store = CountingStore()
    service = FakeService(store)
    for path, run_id, rows in (("/runs/abc", "abc", 7), ("/runs/ABC", "ABC", 3),
                               ("/runs/other", "other", 0)):  # fmt: skip
        result = await answer_get(service, path)  # type: ignore[arg-type]
        assert result is not None
        assert (result.status, result.content_type) == (http.HTTPStatus.OK, "application/json")
        assert json.loads(result.body) == {"run": run_id, "store": "mysql", "rows": rows}
    assert store.asked == ["abc", "ABC", "other"]  # each run asked for once, as it is spelled


async def test_info_is_the_real_services_info_as_it_is_now() -> None:
    """The server's own /info (a real Service, storing nothing): its store and its ports, read
    when asked, so ports bound after the start show."""
    async with Service.start(load_config(["--db", "null:"], environ={})) as service:
        service.listening({Port.WEBSOCKET: 8765, Port.HTTP: 8766})
        first = await answer_get(service, "/info")
        service.listening({Port.WEBSOCKET: 9001, Port.HTTP: 9002, Port.HTTP2: 9003})
        second = await answer_get(service, "/info")
    assert first is not None and second is not None
    assert (first.status, first.content_type) == (http.HTTPStatus.OK, "application/json")
    info = json.loads(first.body)
    assert info["server"] == "wsbench" and info["version"] == __version__
    assert (info["store"], info["durable"], info["commit"]) == ("null", False, "group")
    assert (info["ws_port"], info["http_port"], info["h2_port"], info["tls"]) == (
        8765, 8766, None, False
    )  # fmt: skip
    assert "NOTHING IS STORED" in info["notice"]
    ports = json.loads(second.body)
    assert (ports["ws_port"], ports["http_port"], ports["h2_port"]) == (9001, 9002, 9003)


async def test_a_bad_run_id_is_400_and_a_database_error_503() -> None:
    status, _, body = await answer("/runs/a%20b")
    assert status == http.HTTPStatus.BAD_REQUEST and "run id must be" in body["error"]
    status, _, body = await answer("/runs/abc", fail=True)
    assert status == http.HTTPStatus.SERVICE_UNAVAILABLE
    assert body == {"error": "database: MySQL went away"}


async def test_other_paths_are_not_shared_routes() -> None:
    service = FakeService(CountingStore())
    for path in ("/metrics", "/numbers", "/nope", "/info/"):
        assert await answer_get(service, path) is None  # type: ignore[arg-type]
    assert list(GET_ROUTES) == ["/", "/websocket.html", *SCRIPTS, "/info", "/runs/{run_id}"]


async def test_every_script_in_page_is_served_as_javascript() -> None:
    names = sorted(path.name for path in PAGE_SCRIPTS.glob("*.js"))
    assert "runner.js" in names
    assert list(SCRIPTS) == [f"/page/{name}" for name in names]
    for name in names:
        assert await answer(f"/page/{name}") == (
            http.HTTPStatus.OK,
            "text/javascript; charset=utf-8",
            (PAGE_SCRIPTS / name).read_bytes(),
        )


@pytest.mark.parametrize(
    "path",
    [
        "/page/../schema.sql",
        "/page/../websocket.html",
        "/page/%2e%2e/schema.sql",
        "/page/..%2fschema.sql",
        "/page/./common.js",
        "/page//common.js",
        "/page/common.js/",
        "/page/COMMON.JS",
        "/page/common",
        "/page/nope.js",
        "/page/",
        "/page",
        "/common.js",
    ],
)
async def test_only_the_allow_listed_scripts_are_answered(path: str) -> None:
    assert await answer_get(FakeService(CountingStore()), path) is None  # type: ignore[arg-type]


def test_the_allow_list_holds_the_scripts_directly_in_the_directory(tmp_path: Path) -> None:
    (tmp_path / "a.js").write_text("1")
    (tmp_path / "notes.txt").write_text("not a script")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.js").write_text("2")
    (tmp_path / "dir.js").mkdir()
    assert page_scripts(tmp_path) == {"a.js": b"1"}
    assert page_scripts(tmp_path / "missing") == {}
