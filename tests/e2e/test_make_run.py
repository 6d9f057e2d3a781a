"""`make run` as a newcomer types it: on a machine without MySQL it serves on SQLite, loudly; with
MySQL answering, a schema.sql that fails stops it with the fix."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import shutil
import signal
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from wsbench.store import DEFAULT_SOCKETS
from wsbench.testing.server import ROOT, LoggedProcess

from .conftest import Database, missing

VENV = Path(sys.prefix)  # the tests' own virtual environment, which `make run` would build
# The tree `make run` runs in: a copy, so the SQLite file it falls back to lands there.
LEFT_OUT = (".git", ".venv", "__pycache__", "*.db", "*.db-*", ".*_cache", ".hypothesis")


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """A copy of the checkout, with its files' times, without .venv, .git or a SQLite file."""
    copy = tmp_path / "wsbench"
    shutil.copytree(ROOT, copy, ignore=shutil.ignore_patterns(*LEFT_OUT), symlinks=True)
    return copy


def make_run(checkout: Path, *arguments: str) -> list[str]:
    """The real `make run`, with the tests' virtual environment taken as installed (`-o`: no pip
    without the network of a namespace)."""
    venv = f"VENV={VENV}"
    return ["make", "--no-print-directory", "-C", str(checkout), "-o", f"{VENV}/.run-installed",
            venv, *arguments, "run"]  # fmt: skip


# What a make that runs the tests (`make test ARGS=...`) hands down to `make run`: its command
# line's variables come in the environment and in MAKEFLAGS.
MAKE_VARIABLES = {"ARGS", "LINK", "MYSQL", "VENV", "PY", "PYTHON"}
MAKE_STATE = {"MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES"}


def environment(*without: str) -> dict[str, str]:
    """This environment for make, without ``without`` and without what a make running the tests
    passed down."""
    drop = {*without, *MAKE_VARIABLES, *MAKE_STATE}
    return {name: value for name, value in os.environ.items() if name not in drop}


@contextlib.contextmanager
def running(command: Sequence[str], env: dict[str, str]) -> Iterator[LoggedProcess]:
    """``command`` in a session of its own, its output collected; on the way out its whole process
    group (make, its shell, the server) is stopped, the namespaces with it."""
    make = LoggedProcess(["setsid", *command], env)
    try:
        yield make
    finally:
        # setsid makes the child the leader of a new group unless it already led one (then it
        # forks, and the group is not the child's): never signal a group this test is in.
        group = make.process.pid
        with contextlib.suppress(ProcessLookupError):
            if os.getpgid(group) != group:
                make.stop()
                group = 0
        for sig in (signal.SIGTERM, signal.SIGKILL) if group else ():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(group, sig)
            with contextlib.suppress(subprocess.TimeoutExpired):
                make.process.wait(timeout=20)
                break


def without_mysql(empty: Path | None) -> list[str]:
    """A prefix that runs a command where no MySQL answers: a network namespace of its own (so
    nothing listens on its 127.0.0.1:3306) and a mount namespace with /dev/null over MySQL's
    unix sockets, and with ``empty`` (a file nobody may run) over the mysql client."""
    hide = [path for path in DEFAULT_SOCKETS if os.path.exists(path)]
    clients = {path for name in ("mysql", "mariadb") if (path := shutil.which(name))}
    binds = [f"mount --bind /dev/null {shlex.quote(path)} || exit 1;" for path in hide]
    if empty is not None:
        binds += [f"mount --bind {shlex.quote(str(empty))} {shlex.quote(os.path.realpath(path))}"
                  " || exit 1;" for path in clients]  # fmt: skip
    script = "ip link set lo up || exit 1; " + " ".join(binds) + ' exec "$@"'
    return ["unshare", "--net", "--mount", "sh", "-c", script, "sh"]


