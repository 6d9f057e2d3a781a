"""A three-node Galera cluster on this machine, each node a host of its own: up, faults, down."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
from pathlib import Path

from ..resources import SCHEMA
from . import network
from . import node as nodes
from .layout import EVS_TUNED, STATE_DIR, NodeLayout, cluster_url, grants, layouts
from .node import NodeStatus
from .process import ClusterError

NEEDED = {  # command -> the Debian package that has it
    "mariadbd": "mariadb-server",
    "mariadb": "mariadb-client",
    "mariadb-install-db": "mariadb-server",
    "rsync": "rsync",
    "ip": "iproute2",
    "setpriv": "util-linux",
}


class Cluster:
    """Three MariaDB Galera nodes, each in a network namespace of its own, on one bridge.

    ``async with Cluster() as cluster:`` starts it (or ``await cluster.up()`` and leave it
    running), and stops and removes everything on exit. ``kill``, ``cut``, ``heal``, ``start``
    and ``bootstrap`` are the faults and repairs the tests use.
    """

    def __init__(self, size: int = 3, state_dir: Path = STATE_DIR, evs: str = EVS_TUNED) -> None:
        self.nodes = layouts(size, state_dir)
        self.state_dir = state_dir
        self.evs = evs  # Galera's failure detection: tuned for a LAN, or "" for its defaults
        self._processes: dict[str, subprocess.Popen[bytes]] = {}

    @property
    def url(self) -> str:
        """The ``--db`` URL naming every node."""
        return cluster_url(self.nodes)

    def node(self, name: str) -> NodeLayout:
        """A node by its name (n1, n2, n3)."""
        for layout in self.nodes:
            if layout.name == name:
                return layout
        raise ClusterError(f"no node {name!r}: the nodes are {', '.join(self.names)}")

    @property
    def names(self) -> list[str]:
        """Every node's name."""
        return [layout.name for layout in self.nodes]

    async def __aenter__(self) -> Cluster:
        await self.up()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.down()

    async def up(self) -> str:
        """Start every node, one at a time, apply schema.sql; return the ``--db`` URL."""
        check_prerequisites()
        if self.state_dir.exists() or await network.exists():
            raise ClusterError(
                f"a cluster is there already ({self.state_dir}): run "
                "`python -m wsbench.cluster down` first"
            )
        try:
            self.state_dir.mkdir(parents=True)
            os.chmod(self.state_dir, 0o755)
            await network.build(self.nodes)
            for layout in self.nodes:
                nodes.prepare(layout, self.nodes, self.evs)
            first = self.nodes[0]
            await nodes.install(first)
            await self._start(first, new_cluster=True)
            for layout in self.nodes[1:]:  # one joiner at a time: each takes a state transfer
                await self._start(layout)
            await nodes.query(first, SCHEMA.read_text() + grants(), timeout_s=60)
        except BaseException:
            await self.down()
            raise
        return self.url

    async def down(self) -> None:
        """Stop every node and remove the namespaces, the bridge and the state directory."""
        await asyncio.gather(*(nodes.stop(layout, hard=True) for layout in self.nodes))
        for process in self._processes.values():
            await asyncio.to_thread(process.wait)
        self._processes.clear()
        await network.tear_down(self.nodes)
        shutil.rmtree(self.state_dir, ignore_errors=True)

    async def status(self) -> dict[str, NodeStatus]:
        """What each node says of itself."""
        found = await asyncio.gather(*(nodes.status(layout) for layout in self.nodes))
        return dict(zip(self.names, found, strict=True))

    async def kill(self, name: str) -> None:
        """SIGKILL a node's mariadbd and wait until it is gone."""
        await nodes.stop(self.node(name), hard=True)
        process = self._processes.pop(name, None)
        if process is not None:
            await asyncio.to_thread(process.wait)

    async def start(self, name: str) -> None:
        """Start a stopped node; it rejoins (IST when the others' cache still holds its gap)."""
        await self._start(self.node(name))

    async def cut(self, name: str) -> None:
        """Cut a node off from everyone: its link goes down; its mariadbd keeps running."""
        await network.set_link(self.node(name), up=False)

    async def heal(self, name: str) -> None:
        """Reconnect a node that was cut off, and wait until it is Synced again."""
        layout = self.node(name)
        await network.set_link(layout, up=True)
        await nodes.wait_ready(layout, self._processes.get(name))

    async def bootstrap(self, name: str) -> None:
        """Make a node left without quorum the primary component (an operator's decision)."""
        layout = self.node(name)
        await nodes.query(layout, "SET GLOBAL wsrep_provider_options = 'pc.bootstrap=YES'")
        await nodes.wait_ready(layout, self._processes.get(name))

    async def wait_ready(self, name: str, timeout_s: float = nodes.START_TIMEOUT_S) -> None:
        """Wait until a node is Synced in the primary component."""
        await nodes.wait_ready(self.node(name), self._processes.get(name), timeout_s)

    async def _start(self, layout: NodeLayout, new_cluster: bool = False) -> None:
        self._processes[layout.name] = nodes.start(layout, new_cluster)
        await nodes.wait_ready(layout, self._processes[layout.name])


def check_prerequisites() -> None:
    """Raise ClusterError naming what is missing: root, a command, the Galera library."""
    if os.geteuid() != 0:
        raise ClusterError("the cluster needs root (network namespaces): run it with sudo")
    missing = sorted({package for command, package in NEEDED.items() if not shutil.which(command)})
    if not Path("/usr/lib/galera/libgalera_smm.so").exists():
        missing.append("galera-4")
    if missing:
        raise ClusterError(f"missing: install them with `apt-get install {' '.join(missing)}`")
