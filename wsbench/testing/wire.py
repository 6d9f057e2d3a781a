"""Bytes and packets on the wire, counted by the kernel: a server in a network namespace of its own.

The server runs in a private network namespace joined to this one by a veth pair, and reaches
MariaDB over its unix socket; so the only traffic on the pair is between the clients here and
that server, and the pair's counters are every byte of it: HTTP, WebSocket frames, TLS records,
TCP/IP and Ethernet headers, handshakes and acks. Needs root and iproute2.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

SUBNET = "10.213.{}.{}"  # a /30 per link: .1 here, .2 in the namespace
_links = itertools.count(1)


class WireUnavailable(RuntimeError):
    """A private network namespace cannot be made here; the message says why."""


@dataclass(frozen=True)
class Wire:
    """Traffic counted on a link, as seen from the client's side."""

    bytes_up: int  # client to server
    bytes_down: int
    packets_up: int
    packets_down: int

    def __sub__(self, earlier: Wire) -> Wire:
        return Wire(
            self.bytes_up - earlier.bytes_up,
            self.bytes_down - earlier.bytes_down,
            self.packets_up - earlier.packets_up,
            self.packets_down - earlier.packets_down,
        )

    def per(self, count: int) -> dict[str, float]:
        """Each counter divided by ``count``: what JSON calls ``wire_per_number``."""
        return {
            "bytes_up": self.bytes_up / count,
            "bytes_down": self.bytes_down / count,
            "packets_up": self.packets_up / count,
            "packets_down": self.packets_down / count,
        }


@dataclass(frozen=True)
class Link:
    """A veth pair: ``host_side`` here, its peer in ``namespace`` at ``server_address``."""

    namespace: str
    host_side: str
    server_address: str

    @property
    def prefix(self) -> list[str]:
        """What runs a command inside the namespace."""
        return ["ip", "netns", "exec", self.namespace]

    def counters(self) -> Wire:
        """The link's counters now; what goes out of this side goes up to the server."""
        statistics = Path("/sys/class/net") / self.host_side / "statistics"

        def read(name: str) -> int:
            return int((statistics / name).read_text())

        return Wire(read("tx_bytes"), read("rx_bytes"), read("tx_packets"), read("rx_packets"))


def _ip(*args: str) -> None:
    result = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30)
    if result.returncode != 0:
        raise WireUnavailable(f"ip {' '.join(args)}: {result.stderr.strip()}")


def _sysctl(prefix: list[str], settings: list[str]) -> None:
    result = subprocess.run(
        [*prefix, "sysctl", "-q", "-w", *settings], capture_output=True, text=True, timeout=30
    )
    if result.returncode != 0:
        raise WireUnavailable(f"sysctl {' '.join(settings)}: {result.stderr.strip()}")


@contextlib.contextmanager
def private_link() -> Iterator[Link]:
    """A fresh namespace and veth pair, removed on exit."""
    if os.geteuid() != 0 or shutil.which("ip") is None:
        raise WireUnavailable(
            "counting bytes on the wire needs root and iproute2 (a private network namespace)"
        )
    number = next(_links)
    name = f"wsb{os.getpid() % 100000}x{number}"
    subnet = (os.getpid() + number) % 250 + 1
    here, there = SUBNET.format(subnet, 1), SUBNET.format(subnet, 2)
    _ip("netns", "add", name)
    try:
        # No IPv6 on the pair: its neighbour discovery would add packets of its own.
        ipv6_off = ["net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1"]
        _sysctl(["ip", "netns", "exec", name], ipv6_off)
        # One segment per packet, as on a real Ethernet (MTU 1500): without it the kernel would
        # hand the veth 64 KiB segments and count each as one packet.
        one_segment = ["gso_max_segs", "1"]
        _ip(
            "link",
            "add",
            f"{name}h",
            *one_segment,
            "type",
            "veth",
            "peer",
            "name",
            f"{name}n",
            *one_segment,
        )
        _sysctl([], [f"net.ipv6.conf.{name}h.disable_ipv6=1"])
        _ip("link", "set", f"{name}n", "netns", name)
        _ip("link", "set", f"{name}h", "up")
        _ip("-n", name, "link", "set", f"{name}n", "up")
        _ip("addr", "add", f"{here}/30", "dev", f"{name}h")
        _ip("-n", name, "addr", "add", f"{there}/30", "dev", f"{name}n")
        _ip("-n", name, "link", "set", "lo", "up")
        yield Link(name, f"{name}h", there)
    finally:
        subprocess.run(["ip", "netns", "del", name], capture_output=True, timeout=30)
