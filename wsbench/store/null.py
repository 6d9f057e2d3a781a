"""The store that keeps nothing: acknowledgements then measure the transport alone."""

from __future__ import annotations

from collections.abc import Sequence

from ..batching import Row
from ..vocabulary import StoreKind


class NullStore:
    """Stores nothing: acknowledgements then measure the transport alone."""

    kind = StoreKind.NULL
    durable = False
    target: str | None = None
    max_allowed_packet = 1 << 30
    notice: str | None = "--db null: NOTHING IS STORED, acks mean received, not committed"

    async def insert(self, rows: Sequence[Row]) -> None:
        """Drop the rows."""

    async def count_rows(self, run_id: str) -> int | None:
        """Nothing is kept, so there is nothing to count."""
        return None
