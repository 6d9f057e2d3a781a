"""How faithful the link emulator is: round trips, rates and loss measured through it, as root.

    python benchmarks/link_accuracy.py                 # every profile, and the emulator's ceiling
    python benchmarks/link_accuracy.py --profile cable --json accuracy.json

For each profile (its loss set aside, since TCP cannot fill a lossy link): TCP connect times
against the round trip asked (plus the SYN's and SYN-ACK's bytes at the link's rates), a bulk
transfer each way against the rate asked (from the first fifth of its bytes to the last, past
slow start), and what the emulator says of itself: how far from their time it released packets,
what it dropped unasked, its CPU per packet. Then loss: datagrams through each lossy profile,
the share lost against the rate asked and its binomial bounds. Then the ceiling: an unlimited
link, one bulk TCP download, and datagrams as fast as this side can send them.
"""

from __future__ import annotations

import argparse
import json
import math
import socket
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from wsbench.link import PROFILES, parse_link
from wsbench.link.tun import LinkUnavailable, check_privileges
from wsbench.testing.link_probe import (
    PEER,
    UDP_PORT,
    connect_ms,
    download_mbit,
    expected_connect_ms,
    udp_loss,
    upload_mbit,
)
from wsbench.testing.server import LinkedProcess

TARGET_RTT_MS = 50  # the target: a connect within ±2 ms of this round trip


def accuracy_text(report: dict[str, Any]) -> str:
    """The emulator over one period, in a line."""
    a = report["accuracy"]
    if not a["packets"]:
        return "no packets"
    return (
        f"{a['packets']:,} packets, released {a['offset_p50_ms']:+.2f} ms from their time at "
        f"p50, within {a['offset_p99_ms']:.2f} ms at p99 (worst {a['offset_max_ms']:.1f}); "
        f"{a['unasked_drops']} dropped unasked; {a['cpu_us_per_packet']:.0f} µs CPU per packet"
    )


def round_trip(connects: int) -> dict[str, Any]:
    """The 50 ms target: connect times through ``rtt=50ms``."""
    with LinkedProcess(f"rtt={TARGET_RTT_MS}ms", *PEER) as peer:
        peer.wait_for("peer ready")
        peer.link_report()
        times = connect_ms(peer.address, connects)
        report = peer.link_report()
    median = statistics.median(times)
    print(
        f"rtt={TARGET_RTT_MS}ms: TCP connect {median:.2f} ms ({min(times):.2f}..{max(times):.2f}) "
        f"over {connects} connects, {median - TARGET_RTT_MS:+.2f} ms from the round trip asked "
        f"(target: within ±2 ms); {accuracy_text(report)}"
    )
    return {"connect_ms": times, "emulator": report}


def profile(name: str, connects: int) -> dict[str, Any]:
    """One profile without its loss: connect times, a bulk transfer each way, the emulator."""
    link = parse_link(f"{name},loss=0%")
    with LinkedProcess(link.name, *PEER) as peer:
        peer.wait_for("peer ready")
        peer.link_report()
        times = connect_ms(peer.address, connects)
        rates: dict[str, float] = {}
        for direction, mbit in (("down", link.down_mbit), ("up", link.up_mbit)):
            assert mbit is not None
            nbytes = int(mbit * 1e6 / 8 * max(2.0, 10 * link.rtt_ms / 1000))
            probe = download_mbit if direction == "down" else upload_mbit
            rates[direction] = probe(peer.address, nbytes) / mbit
        report = peer.link_report()
    expected = expected_connect_ms(link)
    median = statistics.median(times)
    print(
        f"{name:<6} connect {median:8.2f} ms against {expected:7.2f} ({median - expected:+.2f}); "
        f"bulk down {rates['down']:.1%}, up {rates['up']:.1%} of the rate asked; "
        f"{accuracy_text(report)}"
    )
    return {
        "link": link.as_json(),
        "connect_ms": times,
        "expected_connect_ms": expected,
        "rate_fraction": rates,
        "emulator": report,
    }


def loss(name: str, datagrams: int) -> dict[str, Any]:
    """Datagrams through a lossy profile: the share lost, and its 99.9% binomial bounds."""
    link = parse_link(name)
    with LinkedProcess(link.name, *PEER) as peer:
        peer.wait_for("peer ready")
        peer.link_report()
        received = udp_loss(peer.address, datagrams, link.rtt_ms)
        report = peer.link_report()
    lost = datagrams - received
    spread = 3.29 * math.sqrt(link.loss * (1 - link.loss) / datagrams)  # two-sided 99.9%
    inside = abs(lost / datagrams - link.loss) <= spread
    print(
        f"{name:<6} lost {lost} of {datagrams:,} datagrams: {lost / datagrams:.2%} against "
        f"{link.loss:.2%} asked (99.9% bounds {link.loss - spread:.2%}..{link.loss + spread:.2%}:"
        f" {'inside' if inside else 'OUTSIDE'}); the emulator counted {report['up']['lost']} "
        f"lost, {report['accuracy']['unasked_drops']} dropped unasked"
    )
    return {"link": link.as_json(), "sent": datagrams, "received": received, "emulator": report}


def ceiling(seconds: float) -> dict[str, Any]:
    """An unlimited link: one bulk download, then a flood of small datagrams."""
    with LinkedProcess("rtt=1ms", *PEER) as peer:
        peer.wait_for("peer ready")
        peer.link_report()
        bulk = download_mbit(peer.address, 60_000_000)
        bulk_report = peer.link_report()
        sent, start = 0, time.perf_counter()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            while time.perf_counter() - start < seconds:
                for _ in range(100):
                    udp.sendto(b"x" * 18, (peer.address, UDP_PORT))  # 46-byte packets
                sent += 100
        flood_s = time.perf_counter() - start
        time.sleep(0.5)
        flood_report = peer.link_report()
    up = flood_report["up"]
    print(
        f"ceiling: one TCP download at {bulk:.0f} Mbit/s ({accuracy_text(bulk_report)}); "
        f"{sent / flood_s:,.0f} small datagrams/s sent, {up['packets'] / flood_s:,.0f}/s "
        f"through the emulator ({accuracy_text(flood_report)})"
    )
    return {
        "bulk_mbit": bulk,
        "bulk": bulk_report,
        "sent": sent,
        "seconds": flood_s,
        "flood": flood_report,
    }


def main(argv: list[str] | None = None) -> int:
    """Measure, print a line per profile, optionally write JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--profile", action="append", choices=list(PROFILES), help="(default: every profile)"
    )
    parser.add_argument("--connects", type=int, default=20, help="per link (%(default)s)")
    parser.add_argument("--datagrams", type=int, default=20_000, help="per lossy link")
    parser.add_argument("--no-ceiling", action="store_true", help="skip the unlimited link")
    parser.add_argument("--json", metavar="FILE", help="write every measurement")
    args = parser.parse_args(argv)
    try:
        check_privileges()
    except LinkUnavailable as exc:
        print(f"link_accuracy: {exc}", file=sys.stderr)
        return 2
    names = args.profile or list(PROFILES)
    document: dict[str, Any] = {"command": ["python", "benchmarks/link_accuracy.py", *sys.argv[1:]]}
    document["round_trip"] = round_trip(args.connects)
    document["profiles"] = {name: profile(name, args.connects) for name in names}
    lossy = [name for name in names if PROFILES[name].loss]
    document["loss"] = {name: loss(name, args.datagrams) for name in lossy}
    if not args.no_ceiling:
        document["ceiling"] = ceiling(2.0)
    if args.json:
        Path(args.json).write_text(json.dumps(document, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
