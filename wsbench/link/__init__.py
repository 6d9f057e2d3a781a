"""Emulated network links: a namespace behind a delay line, with a profile's RTT, rates and loss.

``profiles`` and ``pipe`` and ``limit`` are pure; ``tun`` makes the namespace and its devices;
``emulator`` carries the packets; ``python -m wsbench.link`` runs a command behind a link.
"""

from .limit import Pattern, choose_n, limit_ms, rounds_ms
from .profiles import PROFILES, Link, LinkSpecError, parse_link

__all__ = [
    "PROFILES",
    "Link",
    "LinkSpecError",
    "Pattern",
    "choose_n",
    "limit_ms",
    "parse_link",
    "rounds_ms",
]
