"""The delay line: carries packets between a link's two TUN devices through its two pipes.

Packets are read as soon as they come out of a device (so the kernel's own queue never fills and
drops them unseen), held in a FIFO until the pipe's release time, then written into the other
device. How late each packet goes out, and every drop nobody asked for, is counted: the
emulator's accuracy is part of every result measured through it.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import ctypes
import errno
import math
import os
import random
import time
from array import array
from collections import Counter, deque
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from ..stats import percentile
from .pipe import Pipe, PipeCounters, Verdict
from .profiles import Link

LOG_MAX = 2_000_000  # packets logged per direction and period, for windows of time; then no more
READ_BURST = 256  # packets read per wake-up before the other direction gets its turn
_CLOCK_MONOTONIC, _TFD_TIMER_ABSTIME = 1, 1  # time.monotonic() is this clock: loop.time()
_TFD_NONBLOCK, _TFD_CLOEXEC = os.O_NONBLOCK, os.O_CLOEXEC
_NO_ROOM = (errno.EAGAIN, errno.ENOBUFS, errno.ENOMEM)


def syn_port(packet: bytes) -> int | None:
    """The destination port of a TCP SYN (not SYN-ACK) in an IPv4 packet; None for any other."""
    if len(packet) < 20 or packet[0] >> 4 != 4 or packet[9] != 6:
        return None
    tcp = (packet[0] & 0x0F) * 4
    if len(packet) < tcp + 14 or packet[tcp + 13] & 0x12 != 0x02:
        return None
    return int.from_bytes(packet[tcp + 2 : tcp + 4], "big")


class _Timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


class _Itimerspec(ctypes.Structure):
    _fields_ = [("it_interval", _Timespec), ("it_value", _Timespec)]


class Timer:
    """A one-shot timer on the monotonic clock that the event loop waits on as a descriptor.

    The loop's own timers wake up to 1 ms late (epoll counts whole milliseconds, rounding up),
    a large share of a LAN's round trip; a timerfd wakes the loop within microseconds.
    """

    def __init__(self) -> None:
        self._libc = ctypes.CDLL(None, use_errno=True)
        self.fd = self._libc.timerfd_create(_CLOCK_MONOTONIC, _TFD_NONBLOCK | _TFD_CLOEXEC)
        if self.fd < 0:
            raise OSError(ctypes.get_errno(), "timerfd_create failed")

    def arm(self, when: float) -> None:
        """Fire at ``when`` (loop time, seconds), or at once if that has passed."""
        seconds = math.floor(when)
        nanoseconds = max(int((when - seconds) * 1e9), 1 if seconds <= 0 else 0)
        value = _Itimerspec(_Timespec(0, 0), _Timespec(max(seconds, 0), nanoseconds))
        if self._libc.timerfd_settime(self.fd, _TFD_TIMER_ABSTIME, ctypes.byref(value), None):
            raise OSError(ctypes.get_errno(), "timerfd_settime failed")

    def clear(self) -> None:
        """Acknowledge a firing, so the descriptor is no longer readable."""
        with contextlib.suppress(BlockingIOError):
            os.read(self.fd, 8)

    def close(self) -> None:
        """Release the descriptor."""
        os.close(self.fd)


class Direction:
    """One direction: packets read from ``source``, released into ``sink`` on the pipe's time."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        pipe: Pipe,
        source: int,
        sink: int,
        log_at_release: bool,
    ) -> None:
        self.loop, self.pipe, self.source, self.sink = loop, pipe, source, sink
        # When each packet crossed the user's end of the link, in wall-clock time: as it left
        # (up) or as it arrived (down), so a window of the user's clock selects its traffic.
        self.log_at_release = log_at_release
        self.log_time, self.log_size = array("d"), array("I")
        self.in_flight: deque[tuple[float, bytes]] = deque()
        self.late_s = array("d")  # per released packet: how long after its time it went out
        self.unasked_drops = 0  # packets we failed to write: the emulator's fault, not the link's
        # TCP connections opened this way, by destination port: whether a timed run had to
        # open one (a round trip, and TLS's after it) or found one open.
        self.syn_ports: Counter[int] = Counter()
        self.timer = Timer()
        self._armed = False

    def readable(self) -> None:
        """Read what the source has (up to a burst) and schedule each packet's release."""
        for _ in range(READ_BURST):
            try:
                packet = os.read(self.source, 65536)
            except BlockingIOError:
                break
            if (port := syn_port(packet)) is not None:
                self.syn_ports[port] += 1
            verdict, release = self.pipe.offer(self.loop.time(), len(packet))
            if not self.log_at_release:
                self._log(len(packet))
            if verdict is Verdict.SENT:
                self.in_flight.append((release, packet))
                if not self._armed:  # release times only grow: the head is always due first
                    self.timer.arm(release)
                    self._armed = True

    def release(self) -> None:
        """Write every packet whose time has come; wake again for the next one."""
        self.timer.clear()
        now = self.loop.time()
        while self.in_flight and self.in_flight[0][0] <= now:
            due, packet = self.in_flight.popleft()
            self.late_s.append(now - due)
            if self.log_at_release:
                self._log(len(packet))
            try:
                os.write(self.sink, packet)
            except OSError as exc:
                if exc.errno not in _NO_ROOM:
                    raise
                self.unasked_drops += 1
        self._armed = bool(self.in_flight)
        if self._armed:
            self.timer.arm(self.in_flight[0][0])

    def _log(self, size: int) -> None:
        if len(self.log_time) < LOG_MAX:
            self.log_time.append(time.time())
            self.log_size.append(size)

    def window(self, start: float, end: float) -> dict[str, int]:
        """Bytes and packets that crossed the user's end within [start, end], wall-clock s."""
        first = bisect.bisect_left(self.log_time, start)
        last = bisect.bisect_right(self.log_time, end)
        return {"bytes": sum(self.log_size[first:last]), "packets": last - first}

    def stop(self) -> None:
        """Close the timer; packets still in flight are lost with the link."""
        self.timer.close()


