"""The benchmark page in headless Chromium, against real servers, several runs per case.

    python benchmarks/browser.py                 # WebSocket pipelined: MySQL vs --db null:
    python benchmarks/browser.py --compare       # every mode, MySQL group vs per-message commit

Each case is measured alternately with the others in the same session, so drift on a noisy
machine hits them alike. Prints medians with min..max and ratios; --json keeps the raw samples.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from playwright.sync_api import sync_playwright  # noqa: E402

from wsbench import __version__  # noqa: E402
from wsbench.bench import environment, paired_ratios  # noqa: E402
from wsbench.harness import CHROMIUM, CHROMIUM_ARGS, ServerProcess, page_url, run_page  # noqa: E402

MYSQL = "mysql://wsbench@127.0.0.1:3306/test"
MODES = {
    "websocket/pipelined": "WebSocket, pipelined",
    "websocket/one-at-a-time": "WebSocket, one at a time",
    "http/one-at-a-time": "HTTP, one at a time",
    "http/concurrent": "HTTP, concurrent",
}


@dataclass
class Case:
    """One thing measured: a page mode against one server."""

    label: str
    server: str  # key into the servers dict
    mode: str
    n: int
    elapsed_ms: list[float] = field(default_factory=list)

    @property
    def rate(self) -> float:
        """Median numbers per second."""
        return self.n / statistics.median(self.elapsed_ms) * 1000


def spread(values: list[float], digits: int = 1, unit: str = "") -> str:
    """``median (min..max)``, with the unit after the median: ``9.80x (6.73..10.52)``."""
    m, lo, hi = statistics.median(values), min(values), max(values)
    return f"{m:.{digits}f}{unit} ({lo:.{digits}f}..{hi:.{digits}f})"


def paired_ratio(slow: Case, fast: Case) -> list[float]:
    """Per-run ratios of per-number time, slow over fast, from runs made side by side."""
    return paired_ratios(
        [ms / slow.n for ms in slow.elapsed_ms], [ms / fast.n for ms in fast.elapsed_ms]
    )


def measure(
    cases: list[Case], servers: dict[str, list[str]], runs: int, warmup: int
) -> tuple[dict[str, ServerProcess], str]:
    """Run every case ``warmup + runs`` times, interleaved; return the servers' info, browser."""
    started = {name: ServerProcess(*args) for name, args in servers.items()}
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            for index in range(warmup + runs):
                order = cases if index % 2 == 0 else cases[::-1]
                for case in order:
                    url = page_url(started[case.server], n=case.n, mode=case.mode, autorun=1)
                    result = run_page(browser, url, timeout_s=600)
                    check(case, result)
                    if index >= warmup:
                        case.elapsed_ms.append(result["elapsed_ms"])
            version = browser.version
            browser.close()
    finally:
        for server in started.values():
            server.stop()
    return started, version


def check(case: Case, result: dict[str, Any]) -> None:
    """A run that lost numbers is no benchmark: stop loudly."""
    stored = None if case.server == "null" else case.n
    if result["state"] != "done" or result["acked"] != case.n or result["rows_verified"] != stored:
        raise SystemExit(f"{case.label}: the run failed: {result}")


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, print the table, optionally write JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--compare", action="store_true", help="every mode, group vs per-message")
    parser.add_argument(
        "-n", type=int, default=10_000, help="numbers per WebSocket run (%(default)s)"
    )
    parser.add_argument(
        "--nhttp", type=int, default=1000, help="numbers per HTTP run (%(default)s)"
    )
    parser.add_argument("--runs", type=int, default=5, help="measured runs per case (%(default)s)")
    parser.add_argument("--warmup", type=int, default=1, help="unmeasured runs first (%(default)s)")
    parser.add_argument("--mysql", default=MYSQL, help="database URL (%(default)s)")
    parser.add_argument("--json", metavar="FILE", help="write the raw samples and environment")
    args = parser.parse_args(argv)

    if args.compare:
        servers = {
            "group": ["--db", args.mysql, "--commit", "group"],
            "per-message": ["--db", args.mysql, "--commit", "per-message"],
        }
        cases = [
            Case(f"{label} [{commit}]", commit, mode, args.nhttp if "http" in mode else args.n)
            for commit in servers
            for mode, label in MODES.items()
        ]
    else:
        servers = {"mysql": ["--db", args.mysql], "null": ["--db", "null:"]}
        cases = [
            Case(f"WebSocket, pipelined [{name}]", name, "websocket/pipelined", args.n)
            for name in servers
        ]
    _, browser = measure(cases, servers, args.runs, args.warmup)

    print(
        f"wsbench {__version__}, Chromium {browser}, {args.runs} runs per case after "
        f"{args.warmup} warm-up; medians with (min..max)"
    )
    fastest = max(cases, key=lambda case: case.rate)
    print(f"{'case':<40} {'N':>6}  {'elapsed ms':<28} {'numbers/s':>10}")
    for case in cases:
        print(f"{case.label:<40} {case.n:>6}  {spread(case.elapsed_ms):<28} {case.rate:>10,.0f}")
    print()
    for case in cases:
        if case is not fastest:
            ratio = spread(paired_ratio(case, fastest), 2, "x")
            print(f"{fastest.label} is {ratio} faster than {case.label}")
    if args.compare:
        group, naive = cases[0], cases[len(MODES)]
        ratio = spread(paired_ratio(naive, group), 2, "x")
        print(
            f"\nWebSocket, pipelined: group commit is {ratio} faster than per-message commit "
            "(target: at least 8x)"
        )
    else:
        ratio = spread(paired_ratio(cases[0], cases[1]), 2, "x")
        print(f"\nMySQL takes {ratio} the time of the null store (target: at most 1.15x)")
    if args.json:
        write_json(Path(args.json), args, cases, browser)
    return 0


def write_json(path: Path, args: argparse.Namespace, cases: list[Case], browser: str) -> None:
    """Raw samples and the environment they were measured in."""
    document = {
        "runs": args.runs,
        "warmup": args.warmup,
        "cases": [
            {
                "label": c.label,
                "server": c.server,
                "mode": c.mode,
                "n": c.n,
                "elapsed_ms": c.elapsed_ms,
            }
            for c in cases
        ],
        "environment": {
            **environment({"store": "mysql"}, args.mysql),
            "browser": f"Chromium {browser}",
        },
    }
    path.write_text(json.dumps(document, indent=2) + "\n")


if __name__ == "__main__":
    sys.exit(main())
