"""The command line: start everything, log where it listens, stop in order on SIGINT/SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import gc
import logging
import os
import resource
import signal
from collections.abc import Sequence

from .. import __version__
from ..addresses import is_loopback
from ..errors import StartupError
from . import h3, http, https, tls, websocket
from .config import Config, load_config
from .service import WEBTRANSPORT_PATH, Service
from .tls import Certificate
from .transport import Offer, offered
from .workers import serve_workers

logger = logging.getLogger("wsbench")


# The ways in, in the order they start (and stop in reverse): a new transport is one more here.
TRANSPORTS: tuple[Offer, ...] = (websocket.offer, http.offer, https.offer, h3.offer)


async def run(config: Config, stop: asyncio.Event) -> None:
    """Serve until ``stop`` is set, then close connections and commit what was received."""
    # Contexts exit in reverse: the transports close their connections, then the writer commits
    # what it still holds, then the store closes.
    async with Service.start(config) as service, contextlib.AsyncExitStack() as servers:
        transports = offered(service, TRANSPORTS)
        ports = {t.port: await servers.enter_async_context(t.serve()) for t in transports}
        service.listening(ports)
        log_start(service)
        collect_garbage_less_often()
        await stop.wait()
        logger.info(
            "stopping: no new connections; committing and acking what was received, then "
            "closing connections with 1001 (a second Ctrl-C exits at once)"
        )
        for transport in transports:
            await transport.drain()
        await service.drain()
    logger.info("stopped")


# Numbers in flight are long-lived objects: websockets keeps a Frame for every message until it
# is read, and a burst from many clients queues hundreds of thousands of them. Python's default
# (a collection every 700 allocations, walking all that survived) then cost the server about
# 1 µs per number (benchmarks/server_cpu.py; docs/benchmarks.md).
GC_THRESHOLD = 50_000


def collect_garbage_less_often() -> None:
    """Collect young objects every 50,000 allocations, and never walk what start-up made."""
    gc.freeze()  # the modules, the config, the servers: they live as long as the process
    gc.set_threshold(GC_THRESHOLD, *gc.get_threshold()[1:])


def log_start(service: Service) -> None:
    """One line: where the server listens and where numbers go; a warning if users must know."""
    store = service.store
    if store.notice:  # first: the listening line is what scripts wait for
        logger.warning("%s", store.notice)
    host = service.config.host
    host = f"[{host}]" if ":" in host else host
    if service.certificate:
        log_certificate(service.certificate, host, service)
    where = (
        f"committing to {store.kind} {store.target}, "
        f"{service.config.commit} commit, up to {service.writer.max_batch} rows per commit"
        if store.durable
        else "storing NOTHING"
    )
    ws, http = ("wss", "https") if service.certificate else ("ws", "http")
    h2 = f" and {http}://{host}:{service.h2_port} (HTTP/2)" if service.h2_port else ""
    if service.h3_port:
        h2 += (
            f" and {http}://{host}:{service.h3_port} (HTTP/3 on UDP, WebTransport at "
            f"{WEBTRANSPORT_PATH})"
        )
    logger.info(
        "wsbench %s listening on %s://%s:%d and %s://%s:%d%s (page: %s://%s:%d/), %s",
        __version__,
        ws,
        host,
        service.ws_port,
        http,
        host,
        service.http_port,
        h2,
        http,
        host,
        service.ws_port,
        where,
    )


def log_certificate(certificate: Certificate, host: str, service: Service) -> None:
    """Which certificate the TLS ports show, and how a browser comes to accept a self-signed one."""
    if not certificate.self_signed:
        logger.info(
            "TLS with %s, SHA-256 fingerprint %s", certificate.cert, certificate.fingerprint
        )
        return
    ports = [service.ws_port, service.http_port, service.h2_port]  # TCP: a browser opens these
    addresses = ", ".join(f"https://{host}:{port}/" for port in ports if port)
    logger.info(
        "TLS with a fresh self-signed certificate for 127.0.0.1, ::1 and localhost, valid until "
        "%s, SHA-256 fingerprint %s. A browser warns about it: open %s once each and accept it "
        "(or give your own with --tls-cert and --tls-key, e.g. from mkcert)",
        certificate.not_after.strftime("%Y-%m-%d %H:%M UTC"),
        certificate.fingerprint,
        addresses,
    )


def raise_open_files_limit(connections: int, ports: int = 1) -> None:
    """Make room for ``connections`` sockets on each of ``ports`` TCP ports (each port has its
    budget), or say why there is none."""
    needed = connections * ports + 256  # the database, the page, the QUIC port
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= needed:
        return
    target = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
    resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    if target < needed:
        logger.warning(
            "the open-files limit is %d (the hard limit), below the %d that --max-connections %d "
            "needs: raise it (ulimit -Hn %d as root, or LimitNOFILE= in a systemd unit) or "
            "lower --max-connections",
            target,
            needed,
            connections,
            needed,
        )
    else:
        logger.info("raised the open-files limit from %d to %d", soft, target)


def warn_about_exposure(config: Config) -> None:
    """A non-loopback address that admits file:// pages lets any local file write numbers."""
    if not is_loopback(config.host) and "null" in config.allow_origins:
        logger.warning(
            "listening on %s, a non-loopback address, and admitting Origin: null: any page opened "
            "from disk or sandboxed anywhere that reaches this address can send numbers",
            config.host,
        )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the server from the command line; return the exit status."""
    with tls.certificate(load_config(argv)) as config:  # made once, for every worker
        if config.workers > 1:
            setup_logging(config, "supervisor")
            return serve_workers(config, run_worker)
        return serve_process(config)


def run_worker(config: Config, index: int) -> int:
    """One of several worker processes: it stops on SIGTERM; the supervisor handles the rest."""
    # A terminal's Ctrl-C or systemd's stop may reach every process as well as the supervisor:
    # ignore SIGINT and repeated SIGTERMs here; a second signal to the supervisor sends SIGKILL.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    return serve_process(config, f"worker {index}", signals=(signal.SIGTERM,), hurry=False)


def setup_logging(config: Config, process: str = "") -> None:
    """One line per event, with the process name when there are several."""
    prefix = f"{process} " if process else ""
    logging.basicConfig(
        level=logging.DEBUG if config.verbose else logging.INFO,
        format=f"%(asctime)s {prefix}%(levelname)s %(message)s",
    )
    for noisy in ("websockets", "aiohttp"):  # not one line per connection or request
        logging.getLogger(noisy).setLevel(logging.WARNING)


def serve_process(
    config: Config,
    process: str = "",
    signals: tuple[signal.Signals, ...] = (signal.SIGINT, signal.SIGTERM),
    hurry: bool = True,
) -> int:
    """Serve in this process until a signal (a second one exits at once if ``hurry``)."""
    setup_logging(config, process)
    # The WebSocket and HTTP ports; with --tls, the HTTP/2 port and HTTP/3's TCP twin too.
    raise_open_files_limit(config.max_connections, 4 if config.tls else 2)
    warn_about_exposure(config)
    try:
        asyncio.run(_main(config, signals, hurry))
    except StartupError as exc:
        logger.error("cannot start: %s", exc)
        return 1
    except OSError as exc:
        taken = exc.errno == errno.EADDRINUSE
        hint = (
            " (is another server running? choose free ports with --port, --http-port, "
            "--h2-port, --h3-port)"
        )
        logger.error("cannot listen on %s: %s%s", config.host, exc.strerror or exc, hint * taken)
        return 1
    return 0


async def _main(config: Config, signals: tuple[signal.Signals, ...], hurry: bool) -> None:
    stop = asyncio.Event()

    def on_signal() -> None:
        if stop.is_set() and hurry:
            logger.warning("second signal: exiting at once; numbers not yet acked are not stored")
            os._exit(1)
        stop.set()

    loop = asyncio.get_running_loop()
    for signum in signals:
        loop.add_signal_handler(signum, on_signal)
    await run(config, stop)
