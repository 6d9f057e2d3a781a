"""Server CPU per number: wsbench against a bare `websockets` server that only counts frames.

    python benchmarks/server_cpu.py                  # 200 connections x 2,000 numbers, 3 runs

The same load (C connections x N numbers, all sent at once by wsbench.bench.client) goes in turn to:

- a bare websockets server: it receives and counts, one ack at the end (the library's floor);
- the same with wsbench's garbage-collector settings;
- the same, counting frames as the protocol parses them, in ServerConnection.process_event: the
  frame layer without websockets' message layer (its Assembler, recv() and async iterator). The
  method is private; it is overridden here only to measure what that layer costs;
- wsbench with --db null: and wsbench with MySQL.

Prints the server's CPU time per number (user + system, from /proc/PID/stat around each run):
median (min..max), how wsbench's splits between the event loop's thread and the store's, and
ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import secrets
import statistics
import subprocess
import sys
from enum import StrEnum

from websockets.asyncio.server import ServerConnection, serve
from websockets.frames import Frame, Opcode
from websockets.protocol import Event

from wsbench.bench.client import send_run
from wsbench.server.cli import collect_garbage_less_often
from wsbench.stats import paired_ratios, ratio_line, spread
from wsbench.testing.cpu import cpu_seconds, main_thread_cpu_seconds, other_threads_cpu_seconds
from wsbench.testing.server import ServerProcess

MYSQL = "mysql://wsbench@127.0.0.1:3306/test"
MYSQL_CASE = "wsbench mysql"


class Bare(StrEnum):
    """The bare servers: what each leaves out of wsbench, in the order they are measured."""

    PLAIN = "bare websockets"
    GC = "bare websockets, wsbench's GC settings"
    FRAMES = "bare websockets, frames counted as parsed"


class FrameCounter(ServerConnection):
    """Counts text frames as the protocol parses them, before websockets' message layer."""

    total = 0  # set by the child before it serves
    count = 0

    def process_event(self, event: Event) -> None:
        """Count a whole text frame here; hand everything else to websockets."""
        if type(event) is Frame and event.opcode is Opcode.TEXT and event.fin:
            self.count += 1
            if self.count == self.total:
                self.acking = asyncio.ensure_future(self.send(f'{{"acked": {self.total}}}'))
            return
        super().process_event(event)


async def bare_server(total: int, bare: Bare) -> None:
    """Count each connection's frames; ack once when all ``total`` have arrived."""

    async def handler(websocket: ServerConnection) -> None:
        await websocket.send('{"hello": {"committed": 0}}')
        if bare is Bare.FRAMES:
            await websocket.wait_closed()  # FrameCounter counts and acks
            return
        count = 0
        async for _ in websocket:
            count += 1
            if count == total:
                await websocket.send(f'{{"acked": {total}}}')

    FrameCounter.total = total
    connection = FrameCounter if bare is Bare.FRAMES else ServerConnection
    async with serve(
        handler, "127.0.0.1", 0, compression=None, max_size=1024, create_connection=connection
    ) as server:
        if bare is not Bare.PLAIN:
            collect_garbage_less_often()
        print(server.sockets[0].getsockname()[1], flush=True)
        await asyncio.get_running_loop().create_future()  # until terminated


