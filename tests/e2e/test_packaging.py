"""``pip install .`` into a fresh virtual environment: commands that work from any directory."""

from __future__ import annotations

import os
import re
import site
import subprocess
import sys
import urllib.request
from pathlib import Path

from wsbench.resources import PAGE, PAGE_SCRIPTS
from wsbench.testing.server import LISTENING, ROOT


def fresh_install(tmp_path: Path) -> Path:
    """A new venv with wsbench installed from the checkout; returns its bin directory."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    # The dependencies are the ones this test runs with: the venv sees them through a .pth file,
    # so the install needs no download and tests exactly what the checkout builds.
    (purelib,) = (venv / "lib").glob("python3*/site-packages")
    (purelib / "wsbench-test-deps.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    subprocess.run(
        [venv / "bin" / "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", ROOT],
        check=True,
        timeout=300,
        cwd=tmp_path,
        env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"},
    )
    return venv / "bin"


def test_pip_install_gives_working_commands_outside_the_checkout(tmp_path: Path) -> None:
    bin_dir = fresh_install(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    for command in ("wsbench-server", "wsbench-bench"):
        result = subprocess.run(
            [bin_dir / command, "--help"], cwd=elsewhere, capture_output=True, text=True, timeout=60
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith(f"usage: {command} "), result.stdout[:200]
    # The installed server finds the page inside the package, not in the checkout.
    server = subprocess.Popen(
        [bin_dir / "wsbench-server", "--db", "null:", "--port", "0", "--http-port", "0"],
        cwd=elsewhere,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert server.stdout is not None
        for line in server.stdout:
            if match := LISTENING.search(line):
                break
        else:
            raise AssertionError("the installed server exited before listening")
        base = f"http://{match['host']}:{match['port']}"
        with urllib.request.urlopen(f"{base}/", timeout=10) as response:
            assert response.read() == PAGE.read_bytes()
        for script in sorted(PAGE_SCRIPTS.glob("*.js")):  # what the page loads, served too
            with urllib.request.urlopen(f"{base}/page/{script.name}", timeout=10) as response:
                assert response.read() == script.read_bytes()
        located = subprocess.run(
            [
                bin_dir / "python",
                "-c",
                "import wsbench.resources as r; print(r.PAGE, r.PAGE_SCRIPTS, r.SCHEMA)",
            ],
            cwd=elsewhere,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert re.fullmatch(
            r"(\S+/site-packages/wsbench/data/)websocket\.html \1page \1schema\.sql\n", located
        )
    finally:
        server.terminate()
        assert server.wait(timeout=20) == 0
        if server.stdout is not None:
            server.stdout.close()
