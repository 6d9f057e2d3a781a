"""SQLite stands in for MySQL only when no database was chosen and no MySQL answers."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from wsbench.testing.server import SERVER, ServerProcess

from .conftest import Database, missing

# Runs the server in a network namespace of its own, where nothing listens on 127.0.0.1:3306.
NO_NETWORK = ["unshare", "--net", "sh", "-c", 'ip link set lo up && exec "$@"', "sh"]


def environment_without_database() -> dict[str, str]:
    return {name: value for name, value in os.environ.items() if name != "WSBENCH_DB"}


def test_no_database_chosen_and_no_mysql_falls_back_to_sqlite_loudly(tmp_path: Path):
    if shutil.which("unshare") is None or os.geteuid() != 0:
        missing("this test needs root and unshare(1) for a private network namespace")
    server = ServerProcess(env=environment_without_database(), cwd=tmp_path, prefix=NO_NETWORK)
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
