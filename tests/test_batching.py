"""Cutting rows into batches, without a database."""

import pytest

from wsbench.batching import Batcher, batch_limit


def test_takes_everything_pending_in_arrival_order() -> None:
    batcher: Batcher[str] = Batcher(max_batch=10)
    for i in range(3):
        batcher.add("a", ("run-a", i, i))
        batcher.add("b", ("run-b", i, i))
    batch = batcher.take()
    assert batch.rows == [
        ("run-a", 0, 0),
        ("run-b", 0, 0),
        ("run-a", 1, 1),
        ("run-b", 1, 1),
        ("run-a", 2, 2),
        ("run-b", 2, 2),
    ]
    assert batch.counts == {"a": 3, "b": 3}
    assert len(batcher) == 0


def test_caps_a_batch_and_keeps_the_rest_for_the_next() -> None:
    batcher: Batcher[str] = Batcher(max_batch=4)
    for i in range(10):
        batcher.add("a" if i < 5 else "b", ("r", i, i))
    sizes = []
    while batcher:
        batch = batcher.take()
        sizes.append(len(batch.rows))
    assert sizes == [4, 4, 2]


def test_an_empty_batcher_gives_an_empty_batch() -> None:
    batch = Batcher[str](max_batch=4).take()
    assert batch.rows == [] and not batch.counts


def test_batch_limit_stays_well_below_max_allowed_packet() -> None:
    assert batch_limit(5000, 16 * 1024 * 1024) == 5000
    assert batch_limit(5000, 120_000) == 500  # half the packet at 120 bytes a row
    assert batch_limit(5000, 10) == 1
    with pytest.raises(ValueError):
        Batcher(max_batch=0)
