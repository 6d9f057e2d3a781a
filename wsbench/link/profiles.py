"""Links people recognise, and custom ones: round trip, rates each way, loss, buffer. Pure.

"Up" is from the user (the browser) to the server, "down" the other way, as in an ISP's offer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any

MTU = 1500  # the TUN devices' MTU: the largest packet a link carries
DEFAULT_QUEUE = 1000  # packets a direction's buffer holds, as netem's default limit


class LinkSpecError(ValueError):
    """A link description that cannot be parsed; the message shows a valid one."""


@dataclass(frozen=True)
class Link:
    """An emulated link: ``rtt_ms`` in all, split evenly; rates in Mbit/s, None for unlimited."""

    name: str
    rtt_ms: float
    up_mbit: float | None
    down_mbit: float | None
    loss: float = 0.0  # probability that a packet is lost, in each direction
    queue: int = DEFAULT_QUEUE  # packets each direction's buffer holds before it drops

    @property
    def one_way_s(self) -> float:
        """The propagation delay of each direction, in seconds."""
        return self.rtt_ms / 2000

    def describe(self) -> str:
        """``4g: 150 ms RTT, up 750 kbit/s, down 1.6 Mbit/s, no loss``."""
        loss = f"{self.loss:.3g} loss each way" if self.loss else "no loss"
        return (
            f"{self.name}: {self.rtt_ms:g} ms RTT, up {_rate(self.up_mbit)}, "
            f"down {_rate(self.down_mbit)}, {loss}"
        )

    def as_json(self) -> dict[str, Any]:
        """What ``--json`` gives each case as its ``link``."""
        return {
            "name": self.name,
            "rtt_ms": self.rtt_ms,
            "up_mbit": self.up_mbit,
            "down_mbit": self.down_mbit,
            "loss": self.loss,
            "queue_packets": self.queue,
        }


def _rate(mbit: float | None) -> str:
    if mbit is None:
        return "unlimited"
    return f"{mbit * 1000:g} kbit/s" if mbit < 1 else f"{mbit:g} Mbit/s"


# Each with its source: docs/links.md says more.
PROFILES: dict[str, Link] = {
    # A switched Fast Ethernet LAN (IEEE 802.3u line rate); the round trip ping shows on one.
    "lan": Link("lan", rtt_ms=1, up_mbit=100, down_mbit=100),
    # WebPageTest's connectivity.ini: Cable, DSL, 3G.
    "cable": Link("cable", rtt_ms=28, up_mbit=1, down_mbit=5),
    "dsl": Link("dsl", rtt_ms=50, up_mbit=0.384, down_mbit=1.5),
    "3g": Link("3g", rtt_ms=300, up_mbit=0.768, down_mbit=1.6),
    # Lighthouse's mobile throttling (core/config/constants.js): "slow 4G".
    "4g": Link("4g", rtt_ms=150, up_mbit=0.75, down_mbit=1.6),
    # A lossy broadband link: 2% of packets lost each way.
    "lossy": Link("lossy", rtt_ms=50, up_mbit=10, down_mbit=10, loss=0.02),
}

_UNITS = {"bit": 1e-6, "kbit": 1e-3, "mbit": 1.0, "gbit": 1e3}
_EXAMPLE = "rtt=80ms,up=2mbit,down=20mbit,loss=1%"


def parse_link(text: str) -> Link:
    """A profile's name, or a custom link such as ``rtt=80ms,up=2mbit,down=20mbit,loss=1%``.

    A custom link may start from a profile: ``4g,loss=1%`` is slow 4G that also loses packets.
    """
    parts = [part.strip() for part in text.strip().split(",") if part.strip()]
    if not parts:
        raise LinkSpecError(f"no link given: name one of {', '.join(PROFILES)}, or e.g. {_EXAMPLE}")
    base: Link | None = None
    if "=" not in parts[0]:
        base = PROFILES.get(parts[0].lower())
        if base is None:
            raise LinkSpecError(
                f"unknown link profile {parts[0]!r}: choose one of {', '.join(PROFILES)}, "
                f"or describe one, e.g. {_EXAMPLE}"
            )
        parts = parts[1:]
    fields: dict[str, Any] = {}
    for part in parts:
        key, _, value = part.partition("=")
        key, value = key.strip().lower(), value.strip().lower()
        if key == "rtt":
            fields["rtt_ms"] = _duration_ms(value, part)
        elif key in ("up", "down"):
            fields[f"{key}_mbit"] = _rate_mbit(value, part)
        elif key == "loss":
            fields["loss"] = _fraction(value, part)
        elif key == "queue":
            fields["queue"] = _whole(value, part)
        else:
            raise LinkSpecError(
                f"unknown link setting {key!r} in {part!r}: the settings are rtt, up, down, "
                f"loss and queue, e.g. {_EXAMPLE}"
            )
    if base is not None:
        name = text.strip() if fields else base.name
        return replace(base, name=name, **fields)
    if "rtt_ms" not in fields:
        raise LinkSpecError(f"a custom link needs at least its round trip, e.g. {_EXAMPLE}")
    return Link(
        name=text.strip(),
        rtt_ms=fields["rtt_ms"],
        up_mbit=fields.get("up_mbit"),
        down_mbit=fields.get("down_mbit"),
        loss=fields.get("loss", 0.0),
        queue=fields.get("queue", DEFAULT_QUEUE),
    )


def _duration_ms(value: str, part: str) -> float:
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*(ms|s|us)?", value)
    if not match:
        raise LinkSpecError(f"{part!r}: a round trip is a duration such as 80ms or 0.3s")
    number, unit = float(match[1]), match[2] or "ms"
    ms = number * {"ms": 1.0, "s": 1000.0, "us": 0.001}[unit]
    if ms > 10_000:
        raise LinkSpecError(f"{part!r}: a round trip of more than 10 s is not a link")
    return ms


def _rate_mbit(value: str, part: str) -> float | None:
    if value in ("inf", "unlimited"):
        return None
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*(bit|kbit|mbit|gbit)(?:/s|ps)?", value)
    if not match or float(match[1]) <= 0:
        raise LinkSpecError(
            f"{part!r}: a rate is a positive number with its unit, such as 750kbit or 2mbit "
            "(or unlimited)"
        )
    return float(match[1]) * _UNITS[match[2]]


def _fraction(value: str, part: str) -> float:
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*(%?)", value)
    if not match:
        raise LinkSpecError(f"{part!r}: loss is a percentage such as 1% (or a fraction, 0.01)")
    fraction = float(match[1]) / (100 if match[2] else 1)
    if not 0 <= fraction < 1:
        raise LinkSpecError(
            f"{part!r}: loss must be at least 0% and below 100% (a bare number is a fraction: "
            "write 1% for one packet in a hundred)"
        )
    return fraction


def _whole(value: str, part: str) -> int:
    if not (value.isascii() and value.isdigit()) or int(value) < 1:
        raise LinkSpecError(f"{part!r}: a queue is a whole number of packets, at least 1")
    return int(value)
