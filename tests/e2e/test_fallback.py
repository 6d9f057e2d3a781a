"""With no database chosen: MySQL at 127.0.0.1:3306, else over its unix socket, else SQLite."""

from __future__ import annotations

import asyncio
import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from websockets.asyncio.client import connect
from websockets.typing import Origin

from wsbench.store import DEFAULT_SOCKETS, default_socket
from wsbench.testing.server import SERVER, ServerProcess
from wsbench.testing.wire import Link

from .conftest import Database, missing

# Hides MySQL's unix sockets from one process and its children: /dev/null over each.
HIDE_SOCKETS = " ".join(
    f"if [ -e {path} ]; then mount --bind /dev/null {path} || exit 1; fi;"
    for path in map(shlex.quote, DEFAULT_SOCKETS)
)
# Runs the server in a network namespace of its own, where nothing listens on 127.0.0.1:3306,
# and in a mount namespace where no MySQL socket is either.
NO_MYSQL = [
    "unshare",
    "--net",
    "--mount",
    "sh",
    "-c",
    f'ip link set lo up || exit 1; {HIDE_SOCKETS} exec "$@"',
    "sh",
]


def environment_without_database() -> dict[str, str]:
    return {name: value for name, value in os.environ.items() if name != "WSBENCH_DB"}


def test_no_database_chosen_and_no_mysql_falls_back_to_sqlite_loudly(tmp_path: Path):
    if shutil.which("unshare") is None or os.geteuid() != 0:
        missing("this test needs root and unshare(1) for private network and mount namespaces")
    server = ServerProcess(env=environment_without_database(), cwd=tmp_path, prefix=NO_MYSQL)
    try:
        assert "committing to sqlite" in server.log
        assert (
            "WARNING No MySQL answered at 127.0.0.1:3306, so numbers go to SQLite in" in server.log
        )
        assert "mysql -u root <" in server.log
        assert (tmp_path / "wsbench.db").exists()
        # Ask the server from inside its namespace: the page is told too.
        probe = (
            "import json, urllib.request; print(urllib.request.urlopen("
            f"'http://127.0.0.1:{server.http_port}/info').read().decode())"
        )
        answer = subprocess.run(
            ["nsenter", "-t", str(server.process.pid), "-n", sys.executable, "-c", probe],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
        info = json.loads(answer.stdout)
        assert info["store"] == "sqlite" and info["durable"] is True
        assert info["notice"].startswith("No MySQL answered at 127.0.0.1:3306")
    finally:
        server.stop()


def test_no_database_chosen_and_mysql_answering_uses_mysql(database: Database, tmp_path: Path):
    with ServerProcess(env=environment_without_database(), cwd=tmp_path) as server:
        assert "committing to mysql test.testing" in server.log
        assert "WARNING" not in server.log
    assert not (tmp_path / "wsbench.db").exists()


async def test_no_database_chosen_and_no_mysql_on_tcp_uses_its_unix_socket(
    database: Database, link: Link, tmp_path: Path
):
    # In the namespace 127.0.0.1:3306 is the namespace's own, where nothing listens; MariaDB's
    # socket is a file, and files are shared.
    socket = default_socket(DEFAULT_SOCKETS)
    if socket is None:
        missing(f"MySQL/MariaDB has no unix socket at any of {', '.join(DEFAULT_SOCKETS)}")
    env = environment_without_database()
    with ServerProcess("--host", "0.0.0.0", env=env, cwd=tmp_path, prefix=link.prefix) as server:
        assert f"committing to mysql test.testing over {socket}, group commit" in server.log
        assert "WARNING" not in server.log
        # As the browser does: the page from the namespace's address, then its WebSocket.
        run_id, where = database.new_run_id(), f"{link.server_address}:{server.port}"
        async with connect(
            f"ws://{where}/?run={run_id}", origin=Origin(f"http://{where}"), compression=None
        ) as websocket:
            hello = json.loads(await websocket.recv())["hello"]
            assert (hello["store"], hello["target"]) == ("mysql", f"test.testing over {socket}")
            for number in range(1, 101):
                await websocket.send(str(number))
            acked = 0
            async with asyncio.timeout(30):
                while acked < 100:
                    acked = json.loads(await websocket.recv())["acked"]
    assert database.numbers(run_id) == list(range(1, 101))
    assert not (tmp_path / "wsbench.db").exists()


def test_a_chosen_mysql_that_does_not_answer_is_an_error_not_a_fallback(tmp_path: Path):
    env = {**os.environ, "WSBENCH_DB": "mysql://wsbench@127.0.0.1:1/test"}
    result = subprocess.run(
        [sys.executable, str(SERVER), "--port", "0", "--http-port", "0"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        cwd=tmp_path,
    )
    assert result.returncode == 1
    assert "cannot connect to MySQL at 127.0.0.1:1: is it running?" in result.stderr
    assert not (tmp_path / "wsbench.db").exists()


def test_an_unusable_sqlite_file_is_a_clear_error(tmp_path: Path):
    result = subprocess.run(
        [
            sys.executable,
            str(SERVER),
            "--port",
            "0",
            "--db",
            f"sqlite:///{tmp_path}/no/such/dir.db",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "cannot use the SQLite database" in result.stderr
    assert "check that its directory exists" in result.stderr
