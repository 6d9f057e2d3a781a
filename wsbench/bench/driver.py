"""The interface every way of sending numbers implements, and which driver measures which case."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from .models import Case, Sample

Progress = Callable[[int], object]  # called with how many more numbers were acked


class Driver(Protocol):
    """Measures one repetition of a case: its connections opened, then the clock, then the run."""

    async def measure(
        self, case: Case, run_ids: Sequence[str], progress: Progress | None
    ) -> Sample:
        """Send ``case.n`` numbers under each run id (one per connection) and time it."""
