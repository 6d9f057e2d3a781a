"""The bench's command line: flags into one BenchConfig, then one asyncio.run that measures.

    python -m wsbench.bench --server ws://127.0.0.1:8765 --transport websocket,http \\
        --mode pipelined,one-at-a-time -n 10000 --nhttp 1000 --runs 5 --json bench.json

Every combination of transport and mode is a case; the repetitions of the cases are interleaved
so the machine's drift hits them alike. Each connection of each repetition gets a fresh run id,
and after every repetition the server is asked how many rows each run id has: a count that
differs from what was acked stops the benchmark with exit status 1. Prints per case the median
throughput with min..max and the ack latency percentiles, then hyperfine-style ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import re
import secrets
import ssl
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from tqdm import tqdm

from .. import __version__
from ..addresses import is_loopback
from ..link import Link, LinkSpecError, parse_link
from ..link.__main__ import HOST_ENV
from ..vocabulary import FloorMethod, Mode, StoreKind, Transport
from .driver import Driver
from .floor import FloorDriver
from .h3 import Http3Driver
from .http import Http2Driver, HttpDriver
from .models import BenchError, Case, CaseResult, verify_rows
from .quic import STREAM_LIMIT, Trust
from .report import Output, report, sample_line, write_json
from .server_api import count_rows, fetch_info, fetch_peak_rss, session
from .websocket import WebSocketDriver
from .webtransport import WebTransportDriver

DEFAULT_SERVER = "ws://127.0.0.1:8765"
DEFAULT_DB_URL = "mysql://wsbench@127.0.0.1:3306/test"
HTTP_WINDOW = 32  # requests in flight per HTTP client when --window is not given
_RUN_PREFIX = re.compile(r"[A-Za-z0-9_-]{1,32}")
# Short names in run ids, so a row in the table says which case wrote it.
_SHORT = {
    Transport.WEBSOCKET: "ws",
    Transport.HTTP: "http",
    Transport.HTTP2: "h2",
    Transport.HTTP3: "h3",
    Transport.WEBTRANSPORT: "wt",
    StoreKind.MYSQL: "db",
    Mode.PIPELINED: "p",
    Mode.ONE_AT_A_TIME: "1",
    Mode.DATAGRAMS: "d",
    FloorMethod.EXECUTEMANY: "x",
    FloorMethod.PREPARED: "s",
}

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
# The transports over the QUIC port, and those that need the server's --tls.
QUIC = (Transport.HTTP3, Transport.WEBTRANSPORT)
TLS_ONLY = (Transport.HTTP2, *QUIC)
STREAMED = (Transport.WEBSOCKET, Transport.WEBTRANSPORT)  # -n; the others send --nhttp


HELP_EPILOG = """\
transports and modes:
  websocket/pipelined      each connection sends its N numbers as fast as it can (with --window W,
                           keeping at most W unacked); the server acks cumulatively after each
                           commit. Without a window every number is sent at t0, so its latency
                           includes the wait behind the numbers sent before it; a window
                           measures the server's answer time under a steady load
  websocket/one-at-a-time  send a number, wait for its ack, send the next
  http/pipelined           HTTP/1.1 has no usable pipelining (aiohttp sends one request at a time
                           per connection), so this is concurrent requests over keep-alive:
                           each of the C clients keeps up to --window POSTs in flight, over a
                           pool of --http-pool keep-alive connections (default C). With the
                           default pool, at most C requests are on the wire at once; the rest
                           queue in the client, first come first served, and their latency
                           counts that wait (as a browser's fetch does). Raise --http-pool to
                           put more requests on the wire at once
  http/one-at-a-time       each client POSTs a number and waits for the answer before the next
  http2/pipelined          HTTP/2 over TLS (the server's --h2-port, from GET /info): one
                           connection for all C clients, each keeping up to --window requests in
                           flight as streams of it
  http2/one-at-a-time      each client POSTs a number over the one HTTP/2 connection and waits
  http3/pipelined          HTTP/3 over QUIC (the server's UDP --h3-port, from GET /info): one
                           connection for all C clients, each keeping up to --window requests in
                           flight as streams of it; C x --window at most 128, the streams the
                           server allows at once
  http3/one-at-a-time      each client POSTs a number over the one HTTP/3 connection and waits
  webtransport/pipelined   a WebTransport session per connection (a QUIC connection each): the
                           numbers as lines on the stream the server opens, cumulative acks back,
                           as websocket/pipelined; a session that ends early is opened again
                           with the same run id and resumes after the committed numbers
  webtransport/one-at-a-time  a line, wait for its ack, the next
  webtransport/datagrams   each number a datagram "SEQ NUMBER", up to --window (default
                           256) in flight per session; the server acks committed seqs in
                           datagrams, and a number not acked within max(50 ms, 4 x the smoothed
                           ack latency) is sent again (the reconnects column counts resends);
                           (run, seq) stores it once. Only with --transport webtransport

TLS: a wss:// --server means every port is TLS (the server runs with --tls); its certificate is
  checked against the system's CAs, or --tls-ca FILE (e.g. the server's self-signed certificate,
  whose path it logs), or not at all with --insecure.

measurement:
  Every connection (HTTP: client) uses a fresh run id. Connections are opened before the clock
  starts; elapsed runs from the first send to the last ack. A number's latency is the time from
  its send to the arrival of the first ack that covers it (HTTP: its response). Throughput is
  acked numbers per second. Per case: the median over runs with (min..max); latency
  percentiles are medians over runs. Ratios pair the runs made side by side and compare time
  per number, so cases with different N compare fairly.

exit status: 0 done; 1 a row count differed from the acks, a number was not acked, or the
benchmark could not finish; 2 bad flags or no server.
"""


def build_parser() -> argparse.ArgumentParser:
    """The command line, every flag explained."""
    parser = argparse.ArgumentParser(
        prog="wsbench-bench"
        if Path(sys.argv[0]).name == "wsbench-bench"
        else "python -m wsbench.bench",
        description=(
            "Benchmark a running wsbench server: numbers per second and ack latency over "
            "WebSocket and HTTP, with every run's rows checked in the database."
        ),
        epilog=HELP_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--server",
        default=DEFAULT_SERVER,
        metavar="URL",
        help="the server's WebSocket URL (default: %(default)s)",
    )
    parser.add_argument(
        "--http",
        metavar="URL",
        help="the server's HTTP URL for POST /numbers and row counts (default: http://HOST:"
        "http_port, from GET /info on the WebSocket port)",
    )
    parser.add_argument(
        "--transport",
        action="append",
        metavar="LIST",
        help="websocket, http, http2, http3, webtransport (the last three need a wss:// "
        "--server), or several to compare: --transport websocket,http or repeat the flag "
        "(default: websocket)",
    )
    parser.add_argument(
        "--mode",
        action="append",
        metavar="LIST",
        help="pipelined, one-at-a-time, datagrams (webtransport only), or several to compare, "
        "as --transport (default: pipelined)",
    )
    parser.add_argument(
        "-n", type=int, default=10_000, help="numbers per connection and run (default: %(default)s)"
    )
    parser.add_argument(
        "--nhttp",
        type=int,
        metavar="N",
        help="numbers per connection for the HTTP cases, which are slower (default: -n)",
    )
    parser.add_argument(
        "-c", type=int, default=1, help="concurrent connections per run (default: %(default)s)"
    )
    parser.add_argument(
        "--runs", type=int, default=5, help="measured runs per case (default: %(default)s)"
    )
    parser.add_argument(
        "--warmup",
        type=int,
        default=1,
        help="runs per case before the measured ones, not counted (default: %(default)s)",
    )
    parser.add_argument(
        "--window",
        type=int,
        metavar="W",
        help="pipelined: at most W numbers sent and not yet acked per connection (HTTP: requests "
        f"in flight per client); default: WebSocket all N at once, HTTP {HTTP_WINDOW}",
    )
    parser.add_argument(
        "--http-pool",
        type=int,
        metavar="K",
        help="HTTP: keep-alive connections shared by the clients (default: -c; a browser uses 6)",
    )
    parser.add_argument(
        "--json", metavar="FILE", help="write the raw samples, settings and environment to FILE"
    )
    parser.add_argument(
        "--no-verify",
        action="store_true",
        help="do not ask the server for each run's row count afterwards",
    )
    parser.add_argument(
        "--tls-ca",
        metavar="FILE",
        help="wss:// servers: trust the certificates this PEM file holds (e.g. the server's own)",
    )
    parser.add_argument(
        "--insecure",
        action="store_true",
        help="wss:// servers: do not check the certificate (a self-signed one on loopback)",
    )
    parser.add_argument(
        "--db-url",
        default=DEFAULT_DB_URL,
        metavar="URL",
        help="the MySQL database behind the server: --json reads its version there, and --floor "
        "writes its rows there (default: %(default)s)",
    )
    parser.add_argument(
        "--run-prefix",
        default="bench",
        metavar="PREFIX",
        help="run ids are PREFIX-<random>-<case>-<run>-<connection> (default: %(default)s)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=600,
        metavar="SECONDS",
        help="give up on a run after this long (default: %(default)s)",
    )
    parser.add_argument(
        "--floor",
        action="store_true",
        help=(
            "also time the database's floor in the same session, the same N x C rows in one "
            "transaction with no client or server in between: mysql/executemany, one "
            "executemany + COMMIT straight through the connector (as --db-url); mysql/prepared, "
            "the server's own store code (prepared multi-row INSERTs) + COMMIT"
        ),
    )
    parser.add_argument(
        "--link",
        metavar="PROFILE",
        help="send the load through an emulated link (as root): cable, dsl, 4g, 3g, lan, lossy "
        "or e.g. rtt=80ms,up=2mbit,down=20mbit,loss=1%%. The bench runs in a namespace behind "
        "the link and reaches a server on this machine at the link's address, so the server "
        "must listen there too: start it with --host 0.0.0.0 (see docs/links.md)",
    )
    parser.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        help="only the results: no progress bar, no line per run (the default when stderr is "
        "not a terminal)",
    )
    return parser


def parse_choices(values: Sequence[str] | None, allowed: Sequence[str], default: str) -> list[str]:
    """Flatten repeated and comma-separated choices, in order, without duplicates."""
    chosen: list[str] = []
    for value in values or [default]:
        for item in value.split(","):
            item = item.strip()
            if item not in allowed:
                raise ValueError(f"{item!r} is not one of {', '.join(allowed)}")
            if item not in chosen:
                chosen.append(item)
    return chosen


def http_base(ws_url: str) -> str:
    """The plain-HTTP address of a WebSocket URL's host and port: ws://h:p -> http://h:p."""
    for ws, http in (("ws://", "http://"), ("wss://", "https://")):
        if ws_url.startswith(ws):
            return http + ws_url.removeprefix(ws).split("/", 1)[0]
    raise ValueError(f"not a WebSocket URL: {ws_url} (use ws://HOST:PORT)")


def _on_host(url: str, host: str) -> str:
    """``url`` with its host replaced by ``host`` when it names this machine's loopback."""
    parts = urlsplit(url)
    if parts.hostname is None or not is_loopback(parts.hostname):
        return url
    return parts._replace(netloc=f"{host}:{parts.port}" if parts.port else host).geturl()


def with_port(base: str, port: int) -> str:
    """The same scheme and host on another port: http://h:8765, 8766 -> http://h:8766."""
    parts = urlsplit(base)
    host = parts.hostname or ""
    return f"{parts.scheme}://{f'[{host}]' if ':' in host else host}:{port}"


@dataclass(frozen=True)
class BenchConfig:
    """Everything one benchmark needs to know, from its flags."""

    server: str
    http: str | None  # given by --http; else found from the server's /info
    http_base: str  # the WebSocket URL's host and port over plain HTTP
    cases: tuple[Case, ...]
    n: int
    nhttp: int
    c: int
    runs: int
    warmup: int
    window: int | None
    http_pool: int
    json: Path | None
    verify: bool
    db_url: str
    run_prefix: str
    timeout_s: float
    quiet: bool
    tls_ca: str | None = None
    insecure: bool = False
    link: Link | None = None  # the emulated link the load goes through

    def through_link(self, host: str) -> BenchConfig:
        """The same, from behind the link: a loopback server is reached at ``host``."""
        return dataclasses.replace(
            self,
            server=_on_host(self.server, host),
            http=_on_host(self.http, host) if self.http else None,
            http_base=_on_host(self.http_base, host),
        )

    @property
    def tls(self) -> bool:
        """The server runs with --tls: every port speaks TLS."""
        return self.server.startswith("wss://")

    def ssl_context(self) -> ssl.SSLContext | None:
        """How the server's certificate is checked, for a wss:// server."""
        if not self.tls:
            return None
        context = ssl.create_default_context(cafile=self.tls_ca)
        if self.insecure:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context

    def drivers(self, info: dict[str, Any], http_url: str) -> dict[Transport | StoreKind, Driver]:
        """The driver of each kind of case: a new transport is one more entry here."""
        tls = self.ssl_context()
        window = self.window or HTTP_WINDOW
        drivers: dict[Transport | StoreKind, Driver] = {
            Transport.WEBSOCKET: WebSocketDriver(self.server, self.window, self.timeout_s, tls),
            Transport.HTTP: HttpDriver(http_url, window, self.http_pool, self.timeout_s, tls),
            StoreKind.MYSQL: FloorDriver(self.db_url),
        }
        if info.get("h2_port") and tls is not None:
            h2_url = with_port(self.http_base, info["h2_port"])
            drivers[Transport.HTTP2] = Http2Driver(h2_url, window, self.timeout_s, tls)
        if info.get("h3_port") and tls is not None:
            h3_url = with_port(self.http_base, info["h3_port"])
            trust = Trust(self.tls_ca, self.insecure)
            drivers[Transport.HTTP3] = Http3Driver(h3_url, window, self.timeout_s, trust)
            path = info.get("webtransport_path") or "/webtransport"
            drivers[Transport.WEBTRANSPORT] = WebTransportDriver(
                h3_url, path, self.window, self.timeout_s, trust
            )
        return drivers


def parse_config(argv: Sequence[str]) -> BenchConfig:
    """Flags, checked, and the cases they ask for."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        transports = [
            Transport(t) for t in parse_choices(args.transport, list(Transport), "websocket")
        ]
        modes = [Mode(m) for m in parse_choices(args.mode, list(Mode), "pipelined")]
        server = args.server.rstrip("/")
        base = http_base(server)
    except ValueError as exc:
        parser.error(str(exc))
    if args.window is not None and args.window < 1:
        parser.error("--window must be at least 1")
    for name in ("n", "c", "runs"):
        if getattr(args, name) < 1:
            parser.error(f"-{'-' if len(name) > 1 else ''}{name} must be at least 1")
    if args.warmup < 0:
        parser.error("--warmup must not be negative")
    nhttp = args.nhttp or args.n
    http_pool = args.http_pool or args.c
    if nhttp < 1 or http_pool < 1:
        parser.error("--nhttp and --http-pool must be at least 1")
    for transport in transports:
        if transport in TLS_ONLY and not server.startswith("wss://"):
            parser.error(
                f"--transport {transport} needs a server with TLS: --server wss://HOST:PORT"
            )
    if Mode.DATAGRAMS in modes and transports != [Transport.WEBTRANSPORT]:
        parser.error(
            "--mode datagrams is WebTransport's alone: use --transport webtransport, or leave "
            "datagrams out of --mode to compare other transports"
        )
    if Transport.HTTP3 in transports:
        in_flight = (args.window or HTTP_WINDOW) * args.c
        if Mode.PIPELINED in modes and in_flight > STREAM_LIMIT:
            parser.error(
                f"--transport http3 keeps -c x --window = {in_flight} requests in flight on one "
                f"QUIC connection, and the server allows {STREAM_LIMIT} streams at once: use "
                f"--window {max(1, STREAM_LIMIT // args.c)} or less"
            )
        if args.c > STREAM_LIMIT:
            parser.error(f"--transport http3 allows at most -c {STREAM_LIMIT} (one stream each)")
    if (args.tls_ca or args.insecure) and not server.startswith("wss://"):
        parser.error("--tls-ca and --insecure are for a wss:// --server")
    if not _RUN_PREFIX.fullmatch(args.run_prefix):
        parser.error("--run-prefix must be 1-32 characters of A-Z a-z 0-9 _ -")
    try:
        link = parse_link(args.link) if args.link else None
    except LinkSpecError as exc:
        parser.error(str(exc))
    if link and args.floor:
        parser.error("--floor writes straight to the database, with no network: not with --link")
    cases = [
        Case(transport, mode, args.n if transport in STREAMED else nhttp, args.c)
        for transport in transports
        for mode in modes
    ]
    if args.floor:
        cases += [Case(StoreKind.MYSQL, method, args.n, args.c) for method in FloorMethod]
    return BenchConfig(
        server=server,
        http=args.http,
        http_base=base,
        cases=tuple(cases),
        n=args.n,
        nhttp=nhttp,
        c=args.c,
        runs=args.runs,
        warmup=args.warmup,
        window=args.window,
        http_pool=http_pool,
        json=Path(args.json) if args.json else None,
        verify=not args.no_verify,
        db_url=args.db_url,
        run_prefix=args.run_prefix,
        timeout_s=args.timeout,
        quiet=args.quiet,
        tls_ca=args.tls_ca,
        insecure=args.insecure,
        link=link,
    )


async def measure(
    config: BenchConfig, info: dict[str, Any], http_url: str, output: Output
) -> list[CaseResult]:
    """Run every case warmup + runs times, interleaved; verify each repetition's rows."""
    results = {case: CaseResult(case) for case in config.cases}
    drivers = config.drivers(info, http_url)
    missing = {case.transport for case in config.cases} - set(drivers)
    if missing:
        raise BenchError(
            f"the server offers no {', '.join(sorted(missing))}: HTTP/2 needs its --tls, "
            "HTTP/3 and WebTransport its --tls and an --h3-port (h3_port in its GET /info)"
        )
    session_id = secrets.token_hex(4)
    progress = output.progress if output.bar is not None else None
    cases = list(config.cases)
    async with session(aiohttp.ClientTimeout(total=60), config.ssl_context()) as client:
        for index in range(config.warmup + config.runs):
            warm = index < config.warmup
            label = (
                f"warm-up {index + 1}" if warm else f"run {index - config.warmup + 1}/{config.runs}"
            )
            for case in cases if index % 2 == 0 else cases[::-1]:
                if output.bar is not None:
                    output.bar.set_description(f"{case.label} {label}")
                run_ids = [
                    f"{config.run_prefix}-{session_id}-{_SHORT[case.transport]}"
                    f"{_SHORT[case.mode]}-{'w' if warm else 'r'}{index}-c{connection}"
                    for connection in range(case.c)
                ]
                sample = await drivers[case.transport].measure(case, run_ids, progress)
                if config.verify:
                    counts = await count_rows(client, http_url, run_ids)
                    verification = verify_rows(sample.acked_by_run, counts)
                    sample.rows = verification.status
                    if not verification.ok:
                        raise BenchError(f"{case.label} {label}: {verification.note}")
                output.chatter(sample_line(case, label, sample))
                for message in sample.error_messages[:3]:
                    output.chatter(f"  error: {message}")
                if not warm:
                    results[case].samples.append(sample)
    return list(results.values())


async def bench(config: BenchConfig, argv: Sequence[str], output: Output) -> int:
    """Ask the server what it is, measure every case, report; return the exit status."""
    where = config.http or config.http_base
    try:
        info = await fetch_info(where, config.ssl_context())
    except aiohttp.ClientConnectorCertificateError as exc:
        print(
            f"the server at {where} showed a certificate this machine does not trust "
            f"({exc.certificate_error}): pass --tls-ca FILE with the certificate the server logs, "
            "or --insecure for a self-signed one on loopback",
            file=sys.stderr,
        )
        return EXIT_USAGE
    except (aiohttp.ClientError, OSError, TimeoutError, BenchError, ValueError) as exc:
        print(
            f"cannot reach the server at {where}/info: {exc or type(exc).__name__}; "
            "is `python websocket_server.py` running, and is --server right?"
            + (
                " Behind --link the server is reached at this machine's end of the link: "
                "start it with --host 0.0.0.0"
                if config.link
                else ""
            ),
            file=sys.stderr,
        )
        return EXIT_USAGE
    http_url = (config.http or with_port(config.http_base, info["http_port"])).rstrip("/")
    commit = f"{info.get('commit')} commit"
    store = " ".join(str(part) for part in (info.get("store"), info.get("target")) if part)
    output.result(
        f"wsbench {__version__} bench: {config.server} and {http_url}, store {store}, {commit}"
    )
    if config.link:
        output.result(f"through the emulated link {config.link.describe()}")
    n_text = f"N={config.n}" + (f" (HTTP {config.nhttp})" if config.nhttp != config.n else "")
    output.result(
        f"{n_text} numbers per connection, C={config.c}, {config.runs} runs per case after "
        f"{config.warmup} warm-up, interleaved; medians with (min..max)"
        + (f"; window {config.window}" if config.window else "")
    )
    if info.get("store") == StoreKind.NULL and config.verify:
        output.result("note: the server stores nothing (--db null:), so rows cannot be verified")
    if output.interactive:
        total = sum(case.n * case.c for case in config.cases) * (config.warmup + config.runs)
        output.bar = tqdm(total=total, unit="num", unit_scale=True, file=sys.stderr, leave=False)
    try:
        results = await measure(config, info, http_url, output)
    except BenchError as exc:
        output.close_bar()
        print(f"\nERROR: {exc}", file=sys.stderr)
        print("The benchmark stopped: its numbers would not mean anything.", file=sys.stderr)
        return EXIT_FAILED
    except (aiohttp.ClientError, OSError, TimeoutError, RuntimeError) as exc:
        output.close_bar()
        print(f"\nERROR: the benchmark could not finish: {exc!r}", file=sys.stderr)
        return EXIT_FAILED
    output.close_bar()
    pairs = report(results, output)
    peak_rss = await fetch_peak_rss(http_url, config.ssl_context())
    if peak_rss is not None:
        output.result(
            f"server peak RSS: {peak_rss / 2**20:.0f} MiB (wsbench_peak_rss_bytes from /metrics; "
            "with --workers, the sum over the workers)"
        )
    if config.json:
        info = {**info, "peak_rss_bytes": peak_rss}
        write_json(config.json, config, argv, info, results, pairs, http_url)
        output.chatter(f"raw samples and environment written to {config.json}")
    errors = sum(result.errors for result in results)
    if errors:
        print(
            f"ERROR: {errors} numbers were not acked (see the errors column"
            f"{' and the JSON' if config.json else ''}): the server rejected or lost them",
            file=sys.stderr,
        )
        return EXIT_FAILED
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; return the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    config = parse_config(argv)
    if config.link:
        host = os.environ.get(HOST_ENV)
        if host is None:  # not yet behind the link: run this same command behind it
            command = [sys.executable, "-m", "wsbench.bench", *argv]
            link = [sys.executable, "-m", "wsbench.link", config.link.name, "--", *command]
            return subprocess.run(link).returncode
        config = config.through_link(host)
    output = Output(sys.stderr.isatty() and not config.quiet)
    try:
        return asyncio.run(bench(config, argv, output))
    except KeyboardInterrupt:
        output.close_bar()
        print("\ninterrupted", file=sys.stderr)
        return 130
