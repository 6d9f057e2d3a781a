"""Insert rate and MariaDB CPU per row: wsbench 0.2's table layout against (run_id, seq) as the key.

    python benchmarks/table_layout.py          # 10 rounds of 10,240 rows into each, interleaved

Three scratch tables in the same database: the old one (surrogate id as primary key plus a
unique key on (run_id, seq)), (run_id, seq) as the primary key, and the same with run_id in
ASCII compared byte by byte, as schema.sql makes it now. The same rows go into each through the
server's own 1,024-row prepared statements, one COMMIT per round. Prints the median time per
round and MariaDB's CPU per row (from /proc/PID/stat of mariadbd). Needs a user that may create
and drop tables (default: root, as in schema.sql).
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import sys
import time
from pathlib import Path

from wsbench.store.mysql import mysql_connect, prepared_insert
from wsbench.store.url import parse_database_url
from wsbench.testing.cpu import MARIADB_PID_FILE, cpu_seconds


def columns(run_id: str) -> str:
    """The table's columns, with ``run_id`` of the given type."""
    return (
        f"number BIGINT NOT NULL, run_id {run_id} NOT NULL, seq BIGINT UNSIGNED NOT NULL, "
        "created_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)"
    )


UTF8 = columns("VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci")
ASCII = columns("VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin")
LAYOUTS = {  # wsbench 0.2's, then 0.3's first one, then today's (schema.sql)
    "id + unique (run_id, seq)": "id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT, "
    f"{UTF8}, PRIMARY KEY (id), UNIQUE KEY run_seq (run_id, seq)",
    "primary key (run_id, seq)": f"{UTF8}, PRIMARY KEY (run_id, seq)",
    "the same, run_id ascii_bin": f"{ASCII}, PRIMARY KEY (run_id, seq)",
}
STATEMENT_ROWS = 1024


def main() -> int:
    """Time both layouts, interleaved, and print the comparison."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db-url", default="mysql://root@127.0.0.1:3306/test")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--pid-file", default=str(MARIADB_PID_FILE), help="mariadbd's")
    args = parser.parse_args()
    mariadb = int(Path(args.pid_file).read_text())
    connection = mysql_connect(parse_database_url(args.db_url), autocommit=False, use_pure=False)
    tables = {layout: f"wsbench_layout_{index}" for index, layout in enumerate(LAYOUTS)}
    cursor = connection.cursor()
    try:
        for layout, table in tables.items():
            cursor.execute(f"DROP TABLE IF EXISTS {table}")
            cursor.execute(f"CREATE TABLE {table} ({LAYOUTS[layout]}) ENGINE=InnoDB")
        statements = {
            layout: connection.cmd_stmt_prepare(
                prepared_insert(STATEMENT_ROWS).replace("testing", table).encode()
            )
            for layout, table in tables.items()
        }
        seconds: dict[str, list[float]] = {layout: [] for layout in LAYOUTS}
        cpu = dict.fromkeys(LAYOUTS, 0.0)
        rows_per_round = 10 * STATEMENT_ROWS
        for round_ in range(args.rounds):
            for layout, statement in statements.items():
                rows = [(f"layout-{round_}", seq, seq) for seq in range(1, rows_per_round + 1)]
                cpu_before, started = cpu_seconds(mariadb), time.perf_counter()
                for start in range(0, rows_per_round, STATEMENT_ROWS):
                    chunk = rows[start : start + STATEMENT_ROWS]
                    connection.cmd_stmt_execute(statement, *itertools.chain.from_iterable(chunk))
                connection.commit()
                seconds[layout].append(time.perf_counter() - started)
                cpu[layout] += cpu_seconds(mariadb) - cpu_before
    finally:
        for table in tables.values():
            cursor.execute(f"DROP TABLE IF EXISTS {table}")
        connection.close()
    print(f"{args.rounds} rounds of {rows_per_round:,} rows into each layout, interleaved")
    for layout in LAYOUTS:
        median = statistics.median(seconds[layout]) * 1000
        per_row = cpu[layout] / (args.rounds * rows_per_round) * 1e6
        print(f"{layout:<28} {median:7.1f} ms per round, MariaDB {per_row:5.2f} µs CPU per row")
    first, *others = LAYOUTS
    for layout in others:
        speed = statistics.median(seconds[first]) / statistics.median(seconds[layout])
        print(f"{layout} inserts {speed:.2f}x as fast as {first}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
