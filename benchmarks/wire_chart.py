"""Draw the bytes on the wire per number, as an SVG bar chart, from benchmarks/browser.py --json.

    python benchmarks/wire_chart.py cleartext.json tls.json -o docs/wire-per-number.svg

One group of bars per mode (group commit, one browser): bytes up and bytes down per number, each
file's cases side by side, so cleartext and TLS read against each other. Numbers on the bars are
the measured figures; nothing is computed but the scale.
"""

from __future__ import annotations

import argparse
import json
import sys
from html import escape
from pathlib import Path
from typing import Any

BAR, GAP, LEFT, TOP = 16, 28, 290, 40
COLOURS = {"up": "#3b6fb6", "down": "#e08a2c"}


def bars(documents: list[dict[str, Any]], browser: str) -> list[tuple[str, str, float]]:
    """(mode label, direction, bytes per number) for every counted group-commit case."""
    rows = []
    for document in documents:
        for case in document["cases"]:
            wire = case.get("wire_per_number")
            if case["browser"]["name"] != browser or wire is None or "[group]" not in case["label"]:
                continue
            label = f"{case['label'].removesuffix(' [group]')}, {case['protocol']}"
            rows.append((label, "up", wire["bytes_up"]))
            rows.append((label, "down", wire["bytes_down"]))
    return rows


def svg(rows: list[tuple[str, str, float]], title: str) -> str:
    """A horizontal bar chart of the rows, two bars (up, down) per label."""
    width = 960
    scale = (width - LEFT - 90) / max(value for _, _, value in rows)
    labels = list(dict.fromkeys(label for label, _, _ in rows))
    height = TOP + len(labels) * (2 * BAR + GAP) + 30
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        'font-family="sans-serif" font-size="12">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<text x="10" y="22" font-size="15" font-weight="bold">{escape(title)}</text>',
    ]
    for index, label in enumerate(labels):
        y = TOP + index * (2 * BAR + GAP)
        parts.append(
            f'<text x="{LEFT - 8}" y="{y + BAR + 4}" text-anchor="end">{escape(label)}</text>'
        )
        for offset, direction in enumerate(("up", "down")):
            value = next(v for lab, d, v in rows if lab == label and d == direction)
            top, length = y + offset * BAR, value * scale
            parts.append(
                f'<rect x="{LEFT}" y="{top}" width="{length:.1f}" height="{BAR - 2}" '
                f'fill="{COLOURS[direction]}"><title>{escape(label)}: {value:,.1f} B '
                f"{direction}</title></rect>"
            )
            parts.append(
                f'<text x="{LEFT + length + 5:.1f}" y="{top + BAR - 4}">{value:,.1f} B {direction}'
                "</text>"
            )
    parts.append(
        f'<text x="{LEFT}" y="{height - 10}" fill="#555">bytes per number, client to server (up)'
        " and back (down), every header, TLS record and TCP/IP packet included</text>"
    )
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def main() -> int:
    """Read the JSON files, write the chart."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("json", nargs="+", type=Path, help="benchmarks/browser.py --json files")
    parser.add_argument("-o", "--output", type=Path, required=True, help="the SVG to write")
    parser.add_argument("--browser", default="chromium", help="whose cases (%(default)s)")
    args = parser.parse_args()
    documents = [json.loads(path.read_text()) for path in args.json]
    rows = bars(documents, args.browser)
    if not rows:
        print(f"no counted group-commit cases of {args.browser} in those files", file=sys.stderr)
        return 1
    version = next(
        case["browser"]["version"]
        for document in documents
        for case in document["cases"]
        if case["browser"]["name"] == args.browser
    )
    args.output.write_text(svg(rows, f"Bytes on the wire per number, {args.browser} {version}"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
