"""One Galera node: its files, its mariadbd in its namespace as the mysql user, and its state."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from .layout import EVS_TUNED, NodeLayout, node_config
from .process import ClusterError, run

START_TIMEOUT_S = 90  # a joiner's state transfer (rsync SST) on a busy two-core machine
STOP_TIMEOUT_S = 30


@dataclass(frozen=True)
class NodeStatus:
    """What a node says of itself (``wsrep_local_state_comment`` and ``wsrep_cluster_status``)."""

    running: bool
    state: str = ""  # Synced, Donor/Desynced, Joining, Joined, Initialized...
    cluster: str = ""  # Primary, non-Primary, Disconnected
    size: int = 0  # nodes in its component

    @property
    def ready(self) -> bool:
        """Synced in the primary component: it takes writes."""
        return self.state == "Synced" and self.cluster == "Primary"

    def __str__(self) -> str:
        if not self.running:
            return "stopped"
        return f"{self.state or '?'}, {self.cluster or '?'} component of {self.size}"


def prepare(node: NodeLayout, peers: tuple[NodeLayout, ...], evs: str = EVS_TUNED) -> None:
    """The node's directory and option file, owned by mysql."""
    node.datadir.mkdir(parents=True, exist_ok=True)
    node.config_file.write_text(node_config(node, peers, evs))
    for path in (node.directory, node.datadir):
        shutil.chown(path, "mysql", "mysql")


async def install(node: NodeLayout) -> None:
    """The system tables in a fresh data directory (the first node; joiners get a copy by SST)."""
    await run(
        "mariadb-install-db",
        f"--defaults-file={node.config_file}",
        "--user=mysql",
        "--skip-test-db",
        "--auth-root-authentication-method=socket",
        timeout_s=120,
    )


def start(node: NodeLayout, new_cluster: bool = False) -> subprocess.Popen[bytes]:
    """Start mariadbd in the node's namespace as mysql, detached: it outlives this process."""
    command = [
        "ip", "netns", "exec", node.namespace,
        "setpriv", "--reuid=mysql", "--regid=mysql", "--init-groups",
        "mariadbd", f"--defaults-file={node.config_file}",
        *(["--wsrep-new-cluster"] if new_cluster else []),
    ]  # fmt: skip
    with open(node.directory / "console.log", "ab") as console:
        return subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=console,
            stderr=console,
            start_new_session=True,  # Ctrl-C in a terminal that ran `up` leaves the nodes alone
        )


def pid(node: NodeLayout) -> int | None:
    """The process id of the node's mariadbd, when it runs (found by its option file)."""
    # Not the pid file: mariadbd writes it only once it has joined, and a killed node leaves a
    # stale one behind.
    wanted = f"--defaults-file={node.config_file}".encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            words = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if wanted in words and Path(words[0].decode(errors="replace")).name == "mariadbd":
            return int(entry.name) if _alive(int(entry.name)) else None
    return None


async def query(node: NodeLayout, sql: str, timeout_s: float = 10) -> str:
    """Run SQL as root over the node's unix socket (files are shared across namespaces)."""
    return await run(
        "mariadb", f"--socket={node.socket}", "-u", "root", "-N", "-B", "-e", sql,
        timeout_s=timeout_s,
    )  # fmt: skip


async def status(node: NodeLayout) -> NodeStatus:
    """What the node says of itself now; ``running=False`` when it does not answer."""
    if pid(node) is None:
        return NodeStatus(running=False)
    try:
        text = await query(
            node,
            "SHOW STATUS WHERE Variable_name IN ('wsrep_local_state_comment', "
            "'wsrep_cluster_status', 'wsrep_cluster_size')",
            timeout_s=5,
        )
    except ClusterError:
        return NodeStatus(running=True)
    values = dict(line.split("\t", 1) for line in text.splitlines() if "\t" in line)
    return NodeStatus(
        running=True,
        state=values.get("wsrep_local_state_comment", ""),
        cluster=values.get("wsrep_cluster_status", ""),
        size=int(values.get("wsrep_cluster_size", "0") or 0),
    )


async def wait_ready(
    node: NodeLayout, process: subprocess.Popen[bytes] | None, timeout_s: float = START_TIMEOUT_S
) -> None:
    """Wait until the node is Synced in the primary component; say why when it never is."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise ClusterError(
                f"node {node.name} exited with status {process.returncode}:\n{log_tail(node)}"
            )
        if (await status(node)).ready:
            return
        await asyncio.sleep(0.1)  # polling the node's own state, bounded by the deadline
    raise ClusterError(
        f"node {node.name} was not Synced after {timeout_s:g} s ({await status(node)}):\n"
        f"{log_tail(node)}"
    )


async def stop(node: NodeLayout, hard: bool = False) -> None:
    """Stop the node's mariadbd: SIGTERM (SIGKILL after a while), or SIGKILL at once."""
    number = pid(node)
    if number is None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(number, signal.SIGKILL if hard else signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT_S
    while pid(node) == number and _alive(number):
        if time.monotonic() > deadline:
            with contextlib.suppress(ProcessLookupError):
                os.kill(number, signal.SIGKILL)
            deadline = time.monotonic() + STOP_TIMEOUT_S
        await asyncio.sleep(0.02)  # waiting for the process to be gone, bounded above


def _alive(number: int) -> bool:
    """True while the process exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{number}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


def log_tail(node: NodeLayout, lines: int = 15) -> str:
    """The last lines of the node's error log (and console), where mariadbd says why."""
    text = ""
    for path in (node.error_log, node.directory / "console.log"):
        with contextlib.suppress(OSError):
            text += path.read_text(errors="replace")
    tail = [line for line in text.splitlines() if line.strip()][-lines:]
    return "\n".join(f"  {node.name}: {line}" for line in tail) or f"  {node.name}: (no log)"
