"""The checker of every fault test: what was acked is stored on every node, nothing else is.

Pure set arithmetic over (run_id, seq, number) rows: acked ⊆ stored ⊆ sent on each node, and no
(run_id, seq) stored twice. The tests read the rows; this says what they mean.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

Row = tuple[str, int, int]  # run_id, seq, number


@dataclass(frozen=True)
class NodeVerdict:
    """One node's table against what the clients sent and were acked."""

    node: str
    stored: int
    lost: frozenset[Row]  # acked, not stored: the outcome that must never happen
    unsent: frozenset[Row]  # stored, never sent (or under another seq)
    doubled: frozenset[tuple[str, int]]  # (run_id, seq) stored more than once

    @property
    def ok(self) -> bool:
        """Nothing lost, nothing made up, nothing doubled."""
        return not (self.lost or self.unsent or self.doubled)


@dataclass(frozen=True)
class Verdict:
    """Every surviving node's verdict, with the counts a test reports."""

    sent: int
    acked: int
    nodes: tuple[NodeVerdict, ...]

    @property
    def ok(self) -> bool:
        """Every node holds every acked row, and only rows that were sent, each once."""
        return bool(self.nodes) and all(node.ok for node in self.nodes)

    def __str__(self) -> str:
        stored = ", ".join(f"{node.node} {node.stored:,}" for node in self.nodes)
        lines = [f"sent {self.sent:,}, acked {self.acked:,}, stored: {stored or 'no node read'}"]
        for node in self.nodes:
            for what, rows in (
                ("acked but NOT stored", node.lost),
                ("stored but never sent", node.unsent),
                ("stored twice", node.doubled),
            ):
                if rows:
                    lines.append(f"{node.node}: {len(rows):,} {what}, e.g. {sorted(rows)[:3]}")
        return "\n".join(lines)


def check(
    sent: Iterable[Row], acked: Iterable[Row], stored: Mapping[str, Iterable[Row]]
) -> Verdict:
    """Judge each node's rows (``stored``: node name -> rows read there)."""
    sent_set, acked_set = frozenset(sent), frozenset(acked)
    verdicts = []
    for node, rows in stored.items():
        listed = list(rows)
        keys = Counter((run_id, seq) for run_id, seq, _ in listed)
        stored_set = frozenset(listed)
        verdicts.append(
            NodeVerdict(
                node=node,
                stored=len(listed),
                lost=acked_set - stored_set,
                unsent=stored_set - sent_set,
                doubled=frozenset(key for key, count in keys.items() if count > 1),
            )
        )
    return Verdict(len(sent_set), len(acked_set), tuple(verdicts))


def prefix(run_id: str, numbers: Iterable[int], count: int) -> set[Row]:
    """The first ``count`` numbers of a run as rows: what cumulative acks cover, seq from 1."""
    return {(run_id, seq, number) for seq, number in enumerate(numbers, 1) if seq <= count}
