"""Which database node a store writes to, and how long a batch goes from node to node."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from .mysql_errors import Failure, node_name

__all__ = ["Rotation", "Step", "node_name"]

# After every node failed once, wait before the next round: a cluster electing a new primary
# component needs about a second, and hammering it meanwhile only burns the two cores.
ROUND_PAUSE_FIRST_S = 0.05
ROUND_PAUSE_MAX_S = 0.5


class Step(StrEnum):
    """What a store does after a failed attempt."""

    RETRY = "retry"  # the same node, at once
    NEXT = "next"  # the next node, at once
    PAUSE_THEN_NEXT = "pause-then-next"  # every node failed this round: pause, then go on
    GIVE_UP = "give-up"  # the deadline passed: the batch fails
    FAIL = "fail"  # a permanent error: the batch fails now


@dataclass
class Rotation:
    """The nodes in order, the one written to now, and one batch's attempts across them."""

    nodes: tuple[tuple[str, int], ...]
    deadline_s: float
    current: int = 0
    _failed_in_round: set[int] = field(default_factory=set)
    _rounds: int = 0

    @property
    def node(self) -> tuple[str, int]:
        """The (host, port) written to now."""
        return self.nodes[self.current]

    def start_batch(self) -> None:
        """Forget the previous batch's attempts: every node is worth one more try."""
        self._failed_in_round.clear()
        self._rounds = 0

    def after(self, failure: Failure, elapsed_s: float) -> Step:
        """Decide the next step after an attempt failed ``elapsed_s`` into the batch."""
        if failure is Failure.PERMANENT:
            return Step.FAIL
        if elapsed_s >= self.deadline_s:
            return Step.GIVE_UP
        if failure is Failure.RETRY:
            return Step.RETRY
        self._failed_in_round.add(self.current)
        self.current = (self.current + 1) % len(self.nodes)
        if len(self._failed_in_round) < len(self.nodes):
            return Step.NEXT
        self._failed_in_round.clear()
        self._rounds += 1
        return Step.PAUSE_THEN_NEXT

    @property
    def pause_s(self) -> float:
        """How long to wait after a round in which every node failed."""
        return min(ROUND_PAUSE_FIRST_S * 2.0 ** (self._rounds - 1), ROUND_PAUSE_MAX_S)
