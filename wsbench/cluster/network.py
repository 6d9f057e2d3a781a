"""The cluster's network: a bridge here, and a namespace per node joined to it by a veth pair.

Every node is a host of its own with an address on the bridge, so the servers and tests here
reach each node's port 3306, the nodes reach each other, and a node is cut off from everyone by
taking its end of the pair down.
"""

from __future__ import annotations

import contextlib

from .layout import BRIDGE, PREFIX_LEN, SUBNET, NodeLayout
from .process import ClusterError, run


async def ip(*args: str) -> None:
    """One ``ip`` command."""
    await run("ip", *args, timeout_s=30)


async def build(nodes: tuple[NodeLayout, ...]) -> None:
    """The bridge, and every node's namespace on it."""
    await ip("link", "add", BRIDGE, "type", "bridge")
    await ip("addr", "add", f"{SUBNET}.1/{PREFIX_LEN}", "dev", BRIDGE)
    await ip("link", "set", BRIDGE, "up")
    for node in nodes:
        await ip("netns", "add", node.namespace)
        await ip("link", "add", node.host_veth, "type", "veth", "peer", "name", node.node_veth)
        await ip("link", "set", node.node_veth, "netns", node.namespace)
        await ip("link", "set", node.host_veth, "master", BRIDGE, "up")
        await ip(
            "-n",
            node.namespace,
            "addr",
            "add",
            f"{node.address}/{PREFIX_LEN}",
            "dev",
            node.node_veth,
        )
        await ip("-n", node.namespace, "link", "set", node.node_veth, "up")
        await ip("-n", node.namespace, "link", "set", "lo", "up")


async def tear_down(nodes: tuple[NodeLayout, ...]) -> None:
    """Remove the namespaces (their veth pairs go with them) and the bridge; absent ones too."""
    for node in nodes:
        with contextlib.suppress(ClusterError):
            await ip("netns", "del", node.namespace)
        with contextlib.suppress(ClusterError):
            await ip("link", "del", node.host_veth)
    with contextlib.suppress(ClusterError):
        await ip("link", "del", BRIDGE)


async def exists() -> bool:
    """True when the cluster's bridge is there."""
    try:
        await ip("link", "show", BRIDGE)
    except ClusterError:
        return False
    return True


async def set_link(node: NodeLayout, up: bool) -> None:
    """Connect a node to the bridge (up) or cut it off from everyone (down)."""
    await ip("-n", node.namespace, "link", "set", node.node_veth, "up" if up else "down")
