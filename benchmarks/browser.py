"""The benchmark page in real browsers (Chromium, Firefox), against real servers, runs interleaved.

    python benchmarks/browser.py                     # WebSocket pipelined: MySQL vs --db null:
    python benchmarks/browser.py --compare           # every mode, group vs per-message commit
    python benchmarks/browser.py --compare --tls     # eleven modes over TLS: HTTP/2, HTTP/3,
                                                     # WebTransport among them
    python benchmarks/browser.py --browser firefox   # one browser (default: every one installed)
    python benchmarks/browser.py --compare --link cable --link 4g   # behind emulated links

Each case (a page mode, against one server, in one browser) is measured alternately with the
others in the same session, so drift on a noisy machine hits them alike. Prints per browser the
medians with min..max and ratios, then how the browsers compare on the same case; --json keeps
the raw samples, with each browser's name and version and the protocol each run really used.

Bytes and packets on the wire: as root, each server runs in a network namespace of its own,
joined to this one by a veth pair and reaching MariaDB over its unix socket, and the pair's
counters give each run's traffic, every header included (wsbench.testing.wire). Elsewhere the
servers run on loopback and the wire is not measured.

Links (--link PROFILE, repeatable; as root): each server runs behind an emulated link
(python -m wsbench.link), every run is timed there and its traffic counted by the link, and
each run is set against the physical limit of that link for the bytes that crossed it
(wsbench.link.limit). N per mode is chosen so that a run takes about --budget-ms, unless -n or
--nhttp say otherwise.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import statistics
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wsbench import __version__
from wsbench.bench.report import environment
from wsbench.bench.settings import parse_choices
from wsbench.link import Link, LinkSpecError, Pattern, choose_n, limit_ms, parse_link, rounds_ms
from wsbench.stats import paired_ratios, spread
from wsbench.testing.browser import (
    Browser,
    BrowserMissing,
    BrowserName,
    installed,
    launch,
    run_page,
)
from wsbench.testing.cpu import MachineTime, cpu_seconds, mariadb_pid
from wsbench.testing.server import LinkedServer, ServerProcess, page_url
from wsbench.testing.wire import Link as Veth
from wsbench.testing.wire import Wire, WireUnavailable, private_link
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
    PageMode.HTTP3_ONE_AT_A_TIME: "HTTP/3, one at a time",
    PageMode.HTTP3_CONCURRENT: "HTTP/3, concurrent",
    PageMode.WEBTRANSPORT_PIPELINED: "WebTransport, pipelined",
    PageMode.WEBTRANSPORT_ONE_AT_A_TIME: "WebTransport, one at a time",
    PageMode.WEBTRANSPORT_DATAGRAMS: "WebTransport, datagrams",
}
# What each mode's runs must say they spoke; anything else is an error, not a result.
PROTOCOLS = {
    "websocket": WireProtocol.WEBSOCKET,
    "http": WireProtocol.HTTP1,
    "http2": WireProtocol.HTTP2,
    "http3": WireProtocol.HTTP3,
    "webtransport": WireProtocol.WEBTRANSPORT,
}
MYSQL_SOCKET = "/run/mysqld/mysqld.sock"
TITLES = {
    BrowserName.CHROMIUM: "Chromium",
    BrowserName.FIREFOX: "Firefox",
    BrowserName.WEBKIT: "WebKitGTK",
}
# To choose N on a link: each mode's bytes per number up and down, cleartext and TLS, rounded
# from the loopback figures in README (a slow link's smaller segments add some), and how many
# requests wait their round trip side by side (a browser's six HTTP/1.1 connections).
EXPECTED_WIRE = {
    "websocket": ((16, 1), (40, 2)),
    "http": ((450, 330), (750, 370)),
    "http2": ((280, 165), (280, 165)),
    # QUIC, always encrypted: a guess until measured, used only to choose N on a link
    "http3": ((200, 150), (200, 150)),
    "webtransport": ((40, 10), (40, 10)),
}
BROWSER_CONNECTIONS = 6  # HTTP/1.1 connections per host in Chromium and Firefox
PARALLEL = {"websocket": 1, "http": BROWSER_CONNECTIONS, "http2": 1, "http3": 1, "webtransport": 1}


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
    link: Link | None = None  # the emulated link the server was behind; None: loopback
    limit_ms: list[float] = field(default_factory=list)  # per timed run on a link
    # HTTP/1.1 concurrent: the round trips a browser's six connections need, per timed run
    rounds_ms: list[float] = field(default_factory=list)
    link_accuracy: list[dict[str, Any]] = field(default_factory=list)  # the emulator's, per run
    # "not supported by BROWSER VERSION: why", when the browser cannot run the mode at all
    unsupported: str = ""

    @property
    def pattern(self) -> Pattern:
        """How this mode uses the link: a round trip per number, or streamed."""
        return Pattern.ONE_AT_A_TIME if "one-at-a-time" in self.mode else Pattern.STREAMED

    @property
    def limit_ratios(self) -> list[float]:
        """Per run: the elapsed time over the link's physical limit for it (none on loopback)."""
        if not self.limit_ms:
            return []
        return [ms / limit for ms, limit in zip(self.elapsed_ms, self.limit_ms, strict=True)]

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
    servers: dict[str, Callable[[], ServerProcess]],
    browsers: Sequence[BrowserName],
    runs: int,
    warmup: int,
    veths: dict[str, Veth],
    run_prefix: str | None = None,
) -> dict[BrowserName, str]:
    """Run every case ``warmup + runs`` times, interleaved; return each browser's version.

    ``run_prefix``: every run's id starts with it (the page's ``?run_prefix=``).

    ``servers``: what starts each server. One behind an emulated link (a ``LinkedServer``) has
    its traffic counted by the link, every run, and its times kept. ``veths``: servers in a
    namespace on a veth pair, whose counters give a run's traffic; those runs count the wire and
    their times are not kept: a veth that sends one segment per packet (as a real Ethernet) is
    slower than loopback, so the times come from a pass without them.
    """
    with contextlib.ExitStack() as stack:
        started = {name: stack.enter_context(start()) for name, start in servers.items()}
        # Chromium must be told at start which self-signed servers speak HTTP/3.
        quic = [origin for server in started.values() if (origin := server.quic_origin())]
        running: dict[BrowserName, Browser] = {
            name: stack.enter_context(launch(name, quic)) for name in browsers
        }
        mariadb = mariadb_pid()
        for index in range(warmup + runs):
            for case in cases if index % 2 == 0 else cases[::-1]:
                if case.unsupported:
                    continue
                server = started[case.server]
                prefix = {"run_prefix": run_prefix} if run_prefix else {}
                url = page_url(server, n=case.n, mode=case.mode, autorun=1, **prefix)
                veth = veths.get(case.server)
                linked = server if isinstance(server, LinkedServer) else None
                before = veth.counters() if veth else None
                if linked:
                    linked.link_report()  # a new period for this run
                cpu_before = CpuUse.now(server.process.pid, mariadb)
                result = run_page(running[case.browser], url, timeout_s=600)
                cpu = CpuUse.now(server.process.pid, mariadb).since(cpu_before)
                traffic = veth.counters() - before if veth and before else None
                report = linked.link_report(timed_window(result)) if linked else None
                if result.get("unsupported"):  # said once, not a failure: the others go on
                    case.unsupported = result["unsupported"]
                    continue
                check(case, result)
                case.run_ids.append(result["run"])
                case.protocol = f"{result['protocol']}{' (TLS)' if result['tls'] else ''}"
                if index < warmup:
                    continue
                if traffic is not None:
                    case.wire.append(traffic)
                    continue
                case.elapsed_ms.append(result["elapsed_ms"])
                case.server_cpu_ms.append(cpu.server_ms)
                case.busy.append(cpu.busy)
                if cpu.mariadb_ms is not None:
                    case.mariadb_cpu_ms.append(cpu.mariadb_ms)
                if report is not None:
                    record_link_run(case, server, result, report)
        return {name: browser.version for name, browser in running.items()}