@dataclass(frozen=True)
class Accuracy:
    """How well the emulator did over a period: release-time error, unasked drops, CPU."""

    packets: int  # released, both ways
    offset_p50_ms: float | None  # the median of (released - due): < 0 early, > 0 late
    offset_p99_ms: float | None  # the 99th percentile of |released - due|
    offset_max_ms: float | None
    unasked_drops: int  # failed writes, or lost in a device's queue
    cpu_us_per_packet: float | None  # the delay line's thread, per packet offered

    def describe(self) -> str:
        """``1,234 packets released within 0.51 ms of their time at p99 (median +0.02), ...``."""
        if self.offset_p50_ms is None:
            return "no packets crossed"
        return (
            f"{self.packets:,} packets released within {self.offset_p99_ms:.2f} ms of their "
            f"time at p99 (median {self.offset_p50_ms:+.2f} ms, worst {self.offset_max_ms:.1f}), "
            f"{self.unasked_drops} dropped unasked, "
            f"{self.cpu_us_per_packet:.1f} µs of CPU per packet"
        )


def _direction_json(direction: Direction) -> dict[str, Any]:
    counters = direction.pipe.counters
    return {
        "packets": counters.packets,
        "bytes": counters.bytes,
        "lost": counters.lost,
        "queue_full": counters.queue_full,
        "syn_ports": {str(port): count for port, count in sorted(direction.syn_ports.items())},
    }


class DelayLine:
    """Both directions of ``link`` between ``host_fd`` (the user's side) and ``far_fd``."""

    def __init__(self, link: Link, host_fd: int, far_fd: int, seed: int | None = None) -> None:
        self.link, self.host_fd, self.far_fd = link, host_fd, far_fd
        self.rng = random.Random(seed)
        self.directions: dict[str, Direction] = {}
        self._cpu_at = time.thread_time()

    def _pipe(self, mbit: float | None) -> Pipe:
        rate = None if mbit is None else mbit * 1e6
        return Pipe(rate, self.link.one_way_s, self.link.loss, self.link.queue, self.rng)

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[DelayLine]:
        """Carry packets until the block exits."""
        loop = asyncio.get_running_loop()
        up = Direction(loop, self._pipe(self.link.up_mbit), self.host_fd, self.far_fd, False)
        down = Direction(loop, self._pipe(self.link.down_mbit), self.far_fd, self.host_fd, True)
        self.directions = {"up": up, "down": down}
        loop.add_reader(self.host_fd, up.readable)
        loop.add_reader(self.far_fd, down.readable)
        for direction in (up, down):
            loop.add_reader(direction.timer.fd, direction.release)
        try:
            yield self
        finally:
            for direction in (up, down):
                loop.remove_reader(direction.source)
                loop.remove_reader(direction.timer.fd)
                direction.stop()

    def accuracy(self, kernel_drops: int = 0) -> Accuracy:
        """The emulator's accuracy since the last reset."""
        offsets = sorted(x for d in self.directions.values() for x in d.late_s)
        errors = sorted(abs(x) for x in offsets)
        offered = sum(d.pipe.counters.packets for d in self.directions.values())
        cpu_s = time.thread_time() - self._cpu_at
        unasked = kernel_drops + sum(d.unasked_drops for d in self.directions.values())
        if not offsets:
            return Accuracy(0, None, None, None, unasked, None)
        return Accuracy(
            len(offsets),
            percentile(offsets, 50) * 1000,
            percentile(errors, 99) * 1000,
            errors[-1] * 1000,
            unasked,
            cpu_s / max(offered, 1) * 1e6,
        )

    def report(
        self, kernel_drops: int = 0, window_s: tuple[float, float] | None = None
    ) -> dict[str, Any]:
        """Counters each way and the accuracy, as one JSON-able document; with ``window_s``
        (wall-clock start and end), also the traffic within it."""
        accuracy = self.accuracy(kernel_drops)
        document = {
            "link": self.link.as_json(),
            **{name: _direction_json(d) for name, d in self.directions.items()},
            "accuracy": accuracy.__dict__,
        }
        if window_s is not None:
            document["window"] = {
                "start_s": window_s[0],
                "end_s": window_s[1],
                **{name: d.window(*window_s) for name, d in self.directions.items()},
                "complete": all(len(d.log_time) < LOG_MAX for d in self.directions.values()),
            }
        return document

    def reset(self) -> None:
        """Start a new period: counters, lateness and CPU from zero."""
        for direction in self.directions.values():
            direction.pipe.counters = PipeCounters()
            direction.late_s = array("d")
            direction.unasked_drops = 0
            direction.syn_ports = Counter()
            direction.log_time, direction.log_size = array("d"), array("I")
        self._cpu_at = time.thread_time()