async def load(url: str, connections: int, n: int, run_prefix: str = "cpu") -> None:
    """C connections, opened first, then each sending its N numbers at once."""
    ready = asyncio.Barrier(connections)
    prefix = f"{run_prefix}-{secrets.token_hex(4)}"
    await asyncio.gather(
        *(send_run(url, f"{prefix}-{i}", range(1, n + 1), ready=ready) for i in range(connections))
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=2000, help="numbers per connection (%(default)s)")
    parser.add_argument("-c", type=int, default=200, help="connections (%(default)s)")
    parser.add_argument("--runs", type=int, default=3, help="runs per server (%(default)s)")
    parser.add_argument(
        "--run-prefix",
        default="cpu",
        help="run ids start with PREFIX- so that a script can delete their rows (%(default)s)",
    )
    # The bare children: --bare N --variant NAME
    parser.add_argument("--bare", type=int, metavar="N", help=argparse.SUPPRESS)
    parser.add_argument("--variant", type=Bare, default=Bare.PLAIN, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.bare:
        asyncio.run(bare_server(args.bare, args.variant))
        return 0
    with contextlib.ExitStack() as stack:
        servers: dict[str, tuple[int, str]] = {}
        for bare in Bare:
            command = [sys.executable, __file__, "--bare", str(args.n), "--variant", bare.value]
            child = stack.enter_context(
                subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
            )
            stack.callback(child.terminate)
            servers[bare] = (child.pid, bare_url(child))
        for name, flags in (
            ("wsbench --db null:", ["--db", "null:"]),
            (MYSQL_CASE, ["--db", MYSQL]),
        ):
            wsbench = stack.enter_context(ServerProcess(*flags))
            servers[name] = (wsbench.process.pid, wsbench.ws_url)
        samples: dict[str, list[float]] = {name: [] for name in servers}
        loop_samples: dict[str, list[float]] = {name: [] for name in servers}
        other_samples: dict[str, list[float]] = {name: [] for name in servers}
        numbers = args.c * args.n
        for run in range(1 + args.runs):  # the first is a warm-up
            for name, (pid, url) in servers.items():
                before, loop_before = cpu_seconds(pid), main_thread_cpu_seconds(pid)
                others_before = other_threads_cpu_seconds(pid)
                asyncio.run(load(url, args.c, args.n, args.run_prefix))
                if run:
                    samples[name].append((cpu_seconds(pid) - before) / numbers)
                    loop_seconds = main_thread_cpu_seconds(pid) - loop_before
                    loop_samples[name].append(loop_seconds / numbers)
                    # Read per thread, not as the total less the loop's: two readings of 10 ms
                    # ticks taken apart can differ by a tick and make the difference negative.
                    others_seconds = other_threads_cpu_seconds(pid) - others_before
                    other_samples[name].append(max(0.0, others_seconds) / numbers)
    if not all(value > 0 for values in samples.values() for value in values):
        print("too little load to measure the CPU (10 ms ticks): raise -n or -c", file=sys.stderr)
        return 1
    print(f"server CPU per number, {args.c} connections x {args.n} numbers, {args.runs} runs")
    for name, values in samples.items():
        print(f"{name:42} {spread([v * 1e6 for v in values], '.1f')} µs")
    # wsbench with MySQL has a second busy thread, the store's (Python 3.11 gives threads no
    # names the kernel shows, so it is "every thread but the main one").
    loop = loop_samples[MYSQL_CASE]
    others = other_samples[MYSQL_CASE]
    print(
        f"{MYSQL_CASE}: the event loop's thread {spread([v * 1e6 for v in loop], '.1f')} "
        f"µs, the store's thread {spread([v * 1e6 for v in others], '.2f')} µs"
    )
    pairs = [
        (Bare.PLAIN, Bare.GC),  # what the collector's settings save
        (Bare.GC, Bare.FRAMES),  # what websockets' message layer costs
        (Bare.PLAIN, "wsbench --db null:"),
        (Bare.PLAIN, MYSQL_CASE),  # issue 12's target: at most 1.25x
        (Bare.GC, MYSQL_CASE),  # wsbench's own cost, the collector aside
    ]
    for pair in pairs:
        fast, slow = sorted(pair, key=lambda case: statistics.median(samples[case]))
        print(ratio_line(fast, slow, paired_ratios(samples[slow], samples[fast])))
    return 0


def bare_url(bare: subprocess.Popen[str]) -> str:
    """The address a bare child printed."""
    assert bare.stdout is not None
    return f"ws://127.0.0.1:{bare.stdout.readline().strip()}"


if __name__ == "__main__":
    sys.exit(main())
