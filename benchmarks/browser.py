"""The benchmark page in real browsers (Chromium, Firefox), against real servers, runs interleaved.

    python benchmarks/browser.py                     # WebSocket pipelined: MySQL vs --db null:
    python benchmarks/browser.py --compare           # every mode, group vs per-message commit
    python benchmarks/browser.py --compare --tls     # six modes over TLS, HTTP/2 among them
    python benchmarks/browser.py --browser firefox   # one browser (default: every one installed)

Each case (a page mode, against one server, in one browser) is measured alternately with the
others in the same session, so drift on a noisy machine hits them alike. Prints per browser the
medians with min..max and ratios, then how the browsers compare on the same case; --json keeps
the raw samples, with each browser's name and version and the protocol each run really used.

Bytes and packets on the wire: as root, each server runs in a network namespace of its own,
joined to this one by a veth pair and reaching MariaDB over its unix socket, and the pair's
counters give each run's traffic, every header included (wsbench.testing.wire). Elsewhere the
servers run on loopback and the wire is not measured.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wsbench import __version__
from wsbench.bench.cli import parse_choices
from wsbench.bench.report import environment
from wsbench.bench.stats import paired_ratios, spread
from wsbench.testing.browser import (
    Browser,
    BrowserMissing,
    BrowserName,
    installed,
    launch,
    run_page,
)
from wsbench.testing.cpu import MachineTime, cpu_seconds, mariadb_pid
from wsbench.testing.server import ServerProcess, page_url
from wsbench.testing.wire import Link, Wire, WireUnavailable, private_link
from wsbench.vocabulary import PageMode, WireProtocol

MYSQL = "mysql://wsbench@127.0.0.1:3306/test"
MODES = {
    PageMode.WEBSOCKET_PIPELINED: "WebSocket, pipelined",
    PageMode.WEBSOCKET_ONE_AT_A_TIME: "WebSocket, one at a time",
    PageMode.HTTP_ONE_AT_A_TIME: "HTTP, one at a time",
    PageMode.HTTP_CONCURRENT: "HTTP, concurrent",
}
TLS_MODES = {
    **MODES,
    PageMode.HTTP2_ONE_AT_A_TIME: "HTTP/2, one at a time",
    PageMode.HTTP2_CONCURRENT: "HTTP/2, concurrent",
}
# What each mode's runs must say they spoke; anything else is an error, not a result.
PROTOCOLS = {
    "websocket": WireProtocol.WEBSOCKET,
    "http": WireProtocol.HTTP1,
    "http2": WireProtocol.HTTP2,
}
MYSQL_SOCKET = "/run/mysqld/mysqld.sock"
TITLES = {BrowserName.CHROMIUM: "Chromium", BrowserName.FIREFOX: "Firefox"}


@dataclass
class PageCase:
    """One thing measured: a page mode against one server, in one browser."""

    label: str  # the mode and the server, the same in every browser
    server: str  # key into the servers dict
    mode: PageMode
    n: int
    browser: BrowserName
    elapsed_ms: list[float] = field(default_factory=list)
    run_ids: list[str] = field(default_factory=list)  # the page's, warm-ups included
    wire: list[Wire] = field(default_factory=list)  # per measured run, when counted
    protocol: str = ""  # what the runs said they spoke
    # Per timed run: CPU of the server and of MariaDB (when its pid is readable), and the
    # fraction of both cores that was busy, whoever used it.
    server_cpu_ms: list[float] = field(default_factory=list)
    mariadb_cpu_ms: list[float] = field(default_factory=list)
    busy: list[float] = field(default_factory=list)

    @property
    def wire_per_number(self) -> dict[str, float] | None:
        """Bytes and packets each way per number, over every measured run; None if not counted."""
        if not self.wire:
            return None
        total = Wire(*(sum(getattr(w, f) for w in self.wire) for f in Wire.__dataclass_fields__))
        return total.per(self.n * len(self.wire))

    @property
    def rate(self) -> float:
        """Median numbers per second."""
        return self.n / statistics.median(self.elapsed_ms) * 1000


def paired_ratio(slow: PageCase, fast: PageCase) -> list[float]:
    """Per-run ratios of per-number time, slow over fast, from runs made side by side."""
    return paired_ratios(
        [ms / slow.n for ms in slow.elapsed_ms], [ms / fast.n for ms in fast.elapsed_ms]
    )


def ratio(slow: PageCase, fast: PageCase) -> str:
    """``7.42x (6.90..8.01)``: how many times the fast case's time per number the slow one's."""
    return spread(paired_ratio(slow, fast), ".2f", "x")


def measure(
    cases: list[PageCase],
    servers: dict[str, list[str]],
    browsers: Sequence[BrowserName],
    runs: int,
    warmup: int,
    links: dict[str, Link],
) -> dict[BrowserName, str]:
    """Run every case ``warmup + runs`` times, interleaved; return each browser's version.

    ``links``: each server's private link, whose counters give a run's traffic. With links the
    runs count the wire and their times are not kept: a veth that sends one segment per packet
    (as a real Ethernet) is slower than loopback, so the times come from a pass without them.
    """
    with contextlib.ExitStack() as stack:
        started = {
            name: stack.enter_context(server_process(args, links.get(name)))
            for name, args in servers.items()
        }
        running: dict[BrowserName, Browser] = {
            name: stack.enter_context(launch(name)) for name in browsers
        }
        mariadb = mariadb_pid()
        for index in range(warmup + runs):
            for case in cases if index % 2 == 0 else cases[::-1]:
                server = started[case.server]
                url = page_url(server, n=case.n, mode=case.mode, autorun=1)
                link = links.get(case.server)
                before = link.counters() if link else None
                cpu_before = CpuUse.now(server.process.pid, mariadb)
                result = run_page(running[case.browser], url, timeout_s=600)
                cpu = CpuUse.now(server.process.pid, mariadb).since(cpu_before)
                traffic = link.counters() - before if link and before else None
                check(case, result)
                case.run_ids.append(result["run"])
                case.protocol = f"{result['protocol']}{' (TLS)' if result['tls'] else ''}"
                if index < warmup:
                    continue
                if traffic is not None:
                    case.wire.append(traffic)
                else:
                    case.elapsed_ms.append(result["elapsed_ms"])
                    case.server_cpu_ms.append(cpu.server_ms)
                    case.busy.append(cpu.busy)
                    if cpu.mariadb_ms is not None:
                        case.mariadb_cpu_ms.append(cpu.mariadb_ms)
        return {name: browser.version for name, browser in running.items()}


@dataclass(frozen=True)
class CpuUse:
    """CPU counters around one page run: the server's, MariaDB's, the machine's."""

    server_s: float
    mariadb_s: float | None
    machine: MachineTime

    @classmethod
    def now(cls, server: int, mariadb: int | None) -> CpuUse:
        """The counters at this moment."""
        return cls(
            cpu_seconds(server),
            None if mariadb is None else cpu_seconds(mariadb),
            MachineTime.now(),
        )

    def since(self, earlier: CpuUse) -> CpuSpent:
        """What was spent since ``earlier``."""
        mariadb = None
        if self.mariadb_s is not None and earlier.mariadb_s is not None:
            mariadb = (self.mariadb_s - earlier.mariadb_s) * 1000
        busy = self.machine.busy_since(earlier.machine)
        return CpuSpent((self.server_s - earlier.server_s) * 1000, mariadb, busy)