def timed_window(result: dict[str, Any]) -> tuple[float, float] | None:
    """When the page's clock ran, in ms since the epoch; None for a run that did not finish."""
    start, elapsed = result.get("started_at_ms"), result.get("elapsed_ms")
    if start is None or elapsed is None:
        return None
    return (start, start + elapsed)


def record_link_run(
    case: PageCase, server: ServerProcess, result: dict[str, Any], report: dict[str, Any]
) -> None:
    """Keep a run's traffic while its clock ran, its physical limit, the emulator's accuracy."""
    up, down = report["window"]["up"], report["window"]["down"]
    case.wire.append(Wire(up["bytes"], down["bytes"], up["packets"], down["packets"]))
    limit, setup = run_limit_ms(case, server, result, report)
    case.limit_ms.append(limit)
    if case.mode is PageMode.HTTP_CONCURRENT and case.link is not None:
        case.rounds_ms.append(rounds_ms(case.link, case.n, BROWSER_CONNECTIONS, setup))
    case.link_accuracy.append({**report["accuracy"], "scheduling": report.get("scheduling")})


def run_limit_ms(
    case: PageCase, server: ServerProcess, result: dict[str, Any], report: dict[str, Any]
) -> tuple[float, int]:
    """The least this run could take on its link, for the bytes that crossed it while timed,
    and the round trips it spent opening connections.

    An HTTP run that had to open its connections (TCP SYNs to the port it posts to, seen by
    the link during the run) pays their round trips inside the timed region: TCP's, then TLS
    1.3's. A WebSocket run opens its connection before the clock starts.
    """
    assert case.link is not None
    setup = 0
    # HTTP/3's connection is open before the clock starts (the page checks it speaks h3).
    if case.mode.startswith(("http/", "http2/")):
        port = server.h2_port if case.mode.startswith("http2/") else server.http_port
        if str(port) in report["up"]["syn_ports"]:
            setup = 2 if result["tls"] else 1
    up, down = report["window"]["up"]["bytes"], report["window"]["down"]["bytes"]
    return limit_ms(case.link, case.pattern, case.n, up, down, setup), setup


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


