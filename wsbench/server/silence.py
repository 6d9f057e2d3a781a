"""Close TCP connections that have sent nothing for too long, on ports whose server cannot.

Granian's HTTP/2 stack (hyper) waits for a client's connection preface with no timeout: a
client that completes TLS and then sends part of the preface, or nothing, holds one of the
port's connections for ever, and enough of them lock everyone else out. Its PINGs (every
``H2_PING_INTERVAL_S`` on a connection that is quiet) start only after the preface, and a
client that answers them is never silent for long.

So this process looks at its own sockets: every ``SWEEP_S``, a connection to one of the
watched ports whose kernel has received no data from the client for ``SILENT_S`` is shut
down (``shutdown(2)`` on a duplicate of its descriptor; granian then sees the end of the
stream and frees the connection). Linux only (``TCP_INFO``); elsewhere it does nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import struct
from collections.abc import AsyncIterator, Collection

from .limits import SILENT_S

logger = logging.getLogger("wsbench")

SWEEP_S = 2.0  # 12 ms a sweep with 4,400 descriptors open, on a busy 2-core machine
FDS = "/proc/self/fd"
# struct tcp_info (linux/tcp.h): 8 bytes of u8 fields, nine u32s, then last_data_sent,
# last_ack_sent and last_data_recv (milliseconds ago).
LAST_DATA_RECV = struct.Struct("=I")
LAST_DATA_RECV_OFFSET = 8 + 4 * 9 + 4 * 2
TCP_INFO_SIZE = 104
WATCHES: dict[asyncio.AbstractEventLoop, SilenceWatch] = {}


@contextlib.asynccontextmanager
async def watching(port: int) -> AsyncIterator[None]:
    """Watch ``port`` until the context exits, with the one watch of this event loop (one
    sweep of the process's descriptors serves every watched port)."""
    if not hasattr(socket, "TCP_INFO") or not os.path.isdir(FDS):
        yield
        return
    loop = asyncio.get_running_loop()
    watch = WATCHES.setdefault(loop, SilenceWatch(()))
    watch.ports.add(port)
    if watch.task is None:
        watch.task = loop.create_task(watch.sweep_forever(), name="wsbench-silence")
    try:
        yield
    finally:
        watch.ports.discard(port)
        if not watch.ports:
            del WATCHES[loop]
            watch.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watch.task


class SilenceWatch:
    """Shuts down silent connections to ``ports`` of this process."""

    def __init__(self, ports: Collection[int], silent_s: float = SILENT_S) -> None:
        self.ports = set(ports)
        self.silent_ms = silent_s * 1000
        self.others: set[str] = set()  # socket inodes that are none of ours to watch
        self.task: asyncio.Task[None] | None = None

    async def sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(SWEEP_S)
            try:
                self.sweep()
            except Exception:  # never let the watch stop the server
                logger.exception("the watch for silent connections failed")

    def sweep(self) -> int:
        """Shut down the connections silent for too long; how many."""
        seen: set[str] = set()
        closed = 0
        for name in os.listdir(FDS):
            try:
                link = os.readlink(f"{FDS}/{name}")
            except OSError:
                continue  # closed meanwhile
            if not link.startswith("socket:"):
                continue
            seen.add(link)
            if link in self.others:
                continue
            closed += self.check(int(name), link)
        self.others &= seen  # forget inodes that are gone
        if closed:
            logger.info(
                "closed %d connection%s that sent nothing for %.0f s",
                closed,
                "" if closed == 1 else "s",
                self.silent_ms / 1000,
            )
        return closed

    def check(self, fd: int, link: str) -> int:
        """Shut down the connection on ``fd`` if it is watched and silent; 1 if it was."""
        try:
            duplicate = os.dup(fd)
        except OSError:
            return 0
        with socket.socket(fileno=duplicate) as sock:
            try:
                if (
                    sock.family not in (socket.AF_INET, socket.AF_INET6)
                    or sock.type != socket.SOCK_STREAM
                    or sock.getsockname()[1] not in self.ports
                ):
                    self.others.add(link)
                    return 0
                sock.getpeername()  # a listening socket has none
                info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, TCP_INFO_SIZE)
            except OSError:
                self.others.add(link)
                return 0
            (silent_ms,) = LAST_DATA_RECV.unpack_from(info, LAST_DATA_RECV_OFFSET)
            if silent_ms < self.silent_ms:
                return 0
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            return 1