# Run inside the namespace: one run of 100 numbers over the WebSocket, then what /info tells the
# page.
CLIENT = """
import asyncio, json, sys, urllib.request
from wsbench.bench.client import send_run
result = asyncio.run(send_run("ws://127.0.0.1:8765", sys.argv[1], range(1, 101), timeout_s=60))
info = json.loads(urllib.request.urlopen("http://127.0.0.1:8766/info", timeout=30).read())
print(json.dumps({"acked": result.acked, "store": result.hello.get("store"), "info": info}))
"""


@pytest.mark.parametrize("client", ["no mysql client", "a mysql client"])
def test_make_run_without_mysql_serves_on_sqlite_and_says_so(
    checkout: Path, tmp_path: Path, client: str
):
    if os.geteuid() != 0 or not all(map(shutil.which, ("unshare", "nsenter", "ip"))):
        missing("this test needs root, unshare, nsenter and ip for its namespaces")
    if client == "a mysql client" and not (shutil.which("mysql") or shutil.which("mariadb")):
        missing("the mysql command-line client is not installed (apt-get install mariadb-client)")
    empty = tmp_path / "no-client"  # what hides the client: readable by all, runnable by none
    empty.touch(mode=0o644)
    env = environment("WSBENCH_DB")
    command = [*without_mysql(empty if client == "no mysql client" else None), *make_run(checkout)]
    run_id = f"pytest-{uuid.uuid4().hex[:16]}"
    with running(command, env) as make:
        make.wait_for("listening on ws://127.0.0.1:8765")
        answer = subprocess.run(
            ["nsenter", "-t", str(make.process.pid), "-n", sys.executable, "-c", CLIENT, run_id],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=checkout,
        )
        assert answer.returncode == 0, answer.stderr + make.log
    log = make.log
    result = json.loads(answer.stdout)
    # The schema step said, in one line, why it did nothing, and make went on.
    skipped = [line for line in log.splitlines() if "schema.sql is not applied" in line]
    assert skipped == [
        "make: no MySQL answers at 127.0.0.1:3306 or on its unix socket, so schema.sql is not "
        "applied: the server falls back to SQLite"
    ], log
    assert "could not apply" not in log
    # The server says where numbers go, loudly, and how to switch to MySQL, in its log and to
    # the page.
    database = checkout / "wsbench.db"
    warning = f"WARNING No MySQL answered at 127.0.0.1:3306, so numbers go to SQLite in {database}"
    assert warning in log, log
    assert re.search(r"To use MySQL: start it, run `mysql -u root < \S*schema\.sql`, and", log), log
    assert "committing to sqlite wsbench.db:testing" in log, log
    assert result["acked"] == 100 and result["store"] == "sqlite", result
    assert result["info"]["store"] == "sqlite", result
    assert "run `mysql -u root < " in result["info"]["notice"], result
    # Every number is in the SQLite file, in order.
    with contextlib.closing(sqlite3.connect(database)) as connection:
        rows = connection.execute(
            "SELECT number FROM testing WHERE run_id = ? ORDER BY seq", (run_id,)
        ).fetchall()
    assert [number for (number,) in rows] == list(range(1, 101))


def test_make_run_stops_when_mysql_answers_but_schema_sql_fails(database: Database, checkout: Path):
    client = shutil.which("mariadb") or shutil.which("mysql")
    if client is None:
        missing("the mysql command-line client is not installed (apt-get install mariadb-client)")
    # A MySQL user that does not exist: the server answers and refuses schema.sql.
    mysql = f"{client} --protocol=tcp -h 127.0.0.1 -P 3306 -u wsbench_pytest_nobody"
    command = make_run(checkout, f"MYSQL={mysql}", "ARGS=--port 0 --http-port 0")
    with running(command, environment("MYSQL_PWD")) as make:
        make.wait_for("could not apply schema.sql")
        status = make.process.wait(timeout=30)
    assert status == 2, make.log  # make's status for a failed recipe
    assert "Access denied for user 'wsbench_pytest_nobody'" in make.log, make.log
    assert f"could not apply schema.sql with `{mysql}`: run it as a MySQL admin" in make.log
    assert 'make run MYSQL="sudo mysql"' in make.log
    assert "listening on" not in make.log  # the server never started
    assert not (checkout / "wsbench.db").exists()
