"""Emulated network links: a namespace behind a delay line, with a profile's RTT, rates and loss.

``profiles`` and ``pipe`` and ``limit`` are pure; ``tun`` makes the namespace and its devices;
``emulator`` carries the packets; ``python -m wsbench.link`` runs a command behind a link.
"""

from .limit import Pattern, choose_n, limit_ms, rounds_ms
from .profiles import PROFILES, Link, LinkSpecError, parse_link

# The contract between `python -m wsbench.link` and what it runs: the command behind the link is
# told the link's name and this machine's address as seen from behind it, and the link's report
# is printed as a line that starts with STATS, then the JSON document.
LINK_ENV, HOST_ENV = "WSBENCH_LINK", "WSBENCH_LINK_HOST"
STATS = "wsbench.link stats "

__all__ = [
    "HOST_ENV",
    "LINK_ENV",
    "PROFILES",
    "STATS",
    "Link",
    "LinkSpecError",
    "Pattern",
    "choose_n",
    "limit_ms",
    "parse_link",
    "rounds_ms",
]
