"""A three-node Galera cluster against one MariaDB: throughput, commit latency, failover stall.

    sudo .venv/bin/python benchmarks/cluster.py                  # about two minutes
    sudo .venv/bin/python benchmarks/cluster.py --rounds 3 --kills 5 --json cluster.json
    sudo .venv/bin/python benchmarks/cluster.py --default-evs --rounds 1 --kills 3  # Galera's own

Starts the local cluster (``python -m wsbench.cluster``'s, so none may run already) and two
wsbench servers: one writing to the system MariaDB on 127.0.0.1:3306 (one node), one whose --db
names the three Galera nodes. Then, in rounds that alternate the two so that the machine's other
load hits both alike:

- numbers/s with the bench client (``python -m wsbench.bench``, WebSocket pipelined) against each,
  and the ratio cluster / one node per round;
- commit latency: serial 10-row commits through the server's own store code, p50 and p99;
- the write stall: a client sends while the node the server writes to is SIGKILLed; the longest
  wait for an ack from the kill on (the target is at most 2 s), then the node is started again
  (it rejoins by IST).

Rows written to the system MariaDB are deleted afterwards (as root@127.0.0.1, as the tests do);
the cluster is removed with everything in it.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import re
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from wsbench.bench.client import send_run
from wsbench.cluster import Cluster
from wsbench.cluster.layout import EVS_TUNED
from wsbench.stats import percentile
from wsbench.store import MySQLStore, mysql_connect
from wsbench.store.url import parse_database_url
from wsbench.testing.server import ServerProcess

ONE_NODE = "mysql://wsbench@127.0.0.1:3306/test"
ADMIN = "mysql://root@127.0.0.1:3306/test"  # deletes this benchmark's rows afterwards
PREFIX = "clusterbench"
WRITING_ON = re.compile(r"writing now on ([\d.]+):3306")


def bench_client(server: ServerProcess, n: int, c: int, runs: int) -> dict[str, Any]:
    """One ``python -m wsbench.bench`` session; its JSON's only case."""
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch) / "bench.json"
        command = [
            sys.executable, "-m", "wsbench.bench", "--server", server.ws_url,
            "-n", str(n), "-c", str(c), "--runs", str(runs), "--warmup", "1",
            "--run-prefix", f"{PREFIX}-{uuid.uuid4().hex[:8]}", "--json", str(out), "-q",
        ]  # fmt: skip
        subprocess.run(command, check=True, timeout=600, stdout=subprocess.DEVNULL)
        case: dict[str, Any] = json.loads(out.read_text())["cases"][0]
        return case


async def commit_latencies(url: str, seconds: float) -> list[float]:
    """Serial 10-row commits through the store, for ``seconds``; each one's ms, sorted."""
    run_id = f"{PREFIX}-latency-{uuid.uuid4().hex[:8]}"
    latencies: list[float] = []
    async with MySQLStore(parse_database_url(url)) as store:
        deadline = time.perf_counter() + seconds
        while (started := time.perf_counter()) < deadline:
            first = len(latencies) * 10 + 1
            await store.insert([(run_id, seq, seq) for seq in range(first, first + 10)])
            latencies.append((time.perf_counter() - started) * 1000)
    return sorted(latencies)


async def stall_after_kill(cluster: Cluster, server: ServerProcess) -> float:
    """Kill the node the server writes to while a client sends; the longest wait for an ack."""
    moves = WRITING_ON.findall(server.log)
    address = moves[-1] if moves else cluster.nodes[0].address
    victim = next(node.name for node in cluster.nodes if node.address == address)
    ack_times: list[float] = []
    enough = asyncio.Event()

    def on_ack(websocket: object, acked: int) -> None:
        ack_times.append(time.perf_counter())
        if len(ack_times) >= 200:
            enough.set()

    run_id = f"{PREFIX}-stall-{uuid.uuid4().hex[:8]}"
    sender = asyncio.create_task(
        send_run(server.ws_url, run_id, range(1, 60_001), on_ack=on_ack, window=20)
    )
    await asyncio.wait_for(enough.wait(), 60)
    killed_at = time.perf_counter()
    await cluster.kill(victim)
    result = await sender
    if result.acked != 60_000:
        raise RuntimeError(f"run {run_id}: {result.acked} acked of 60,000: {result.errors[:3]}")
    await cluster.start(victim)  # rejoins by IST; the next kill finds three nodes again
    # The longest wait between acks from the kill on, not just until the first ack after it:
    # that may be the ack of a commit that returned just before the kill.
    times = [killed_at, *(t for t in ack_times if t > killed_at)]
    return max(later - earlier for earlier, later in itertools.pairwise(times))


