"""deploy/nginx-wsbench.conf, for real: nginx in front of two wsbench servers."""

from __future__ import annotations

import asyncio
import contextlib
import re
import shutil
import subprocess
import urllib.request
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp

from wsbench.bench.client import send_run
from wsbench.resources import PAGE, PAGE_SCRIPTS
from wsbench.testing.server import ROOT, ServerProcess

from .conftest import MYSQL_URL, Database, missing
from .helpers import free_port

CONFIG = ROOT / "deploy" / "nginx-wsbench.conf"


def nginx_config(tmp_path: Path, listen: int, ws: list[int], http: list[int]) -> Path:
    """The repository's config with this test's ports, inside a minimal nginx.conf."""
    site = CONFIG.read_text()
    for old, new in zip((8765, 8775, 8766, 8776, 8080), (*ws, *http, listen), strict=True):
        site = site.replace(f"127.0.0.1:{old};", f"127.0.0.1:{new};")
    (tmp_path / "site.conf").write_text(site)
    main = tmp_path / "nginx.conf"
    main.write_text(
        f"pid {tmp_path}/nginx.pid;\n"
        f"error_log {tmp_path}/error.log;\n"
        "events {}\n"
        f"http {{ access_log off; client_body_temp_path {tmp_path}; "
        f"include {tmp_path}/site.conf; }}\n"
    )
    return main


@contextlib.asynccontextmanager
async def behind_nginx(
    tmp_path: Path, *args: str
) -> AsyncIterator[tuple[list[ServerProcess], str]]:
    """Two servers started with ``args`` behind nginx, once it answers: the servers and the
    origin nginx listens on. Everything stops on exit."""
    if shutil.which("nginx") is None:
        missing("nginx is not installed (apt-get install nginx-light)")
    listen = free_port()
    ports = [(free_port(), free_port()) for _ in range(2)]
    origin = f"http://127.0.0.1:{listen}"
    with contextlib.ExitStack() as stack:
        servers = [
            stack.enter_context(
                ServerProcess(
                    *args, "--port", str(ws), "--http-port", str(http), "--allow-origin", origin
                )
            )
            for ws, http in ports
        ]
        config = nginx_config(tmp_path, listen, [ws for ws, _ in ports], [h for _, h in ports])
        command = ["nginx", "-p", str(tmp_path), "-c", str(config), "-g", "daemon off;"]
        nginx = stack.enter_context(subprocess.Popen(command))
        stack.callback(nginx.wait, 30)
        stack.callback(nginx.terminate)
        await wait_until_answering(f"{origin}/info")
        yield servers, origin


async def test_nginx_spreads_clients_over_two_servers_and_nothing_is_lost(
    database: Database, tmp_path: Path
):
    async with behind_nginx(tmp_path, "--db", MYSQL_URL, "-v") as (servers, origin):
        for path, body in (("/", PAGE), ("/page/modes.js", PAGE_SCRIPTS / "modes.js")):
            with urllib.request.urlopen(f"{origin}{path}") as response:
                assert response.read() == body.read_bytes()  # the page and its scripts, routed
        run_ids = [database.new_run_id() for _ in range(20)]
        results = await asyncio.gather(
            *(
                send_run(origin.replace("http://", "ws://"), run_id, range(1, 1001), origin=origin)
                for run_id in run_ids
            )
        )
        assert all(result.acked == 1000 for result in results)
        http_run = database.new_run_id()
        async with aiohttp.ClientSession() as session:
            for seq in range(1, 51):
                url = f"{origin}/numbers?run={http_run}&seq={seq}"
                headers = {"Content-Type": "text/plain", "Origin": origin}
                async with session.post(url, data=str(seq), headers=headers) as response:
                    assert response.status == 200
    assert all(database.count(run_id) == 1000 for run_id in run_ids)
    assert database.count(http_run) == 50
    for server in servers:  # least_conn gave each server some of the runs
        assert re.search(r"DEBUG run pytest-\S+: connection closed", server.log)


async def wait_until_answering(url: str) -> None:
    """nginx starts in the background: wait for its first answer (bounded)."""
    async with asyncio.timeout(20):
        while True:
            try:
                await asyncio.to_thread(urllib.request.urlopen, url, timeout=2)
                return
            except OSError:
                await asyncio.sleep(0.05)
