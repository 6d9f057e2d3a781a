"""``--workers N``: N server processes sharing the ports, started and stopped together."""

from __future__ import annotations

import dataclasses
import logging
import multiprocessing
import os
import signal
import sys
import tempfile
from collections.abc import Callable
from multiprocessing.connection import wait
from types import FrameType

from prometheus_client.multiprocess import mark_process_dead

from .config import Config

logger = logging.getLogger("wsbench")


def serve_workers(config: Config, worker: Callable[[Config, int], int]) -> int:
    """Run ``worker(config, index)`` in ``config.workers`` processes until all have exited.

    SIGINT and SIGTERM reach every worker as SIGTERM (each stops gracefully); a second one
    kills them. If a worker fails, the others are stopped. Returns 0 when every worker exited
    cleanly. The workers share their metrics through files in a directory of their own.
    """
    with tempfile.TemporaryDirectory(prefix="wsbench-metrics-") as metrics_dir:
        # prometheus_client reads the variable when a worker imports it.
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
        try:
            return _supervise(dataclasses.replace(config, metrics_dir=metrics_dir), worker)
        finally:
            del os.environ["PROMETHEUS_MULTIPROC_DIR"]


def _supervise(config: Config, worker: Callable[[Config, int], int]) -> int:
    context = multiprocessing.get_context("spawn")  # no inherited event loop or threads
    processes = [
        context.Process(
            target=_exit_with, args=(worker, config, index), name=f"wsbench-worker-{index}"
        )
        for index in range(1, config.workers + 1)
    ]
    signals = 0

    def stop_all(signum: int | None = None, frame: FrameType | None = None) -> None:
        nonlocal signals
        signals += 1
        if signals == 2:
            logger.warning("second signal: killing the workers; numbers not acked are not stored")
        for process in processes:
            if process.pid is not None and process.exitcode is None:
                os.kill(process.pid, signal.SIGTERM if signals == 1 else signal.SIGKILL)

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, stop_all)
    for process in processes:
        process.start()
    logger.info(
        "started %d workers sharing ports %d and %d", len(processes), config.port, config.http_port
    )
    running = list(processes)
    while running:
        for sentinel in wait([process.sentinel for process in running]):
            process = next(p for p in running if p.sentinel == sentinel)
            process.join()
            running.remove(process)
            assert config.metrics_dir is not None and process.pid is not None
            # Its gauges no longer count.
            mark_process_dead(process.pid, config.metrics_dir)  # type: ignore[no-untyped-call]
            if process.exitcode != 0 and not signals:
                logger.error(
                    "%s exited with status %s: stopping the others", process.name, process.exitcode
                )
                stop_all()
    return 0 if all(process.exitcode == 0 for process in processes) else 1


def _exit_with(worker: Callable[[Config, int], int], config: Config, index: int) -> None:
    """A worker process's body: what ``worker`` returns is the process's exit status (a
    Process's target's return value is dropped: a worker that could not listen exited 0)."""
    sys.exit(worker(config, index))
