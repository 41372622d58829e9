"""Rate-limit windows and daily quotas, as the vendors enforce them.

Windows run on the real monotonic clock, not the simulated business clock: rate limits are about
how fast a client calls, while the simulated clock is about what day the data says it is.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable

__all__ = ["DailyQuota", "SlidingWindow"]


class SlidingWindow:
    """At most `limit` calls in any `seconds`-long window (HubSpot's rolling limits, Zendesk's per minute)."""

    def __init__(self, limit: int, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        if limit < 1 or seconds <= 0:
            raise ValueError("a window needs a positive limit and length")
        self.limit = limit
        self.seconds = seconds
        self._clock = clock
        self._calls: deque[float] = deque()
        self._lock = threading.Lock()

    def acquire(self) -> float | None:
        """Take one call; None if allowed, else the seconds until a call would be allowed."""
        with self._lock:
            now = self._clock()
            while self._calls and self._calls[0] <= now - self.seconds:
                self._calls.popleft()
            if len(self._calls) < self.limit:
                self._calls.append(now)
                return None
            return max(self._calls[0] + self.seconds - now, 0.001)

    def remaining(self) -> int:
        """Calls still allowed in the current window."""
        with self._lock:
            now = self._clock()
            return self.limit - sum(1 for t in self._calls if t > now - self.seconds)

    @staticmethod
    def retry_after_header(wait: float) -> str:
        """Whole seconds, rounded up, as `Retry-After` carries them."""
        return str(max(1, math.ceil(wait)))


class DailyQuota:
    """A per-day call budget (Salesforce org API requests, HubSpot daily cap); reset by the sandbox clock."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0
        self._lock = threading.Lock()

    def take(self) -> bool:
        """Count one call; False when the budget was already spent (the call is refused, not counted)."""
        with self._lock:
            if self.used >= self.limit:
                return False
            self.used += 1
            return True

    def exhaust(self) -> None:
        """Spend what is left (fault injection: "quota exhaustion")."""
        with self._lock:
            self.used = self.limit

    def reset(self, limit: int | None = None) -> None:
        """A new day, or a new limit."""
        with self._lock:
            self.used = 0
            if limit is not None:
                self.limit = limit
