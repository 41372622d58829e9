"""The sandbox's simulated business clock: what day the data says it is.

`POST /_sandbox/advance {"days": D}` moves it forward and lets the data evolve, so weekly trends and
renewal stages can be exercised in seconds. Within a day the clock follows real time, so records
written during a run get increasing timestamps.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

__all__ = ["SimClock"]


class SimClock:
    """Simulated "now": a start instant plus real elapsed time plus the days advanced so far."""

    def __init__(self, start: datetime, monotonic: Callable[[], float] = time.monotonic) -> None:
        if start.tzinfo is None:
            raise ValueError("the sandbox clock needs an aware start time")
        self._start = start.astimezone(UTC)
        self._monotonic = monotonic
        self._t0 = monotonic()
        self._offset = timedelta()
        self._lock = threading.Lock()

    def now(self) -> datetime:
        """Current simulated instant (UTC)."""
        with self._lock:
            elapsed = timedelta(seconds=self._monotonic() - self._t0)
            return self._start + self._offset + elapsed

    def today(self) -> date:
        """Current simulated day (UTC)."""
        return self.now().date()

    def advance(self, days: int) -> datetime:
        """Move forward `days` whole days; never backward (vendors' data never un-happens)."""
        if days < 0:
            raise ValueError("the sandbox clock only moves forward")
        with self._lock:
            self._offset += timedelta(days=days)
        return self.now()
