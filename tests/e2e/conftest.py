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

from wsbench.resources import SCHEMA
from wsbench.store import mysql_connect
from wsbench.store.url import DatabaseURL, parse_database_url
from wsbench.testing import chromium
from wsbench.testing.browser import Browser, BrowserMissing, BrowserName, launch
from wsbench.testing.server import ServerProcess
from wsbench.testing.wire import Link, WireUnavailable, private_link

ADMIN_FILE = "/etc/wsbench/test-admin-db"  # written by scripts/setup-tests.sh, root's only


def admin_url() -> str:
    """The tests' MariaDB admin: $WSBENCH_TEST_ADMIN_DB, else the account scripts/setup-tests.sh
    made (docs/testing.md), else MariaDB's root over TCP without a password."""
    if url := os.environ.get("WSBENCH_TEST_ADMIN_DB"):
        return url
    try:
        with open(ADMIN_FILE) as file:
            return file.read().strip()
    except OSError:  # none made, or not root
        return "mysql://root@127.0.0.1:3306/test"


ADMIN_URL = admin_url()
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


@dataclass(frozen=True)
class ServerUser:
    """A MySQL user a test made for a server of its own (``Database.own_user``)."""

    name: str
    schema: str = "test"

    @property
    def account(self) -> str:
        """The account as SQL names it."""
        return f"'{self.name}'@'127.0.0.1'"

    @property
    def url(self) -> str:
        """The ``--db`` URL of a server writing as this user."""
        return f"mysql://{self.name}@127.0.0.1:3306/{self.schema}"


class Database:
    """The test's view of MariaDB: count and clean up the rows of the runs it made."""

    def __init__(self, url: DatabaseURL) -> None:
        self.url = url
        self.connection = admin_connect(url)
        self.run_ids: list[str] = []
        self.run_prefixes: list[str] = []

    def new_run_id(self) -> str:
        """A run id of this test session's own, deleted at the end."""
        run_id = f"pytest-{uuid.uuid4().hex[:16]}"
        self.run_ids.append(run_id)
        return run_id

    def new_run_prefix(self) -> str:
        """A run-id prefix of this session's own, for runs whose ids a client makes up
        (``PREFIX-...``): registered before they start, so their rows are deleted at the end even
        when the run fails."""
        prefix = f"pytest-{uuid.uuid4().hex[:12]}"
        self.run_prefixes.append(prefix)
        return prefix

    def delete_runs_of(self, prefix: str) -> None:
        """Delete the rows of every run named ``PREFIX-...``."""
        self.query("DELETE FROM test.testing WHERE run_id LIKE %s", f"{prefix}-%")

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
        for prefix in self.run_prefixes:
            self.delete_runs_of(prefix)
        self.connection.close()

    @contextlib.contextmanager
    def own_user(self, schema: str = "test") -> Iterator[ServerUser]:
        """A MySQL user of this test's own, with the grants schema.sql gives ``wsbench`` (SELECT
        and INSERT on ``schema``.testing, from 127.0.0.1), dropped on exit. Killing its
        connections or revoking its grants hits the server started with its URL only, not the
        session's servers (nor another session's)."""
        user = ServerUser(f"wsbt_{uuid.uuid4().hex[:12]}", schema)
        self.query(f"CREATE USER {user.account}")
        try:
            self.query(f"GRANT SELECT, INSERT ON {schema}.testing TO {user.account}")
            yield user
        finally:
            self.query(f"DROP USER IF EXISTS {user.account}")

    def connections_of(self, user: str) -> list[int]:
        """Ids of the MySQL connections ``user`` holds now."""
        rows = self.query("SELECT id FROM information_schema.PROCESSLIST WHERE user = %s", user)
        return [connection_id for (connection_id,) in rows]


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


@pytest.fixture
def run_prefix(database: Database) -> Iterator[str]:
    """A run-id prefix of this test's own, for a client that names its runs (the bench client's
    ``--run-prefix``); its rows are deleted after the test, failed or not."""
    prefix = database.new_run_prefix()
    yield prefix
    database.delete_runs_of(prefix)


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
