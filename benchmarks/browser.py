"""The page in headless Chromium, against MySQL and against ``--db null:``, several times each.

    python benchmarks/browser.py --runs 7 -n 10000 [--json results.json]

Prints the median and min..max elapsed time of each, and how the MySQL runs compare with the
null-store runs measured alternately in the same session (the transport's floor).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from playwright.sync_api import sync_playwright  # noqa: E402

from wsbench import __version__  # noqa: E402
from wsbench.harness import CHROMIUM, CHROMIUM_ARGS, ServerProcess, page_url, run_page  # noqa: E402

MYSQL = "mysql://wsbench@127.0.0.1:3306/test"


def spread(samples: list[float]) -> str:
    """``median (min..max)``."""
    return f"{statistics.median(samples):8.1f}  ({min(samples):.1f}..{max(samples):.1f})"


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the table; exit 1 if a run fails."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=10_000, help="numbers per run (%(default)s)")
    parser.add_argument(
        "--runs", type=int, default=7, help="measured runs per target (%(default)s)"
    )
    parser.add_argument("--warmup", type=int, default=1, help="unmeasured runs first (%(default)s)")
    parser.add_argument("--mysql", default=MYSQL, help="database URL (%(default)s)")
    parser.add_argument("--json", metavar="FILE", help="write raw samples and environment")
    args = parser.parse_args(argv)
    urls = {"mysql": args.mysql, "null": "null:"}

    samples: dict[str, list[float]] = {name: [] for name in urls}
    servers = {name: ServerProcess("--db", url) for name, url in urls.items()}
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            for index in range(args.warmup + args.runs):
                # Alternate the targets so drift on a noisy machine hits both alike.
                order = list(servers) if index % 2 == 0 else list(reversed(servers))
                for name in order:
                    result = run_page(browser, page_url(servers[name], n=args.n, autorun=1))
                    check(name, result, args.n)
                    if index >= args.warmup:
                        samples[name].append(result["elapsed_ms"])
            browser_version = browser.version
            browser.close()
    finally:
        for server in servers.values():
            server.stop()

    print(
        f"wsbench {__version__}: page in Chromium {browser_version}, n = {args.n:,}, "
        f"{args.runs} runs each after {args.warmup} warm-up"
    )
    print(f"{'target':<8} {'median ms':>10}  (min..max)      numbers/s (median)")
    for name, values in samples.items():
        rate = args.n / statistics.median(values) * 1000
        print(f"{name:<8} {spread(values)}   {rate:,.0f}")
    ratios = [m / z for m, z in zip(samples["mysql"], samples["null"], strict=True)]
    print(
        f"mysql / null (same run, paired): {statistics.median(ratios):.2f}x "
        f"({min(ratios):.2f}..{max(ratios):.2f}); target: at most 1.15x"
    )
    if args.json:
        write_json(args, samples, ratios, browser_version)
    return 0


def check(name: str, result: dict[str, Any], n: int) -> None:
    """A benchmark of a run that lost numbers is worthless: stop loudly."""
    expected_rows = n if name == "mysql" else None
    if (
        result["state"] != "done"
        or result["acked"] != n
        or result["rows_verified"] != expected_rows
    ):
        raise SystemExit(f"{name} run failed: {result}")


def write_json(args: argparse.Namespace, samples: dict, ratios: list, browser: str) -> None:
    """Raw samples and the environment they were measured in."""
    import mysql.connector
    import websockets

    document = {
        "n": args.n,
        "runs": args.runs,
        "warmup": args.warmup,
        "samples_ms": samples,
        "ratio_mysql_over_null": ratios,
        "environment": {
            "wsbench": __version__,
            "python": platform.python_version(),
            "websockets": websockets.__version__,
            "mysql_connector": mysql.connector.__version__,
            "browser": f"Chromium {browser}",
            "platform": platform.platform(),
        },
    }
    Path(args.json).write_text(json.dumps(document, indent=2) + "\n")


if __name__ == "__main__":
    sys.exit(main())
