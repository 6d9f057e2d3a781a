"""Draw ms per number against a link's round trip or uplink, as an SVG line chart.

    python benchmarks/link_chart.py a.json b.json --x rtt -o docs/link-rtt.svg

From benchmarks/browser.py --json files measured behind emulated links: one line per mode (group
commit, one browser), each point the median run's milliseconds divided by its N, and a thin
dashed line per mode for the link's limit per number. Both axes are logarithmic, so a link with
no round trip (or an unlimited uplink, for --x up) has no place and is left out. Nothing is
computed but medians, divisions and the scale.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
from collections.abc import Callable
from html import escape
from pathlib import Path
from typing import Any, NamedTuple

WIDTH, HEIGHT, LEFT, RIGHT, TOP, BOTTOM = 960, 560, 80, 230, 50, 80
COLOURS = ("#3b6fb6", "#e08a2c", "#3a9a5b", "#c0392b", "#8e5ea2", "#7f7f7f")


class Axis(NamedTuple):
    """What x is: the link's key, the axis's label, its words in the title and caption."""

    key: str
    label: str
    words: str


AXES = {
    "rtt": Axis("rtt_ms", "round-trip time, ms", "round-trip time"),
    "up": Axis("up_mbit", "uplink, Mbit/s", "uplink rate"),
}
FIXED = {  # the link parameters the caption names, and how
    "rtt_ms": ("RTT", "{:g} ms"),
    "up_mbit": ("up", "{:g} Mbit/s"),
    "down_mbit": ("down", "{:g} Mbit/s"),
    "loss": ("loss", "{:.1%}"),
}


class Point(NamedTuple):
    """One case: its x, the median ms per number, the limit per number, its runs, link, browser."""

    x: float
    ms: float
    limit: float
    runs: int
    link: dict[str, Any]
    version: str


def usable(case: dict[str, Any], axis: Axis) -> bool:
    """A group-commit case measured on a link, with a limit and a place on this x axis."""
    link = case.get("link") or {}
    return bool(
        case["label"].endswith("[group]")
        and link.get(axis.key)
        and case.get("limit_ms_median")
        and case["elapsed_ms"]
    )


def first_browser(documents: list[dict[str, Any]], axis: Axis) -> str | None:
    """The browser of the first usable case, if any."""
    names = (c["browser"]["name"] for d in documents for c in d["cases"] if usable(c, axis))
    return next(names, None)


def lines(documents: list[dict[str, Any]], browser: str, axis: Axis) -> dict[str, list[Point]]:
    """Each mode's points ordered by x; of two cases at the same x, the one with more runs."""
    chosen: dict[str, dict[float, Point]] = {}
    for document in documents:
        for case in document["cases"]:
            if case["browser"]["name"] != browser or not usable(case, axis):
                continue
            n, link, elapsed = case["n"], case["link"], case["elapsed_ms"]
            point = Point(
                link[axis.key],
                statistics.median(elapsed) / n,
                case["limit_ms_median"] / n,
                len(elapsed),
                link,
                case["browser"]["version"],
            )
            points = chosen.setdefault(case["label"].removesuffix(" [group]"), {})
            if point.x not in points or point.runs > points[point.x].runs:
                points[point.x] = point
    return {mode: sorted(points.values(), key=lambda p: p.x) for mode, points in chosen.items()}


def ticks(lo: float, hi: float) -> tuple[float, float, list[float]]:
    """A log axis's ends, whole decades around [lo, hi], and its ticks (also 2 and 5 if few)."""
    first, last = math.floor(math.log10(lo)), math.ceil(math.log10(hi))
    last = max(last, first + 1)
    steps = (1, 2, 5) if last - first <= 2 else (1,)
    values = [m * 10.0**e for e in range(first, last + 1) for m in steps]
    return 10.0**first, 10.0**last, [v for v in values if v <= 10.0**last]


def scale(lo: float, hi: float, start: float, end: float) -> Callable[[float], float]:
    """Value to pixel on a log scale, from [lo, hi] onto [start, end]."""
    span = math.log10(hi) - math.log10(lo)
    return lambda value: start + (math.log10(value) - math.log10(lo)) / span * (end - start)


def fixed_text(modes: dict[str, list[Point]], axis: Axis) -> str:
    """The link parameters other than x: each one's value, or "various" if they differ."""
    links = [point.link for points in modes.values() for point in points]
    parts = []
    for key, (name, form) in FIXED.items():
        values = {link.get(key) for link in links}
        if key != axis.key:
            if len(values) > 1:
                parts.append(f"{name} various")
                continue
            value = values.pop()
            parts.append(f"{name} {'unlimited' if value is None else form.format(value)}")
    return ", ".join(parts)


def default_title(modes: dict[str, list[Point]], browser: str, axis: Axis) -> str:
    """``Chromium 156.0.8078.114: ms per number against round-trip time (group commit, MySQL)``."""
    versions = ", ".join(dict.fromkeys(p.version for points in modes.values() for p in points))
    return f"{browser.capitalize()} {versions}: ms per number against {axis.words} " + (
        "(group commit, MySQL)"
    )


