"""Faults under load on a real three-node Galera cluster: nothing acked is lost, nothing doubled.

One cluster for the module (``python -m wsbench.cluster``'s Cluster, each node a network
namespace of its own). Each test sends through wsbench servers whose --db names the three nodes,
SIGKILLs or cuts off nodes or servers while numbers flow, puts the cluster back together even when
it fails, and ends with the one checker: on every surviving node, acked ⊆ stored ⊆ sent and no
(run, seq) twice. Needs root, MariaDB with galera-4, rsync and nginx.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import re
import shutil
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from wsbench.client import RunResult, send_run
from wsbench.cluster import Cluster, ClusterError
from wsbench.cluster.checker import Row, Verdict, check, prefix
from wsbench.cluster.cluster import check_prerequisites
from wsbench.config import parse_database_url
from wsbench.store import mysql_connect
from wsbench.testing.server import ServerProcess

from .conftest import missing
from .test_nginx import behind_nginx

FAILOVER_S = 6  # the servers' ?failover_timeout: a batch no node takes in 6 s fails
TEST_TIMEOUT_S = 90  # each test, from its first number to its last check
RUN = 60_000  # numbers in a run of the fault tests: several seconds of sending
WRITING_ON = re.compile(r"writing now on ([\d.]+):3306")

pytestmark = pytest.mark.timeout(150)


@pytest.fixture(scope="module")
def prerequisites() -> None:
    """Root, MariaDB, galera-4, rsync and nginx, or a skip (a failure in CI) naming what lacks."""
    if shutil.which("nginx") is None:
        missing("nginx is not installed (apt-get install nginx-light)")
    try:
        check_prerequisites()
    except ClusterError as exc:
        missing(str(exc))


@pytest.fixture(scope="module")
def cluster(prerequisites: None) -> Iterator[Cluster]:
    """Three Galera nodes for the whole module, stopped and removed at its end."""
    made = Cluster()
    try:
        asyncio.run(made.up())
    except ClusterError as exc:
        pytest.fail(f"the cluster did not start: {exc}", pytrace=False)
    try:
        yield made
    finally:
        asyncio.run(made.down())


@pytest.fixture(scope="module")
def server(cluster: Cluster) -> Iterator[ServerProcess]:
    """One wsbench server writing to the cluster."""
    with ServerProcess("--db", f"{cluster.url}?failover_timeout={FAILOVER_S}") as started:
        yield started


@dataclass
class Load:
    """What the clients sent and what they were told is committed, as rows."""

    sent: set[Row] = field(default_factory=set)
    acked: set[Row] = field(default_factory=set)
    runs: list[str] = field(default_factory=list)

    def new_run(self) -> str:
        """A fresh run id of this test's."""
        run_id = f"cluster-{uuid.uuid4().hex[:12]}"
        self.runs.append(run_id)
        return run_id


def read_tables(
    cluster: Cluster, runs: Sequence[str], names: Sequence[str]
) -> dict[str, list[Row]]:
    """The runs' rows as each named node holds them (wsrep_sync_wait: all it has applied)."""
    tables = {}
    for name in names:
        address = cluster.node(name).address
        url = parse_database_url(f"mysql://wsbench@{address}:3306/test")
        connection = mysql_connect(url, autocommit=True)
        try:
            cursor = connection.cursor()
            cursor.execute("SET SESSION wsrep_sync_wait = 1")
            marks = ", ".join(["%s"] * len(runs))
            cursor.execute(
                f"SELECT run_id, seq, number FROM testing WHERE run_id IN ({marks})", tuple(runs)
            )
            tables[name] = [(str(r), int(s), int(n)) for r, s, n in cursor.fetchall()]
            cursor.close()
        finally:
            connection.close()
    return tables


async def verify(cluster: Cluster, load: Load, survivors: Sequence[str] | None = None) -> Verdict:
    """The checker: on every surviving node, acked ⊆ stored ⊆ sent, no (run, seq) twice."""
    statuses = await cluster.status()
    names = survivors or [name for name, status in statuses.items() if status.ready]
    tables = await asyncio.to_thread(read_tables, cluster, load.runs, names)
    verdict = check(load.sent, load.acked, tables)
    print(f"checker: {verdict}")  # noqa: T201 - the counts, with pytest -s
    assert verdict.ok, str(verdict)
    return verdict


async def restore(cluster: Cluster) -> None:
    """Every node back and Synced: the next test starts with the whole cluster."""
    for name, status in (await cluster.status()).items():
        if not status.running:
            await cluster.start(name)
        elif not status.ready:
            await cluster.heal(name)


