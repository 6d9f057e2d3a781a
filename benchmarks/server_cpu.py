"""Server CPU per number: wsbench against a bare `websockets` server that only counts frames.

    python benchmarks/server_cpu.py                  # 200 connections x 2,000 numbers, 3 runs

The same load (C connections x N numbers, all sent at once by wsbench.client) goes in turn to a
bare websockets server (receives and counts, one ack at the end: the library's own floor), to
the same bare server with wsbench's garbage-collector settings, to wsbench with --db null: and
to wsbench with MySQL. Prints the server's CPU time per number (user + system, from
/proc/PID/stat around each run): median (min..max), how it splits between the event loop's
thread and the store's, and ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import statistics
import subprocess
import sys

from websockets.asyncio.server import ServerConnection, serve

from wsbench.bench.stats import paired_ratios, ratio_line, spread
from wsbench.cli import collect_garbage_less_often
from wsbench.client import send_run
from wsbench.testing.cpu import cpu_seconds, main_thread_cpu_seconds
from wsbench.testing.server import ServerProcess

MYSQL = "mysql://wsbench@127.0.0.1:3306/test"
BARE = "bare websockets"
BARE_GC = "bare websockets, wsbench's GC settings"


async def bare_server(total: int, wsbench_gc: bool) -> None:
    """Count each connection's frames; ack once when all ``total`` have arrived."""

    async def handler(websocket: ServerConnection) -> None:
        await websocket.send('{"hello": {"committed": 0}}')
        count = 0
        async for _ in websocket:
            count += 1
            if count == total:
                await websocket.send(f'{{"acked": {total}}}')

    async with serve(handler, "127.0.0.1", 0, compression=None, max_size=1024) as server:
        if wsbench_gc:
            collect_garbage_less_often()
        print(server.sockets[0].getsockname()[1], flush=True)
        await asyncio.get_running_loop().create_future()  # until terminated


async def load(url: str, connections: int, n: int) -> None:
    """C connections, opened first, then each sending its N numbers at once."""
    ready = asyncio.Barrier(connections)
    prefix = f"cpu-{secrets.token_hex(4)}"
    await asyncio.gather(
        *(send_run(url, f"{prefix}-{i}", range(1, n + 1), ready=ready) for i in range(connections))
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=2000, help="numbers per connection (%(default)s)")
    parser.add_argument("-c", type=int, default=200, help="connections (%(default)s)")
    parser.add_argument("--runs", type=int, default=3, help="runs per server (%(default)s)")
    # The bare children:
    parser.add_argument("--bare", type=int, metavar="N", help=argparse.SUPPRESS)
    parser.add_argument("--wsbench-gc", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.bare:
        asyncio.run(bare_server(args.bare, args.wsbench_gc))
        return 0
    command = [sys.executable, __file__, "--bare", str(args.n)]
    with (
        subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as bare,
        subprocess.Popen([*command, "--wsbench-gc"], stdout=subprocess.PIPE, text=True) as bare_gc,
        ServerProcess("--db", "null:") as null,
        ServerProcess("--db", MYSQL) as mysql,
    ):
        servers = {
            BARE: (bare.pid, bare_url(bare)),
            BARE_GC: (bare_gc.pid, bare_url(bare_gc)),
            "wsbench --db null:": (null.process.pid, null.ws_url),
            "wsbench mysql": (mysql.process.pid, mysql.ws_url),
        }
        samples: dict[str, list[float]] = {name: [] for name in servers}
        loop_samples: dict[str, list[float]] = {name: [] for name in servers}
        numbers = args.c * args.n
        try:
            for run in range(1 + args.runs):  # the first is a warm-up
                for name, (pid, url) in servers.items():
                    before, loop_before = cpu_seconds(pid), main_thread_cpu_seconds(pid)
                    asyncio.run(load(url, args.c, args.n))
                    if run:
                        samples[name].append((cpu_seconds(pid) - before) / numbers)
                        loop = main_thread_cpu_seconds(pid) - loop_before
                        loop_samples[name].append(loop / numbers)
        finally:
            bare.terminate()
            bare_gc.terminate()
    if not all(value > 0 for values in samples.values() for value in values):
        print("too little load to measure the CPU (10 ms ticks): raise -n or -c", file=sys.stderr)
        return 1
    print(f"server CPU per number, {args.c} connections x {args.n} numbers, {args.runs} runs")
    for name, values in samples.items():
        print(f"{name:36} {spread([v * 1e6 for v in values], '.1f')} µs")
    # wsbench with MySQL has a second busy thread, the store's (Python 3.11 gives threads no
    # names the kernel shows, so it is "every thread but the main one").
    name = "wsbench mysql"
    others = [total - loop for total, loop in zip(samples[name], loop_samples[name], strict=True)]
    print(
        f"{name}: the event loop's thread {spread([v * 1e6 for v in loop_samples[name]], '.1f')} "
        f"µs, the store's thread {spread([v * 1e6 for v in others], '.2f')} µs"
    )
    pairs = [(BARE, name) for name in list(servers)[1:]] + [(BARE_GC, "wsbench mysql")]
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