def server_process(args: list[str], veth: Veth | None) -> ServerProcess:
    """A server on loopback, or inside ``veth``'s namespace, where it reaches MariaDB by socket."""
    if veth is None:
        return ServerProcess(*args)
    # Outside loopback, file:// pages (Origin: null) are admitted only when asked for.
    where = ["--host", veth.server_address, "--allow-origin", "null"]
    return ServerProcess(*args, *where, prefix=veth.prefix)


def check(case: PageCase, result: dict[str, Any]) -> None:
    """A run that lost numbers, or that cannot say what it measured, is no benchmark."""
    stored = None if case.server.split(" @ ")[0] == "null" else case.n
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


def limit_text(case: PageCase) -> str:
    """``1,102.0 ms, 1.08x (1.05..1.12)``: the median limit and the runs' ratios to it."""
    if not case.limit_ms:
        return "-"
    text = (
        f"{statistics.median(case.limit_ms):,.1f} ms, "
        f"{spread(case.limit_ratios, '.2f', 'x')} the link's limit"
    )
    if case.rounds_ms:
        over = [ms / bound for ms, bound in zip(case.elapsed_ms, case.rounds_ms, strict=True)]
        text += (
            f"; {BROWSER_CONNECTIONS} connections, a request each per round trip, need "
            f"{statistics.median(case.rounds_ms):,.0f} ms: {spread(over, '.2f', 'x')} that"
        )
    return text


