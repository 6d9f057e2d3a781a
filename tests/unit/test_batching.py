"""Cutting rows into batches, without a database."""

import pytest

from wsbench.batching import Batcher, batch_limit, statement_sizes


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


@pytest.mark.parametrize(
    ("rows", "sizes"),
    [
        (0, []),
        (1, [1]),
        (7, [4, 2, 1]),
        (8, [8]),
        (21, [8, 8, 4, 1]),
    ],
)
def test_statement_sizes_are_powers_of_two_that_add_up(rows: int, sizes: list[int]) -> None:
    assert statement_sizes(rows, largest=8) == sizes


@pytest.mark.parametrize(
    ("rows", "sizes"),
    [
        (3, [3]),
        (7, [7]),
        (8, [8]),
        (21, [8, 8, 5]),
        (29, [8, 8, 8, 5]),
    ],
)
def test_statement_sizes_keep_a_small_rest_whole(rows: int, sizes: list[int]) -> None:
    assert statement_sizes(rows, largest=8, exact_below=8) == sizes
    assert sum(statement_sizes(rows, largest=64, exact_below=4)) == rows


def test_statement_sizes_need_a_power_of_two() -> None:
    with pytest.raises(ValueError, match="power of two"):
        statement_sizes(10, largest=6)


def test_add_counts_what_is_queued() -> None:
    batcher: Batcher[str] = Batcher(max_batch=2)
    assert [batcher.add("a", ("r", i, i)) for i in range(1, 4)] == [1, 2, 3]
