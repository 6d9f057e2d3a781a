"""The MySQL store against the real MariaDB: batches of any size, through prepared statements."""

from wsbench.protocol import BIGINT_MAX, BIGINT_MIN
from wsbench.store import MySQLStore
from wsbench.store.url import parse_database_url

from .conftest import Database

URL = parse_database_url("mysql://wsbench@127.0.0.1:3306/test")  # the least-privileged user


async def test_batches_of_any_size_are_stored_once_in_order(database: Database) -> None:
    run_id = database.new_run_id()
    rows = [(run_id, seq, seq * 7) for seq in range(1, 2_501)]
    async with MySQLStore(URL) as store:
        await store.insert(rows[:1])
        await store.insert(rows[:40])  # one statement, committed by itself
        await store.insert(rows[:1029])  # 1024 + 5 rows in one transaction; 40 are there
        await store.insert(rows)  # statements prepared before are used again
        assert await store.count_rows(run_id) == 2_500
    assert database.numbers(run_id) == [seq * 7 for seq in range(1, 2_501)]


async def test_the_whole_bigint_range_survives_the_binary_protocol(database: Database) -> None:
    run_id = database.new_run_id()
    numbers = [BIGINT_MIN, -1, 0, 1, BIGINT_MAX]
    async with MySQLStore(URL) as store:
        await store.insert([(run_id, seq, n) for seq, n in enumerate(numbers, start=1)])
    assert database.numbers(run_id) == numbers
