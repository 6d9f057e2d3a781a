"""What the server counts, in Prometheus' text format for ``GET /metrics``.

Per-number counts are plain integers on the hot path and reach the Prometheus metrics only when
scraped; histograms are observed once per batch. With ``--workers`` the processes share their
metrics through files (prometheus_client's multiprocess mode), so any worker's scrape shows the
sum of all of them; each worker then brings its files up to date once a second.
"""

from __future__ import annotations

import asyncio
import contextlib
import resource
from collections import Counter
from collections.abc import AsyncIterator, Callable

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client import Counter as CounterMetric
from prometheus_client.multiprocess import MultiProcessCollector

from ..vocabulary import Transport

TRANSPORTS = tuple(Transport)
SHARED_SYNC_S = 1.0  # how stale another worker's counts may be in a scrape

# (attribute holding the counts, metric, help)
COUNTS = (
    ("received", "wsbench_numbers_received", "Numbers accepted for a commit"),
    ("committed", "wsbench_numbers_committed", "Numbers committed and acked"),
    ("rejected", "wsbench_numbers_rejected", "Frames or bodies that held no valid number"),
    ("not_stored", "wsbench_numbers_not_stored", "Numbers lost to a permanent database error"),
)


def peak_rss_bytes() -> int:
    """The most resident memory this process has used so far: the kernel's VmHWM.

    Not getrusage's ru_maxrss where /proc is there: that keeps the high-water mark of the
    process that started this one (it forked, or vforked, and exec'd), so a server started from
    a 400 MiB process reported 400 MiB while it used 60.
    """
    with contextlib.suppress(OSError), open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024  # in kB
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports KiB


class Metrics:
    """The server's counters, gauges and histograms, in a registry of their own.

    ``shared_dir``: the directory where several processes share their metrics, or None.
    """

    def __init__(self, shared_dir: str | None = None) -> None:
        # Numbers accepted for a commit, by transport, counted when the writer takes them.
        self.received: Counter[str] = Counter()
        self.committed: Counter[str] = Counter()
        self.rejected: Counter[str] = Counter()  # bad frames and bodies
        self.not_stored: Counter[str] = Counter()  # permanent database failures
        self.outages = 0
        self.shared_dir = shared_dir
        self.registry = CollectorRegistry(auto_describe=False)
        self._counters = {
            attribute: CounterMetric(name, help_text, ["transport"], registry=self.registry)
            for attribute, name, help_text in COUNTS
        }
        for counter in self._counters.values():
            for transport in TRANSPORTS:
                counter.labels(transport)  # shown as 0 before the first number
        self._outages = CounterMetric(
            "wsbench_database_outages",
            "Times the database went out of reach",
            registry=self.registry,
        )
        self._reported: Counter[tuple[str, str]] = Counter()  # what the metrics hold already
        self._gauges: list[tuple[Gauge, Callable[[], float]]] = []
        self.batch_rows = Histogram(
            "wsbench_batch_rows",
            "Rows per transaction (INSERTs + COMMIT)",
            buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000),
            registry=self.registry,
        )
        self.commit_seconds = Histogram(
            "wsbench_commit_seconds",
            "Time from a batch's first INSERT to its COMMIT returning, successful tries only",
            buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5),
            registry=self.registry,
        )

    def gauge(self, name: str, help_text: str, read: Callable[[], float]) -> None:
        """Report ``read()`` as a gauge (summed over workers)."""
        gauge = Gauge(name, help_text, registry=self.registry, multiprocess_mode="livesum")
        self._gauges.append((gauge, read))

    def update(self) -> None:
        """Bring the Prometheus metrics up to date with the counts and gauges."""
        reported = self._reported
        for attribute, counter in self._counters.items():
            counts: Counter[str] = getattr(self, attribute)
            for transport in TRANSPORTS:
                new = counts[transport] - reported[attribute, transport]
                if new:
                    counter.labels(transport).inc(new)
                    reported[attribute, transport] += new
        if self.outages > reported["outages", ""]:
            self._outages.inc(self.outages - reported["outages", ""])
            reported["outages", ""] = self.outages
        for gauge, read in self._gauges:
            gauge.set(read())

    @contextlib.asynccontextmanager
    async def sharing(self) -> AsyncIterator[None]:
        """While shared, update this process's part once a second, and once more at the end."""
        if self.shared_dir is None:
            yield
            return

        async def update_often() -> None:
            while True:
                await asyncio.sleep(SHARED_SYNC_S)
                self.update()

        task = asyncio.create_task(update_often(), name="wsbench-metrics")
        try:
            yield
        finally:
            task.cancel()
            self.update()

    def render(self) -> tuple[bytes, str]:
        """The text exposition and its content type."""
        self.update()
        registry = self.registry
        if self.shared_dir is not None:
            registry = CollectorRegistry()
            MultiProcessCollector(registry, path=self.shared_dir)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
