"""``python -m wsbench.link PROFILE -- COMMAND ...``: COMMAND behind an emulated link.

COMMAND runs in a network namespace of its own, joined to this one by the link; one line tells
where its side is reached from here. Ctrl-C (or SIGTERM) stops COMMAND, then the link, and
removes everything made; so does a failed start. SIGUSR1 prints the link's counters and the
emulator's accuracy since the last SIGUSR1, as one JSON line, and starts a new period; with
--control, so does a line ``report`` on stdin (``report START_MS END_MS``: with the traffic
between those two times too).
COMMAND finds the link's name in $WSBENCH_LINK and this side's address in $WSBENCH_LINK_HOST.
"""

from __future__ import annotations

import argparse
import asyncio
import ctypes
import gc
import json
import os
import signal
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from . import HOST_ENV, LINK_ENV, STATS
from .emulator import DelayLine
from .profiles import PROFILES, Link, LinkSpecError, parse_link
from .tun import Endpoints, LinkUnavailable, enter_namespace, kernel_drops, namespace_pair

# The line a program reads to find the far side: "wsbench.link: ... reached at 10.214.3.2".
READY = "wsbench.link: {link}; COMMAND's side is reached at {address}"
STOP_GRACE_S = 20
# What COMMAND is told: the link it is behind, and the address at which it reaches this side.
_PR_SET_PDEATHSIG = 1
RT_PRIORITY = 10  # above every ordinary process, below the kernel's own real-time threads


@dataclass(frozen=True)
class Options:
    """How the link runs: its loss's seed, whether stdin carries requests, its scheduling."""

    seed: int | None
    control: bool
    scheduling: str


def _real_time() -> str:
    """Run the delay line ahead of ordinary processes, so a busy machine does not delay packets.

    Children (COMMAND) start with the ordinary policy again (SCHED_RESET_ON_FORK).
    """
    try:
        policy = os.SCHED_FIFO | os.SCHED_RESET_ON_FORK
        os.sched_setscheduler(0, policy, os.sched_param(RT_PRIORITY))
    except OSError as exc:
        return f"ordinary scheduling ({exc.strerror}): a busy machine may delay packets"
    return f"real-time scheduling (SCHED_FIFO {RT_PRIORITY})"


def _in_namespace(name: str) -> None:
    # In the child, before exec: into the namespace, and a SIGTERM if this process dies.
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    enter_namespace(name)


async def run(link: Link, ends: Endpoints, command: Sequence[str], options: Options) -> int:
    """Carry ``link``'s packets and run ``command`` behind it until it exits or we must stop."""
    line = DelayLine(link, ends.host_fd, ends.far_fd, options.seed)
    async with line.running():
        print(READY.format(link=link.describe(), address=ends.far_address), flush=True)
        try:
            child = await asyncio.create_subprocess_exec(
                *command,
                preexec_fn=lambda: _in_namespace(ends.namespace),
                env={**os.environ, LINK_ENV: link.name, HOST_ENV: ends.host_address},
                # Our stdin carries requests with --control: not the command's to read.
                stdin=asyncio.subprocess.DEVNULL if options.control else None,
                # A group of its own: a terminal's Ctrl-C reaches it only through us (below).
                process_group=0,
            )
        except OSError as exc:
            print(f"wsbench.link: cannot run {command[0]}: {exc}", file=sys.stderr)
            return 127
        # A full collection walking every module pyroute2 and asyncio loaded held packets for
        # milliseconds: what start-up made lives as long as the process, so it is never walked.
        gc.freeze()
        loop = asyncio.get_running_loop()
        stopping = asyncio.Event()
        baseline = [kernel_drops(ends, child.pid)]

        def stats(window_ms: tuple[float, float] | None = None) -> None:
            drops = kernel_drops(ends, child.pid)
            window_s = None if window_ms is None else (window_ms[0] / 1000, window_ms[1] / 1000)
            report = line.report(drops - baseline[0], window_s)
            print(STATS + json.dumps({**report, "scheduling": options.scheduling}), flush=True)
            baseline[0] = drops
            line.reset()

        def forward() -> None:
            # Each signal of ours is one SIGTERM to the command: the first stops it in order,
            # a second (Ctrl-C again) at once, as the server itself does.
            stopping.set()
            if child.returncode is None:
                child.terminate()

        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, forward)
        loop.add_signal_handler(signal.SIGUSR1, stats)
        waiting = asyncio.ensure_future(child.wait())
        others: list[asyncio.Future[Any]] = [asyncio.ensure_future(stopping.wait())]
        if options.control:
            others.append(asyncio.ensure_future(serve_requests(stats)))
        await asyncio.wait({waiting, *others}, return_when=asyncio.FIRST_COMPLETED)
        if not waiting.done():
            if not stopping.is_set():
                child.terminate()
            try:
                await asyncio.wait_for(asyncio.shield(waiting), STOP_GRACE_S)
            except TimeoutError:
                child.kill()
                await waiting
        for task in others:
            task.cancel()
        summary = line.accuracy(kernel_drops(ends, None) - baseline[0])
        print(f"wsbench.link: stopped; since the last report {summary.describe()}", file=sys.stderr)
        code = waiting.result()
    return 128 - code if code < 0 else code


async def serve_requests(stats: Callable[[tuple[float, float] | None], None]) -> None:
    """Answer requests on stdin, a line each: ``report``, or ``report START_MS END_MS`` for the
    traffic within that window too (ms since the epoch, as the page's ``started_at_ms``)."""
    reader = asyncio.StreamReader()
    loop = asyncio.get_running_loop()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while request := (await reader.readline()).decode():
        words = request.split()
        try:
            if words[:1] != ["report"] or len(words) not in (1, 3):
                raise ValueError
            stats((float(words[1]), float(words[2])) if len(words) == 3 else None)
        except ValueError:
            print(
                f"wsbench.link: unknown request {request.strip()!r}: "
                "'report' or 'report START_MS END_MS'",
                file=sys.stderr,
            )
    await asyncio.Event().wait()  # stdin closed: keep the link up until told to stop


def main(argv: list[str] | None = None) -> int:
    """Parse the arguments, run, and turn a link that cannot be made into a clear error."""
    parser = argparse.ArgumentParser(
        prog="python -m wsbench.link",
        description="Run COMMAND in a network namespace behind an emulated link.",
        epilog=f"PROFILE: one of {', '.join(PROFILES)}, or a link such as "
        "rtt=80ms,up=2mbit,down=20mbit,loss=1%% (see docs/links.md)",
    )
    parser.add_argument("profile", metavar="PROFILE")
    parser.add_argument("--seed", type=int, help="seed of the random loss, for a repeatable run")
    parser.add_argument(
        "--control",
        action="store_true",
        help="take requests on stdin (for programs): 'report' or 'report START_MS END_MS'",
    )
    parser.add_argument("command", nargs=argparse.REMAINDER, metavar="-- COMMAND ...")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no COMMAND: python -m wsbench.link 4g -- python websocket_server.py ...")
    try:
        link = parse_link(args.profile)
        with namespace_pair(1) as ends:
            scheduling = _real_time()
            if not scheduling.startswith("real-time"):
                print(f"wsbench.link: warning: {scheduling}", file=sys.stderr)
            options = Options(args.seed, args.control, scheduling)
            return asyncio.run(run(link, ends, command, options))
    except (LinkSpecError, LinkUnavailable) as exc:
        print(f"wsbench.link: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