def accuracy_text(cases: list[PageCase]) -> str:
    """The emulator over these cases' runs: its worst p99 offset, unasked drops, CPU."""
    runs = [run for case in cases for run in case.link_accuracy if run["packets"]]
    if not runs:
        return "the emulator: no packets crossed"
    scheduling = {run.get("scheduling") for run in runs}
    return (
        f"the emulator: released packets within {max(r['offset_p99_ms'] for r in runs):.2f} ms "
        f"of their time at p99 in every run (worst {max(r['offset_max_ms'] for r in runs):.1f}"
        f" ms), {sum(r['unasked_drops'] for r in runs)} dropped unasked, "
        f"{statistics.median(r['cpu_us_per_packet'] for r in runs):.0f} µs of CPU per packet; "
        f"{', '.join(sorted(str(s) for s in scheduling))}"
    )


def where(case: PageCase) -> str:
    """``on loopback``, or ``behind cable: 28 ms RTT, ...``."""
    return "on loopback" if case.link is None else f"behind {case.link.describe()}"


def report(
    cases: list[PageCase],
    versions: dict[BrowserName, str],
    compare: bool,
    runs: int,
    warmup: int,
    wire_note: str,
) -> None:
    """Per browser and link: the table, the ratios; then the browsers against each other."""
    print(
        f"wsbench {__version__}, {runs} runs per case after {warmup} warm-up, interleaved; "
        f"medians with (min..max); wire: {wire_note}"
    )
    links = list(dict.fromkeys(case.link for case in cases))
    for name, version in versions.items():
        for link in links:
            everything = [case for case in cases if case.browser is name and case.link == link]
            print(f"\n{TITLES[name]} {version}, {where(everything[0])}")
            for case in everything:
                if case.unsupported:
                    print(f"{case.label:<40} {case.unsupported}")
            mine = [case for case in everything if not case.unsupported]
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
            if link is not None:
                print("the physical limit of each run on this link, and the elapsed time over it")
                for case in mine:
                    print(f"  {case.label:<38} {limit_text(case)}")
                print(accuracy_text(mine))
            print(
                "CPU per run, page load included: the server's, MariaDB's, "
                "and how busy all cores were"
            )
            for case in mine:
                print(f"  {case.label:<38} {cpu_text(case)}")
            fastest = max(mine, key=lambda case: case.rate)
            for case in mine:
                if case is not fastest:
                    print(f"{fastest.label} is {ratio(case, fastest)} faster than {case.label}")
            if compare:
                by_server = {(c.server.split(" @ ")[0], c.mode): c for c in mine}
                group = by_server.get(("group", PageMode.WEBSOCKET_PIPELINED))
                naive = by_server.get(("per-message", PageMode.WEBSOCKET_PIPELINED))
                if group and naive:
                    print(
                        f"WebSocket, pipelined: group commit is {ratio(naive, group)} faster "
                        "than per-message commit (target: at least 8x)"
                    )
                for (server, mode), case in by_server.items():  # each mode against its floor
                    floor = by_server.get(("null", mode))
                    if server == "group" and floor:
                        print(
                            f"{TLS_MODES[mode]}: MySQL takes {ratio(case, floor)} the time of "
                            "the null store"
                        )
            else:
                print(f"MySQL takes {ratio(mine[0], mine[1])} the time of the null store")
    if len(versions) > 1:
        print("\nthe browsers side by side, the same case")
        first, *others = versions
        for case in (case for case in cases if case.browser is first and not case.unsupported):
            for other in others:
                twin = next(
                    c
                    for c in cases
                    if c.browser is other and c.label == case.label and c.link == case.link
                )
                if twin.unsupported:
                    continue
                fast, slow = case, twin
                if statistics.median(paired_ratio(twin, case)) < 1:  # the paired runs decide
                    fast, slow = twin, case
                on = "" if case.link is None else f" on {case.link.name}"
                print(
                    f"{case.label}{on}: {TITLES[fast.browser]} is {ratio(slow, fast)} faster "
                    f"than {TITLES[slow.browser]}"
                )


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, print the tables, optionally write JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--compare", action="store_true", help="every mode, group vs per-message")
    parser.add_argument(
        "--commit",
        default="group,per-message",
        metavar="LIST",
        help="with --compare, the servers' commit modes, and null: a server with --db null:, "
        "the transport's floor (%(default)s)",
    )
    parser.add_argument(
        "--browser",
        action="append",
        metavar="LIST",
        help="chromium, firefox, webkit, or several: --browser chromium,firefox,webkit (default: "
        "every browser installed)",
    )
    parser.add_argument(
        "-n", type=int, help="numbers per WebSocket run (10000; on a link: chosen for the budget)"
    )
    parser.add_argument(
        "--nhttp", type=int, help="numbers per HTTP run (1000; on a link: chosen for the budget)"
    )
    parser.add_argument("--runs", type=int, default=5, help="measured runs per case (%(default)s)")
    parser.add_argument("--warmup", type=int, default=1, help="unmeasured runs first (%(default)s)")
    parser.add_argument(
        "--tls", action="store_true", help="servers with --tls; --compare then has six modes"
    )
    parser.add_argument(
        "--link",
        action="append",
        metavar="PROFILE",
        help="run behind an emulated link (as root): cable, dsl, 4g, ... or rtt=80ms,up=2mbit,"
        "down=20mbit,loss=1%%; repeat it for a sweep (see docs/links.md)",
    )
    parser.add_argument(
        "--budget-ms",
        type=float,
        default=3000,
        help="on a link, about how long a run should take, N chosen to fit (%(default)s)",
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
    parser.add_argument(
        "--run-prefix",
        metavar="PREFIX",
        help="start every run's id with PREFIX- (1-40 of A-Z a-z 0-9 _ -), so that a script "
        "can delete the rows of runs it never saw end",
    )
    args = parser.parse_args(argv)
    if args.run_prefix is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,40}", args.run_prefix):
        parser.error("--run-prefix must be 1-40 characters of A-Z a-z 0-9 _ -")
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
    try:
        links = [(text, parse_link(text)) for text in args.link or []]
    except LinkSpecError as exc:
        parser.error(str(exc))

    tls = ["--tls"] if args.tls else []
    if args.compare:
        try:
            commits = parse_choices([args.commit], ["group", "per-message", "null"], "")
        except ValueError as exc:
            parser.error(f"--commit: {exc}")
        flags = {
            commit: [*tls, *(["--db", "null:"] if commit == "null" else ["--commit", commit])]
            for commit in commits
        }
        modes = TLS_MODES if args.tls else MODES
    else:
        flags = {"mysql": [*tls], "null": [*tls, "--db", "null:"]}
        modes = {PageMode.WEBSOCKET_PIPELINED: MODES[PageMode.WEBSOCKET_PIPELINED]}
    database = database_url(args.mysql, args.mysql_socket)  # from a namespace, off the link
    if links:
        cases = [
            PageCase(
                f"{label} [{name}]",
                f"{name} @ {link.name}",
                mode,
                size(args, mode, link),
                browser,
                link=link,
            )
            for browser in browsers
            for _, link in links
            for name in flags
            for mode, label in modes.items()
        ]
        starters = {
            f"{name} @ {link.name}": linked_server(text, ["--db", database, *server_flags])
            for text, link in links
            for name, server_flags in flags.items()
        }
        try:
            versions = measure(
                cases, starters, browsers, args.runs, args.warmup, {}, args.run_prefix
            )
        except BrowserMissing as exc:
            print(f"cannot start a browser: {exc}", file=sys.stderr)
            return 2
        except RuntimeError as exc:  # the link or its server did not start: its log says why
            print(f"cannot start a server behind the link: {exc}", file=sys.stderr)
            return 2
        wire_note = "counted by the emulated link, every run (IP packets, headers included)"
        report(cases, versions, args.compare, args.runs, args.warmup, wire_note)
        if args.json:
            write_json(Path(args.json), args, cases, versions)
        return 0

    n, nhttp = args.n or 10_000, args.nhttp or 1000
    cases = [
        PageCase(f"{label} [{name}]", name, mode, nhttp if is_http(mode) else n, browser)
        for browser in browsers
        for name in flags
        for mode, label in modes.items()
    ]
    with contextlib.ExitStack() as stack:
        veths: dict[str, Veth] = {}
        wire_note = "not counted (--no-wire)"
        if not args.no_wire:
            try:
                veths = {name: stack.enter_context(private_link()) for name in flags}
                wire_note = "counted in one more run of each case, on a veth pair per server"
            except WireUnavailable as exc:
                wire_note = f"not counted: {exc}"
        on_loopback = {
            name: loopback_server(["--db", args.mysql, *server_flags])
            for name, server_flags in flags.items()
        }
        try:
            versions = measure(
                cases, on_loopback, browsers, args.runs, args.warmup, {}, args.run_prefix
            )
            if veths:  # then one more run of each case, in the namespaces, for the wire
                in_namespaces = {
                    name: namespace_server(["--db", database, *server_flags], veths[name])
                    for name, server_flags in flags.items()
                }
                measure(cases, in_namespaces, browsers, 1, 0, veths, args.run_prefix)
        except BrowserMissing as exc:
            print(f"cannot start a browser: {exc}", file=sys.stderr)
            return 2
    report(cases, versions, args.compare, args.runs, args.warmup, wire_note)
    if args.json:
        write_json(Path(args.json), args, cases, versions)
    return 0


