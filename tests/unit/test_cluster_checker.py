"""The fault tests' checker: acked ⊆ stored ⊆ sent on every node, no (run, seq) twice."""

from __future__ import annotations

from wsbench.cluster.checker import check, prefix

SENT = prefix("r", [10, 20, 30, 40], 4)
ACKED = prefix("r", [10, 20, 30, 40], 2)


def test_every_acked_row_stored_and_nothing_else_passes() -> None:
    verdict = check(SENT, ACKED, {"n1": sorted(ACKED | {("r", 3, 30)}), "n2": sorted(SENT)})
    assert verdict.ok
    assert str(verdict).startswith("sent 4, acked 2, stored: n1 3, n2 4")


def test_an_acked_row_missing_on_one_node_fails_and_is_named() -> None:
    verdict = check(SENT, ACKED, {"n1": sorted(SENT), "n2": [("r", 1, 10)]})
    assert not verdict.ok
    assert verdict.nodes[1].lost == {("r", 2, 20)}
    assert "n2: 1 acked but NOT stored, e.g. [('r', 2, 20)]" in str(verdict)


def test_a_row_never_sent_or_under_another_seq_fails() -> None:
    verdict = check(SENT, ACKED, {"n1": [*sorted(ACKED), ("r", 3, 40)]})
    assert not verdict.ok
    assert verdict.nodes[0].unsent == {("r", 3, 40)}


def test_a_seq_stored_twice_fails() -> None:
    verdict = check(SENT, ACKED, {"n1": [*sorted(ACKED), ("r", 2, 20)]})
    assert verdict.nodes[0].doubled == {("r", 2)}
    assert not verdict.ok


def test_no_node_read_is_no_pass() -> None:
    assert not check(SENT, ACKED, {}).ok


def test_prefix_counts_seqs_from_one() -> None:
    assert prefix("x", [7, 8, 9], 2) == {("x", 1, 7), ("x", 2, 8)}
