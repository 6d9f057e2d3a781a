"""The command line: start everything, log where it listens, stop in order on SIGINT/SIGTERM."""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import signal
from collections.abc import Sequence

from . import __version__
from .config import Config, load_config
from .http_server import HttpServer
from .server import WebSocketServer
from .service import Service
from .store import StartupError

logger = logging.getLogger("wsbench")


async def run(config: Config, stop: asyncio.Event) -> None:
    """Serve until ``stop`` is set, then close connections and commit what was received."""
    # Contexts exit in reverse: the servers stop and finish their requests, then the writer
    # commits what it still holds, then the store closes.
    async with (
        Service.start(config) as service,
        WebSocketServer(service).serve() as ws_port,
        HttpServer(service).serve() as http_port,
    ):
        service.listening(ws_port, http_port)
        log_start(service)
        await stop.wait()
        logger.info("stopping: closing connections, committing what was received")
    logger.info("stopped")


def log_start(service: Service) -> None:
    """One line: where the server listens and where numbers go; a warning if users must know."""
    store = service.store
    if store.notice:  # first: the listening line is what scripts wait for
        logger.warning("%s", store.notice)
    host = service.config.host
    host = f"[{host}]" if ":" in host else host
    where = (
        f"committing to {store.kind} {store.target}, "
        f"{service.config.commit} commit, up to {service.writer.max_batch} rows per commit"
        if store.durable
        else "storing NOTHING"
    )
    logger.info(
        "wsbench %s listening on ws://%s:%d and http://%s:%d (page: http://%s:%d/), %s",
        __version__,
        host,
        service.ws_port,
        host,
        service.http_port,
        host,
        service.ws_port,
        where,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the server from the command line; return the exit status."""
    config = load_config(argv)
    logging.basicConfig(
        level=logging.DEBUG if config.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(message)s",
    )
    for noisy in ("websockets", "aiohttp"):  # not one line per connection or request
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        asyncio.run(_main(config))
    except StartupError as exc:
        logger.error("cannot start: %s", exc)
        return 1
    except OSError as exc:
        taken = exc.errno == errno.EADDRINUSE
        hint = " (is another server running? choose free ports with --port/--http-port)"
        logger.error("cannot listen on %s: %s%s", config.host, exc.strerror or exc, hint * taken)
        return 1
    return 0


async def _main(config: Config) -> None:
    stop = asyncio.Event()

    def on_signal() -> None:
        if stop.is_set():
            logger.warning("second signal: exiting at once")
            os._exit(1)
        stop.set()

    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, on_signal)
    await run(config, stop)