@dataclass(frozen=True)
class CpuSpent:
    """CPU spent during one page run (page load included): ms of the server, of MariaDB."""

    server_ms: float
    mariadb_ms: float | None
    busy: float  # the fraction of all cores' time that was busy


def server_process(args: list[str], link: Link | None) -> ServerProcess:
    """A server on loopback, or inside ``link``'s namespace, where it reaches MariaDB by socket."""
    if link is None:
        return ServerProcess(*args)
    # Outside loopback, file:// pages (Origin: null) are admitted only when asked for.
    where = ["--host", link.server_address, "--allow-origin", "null"]
    return ServerProcess(*args, *where, prefix=link.prefix)


def check(case: PageCase, result: dict[str, Any]) -> None:
    """A run that lost numbers, or that cannot say what it measured, is no benchmark."""
    stored = None if case.server == "null" else case.n
    if result["state"] != "done" or result["acked"] != case.n or result["rows_verified"] != stored:
        raise SystemExit(f"{case.label} in {case.browser}: the run failed: {result}")
    if result["mode"] != case.mode.removeprefix(f"{result['transport']}/"):
        raise SystemExit(f"{case.label} in {case.browser}: the page ran {result}, not {case.mode}")
    expected = PROTOCOLS[case.mode.split("/")[0]]
    if result.get("protocol") != expected:
        raise SystemExit(
            f"{case.label} in {case.browser}: the browser spoke {result.get('protocol')!r}, "
            f"not {expected}: {result}"
        )


