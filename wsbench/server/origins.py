"""Whose pages may call the server: its own origins on every address it answers on, pages from
disk on loopback, and those the user allows."""

from __future__ import annotations

import contextlib
import fcntl
import ipaddress
import socket
import struct
from collections.abc import Sequence
from pathlib import Path

from websockets.typing import Origin

from ..addresses import is_loopback

SIOCGIFADDR = 0x8915  # Linux: an interface's (primary) IPv4 address
IF_INET6 = Path("/proc/net/if_inet6")  # Linux: every IPv6 address, one a line


def wildcard_versions(host: str) -> set[int]:
    """The IP versions a wildcard ``host`` listens on ("" both), or none for any other host."""
    if host == "":
        return {4, 6}
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return set()
    # "::" is IPv6 only: asyncio sets IPV6_V6ONLY on the sockets it binds.
    return {address.version} if address.is_unspecified else set()


def parse_if_inet6(text: str) -> list[str]:
    """The IPv6 addresses that /proc/net/if_inet6 lists, as literals."""
    return [
        str(ipaddress.IPv6Address(bytes.fromhex(line.split()[0]))) for line in text.splitlines()
    ]


def interface_addresses() -> list[str]:
    """Every IP address on this host's interfaces now, IPv4 and IPv6, as literals."""
    addresses: set[str] = set()
    with contextlib.suppress(OSError), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        for _, name in socket.if_nameindex():
            # struct ifreq: the name, then a sockaddr_in whose address is at bytes 20..24.
            request = struct.pack("16s24x", name.encode())
            try:
                answer = fcntl.ioctl(probe.fileno(), SIOCGIFADDR, request)
            except OSError:  # no IPv4 address, or the interface went away meanwhile
                continue
            addresses.add(socket.inet_ntoa(answer[20:24]))
    with contextlib.suppress(OSError):  # absent when IPv6 is off
        addresses.update(parse_if_inet6(IF_INET6.read_text()))
    return sorted(addresses)


def allowed_origins(
    host: str,
    ports: list[int],
    extra: tuple[str, ...] = (),
    scheme: str = "http",
    addresses: Sequence[str] = (),
) -> list[Origin | None]:
    """Origins whose pages may call us: the page's own, file:// pages on loopback, and ``extra``.

    ``addresses``: this host's IP addresses, the page's own hosts when ``host`` is a wildcard.
    """
    hosts = {f"[{host}]" if ":" in host else host} if host else set()
    if versions := wildcard_versions(host):
        # Browsers rarely name 0.0.0.0: the page came from one of the addresses we answer on.
        # By IP literal only: a hostname's page could be anyone's, by DNS rebinding.
        served = [ipaddress.ip_address(address) for address in addresses]
        hosts |= {
            f"[{ip}]" if ip.version == 6 else str(ip) for ip in served if ip.version in versions
        }
    origins: list[Origin | None] = [None]  # non-browser clients send no Origin
    if is_loopback(host):
        hosts |= {"127.0.0.1", "localhost", "[::1]"}
        origins.append(Origin("null"))  # what a page opened from disk sends
    origins += sorted(Origin(f"{scheme}://{name}:{port}") for name in hosts for port in ports)
    origins += [Origin(origin) for origin in extra if origin not in origins]
    return origins
