"""Which pages may call the server: its own origins, also when it listens on every interface."""

from __future__ import annotations

import ipaddress
import socket

from wsbench.server.origins import (
    allowed_origins,
    interface_addresses,
    parse_if_inet6,
    wildcard_versions,
)

# What a host in a network namespace has: loopback, the link's address, and IPv6 of both kinds.
ADDRESSES = ["127.0.0.1", "10.214.3.2", "::1", "fe80::fc:ff:fe00:1"]


def test_a_loopback_host_admits_its_names_and_pages_from_disk() -> None:
    assert allowed_origins("127.0.0.1", [8765, 8766], addresses=ADDRESSES) == [
        None,
        "null",
        "http://127.0.0.1:8765",
        "http://127.0.0.1:8766",
        "http://[::1]:8765",
        "http://[::1]:8766",
        "http://localhost:8765",
        "http://localhost:8766",
    ]


def test_a_named_address_admits_itself_only() -> None:
    assert allowed_origins("10.214.3.2", [8765], addresses=ADDRESSES) == [
        None,
        "http://10.214.3.2:8765",
    ]
    assert allowed_origins("fd00::2", [8765], scheme="https") == [None, "https://[fd00::2]:8765"]


def test_ipv4_wildcard_admits_every_ipv4_address_of_this_host_by_ip() -> None:
    assert allowed_origins("0.0.0.0", [8765, 8766], addresses=ADDRESSES) == [
        None,  # and no "null": a wildcard is not loopback
        "http://0.0.0.0:8765",
        "http://0.0.0.0:8766",
        "http://10.214.3.2:8765",
        "http://10.214.3.2:8766",
        "http://127.0.0.1:8765",
        "http://127.0.0.1:8766",
    ]


def test_ipv6_wildcard_admits_the_ipv6_addresses_in_brackets() -> None:
    # asyncio binds "::" with IPV6_V6ONLY: no page reaches it over IPv4.
    assert allowed_origins("::", [8765], scheme="https", addresses=ADDRESSES) == [
        None,
        "https://[::1]:8765",
        "https://[::]:8765",
        "https://[fe80::fc:ff:fe00:1]:8765",
    ]


def test_the_empty_host_admits_both_families_and_no_empty_name() -> None:
    assert allowed_origins("", [8765], addresses=ADDRESSES) == [
        None,
        "http://10.214.3.2:8765",
        "http://127.0.0.1:8765",
        "http://[::1]:8765",
        "http://[fe80::fc:ff:fe00:1]:8765",
    ]


def test_a_wildcard_admits_pages_from_disk_and_other_sites_only_when_asked() -> None:
    extra = ("null", "https://bench.example.com")
    origins = allowed_origins("0.0.0.0", [8765], extra, addresses=["10.214.3.2"])
    assert origins == [None, "http://0.0.0.0:8765", "http://10.214.3.2:8765", *extra]
    assert "http://localhost:8765" not in origins  # names, never: DNS rebinding


def test_wildcards_are_the_unspecified_addresses() -> None:
    assert wildcard_versions("0.0.0.0") == {4}
    assert wildcard_versions("::") == wildcard_versions("0:0::0") == {6}
    assert wildcard_versions("") == {4, 6}
    for host in ("127.0.0.1", "::1", "localhost", "10.214.3.2", "example.com"):
        assert wildcard_versions(host) == set(), host


def test_proc_net_if_inet6_lines_become_ipv6_literals() -> None:
    text = (
        "fe8000000000000000fc00fffe000001 04 40 20 80     eth0\n"
        "fd000000000000000000000000000002 04 40 00 82     eth0\n"
        "00000000000000000000000000000001 01 80 10 80       lo\n"
    )
    assert parse_if_inet6(text) == ["fe80::fc:ff:fe00:1", "fd00::2", "::1"]
    assert parse_if_inet6("") == []


def test_this_hosts_addresses_are_ip_literals_with_loopback_among_them() -> None:
    addresses = interface_addresses()
    assert addresses == sorted(set(addresses))
    for address in addresses:
        ipaddress.ip_address(address)  # a literal, never a name
    if "lo" in {name for _, name in socket.if_nameindex()}:
        assert "127.0.0.1" in addresses