def svg(modes: dict[str, list[Point]], axis: Axis, title: str) -> str:
    """A line per mode, measured (solid, with points) and the link's limit (thin, dashed)."""
    every = [point for points in modes.values() for point in points]
    ys = [y for point in every for y in (point.ms, point.limit)]
    x0, x1, xticks = ticks(min(p.x for p in every), max(p.x for p in every))
    y0, y1, yticks = ticks(min(ys), max(ys))
    right, bottom, middle = WIDTH - RIGHT, HEIGHT - BOTTOM, (TOP + HEIGHT - BOTTOM) / 2
    sx, sy = scale(x0, x1, LEFT, right), scale(y0, y1, bottom, TOP)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        'font-family="sans-serif" font-size="12">',
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>',
        f'<text x="10" y="22" font-size="15" font-weight="bold">{escape(title)}</text>',
        f'<rect x="{LEFT}" y="{TOP}" width="{right - LEFT}" height="{bottom - TOP}" fill="none" '
        'stroke="#999"/>',
    ]
    for v in xticks:
        parts += [
            f'<line x1="{sx(v):.1f}" y1="{TOP}" x2="{sx(v):.1f}" y2="{bottom}" stroke="#eee"/>',
            f'<text class="x-tick" x="{sx(v):.1f}" y="{bottom + 16}" text-anchor="middle">'
            f"{v:g}</text>",
        ]
    for v in yticks:
        parts += [
            f'<line x1="{LEFT}" y1="{sy(v):.1f}" x2="{right}" y2="{sy(v):.1f}" stroke="#eee"/>',
            f'<text class="y-tick" x="{LEFT - 6}" y="{sy(v) + 4:.1f}" text-anchor="end">'
            f"{v:g}</text>",
        ]
    for index, (mode, points) in enumerate(modes.items()):
        colour, label, y = COLOURS[index % len(COLOURS)], escape(mode), TOP + 10 + index * 22
        limit = " ".join(f"{sx(p.x):.1f},{sy(p.limit):.1f}" for p in points)
        measured = " ".join(f"{sx(p.x):.1f},{sy(p.ms):.1f}" for p in points)
        parts += [
            f'<polyline class="limit" data-mode="{label}" points="{limit}" fill="none" '
            f'stroke="{colour}" stroke-width="1" stroke-dasharray="4 3"/>',
            f'<polyline class="measured" data-mode="{label}" points="{measured}" fill="none" '
            f'stroke="{colour}" stroke-width="2"/>',
            f'<g class="legend"><line x1="{right + 15}" y1="{y}" x2="{right + 40}" y2="{y}" '
            f'stroke="{colour}" stroke-width="2"/><text x="{right + 46}" y="{y + 4}">{label}'
            "</text></g>",
        ]
        parts += [
            f'<circle cx="{sx(p.x):.1f}" cy="{sy(p.ms):.1f}" r="3.5" fill="{colour}" '
            f'data-mode="{label}" data-x="{p.x:g}" data-ms-per-number="{p.ms:.6g}" '
            f'data-limit-ms-per-number="{p.limit:.6g}"><title>{label} at {p.x:g}: '
            f"{p.ms:.4g} ms per number, limit {p.limit:.4g} ms ({p.runs} runs, "
            f"{escape(p.link['name'])})</title></circle>"
            for p in points
        ]
    y = TOP + 10 + len(modes) * 22
    parts += [
        f'<line x1="{right + 15}" y1="{y}" x2="{right + 40}" y2="{y}" stroke="#555" '
        f'stroke-dasharray="4 3"/><text x="{right + 46}" y="{y + 4}">the link\'s limit</text>',
        f'<text x="{(LEFT + right) / 2}" y="{bottom + 36}" text-anchor="middle">'
        f"{axis.label}</text>",
        f'<text x="18" y="{middle}" text-anchor="middle" transform="rotate(-90 18 {middle})">'
        "ms per number</text>",
        f'<text class="caption" x="10" y="{HEIGHT - 12}" fill="#555">varied: {axis.words}; '
        f"fixed: {escape(fixed_text(modes, axis))}; each point the median run's ms / N</text>",
        "</svg>",
    ]
    return "\n".join(parts) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Read the JSON files, write the chart."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("json", nargs="+", type=Path, help="benchmarks/browser.py --json files")
    parser.add_argument("-o", "--output", type=Path, required=True, help="the SVG to write")
    parser.add_argument("--x", choices=AXES, default="rtt", help="what varies (%(default)s)")
    parser.add_argument("--browser", help="whose cases (default: the first browser found)")
    parser.add_argument("--title", help="the chart's title (default: browser, version and axis)")
    args = parser.parse_args(argv)
    axis = AXES[args.x]
    documents = [json.loads(path.read_text()) for path in args.json]
    browser = args.browser or first_browser(documents, axis) or "any browser"
    for path, document in zip(args.json, documents, strict=True):
        if not lines([document], browser, axis):
            where = f"on an emulated link with a known {axis.words}"
            print(f"{path}: no group-commit case of {browser} {where}", file=sys.stderr)
            return 1
    modes = lines(documents, browser, axis)
    args.output.write_text(svg(modes, axis, args.title or default_title(modes, browser, axis)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