def size(args: argparse.Namespace, mode: PageMode, link: Link) -> int:
    """N for a mode on a link: as given, else what fits the budget from the expected bytes."""
    transport = mode.split("/")[0]
    given = args.nhttp if is_http(mode) else args.n
    if given:
        return int(given)
    up, down = EXPECTED_WIRE[transport][1 if args.tls else 0]
    pattern = Pattern.ONE_AT_A_TIME if "one-at-a-time" in mode else Pattern.STREAMED
    most = 1000 if is_http(mode) else 10_000
    return choose_n(link, pattern, up, down, args.budget_ms, most, PARALLEL[transport])


def loopback_server(args: list[str]) -> Callable[[], ServerProcess]:
    """What starts a server on loopback."""
    return lambda: ServerProcess(*args)


def namespace_server(args: list[str], veth: Veth) -> Callable[[], ServerProcess]:
    """What starts a server in ``veth``'s namespace, reaching MariaDB by its socket."""
    return lambda: server_process(args, veth)


def linked_server(link: str, args: list[str]) -> Callable[[], ServerProcess]:
    """What starts a server behind an emulated link; file:// pages send ``Origin: null``."""
    return lambda: LinkedServer(link, *args, "--allow-origin", "null")


def is_http(mode: PageMode) -> bool:
    """An HTTP mode (HTTP/1.1, /2 or /3: a request per number): these run with --nhttp numbers."""
    return mode.split("/")[0] in ("http", "http2", "http3")


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
                "numbers_per_s_median": c.rate if c.elapsed_ms else None,
                "protocol": c.protocol,
                "unsupported": c.unsupported or None,
                "tls": args.tls,
                "wire_per_number": c.wire_per_number,
                "server_cpu_ms": c.server_cpu_ms,
                "mariadb_cpu_ms": c.mariadb_cpu_ms or None,
                "machine_busy": c.busy,
                "link": c.link.as_json() if c.link else None,
                "limit_ms": c.limit_ms or None,
                "limit_ms_median": statistics.median(c.limit_ms) if c.limit_ms else None,
                "elapsed_over_limit": c.limit_ratios or None,
                "six_connection_rounds_ms": c.rounds_ms or None,
                "link_accuracy": c.link_accuracy or None,
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
