"""``python -m wsbench.link PROFILE -- COMMAND ...``: COMMAND behind an emulated link.

COMMAND runs in a network namespace of its own, joined to this one by the link; one line tells
where its side is reached from here. Ctrl-C (or SIGTERM) stops COMMAND, then the link, and
removes everything made; so does a failed start. SIGUSR1 prints the link's counters and the
emulator's accuracy since the last SIGUSR1, as one JSON line, and starts a new period.
COMMAND finds the link's name in $WSBENCH_LINK and this side's address in $WSBENCH_LINK_HOST.
"""

from __future__ import annotations

import argparse
import asyncio
import ctypes
import json
import os
import signal
import sys
from collections.abc import Sequence

from .emulator import DelayLine
from .profiles import PROFILES, Link, LinkSpecError, parse_link
from .tun import Endpoints, LinkUnavailable, enter_namespace, kernel_drops, namespace_pair

# The line a program reads to find the far side: "wsbench.link: ... reached at 10.214.3.2".
READY = "wsbench.link: {link}; COMMAND's side is reached at {address}"
STATS = "wsbench.link stats "  # then the JSON document
STOP_GRACE_S = 20
# What COMMAND is told: the link it is behind, and the address at which it reaches this side.
LINK_ENV, HOST_ENV = "WSBENCH_LINK", "WSBENCH_LINK_HOST"
_PR_SET_PDEATHSIG = 1
RT_PRIORITY = 10  # above every ordinary process, below the kernel's own real-time threads


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


async def run(
    link: Link, ends: Endpoints, command: Sequence[str], seed: int | None, scheduling: str
) -> int:
    """Carry ``link``'s packets and run ``command`` behind it until it exits or we must stop."""
    if True:
        line = DelayLine(link, ends.host_fd, ends.far_fd, seed)
        async with line.running():
            print(READY.format(link=link.describe(), address=ends.far_address), flush=True)
            try:
                child = await asyncio.create_subprocess_exec(
                    *command,
                    preexec_fn=lambda: _in_namespace(ends.namespace),
                    env={**os.environ, LINK_ENV: link.name, HOST_ENV: ends.host_address},
                )
            except OSError as exc:
                print(f"wsbench.link: cannot run {command[0]}: {exc}", file=sys.stderr)
                return 127
            loop = asyncio.get_running_loop()
            stopping = asyncio.Event()
            baseline = [kernel_drops(ends, child.pid)]

            def stats() -> None:
                drops = kernel_drops(ends, child.pid)
                document = {**line.report(drops - baseline[0]), "scheduling": scheduling}
                print(STATS + json.dumps(document), flush=True)
                baseline[0] = drops
                line.reset()

            for signum in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(signum, stopping.set)
            loop.add_signal_handler(signal.SIGUSR1, stats)
            waiting = asyncio.ensure_future(child.wait())
            told = asyncio.ensure_future(stopping.wait())
            await asyncio.wait({waiting, told}, return_when=asyncio.FIRST_COMPLETED)
            if not waiting.done():
                child.terminate()
                try:
                    await asyncio.wait_for(asyncio.shield(waiting), STOP_GRACE_S)
                except TimeoutError:
                    child.kill()
                    await waiting
            told.cancel()
            summary = line.accuracy(kernel_drops(ends, None) - baseline[0])
            print(
                f"wsbench.link: stopped; since the last report {summary.describe()}",
                file=sys.stderr,
            )
            code = waiting.result()
    return 128 - code if code < 0 else code


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
            return asyncio.run(run(link, ends, command, args.seed, scheduling))
    except (LinkSpecError, LinkUnavailable) as exc:
        print(f"wsbench.link: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
