"""Shared fixtures: the real MariaDB, real server processes, real browsers."""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import subprocess
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import mysql.connector
import pytest

from wsbench.config import DatabaseURL, parse_database_url
from wsbench.resources import SCHEMA
from wsbench.store import mysql_connect
from wsbench.testing import chromium
from wsbench.testing.browser import Browser, BrowserMissing, BrowserName, launch
from wsbench.testing.server import ServerProcess
from wsbench.testing.wire import Link, WireUnavailable, private_link

ADMIN_URL = os.environ.get("WSBENCH_TEST_ADMIN_DB", "mysql://root@127.0.0.1:3306/test")
MYSQL_URL = "mysql://wsbench@127.0.0.1:3306/test"  # the server's own user from schema.sql
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def missing(what: str) -> None:
    """A prerequisite is absent: fail in CI, skip locally, and say which."""
    if IN_CI:
        pytest.fail(f"{what} (CI=true: a missing prerequisite fails the run)", pytrace=False)
    pytest.skip(what)


def admin_connect(url: DatabaseURL) -> mysql.connector.abstracts.MySQLConnectionAbstract:
    """A privileged connection that sees what other connections committed."""
    return mysql_connect(url, autocommit=True)


def apply_schema(url: DatabaseURL, database: str = "test") -> subprocess.CompletedProcess[str]:
    """Run schema.sql the way the README tells users to, with the mysql client.

    ``database``: another database than ``test`` gets the same statements, for a scratch copy.
    """
    client = shutil.which("mariadb") or shutil.which("mysql")
    if client is None:
        missing("the mysql command-line client is not installed (apt-get install mariadb-client)")
    command = [client, "--protocol=tcp", "-h", url.host, "-P", str(url.port), "-u", url.user]
    env = dict(os.environ, MYSQL_PWD=url.password)
    statements = SCHEMA.read_text()
    if database != "test":
        statements = statements.replace("test.", f"{database}.").replace("'test'", f"'{database}'")
        statements = statements.replace("EXISTS test ", f"EXISTS {database} ")
    return subprocess.run(
        command, input=statements, capture_output=True, text=True, env=env, timeout=60
    )


class Database:
    """The test's view of MariaDB: count and clean up the rows of the runs it made."""

    def __init__(self, url: DatabaseURL) -> None:
        self.url = url
        self.connection = admin_connect(url)
        self.run_ids: list[str] = []

    def new_run_id(self) -> str:
        """A run id of this test session's own, deleted at the end."""
        run_id = f"pytest-{uuid.uuid4().hex[:16]}"
        self.run_ids.append(run_id)
        return run_id

    def query(self, sql: str, *params: object) -> list[tuple]:
        cursor = self.connection.cursor()
        cursor.execute(sql, params)
        rows = cursor.fetchall()
        cursor.close()
        return rows

    def count(self, run_id: str) -> int:
        """Rows committed for a run, as a separate connection sees them."""
        return self.query("SELECT COUNT(*) FROM test.testing WHERE run_id = %s", run_id)[0][0]

    def numbers(self, run_id: str) -> list[int]:
        rows = self.query("SELECT number FROM test.testing WHERE run_id = %s ORDER BY seq", run_id)
        return [number for (number,) in rows]

    def cleanup(self) -> None:
        for run_id in self.run_ids:
            self.query("DELETE FROM test.testing WHERE run_id = %s", run_id)
        self.connection.close()


@pytest.fixture(scope="session")
def database() -> Iterator[Database]:
    """MariaDB with schema.sql applied; the rows the tests made are deleted afterwards."""
    url = parse_database_url(ADMIN_URL)
    try:
        admin_connect(url).close()
    except mysql.connector.Error as exc:
        missing(f"MySQL/MariaDB is not reachable at {url.redacted()}: {exc}")
    result = apply_schema(url)
    assert result.returncode == 0, f"schema.sql failed: {result.stderr}"
    db = Database(url)
    yield db
    db.cleanup()


@pytest.fixture(scope="session")
def start_server() -> Iterator[Callable[..., ServerProcess]]:
    """Start servers with given flags; every one is stopped at the end of the session."""
    started: list[ServerProcess] = []

    def start(*args: str, env: dict[str, str] | None = None) -> ServerProcess:
        server = ServerProcess(*args, env=env)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture(scope="session")
def mysql_server(database: Database, start_server: Callable[..., ServerProcess]) -> ServerProcess:
    """One server writing to MySQL as the least-privilege user of schema.sql."""
    return start_server("--db", MYSQL_URL)


@dataclass
class Target:
    """A server with a store behind it, and a way to see that store from outside."""

    name: str
    server: ServerProcess
    numbers: Callable[[str], list[int]]

    def count(self, run_id: str) -> int:
        return len(self.numbers(run_id))


@pytest.fixture(scope="session", params=["mysql", "mysql-per-message", "sqlite"])
def target(
    request: pytest.FixtureRequest,
    database: Database,
    start_server: Callable[..., ServerProcess],
    tmp_path_factory: pytest.TempPathFactory,
) -> Target:
    """The same tests against MySQL with group commit, with per-message commit, and SQLite."""
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("sqlite") / "wsbench.db"
        server = start_server("--db", f"sqlite:///{path}")

        def numbers(run_id: str) -> list[int]:
            with contextlib.closing(sqlite3.connect(path)) as connection:
                rows = connection.execute(
                    "SELECT number FROM testing WHERE run_id = ? ORDER BY id", (run_id,)
                )
                return [number for (number,) in rows]

        return Target("sqlite", server, numbers)
    commit = "per-message" if request.param == "mysql-per-message" else "group"
    server = start_server("--db", MYSQL_URL, "--commit", commit)
    return Target(request.param, server, database.numbers)


@pytest.fixture(scope="session")
def tls_server(database: Database, start_server: Callable[..., ServerProcess]) -> ServerProcess:
    """A server with --tls (a fresh self-signed certificate) writing to MySQL."""
    return start_server("--db", MYSQL_URL, "--tls")


@pytest.fixture(scope="session")
def null_server(start_server: Callable[..., ServerProcess]) -> ServerProcess:
    """One server that stores nothing."""
    return start_server("--db", "null:")


@pytest.fixture
def link() -> Iterator[Link]:
    """A network namespace of its own joined to this one by a veth pair (needs root)."""
    try:
        with private_link() as made:
            yield made
    except WireUnavailable as exc:
        missing(str(exc))


# Module scope: Playwright's sync API keeps an event loop running in this thread while it is
# open, which would stop the asyncio tests of later modules.
@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's headless Chromium, driven by Playwright (its whole API, for Chromium-only tests)."""
    try:
        with chromium.launch() as launched:
            yield launched
    except BrowserMissing as exc:
        missing(str(exc))


@pytest.fixture(scope="module", params=list(BrowserName))
def any_browser(request: pytest.FixtureRequest) -> Iterator[Browser]:
    """Each browser in turn, Chromium, Firefox, then WebKitGTK, through the small interface they
    share.

    A module uses this or ``browser``, not both: two Playwright instances cannot share a thread.
    """
    try:
        with launch(request.param) as launched:
            yield launched
    except BrowserMissing as exc:
        missing(str(exc))