def cpu_text(case: PageCase) -> str:
    """``server 160 ms, MariaDB 65 ms, machine 96% busy``: medians per run."""
    mariadb = (
        f"{statistics.median(case.mariadb_cpu_ms):.0f} ms" if case.mariadb_cpu_ms else "unknown"
    )
    return (
        f"server {statistics.median(case.server_cpu_ms):.0f} ms, MariaDB {mariadb}, "
        f"machine {statistics.median(case.busy):.0%} busy"
    )


def wire_text(case: PageCase) -> str:
    """``312 B 1.0 pkt / 98 B 1.0 pkt``: up, then down, per number; ``-`` when not counted."""
    wire = case.wire_per_number
    if wire is None:
        return "-"
    return (
        f"{wire['bytes_up']:,.0f} B {wire['packets_up']:.2f} pkt / "
        f"{wire['bytes_down']:,.0f} B {wire['packets_down']:.2f} pkt"
    )


def report(
    cases: list[PageCase],
    versions: dict[BrowserName, str],
    compare: bool,
    runs: int,
    warmup: int,
    wire_note: str,
) -> None:
    """Per browser: the table, the ratios and the target; then the browsers against each other."""
    print(
        f"wsbench {__version__}, {runs} runs per case after {warmup} warm-up, interleaved; "
        f"medians with (min..max); wire: {wire_note}"
    )
    for name, version in versions.items():
        mine = [case for case in cases if case.browser is name]
        print(f"\n{TITLES[name]} {version}")
        print(
            f"{'case':<40} {'N':>6}  {'elapsed ms':<28} {'numbers/s':>10}  {'protocol':<16}"
            "  wire per number, up / down"
        )
        for case in mine:
            elapsed = spread(case.elapsed_ms, ".1f")
            print(
                f"{case.label:<40} {case.n:>6}  {elapsed:<28} {case.rate:>10,.0f}"
                f"  {case.protocol:<16}  {wire_text(case)}"
            )
        print(
            "CPU per run, page load included: the server's, MariaDB's, and how busy all cores were"
        )
        for case in mine:
            print(f"  {case.label:<38} {cpu_text(case)}")
        fastest = max(mine, key=lambda case: case.rate)
        for case in mine:
            if case is not fastest:
                print(f"{fastest.label} is {ratio(case, fastest)} faster than {case.label}")
        if compare:
            group, naive = mine[0], mine[len(mine) // 2]
            print(
                f"WebSocket, pipelined: group commit is {ratio(naive, group)} faster than "
                "per-message commit (target: at least 8x)"
            )
        else:
            print(f"MySQL takes {ratio(mine[0], mine[1])} the time of the null store")
    if len(versions) > 1:
        print("\nthe browsers side by side, the same case")
        first, *others = versions
        for case in (case for case in cases if case.browser is first):
            for other in others:
                twin = next(c for c in cases if c.browser is other and c.label == case.label)
                fast, slow = case, twin
                if statistics.median(paired_ratio(twin, case)) < 1:  # the paired runs decide
                    fast, slow = twin, case
                print(
                    f"{case.label}: {TITLES[fast.browser]} is {ratio(slow, fast)} faster "
                    f"than {TITLES[slow.browser]}"
                )


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, print the tables, optionally write JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--compare", action="store_true", help="every mode, group vs per-message")
    parser.add_argument(
        "--browser",
        action="append",
        metavar="LIST",
        help="chromium, firefox, or both: --browser chromium,firefox (default: every browser "
        "installed)",
    )
    parser.add_argument(
        "-n", type=int, default=10_000, help="numbers per WebSocket run (%(default)s)"
    )
    parser.add_argument(
        "--nhttp", type=int, default=1000, help="numbers per HTTP run (%(default)s)"
    )
    parser.add_argument("--runs", type=int, default=5, help="measured runs per case (%(default)s)")
    parser.add_argument("--warmup", type=int, default=1, help="unmeasured runs first (%(default)s)")
    parser.add_argument(
        "--tls", action="store_true", help="servers with --tls; --compare then has six modes"
    )
    parser.add_argument("--mysql", default=MYSQL, help="database URL (%(default)s)")
    parser.add_argument(
        "--mysql-socket",
        default=MYSQL_SOCKET,
        metavar="PATH",
        help="MariaDB's unix socket, for servers in a namespace of their own (%(default)s)",
    )
    parser.add_argument(
        "--no-wire", action="store_true", help="servers on loopback; do not count the wire"
    )
    parser.add_argument("--json", metavar="FILE", help="write the raw samples and environment")
    args = parser.parse_args(argv)
    if args.browser:
        try:
            chosen = parse_choices(args.browser, list(BrowserName), "")
        except ValueError as exc:
            parser.error(str(exc))
        browsers = [BrowserName(name) for name in chosen]
    else:
        browsers = installed()
        if not browsers:
            parser.error("no browser is installed: apt-get install chromium firefox-esr")

    tls = ["--tls"] if args.tls else []
    if args.compare:
        servers = {commit: [*tls, "--commit", commit] for commit in ("group", "per-message")}
        modes = TLS_MODES if args.tls else MODES
        plan = [
            (f"{label} [{name}]", name, mode, args.nhttp if is_http(mode) else args.n)
            for name in servers
            for mode, label in modes.items()
        ]
    else:
        servers = {"mysql": [*tls], "null": [*tls, "--db", "null:"]}
        plan = [
            (f"WebSocket, pipelined [{name}]", name, PageMode.WEBSOCKET_PIPELINED, args.n)
            for name in servers
        ]
    cases = [PageCase(*entry, browser) for browser in browsers for entry in plan]
    with contextlib.ExitStack() as stack:
        links: dict[str, Link] = {}
        wire_note = "not counted (--no-wire)"
        if not args.no_wire:
            try:
                links = {name: stack.enter_context(private_link()) for name in servers}
                wire_note = "counted in one more run of each case, on a veth pair per server"
            except WireUnavailable as exc:
                wire_note = f"not counted: {exc}"
        database = database_url(args.mysql, args.mysql_socket)  # off the counted link
        plan_flags = list(servers.items())
        servers = {name: ["--db", args.mysql, *flags] for name, flags in plan_flags}
        try:
            versions = measure(cases, servers, browsers, args.runs, args.warmup, {})
            if links:  # then one more run of each case, in the namespaces, for the wire
                in_namespaces = {name: ["--db", database, *flags] for name, flags in plan_flags}
                measure(cases, in_namespaces, browsers, 1, 0, links)
        except BrowserMissing as exc:
            print(f"cannot start a browser: {exc}", file=sys.stderr)
            return 2
    report(cases, versions, args.compare, args.runs, args.warmup, wire_note)
    if args.json:
        write_json(Path(args.json), args, cases, versions)
    return 0


def is_http(mode: PageMode) -> bool:
    """An HTTP mode (HTTP/1.1 or HTTP/2): these run with --nhttp numbers."""
    return not mode.startswith("websocket/")


def database_url(url: str, socket: str | None) -> str:
    """The server's database: over ``socket`` when it runs off loopback, in a namespace."""
    if socket is None:
        return url
    return f"{url.replace('@127.0.0.1:', '@localhost:')}?unix_socket={socket}"


def write_json(
    path: Path, args: argparse.Namespace, cases: list[PageCase], versions: dict[BrowserName, str]
) -> None:
    """Raw samples and the environment they were measured in, each case with its browser."""
    document = {
        "command": ["python", "benchmarks/browser.py", *sys.argv[1:]],
        "runs": args.runs,
        "warmup": args.warmup,
        "cases": [
            {
                "label": c.label,
                "browser": {"name": c.browser.value, "version": versions[c.browser]},
                "server": c.server,
                "mode": c.mode.value,
                "n": c.n,
                "elapsed_ms": c.elapsed_ms,
                "run_ids": c.run_ids,
                "numbers_per_s_median": c.rate,
                "protocol": c.protocol,
                "tls": args.tls,
                "wire_per_number": c.wire_per_number,
                "server_cpu_ms": c.server_cpu_ms,
                "mariadb_cpu_ms": c.mariadb_cpu_ms or None,
                "machine_busy": c.busy,
            }
            for c in cases
        ],
        "environment": {
            **environment({"store": "mysql"}, args.mysql),
            "browsers": {name.value: version for name, version in versions.items()},
        },
    }
    path.write_text(json.dumps(document, indent=2) + "\n")


if __name__ == "__main__":
    sys.exit(main())