def written_node(server: ServerProcess, cluster: Cluster) -> str:
    """The node the server writes to now: the last it failed over to, else the first."""
    moves = WRITING_ON.findall(server.log)
    address = moves[-1] if moves else cluster.nodes[0].address
    return next(node.name for node in cluster.nodes if node.address == address)


class AckWatch:
    """Acks as they arrive, and a way to wait for the next one after a moment."""

    def __init__(self) -> None:
        self.total = 0
        self.times: list[float] = []
        self._news = asyncio.Event()

    def on_ack(self, websocket: ClientConnection, acked: int) -> None:
        self.total += 1
        self.times.append(time.perf_counter())
        self._news.set()

    async def until(self, condition: Callable[[], bool], timeout_s: float = 30) -> None:
        """Wait (bounded) until ``condition`` holds, checking it after every ack."""
        async with asyncio.timeout(timeout_s):
            while not condition():
                self._news.clear()
                await self._news.wait()

    def stall_after(self, moment: float) -> float:
        """The longest wait for an ack from ``moment`` on: the fault's stall."""
        times = [moment, *(t for t in self.times if t > moment)]
        return max((b - a for a, b in itertools.pairwise(times)), default=float("inf"))


async def sending(
    url: str, load: Load, watch: AckWatch, count: int, window: int = 20
) -> asyncio.Task[RunResult]:
    """A run of ``count`` numbers sent in the background, its rows recorded in ``load``."""
    run_id = load.new_run()
    numbers = [seq * 7 for seq in range(1, count + 1)]
    load.sent |= prefix(run_id, numbers, count)

    async def run() -> RunResult:
        result = await send_run(
            url, run_id, numbers, on_ack=watch.on_ack, window=window, timeout_s=TEST_TIMEOUT_S
        )
        load.acked |= prefix(run_id, numbers, result.acked)
        return result

    return asyncio.create_task(run())


async def test_a_start_that_fails_cleans_up_and_shows_the_nodes_log(prerequisites: None):
    # First in the module, before the module's cluster: one local cluster at a time.
    bad = Cluster(evs="evs.suspect_timeout=PT1S;evs.keepalive_period=PT0.5S")  # out of range
    with pytest.raises(ClusterError, match=r"(?s)node n1 exited.*keepalive_period.*out of range"):
        await bad.up()
    assert not bad.state_dir.exists()
    assert not any(Path("/run/netns", node.namespace).exists() for node in bad.nodes)
    assert not Path("/sys/class/net/wsbc0").exists()


async def under_load(server: ServerProcess, fault: Callable[[], Awaitable[None]]) -> Load:
    """Send a run; after its first acks, ``fault``; every number acked; print the stall."""
    load, watch = Load(), AckWatch()
    task = await sending(server.ws_url, load, watch, RUN)
    await watch.until(lambda: watch.total >= 200)
    fault_at = time.perf_counter()
    await fault()
    result = await task
    assert result.acked == RUN and result.failed == 0, result.errors[:3]
    print(f"longest wait for an ack after the fault: {watch.stall_after(fault_at):.2f} s")  # noqa: T201
    return load


async def kill_under_load(cluster: Cluster, server: ServerProcess, pick: str) -> None:
    """SIGKILL one node while a run is sent; every number is acked, none lost or doubled."""
    victim = written_node(server, cluster)
    if pick == "another":
        victim = next(name for name in cluster.names if name != victim)
    try:
        load = await under_load(server, lambda: cluster.kill(victim))
        await verify(cluster, load, [name for name in cluster.names if name != victim])
    finally:
        await restore(cluster)
    await verify(cluster, load)  # the restarted node caught up and holds every row too


async def test_sigkill_the_node_the_server_writes_to(cluster: Cluster, server: ServerProcess):
    await kill_under_load(cluster, server, "written")
    assert "database failover:" in server.log


async def test_sigkill_a_node_the_server_does_not_write_to(cluster: Cluster, server: ServerProcess):
    await kill_under_load(cluster, server, "another")


async def test_cut_off_then_healed_node_rejoins_by_ist_with_every_row(
    cluster: Cluster, server: ServerProcess
):
    victim = written_node(server, cluster)  # its connection goes silent: no reset, no error
    log = cluster.node(victim).error_log
    ist_before = log.read_text().count("IST received")
    try:
        load = await under_load(server, lambda: cluster.cut(victim))
        address = cluster.node(victim).address
        assert f"database failover: {address}:3306 failed" in server.log  # it moved away
        assert (await cluster.status())[victim].cluster != "Primary"  # it knows it is cut off
        await cluster.heal(victim)
        assert log.read_text().count("IST received") > ist_before, "it did not rejoin by IST"
    finally:
        await restore(cluster)
    await verify(cluster, load, cluster.names)


