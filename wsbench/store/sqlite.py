"""The same table in an embedded SQLite file: WAL mode, and an fsync at every commit."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from ..batching import Row
from ..errors import StartupError
from ..vocabulary import StoreKind
from .base import COUNT, INSERT, TABLE, StoreUnavailable, ThreadedStore

SQLITE_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS {TABLE} (
  id         INTEGER PRIMARY KEY AUTOINCREMENT,
  number     INTEGER NOT NULL,
  run_id     TEXT    NOT NULL,
  seq        INTEGER NOT NULL,
  created_at TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now')),
  UNIQUE (run_id, seq)
);
"""
SQLITE_INSERT = INSERT.replace("INSERT IGNORE", "INSERT OR IGNORE").replace("%s", "?")
SQLITE_COUNT = COUNT.replace("%s", "?")


class SQLiteStore(ThreadedStore):
    """The same table in an embedded SQLite file: WAL mode, and an fsync at every commit."""

    kind = StoreKind.SQLITE

    def __init__(self, path: str, notice: str | None = None) -> None:
        super().__init__()
        self.path = path
        self.target = f"{path}:{TABLE}"
        self.notice = notice
        self._connection: sqlite3.Connection | None = None

    def _open(self) -> None:
        try:
            self._connection = sqlite3.connect(self.path)
            self._connection.execute("PRAGMA journal_mode = WAL")
            # FULL: a commit is on disk before it returns, as with InnoDB's default.
            self._connection.execute("PRAGMA synchronous = FULL")
            self._connection.executescript(SQLITE_SCHEMA)
            self._connection.execute(f"SELECT run_id, seq, number FROM {TABLE} LIMIT 0")
        except sqlite3.Error as exc:
            raise StartupError(
                f"cannot use the SQLite database {self.path!r}: {exc}; check that its directory "
                "exists and is writable, or choose another file with --db sqlite:///FILE"
            ) from None

    def _insert(self, rows: Sequence[Row]) -> None:
        assert self._connection is not None
        try:
            with self._connection:  # one transaction, committed on leaving the block
                self._connection.executemany(SQLITE_INSERT, rows)
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc) or "busy" in str(exc):  # another process holds the file
                raise StoreUnavailable(f"SQLite: {exc}") from None
            raise

    def _count(self, run_id: str) -> int:
        assert self._connection is not None
        (count,) = self._connection.execute(SQLITE_COUNT, (run_id,)).fetchone()
        return int(count)

    def _close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None
