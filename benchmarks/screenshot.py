"""Take the README's picture: the page after "Run all modes", from a real run.

    .venv/bin/python benchmarks/screenshot.py -o docs/page.png

Starts a --tls server writing to MySQL (schema.sql applied; `make run` or `make test` does that),
opens the page where the server serves it in Debian's Chromium, set up for HTTP/3 as the page
tells a user to, clicks "Run all modes" at the page's defaults (N = 10,000, 1,000 for the HTTP
modes), waits until it is done, and saves the page down to the ratios as a PNG. About a minute.
Exits non-zero, with what the page said, when the compare did not end "done".
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from wsbench.testing import chromium
from wsbench.testing.browser import DONE
from wsbench.testing.server import ServerProcess

MYSQL = "mysql://wsbench@127.0.0.1:3306/test"


def main() -> int:
    """Run the compare, save the picture."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--output", type=Path, default=Path("docs/page.png"))
    parser.add_argument("--db", default=MYSQL, help="the server's --db (%(default)s)")
    parser.add_argument("--width", type=int, default=1200, help="the window's width in CSS pixels")
    args = parser.parse_args()
    with ServerProcess("--db", args.db, "--tls") as server:
        origin = server.quic_origin()
        assert origin is not None  # --tls always has a QUIC port
        with chromium.launch(quic=[origin]) as browser:
            page = browser.new_page(viewport={"width": args.width, "height": 900})
            page.goto(f"https://{server.host}:{server.port}/")
            page.wait_for_function("!document.getElementById('store').hidden", timeout=30_000)
            page.click("#compare")
            page.wait_for_function(DONE, timeout=600_000)
            state = page.evaluate("document.body.dataset.state")
            if state != "done":
                print(f"the compare ended {state}: {page.inner_text('#message')}", file=sys.stderr)
                return 1
            # From the top to the ratios: the latency chart and the history stay on the page.
            bottom = page.evaluate(
                "document.getElementById('ratios').getBoundingClientRect().bottom + scrollY + 16"
            )
            clip = {"x": 0, "y": 0, "width": args.width, "height": bottom}
            page.screenshot(path=str(args.output), full_page=True, clip=clip)
            results = page.evaluate("window.benchmarkResult")
    ran = [r for r in results if not r.get("not_run")]
    verified = [
        r for r in ran if r["store"] == "null" or r["rows_verified"] == r["acked"] == r["n"]
    ]
    print(
        f"{args.output}: Chromium {browser.version}, {len(ran)} of {len(results)} modes run, "
        f"{len(verified)} with every number acked and found in the table"
    )
    return 0 if len(verified) == len(ran) else 1


if __name__ == "__main__":
    sys.exit(main())
