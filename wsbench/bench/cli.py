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
import os
import re
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from ..link import HOST_ENV, LinkSpecError, parse_link
from ..vocabulary import FloorMethod, Mode, StoreKind, Transport
from .models import Case
from .quic import STREAM_LIMIT
from .report import Output
from .runner import bench
from .settings import (
    DEFAULT_DB_URL,
    DEFAULT_SERVER,
    HTTP_WINDOW,
    BenchConfig,
    http_base,
    parse_choices,
)
from .transports import SPECS

_RUN_PREFIX = re.compile(r"[A-Za-z0-9_-]{1,32}")

HELP_EPILOG = (
    """\
transports and modes:
"""
    + "".join(spec.help for spec in SPECS.values())
    + """
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
)


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
        if SPECS[transport].tls_only and not server.startswith("wss://"):
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
        Case(transport, mode, args.n if SPECS[transport].streamed else nhttp, args.c)
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