def delete_rows() -> None:
    """Remove this benchmark's rows from the system MariaDB."""
    connection = mysql_connect(parse_database_url(ADMIN), autocommit=True)
    try:
        cursor = connection.cursor()
        cursor.execute("DELETE FROM test.testing WHERE run_id LIKE %s", (f"{PREFIX}-%",))
        cursor.close()
    finally:
        connection.close()


def summary(latencies: list[float]) -> dict[str, float]:
    """p50 and p99 of sorted latencies in ms."""
    return {"p50": percentile(latencies, 50), "p99": percentile(latencies, 99)}


async def measure(args: argparse.Namespace) -> dict[str, Any]:
    """Every figure, in alternating rounds."""
    report: dict[str, Any] = {"throughput": [], "latency_ms": {}, "stall_s": []}
    async with Cluster(evs="" if args.default_evs else EVS_TUNED) as cluster:
        url = f"{cluster.url}?failover_timeout=10"
        with ServerProcess("--db", ONE_NODE) as one, ServerProcess("--db", url) as three:
            for round_number in range(1, args.rounds + 1):
                pair = {}
                for name, server in (("one node", one), ("cluster", three)):
                    case = await asyncio.to_thread(bench_client, server, args.n, args.c, args.runs)
                    pair[name] = case["numbers_per_s_median"]
                    print(f"round {round_number}: {name}: {pair[name]:,.0f} numbers/s")  # noqa: T201
                pair["ratio"] = pair["cluster"] / pair["one node"]
                report["throughput"].append(pair)
            for name, db in (("one node", ONE_NODE), ("cluster", url)):
                latencies = await commit_latencies(db, args.seconds)
                report["latency_ms"][name] = {"commits": len(latencies), **summary(latencies)}
                print(f"commit latency, {name}: {report['latency_ms'][name]}")  # noqa: T201
            for kill in range(1, args.kills + 1):
                stall = await stall_after_kill(cluster, three)
                report["stall_s"].append(stall)
                print(f"kill {kill}: the longest wait for an ack after it {stall:.2f} s")  # noqa: T201
    delete_rows()
    return report


def main() -> int:
    """Measure, then print the figures docs/scaling.md quotes."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="throughput rounds (%(default)s)")
    parser.add_argument("-n", type=int, default=20_000, help="numbers per connection (%(default)s)")
    parser.add_argument("-c", type=int, default=2, help="connections per run (%(default)s)")
    parser.add_argument("--runs", type=int, default=3, help="bench runs per round (%(default)s)")
    parser.add_argument("--seconds", type=float, default=5, help="commit latency (%(default)s)")
    parser.add_argument("--kills", type=int, default=3, help="stall measurements (%(default)s)")
    parser.add_argument(
        "--default-evs",
        action="store_true",
        help="Galera's own failure detection (suspect 5 s) instead of the tuned one",
    )
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    args = parser.parse_args()
    report = asyncio.run(measure(args))
    ratios = [pair["ratio"] for pair in report["throughput"]]
    print(  # noqa: T201
        f"cluster / one node: median {statistics.median(ratios):.2f}x "
        f"({', '.join(f'{ratio:.2f}' for ratio in ratios)}); stall after killing the written "
        f"node: {', '.join(f'{stall:.2f}' for stall in report['stall_s'])} s"
    )
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
