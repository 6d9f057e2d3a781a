"""``python -m wsbench.cluster up|down|status``: a three-node Galera cluster on this machine."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence

from .cluster import Cluster
from .process import ClusterError


def build_parser() -> argparse.ArgumentParser:
    """The command line."""
    parser = argparse.ArgumentParser(
        prog="python -m wsbench.cluster",
        description=(
            "A three-node MariaDB Galera cluster on this machine, each node in a network "
            "namespace of its own (needs root). `up` prints the --db URL as its last line."
        ),
    )
    parser.add_argument(
        "action",
        choices=["up", "down", "status"],
        help="up: start it and apply schema.sql; down: stop it and remove everything; "
        "status: what runs",
    )
    return parser


async def act(action: str) -> int:
    """Do what the command line asks; return the exit status."""
    cluster = Cluster()
    if action == "up":
        url = await cluster.up()
        for name, status in (await cluster.status()).items():
            print(f"{name} at {cluster.node(name).address}:3306: {status}")  # noqa: T201
        print(url)  # noqa: T201 - the last line: what --db takes
    elif action == "down":
        await cluster.down()
        print("cluster stopped and removed")  # noqa: T201
    else:
        statuses = await cluster.status()
        for name, status in statuses.items():
            print(f"{name} at {cluster.node(name).address}:3306: {status}")  # noqa: T201
        if any(status.running for status in statuses.values()):
            print(cluster.url)  # noqa: T201
        else:
            print("no cluster runs: start one with `python -m wsbench.cluster up`")  # noqa: T201
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point."""
    args = build_parser().parse_args(argv)
    try:
        return asyncio.run(act(args.action))
    except ClusterError as exc:
        print(f"wsbench.cluster: {exc}", file=sys.stderr)  # noqa: T201
        return 1


if __name__ == "__main__":
    sys.exit(main())
