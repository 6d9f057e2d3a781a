"""What the server counts, in Prometheus' text format for ``GET /metrics``.

Per-number counts are plain integers on the hot path and become metrics only when scraped;
histograms are observed once per batch.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

TRANSPORTS = ("websocket", "http")


class Metrics:
    """The server's counters, gauges and histograms, in a registry of their own."""

    def __init__(self) -> None:
        self.received: Counter[str] = Counter()  # numbers accepted for a commit, by transport
        self.committed: Counter[str] = Counter()
        self.rejected: Counter[str] = Counter()  # bad frames and bodies
        self.not_stored: Counter[str] = Counter()  # permanent database failures
        self.outages = 0
        self.gauges: dict[str, tuple[str, Callable[[], float]]] = {}
        self.registry = CollectorRegistry(auto_describe=False)
        self.batch_rows = Histogram(
            "wsbench_batch_rows",
            "Rows per INSERT + COMMIT",
            buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000),
            registry=self.registry,
        )
        self.commit_seconds = Histogram(
            "wsbench_commit_seconds",
            "Time from sending a batch's INSERT to its COMMIT returning, successful tries only",
            buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5),
            registry=self.registry,
        )
        self.registry.register(self)

    def gauge(self, name: str, help_text: str, read: Callable[[], float]) -> None:
        """Report ``read()`` as a gauge at every scrape."""
        self.gauges[name] = (help_text, read)

    def collect(self) -> Iterator[Metric]:
        """Called by the registry at each scrape."""
        for name, help_text, counts in (
            ("wsbench_numbers_received", "Numbers accepted for a commit", self.received),
            ("wsbench_numbers_committed", "Numbers committed and acked", self.committed),
            (
                "wsbench_numbers_rejected",
                "Frames or bodies that held no valid number",
                self.rejected,
            ),
            (
                "wsbench_numbers_not_stored",
                "Numbers lost to a permanent database error",
                self.not_stored,
            ),
        ):
            family = CounterMetricFamily(name, help_text, labels=["transport"])
            for transport in TRANSPORTS:
                family.add_metric([transport], counts[transport])
            yield family
        yield CounterMetricFamily(
            "wsbench_database_outages", "Times the database went out of reach", value=self.outages
        )
        for name, (help_text, read) in self.gauges.items():
            yield GaugeMetricFamily(name, help_text, value=read())

    def render(self) -> tuple[bytes, str]:
        """The text exposition and its content type."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
