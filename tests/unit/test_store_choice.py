"""Which store a configuration opens, against a fake MySQL: TCP, then a unix socket, then SQLite."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

import wsbench.store
from wsbench.server.config import Config
from wsbench.store import DatabaseUnreachable, StartupError, default_socket, open_store
from wsbench.store.url import DatabaseURL
from wsbench.vocabulary import StoreKind


class FakeMySQL:
    """Answers over the unix sockets in ``answering`` only; records every URL it was given."""

    tried: list[DatabaseURL] = []
    answering: dict[str, Exception | None] = {}  # socket -> None (answers) or the error it raises

    def __init__(self, url: DatabaseURL) -> None:
        self.url = url
        self.kind = StoreKind.MYSQL
        self.target = "test.testing"

    async def __aenter__(self) -> FakeMySQL:
        FakeMySQL.tried.append(self.url)
        if self.url.unix_socket not in FakeMySQL.answering:
            raise DatabaseUnreachable(f"cannot connect to MySQL at {self.url.redacted()}")
        if error := FakeMySQL.answering[self.url.unix_socket]:
            raise error
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        pass


@pytest.fixture
def sockets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The default sockets, moved here: the first absent, the second a file, the third listening."""
    monkeypatch.chdir(tmp_path)  # SQLite's wsbench.db lands here; a short path for bind()
    monkeypatch.setattr(wsbench.store, "MySQLStore", FakeMySQL)
    monkeypatch.setattr(FakeMySQL, "tried", [])
    monkeypatch.setattr(FakeMySQL, "answering", {})
    (tmp_path / "file.sock").write_text("not a socket")
    paths = [str(tmp_path / name) for name in ("absent.sock", "file.sock", "mysqld.sock")]
    with socket.socket(socket.AF_UNIX) as listening:
        listening.bind("mysqld.sock")
        monkeypatch.setattr(wsbench.store, "DEFAULT_SOCKETS", tuple(paths))
        yield paths


def test_the_first_default_socket_that_is_a_socket_is_used(sockets: list[str]) -> None:
    assert default_socket(sockets) == sockets[2]
    assert default_socket(sockets[:2]) is None


async def test_no_mysql_on_tcp_tries_the_same_database_over_its_socket(sockets: list[str]) -> None:
    FakeMySQL.answering[sockets[2]] = None
    async with open_store(Config().db, chosen=False) as store:
        assert store.kind is StoreKind.MYSQL
        assert store.target == f"test.testing over {sockets[2]}"  # what the start-up line says
    tcp, over_socket = FakeMySQL.tried
    assert (tcp.unix_socket, over_socket.unix_socket) == ("", sockets[2])
    assert over_socket.user == "wsbench" and over_socket.database == "test"
    assert not Path("wsbench.db").exists()


async def test_no_mysql_on_the_socket_either_falls_back_to_sqlite(sockets: list[str]) -> None:
    async with open_store(Config().db, chosen=False) as store:
        assert store.kind is StoreKind.SQLITE
        assert store.notice is not None
        assert store.notice.startswith(
            f"No MySQL answered at 127.0.0.1:3306 or on {sockets[2]}, so numbers go to SQLite in "
        )
    assert len(FakeMySQL.tried) == 2
    assert Path("wsbench.db").exists()


async def test_no_socket_at_all_falls_back_to_sqlite_at_once(
    sockets: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(wsbench.store, "DEFAULT_SOCKETS", tuple(sockets[:2]))
    async with open_store(Config().db, chosen=False) as store:
        assert store.kind is StoreKind.SQLITE
        assert store.notice is not None
        assert store.notice.startswith("No MySQL answered at 127.0.0.1:3306, so numbers go to")
    assert len(FakeMySQL.tried) == 1


async def test_a_mysql_that_answers_on_the_socket_but_refuses_is_an_error(
    sockets: list[str],
) -> None:
    FakeMySQL.answering[sockets[2]] = StartupError("access denied for MySQL user 'wsbench'")
    with pytest.raises(StartupError, match="access denied"):
        async with open_store(Config().db, chosen=False):
            pass
    assert not Path("wsbench.db").exists()


async def test_a_chosen_database_that_does_not_answer_is_an_error(sockets: list[str]) -> None:
    FakeMySQL.answering[sockets[2]] = None
    with pytest.raises(DatabaseUnreachable):
        async with open_store(Config().db, chosen=True):
            pass
    assert len(FakeMySQL.tried) == 1  # neither the socket nor SQLite
    assert not Path("wsbench.db").exists()
