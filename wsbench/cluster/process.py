"""Commands the cluster runs (ip, mariadb, mariadb-install-db), each bounded in time."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping


class ClusterError(RuntimeError):
    """The local cluster cannot be started or changed; the message says why and what to do."""


async def run(
    *command: str,
    stdin: str | None = None,
    timeout_s: float = 60,
    env: Mapping[str, str] | None = None,
) -> str:
    """Run a command to its end and return its output; a failure raises ClusterError."""
    try:
        process = await asyncio.create_subprocess_exec(
            *command,
            stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=dict(env) if env is not None else None,
        )
    except FileNotFoundError:
        raise ClusterError(f"{command[0]} is not installed") from None
    try:
        async with asyncio.timeout(timeout_s):
            out, err = await process.communicate(stdin.encode() if stdin is not None else None)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise ClusterError(f"{' '.join(command)} did not finish in {timeout_s:g} s") from None
    if process.returncode != 0:
        raise ClusterError(f"{' '.join(command)}: {err.decode().strip() or out.decode().strip()}")
    return out.decode()