async def test_two_servers_behind_nginx_one_sigkilled_clients_resume_on_the_other(
    cluster: Cluster, tmp_path: Path
):
    db = f"{cluster.url}?failover_timeout={FAILOVER_S}"
    load, watch = Load(), AckWatch()
    async with behind_nginx(tmp_path, "--db", db) as (servers, origin):
        url = origin.replace("http://", "ws://")
        tasks = [await sending(url, load, watch, 20_000) for _ in range(4)]
        await watch.until(lambda: watch.total >= 400)
        servers[0].process.kill()
        results = await asyncio.gather(*tasks)
    assert all(result.acked == 20_000 and result.failed == 0 for result in results)
    assert any(result.connections > 1 for result in results), "no client had to resume"
    await verify(cluster, load, cluster.names)


async def test_two_nodes_sigkilled_in_turn_no_quorum_no_ack_then_back(
    cluster: Cluster, server: ServerProcess
):
    load = Load()
    run_id = load.new_run()
    refusals: list[str] = []
    acked_at: list[float] = []

    async def post_one_at_a_time() -> None:
        async with aiohttp.ClientSession() as session:
            for seq in range(1, 1_000_000):
                number = seq * 3
                load.sent.add((run_id, seq, number))
                url = f"{server.http_url}/numbers?run={run_id}&seq={seq}"
                headers = {"Content-Type": "text/plain"}
                async with session.post(url, data=str(number), headers=headers) as response:
                    if response.status == 200:
                        load.acked.add((run_id, seq, number))
                        acked_at.append(time.perf_counter())
                    else:
                        assert response.status == 503, await response.text()
                        refusals.append(await response.text())

    async def until(condition: Callable[[], bool], timeout_s: float = 40) -> None:
        async with asyncio.timeout(timeout_s):
            while not condition():
                await asyncio.sleep(0.02)  # polling the client's own counters, bounded

    first = written_node(server, cluster)
    poster = asyncio.create_task(post_one_at_a_time())
    try:
        await until(lambda: len(load.acked) >= 50)
        await cluster.kill(first)
        mark = len(load.acked)
        await until(lambda: len(load.acked) >= mark + 50)  # failed over to a second node
        second = written_node(server, cluster)
        assert second != first
        await cluster.kill(second)
        survivor = next(name for name in cluster.names if name not in (first, second))
        await until(lambda: bool(refusals))
        assert "no database node" in refusals[0] and "primary component" in refusals[0]
        await expect_websocket_refused(server)
        acked_during_outage = len(load.acked)
        await cluster.bootstrap(survivor)  # an operator's decision: this node holds the truth
        await until(lambda: len(load.acked) > acked_during_outage)  # takes writes again
        for name in (first, second):
            await cluster.start(name)
        mark = len(load.acked)
        await until(lambda: len(load.acked) >= mark + 20)
    finally:
        poster.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await poster
        await restore(cluster)
    print(f"{len(refusals)} numbers refused (503) while no quorum")  # noqa: T201
    assert re.search(r"rows NOT committed, the clients were told: no database node", server.log)
    await verify(cluster, load, cluster.names)


async def expect_websocket_refused(server: ServerProcess) -> None:
    """Without a primary component a WebSocket client gets no ack: an error, or a 1013 close."""
    async with asyncio.timeout(3 * FAILOVER_S):
        try:
            async with connect(f"{server.ws_url}/?run=cluster-{uuid.uuid4().hex[:12]}") as ws:
                await ws.recv()  # the hello: the run's count was read after all
                await ws.send("1")
                message = await ws.recv()
                assert "error" in str(message) and "acked" not in str(message), message
        except ConnectionClosed as exc:
            assert exc.rcvd is not None and exc.rcvd.code == 1013, exc


async def test_a_server_started_while_the_first_node_is_dead_writes_to_the_next(
    cluster: Cluster,
):
    load, watch = Load(), AckWatch()
    first = cluster.nodes[0]
    try:
        await cluster.kill(first.name)
        with ServerProcess("--db", cluster.url) as started:
            result = await (await sending(started.ws_url, load, watch, 1_000))
            log = started.log
        assert result.acked == 1_000 and result.failed == 0, result.errors[:3]
        assert f"database node {first.address}:3306: MySQL error 2003" in log
    finally:
        await restore(cluster)
    await verify(cluster, load, cluster.names)
