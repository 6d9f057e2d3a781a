"""A network namespace joined to this one by two TUN devices, whose packets a program carries.

Each side gets a point-to-point TUN device: ``.1`` here, ``.2`` in the namespace. Whatever one
side's kernel routes to the other comes out of that side's file descriptor as an IP packet, and
goes nowhere until the delay line writes it into the other descriptor. Non-persistent devices
vanish when their descriptors close, so a killed emulator leaves no device behind; the
namespace is removed by whoever made it, and a stale one (its maker dead) by the next start.
"""

from __future__ import annotations

import contextlib
import fcntl
import ipaddress
import os
import re
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .profiles import MTU

NETNS_DIR = Path("/run/netns")
SUBNETS = ipaddress.IPv4Network("10.214.0.0/16")  # a /30 per link: .1 here, .2 there
PREFIX = "wsl"  # namespaces and devices: wsl<pid>x<k>, then h (here) or n (namespace)
_TUNSETIFF = 0x400454CA
_IFF_TUN, _IFF_NO_PI = 0x0001, 0x1000


class LinkUnavailable(RuntimeError):
    """An emulated link cannot be made here; the message says why and what to do."""


@dataclass(frozen=True)
class Endpoints:
    """The two ends of a link: this side's device and the namespace's, with their descriptors."""

    namespace: str
    host_device: str
    far_device: str
    host_address: str
    far_address: str
    host_fd: int  # packets this side sends come out here; write what it receives
    far_fd: int


def check_privileges() -> None:
    """Fail with the fix when this process cannot make namespaces and TUN devices."""
    if os.geteuid() != 0:
        raise LinkUnavailable(
            "an emulated link needs root (a network namespace and TUN devices): run it with "
            "sudo, e.g. sudo .venv/bin/python -m wsbench.link 4g -- COMMAND"
        )
    if not os.path.exists("/dev/net/tun"):
        raise LinkUnavailable(
            "/dev/net/tun is missing: load the tun module (modprobe tun) or, in a container, "
            "pass the device in (--device /dev/net/tun)"
        )


def open_tun(name: str) -> int:
    """A new non-persistent TUN device ``name`` in this thread's namespace, non-blocking."""
    fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        fcntl.ioctl(fd, _TUNSETIFF, struct.pack("16sH", name.encode(), _IFF_TUN | _IFF_NO_PI))
    except OSError as exc:
        os.close(fd)
        raise LinkUnavailable(f"cannot create the TUN device {name}: {exc}") from exc
    return fd


def _no_ipv6(device: str) -> None:
    # Without it, the kernel sends router solicitations and MLD reports of its own on the link.
    Path(f"/proc/sys/net/ipv6/conf/{device}/disable_ipv6").write_text("1")


def remove_stale() -> list[str]:
    """Remove the namespaces of earlier links whose maker died; return their names."""
    removed = []
    for path in NETNS_DIR.glob(f"{PREFIX}*x*") if NETNS_DIR.is_dir() else []:
        match = re.fullmatch(rf"{PREFIX}(\d+)x\d+", path.name)
        if match and not Path(f"/proc/{match[1]}").exists():
            _remove_namespace(path.name)
            removed.append(path.name)
    return removed


def _free_subnet(ipr: Any, seed: int) -> ipaddress.IPv4Network:
    used = {
        ipaddress.ip_address(attr[1])
        for message in ipr.get_addr(family=2)
        for attr in message["attrs"]
        if attr[0] in ("IFA_ADDRESS", "IFA_LOCAL")
    }
    # The first /30 (10.214.0.0/30) is left alone.
    subnets: list[ipaddress.IPv4Network] = list(SUBNETS.subnets(new_prefix=30))[1:]
    for offset in range(len(subnets)):
        subnet = subnets[(seed + offset) % len(subnets)]
        if not any(address in subnet for address in used):
            return subnet
    raise LinkUnavailable(f"every /30 of {SUBNETS} is in use: remove stale links (ip netns)")


def _remove_namespace(name: str) -> None:
    from pyroute2 import netns

    with contextlib.suppress(OSError):
        netns.remove(name)


@contextlib.contextmanager
def namespace_pair(number: int) -> Iterator[Endpoints]:
    """A fresh namespace and its two TUN devices, addressed and up; all removed on exit."""
    check_privileges()
    try:
        from pyroute2 import netns
    except ImportError as exc:  # installed with wsbench, but not needed by its server
        raise LinkUnavailable(
            "the link emulator needs pyroute2: .venv/bin/pip install -r requirements.txt"
        ) from exc
    remove_stale()
    name = f"{PREFIX}{os.getpid()}x{number}"
    fds: list[int] = []
    netns.create(name)
    try:
        try:
            here, there = _set_up(name, number, fds)
        except LinkUnavailable:
            raise
        except Exception as exc:  # pyroute2's NetlinkError is no OSError
            raise LinkUnavailable(f"cannot set up the link's namespace {name}: {exc}") from exc
        yield Endpoints(name, f"{name}h", f"{name}n", here, there, fds[0], fds[1])
    finally:
        for fd in fds:
            os.close(fd)
        _remove_namespace(name)


def _set_up(name: str, number: int, fds: list[int]) -> tuple[str, str]:
    from pyroute2 import IPRoute, NetNS, netns

    host_device, far_device = f"{name}h", f"{name}n"
    with IPRoute() as ipr:
        subnet = _free_subnet(ipr, os.getpid() + number)
        here, there = str(subnet[1]), str(subnet[2])
        fds.append(open_tun(host_device))
        _no_ipv6(host_device)
        index = ipr.link_lookup(ifname=host_device)[0]
        ipr.link("set", index=index, mtu=MTU, state="up")
        ipr.addr("add", index=index, local=here, address=there, prefixlen=32)
    # The namespace's device is made inside it, so it never appears here.
    netns.pushns(name)
    try:
        for scope in ("all", "default"):
            _no_ipv6(scope)
        fds.append(open_tun(far_device))
    finally:
        netns.popns()
    with NetNS(name) as ns:
        index = ns.link_lookup(ifname=far_device)[0]
        ns.link("set", index=index, mtu=MTU, state="up")
        ns.addr("add", index=index, local=there, address=here, prefixlen=32)
        ns.link("set", index=ns.link_lookup(ifname="lo")[0], state="up")
        return here, there


def enter_namespace(name: str) -> None:
    """Move the calling process into the namespace ``name`` (for a child, before exec)."""
    from pyroute2 import netns

    netns.setns(name, flags=0, fork=False)


def kernel_drops(endpoints: Endpoints, inside_pid: int | None) -> int:
    """Packets the kernel dropped on either device (a full queue): none should be.

    The namespace's device is seen through ``/proc/PID/net/dev`` of a process inside it.
    """
    total = _device_drops(Path("/proc/self/net/dev"), endpoints.host_device)
    if inside_pid is not None:
        with contextlib.suppress(OSError):  # that process has gone
            total += _device_drops(Path(f"/proc/{inside_pid}/net/dev"), endpoints.far_device)
    return total


def _device_drops(path: Path, device: str) -> int:
    for line in path.read_text().splitlines():
        name, _, fields = line.partition(":")
        if name.strip() == device:
            values = fields.split()
            return int(values[3]) + int(values[11])  # receive drop, transmit drop
    return 0
