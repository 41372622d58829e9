"""Zendesk's per-minute rate limits: the account limit and the incremental-export limit.

https://developer.zendesk.com/api-reference/introduction/rate-limits/ :
- every plan has an account-wide requests-per-minute limit (Team 200, Growth/Professional 400,
  Enterprise 700, Enterprise Plus / High Volume add-on 2,500); the sandbox defaults to 400;
- `/api/v2/incremental/*` allows 10 requests per minute (30 with the High Volume add-on), on top of
  the account limit;
- responses carry `X-Rate-Limit`, `X-Rate-Limit-Remaining` and, on Ticketing APIs,
  `ratelimit-limit`, `ratelimit-remaining`, `ratelimit-reset`; a refused request gets 429 with
  `Retry-After` in seconds.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from healthsync.sandbox.limits import SlidingWindow

__all__ = ["ACCOUNT_LIMIT_DEFAULT", "INCREMENTAL_LIMIT_DEFAULT", "RateLimits"]

ACCOUNT_LIMIT_DEFAULT = 400
INCREMENTAL_LIMIT_DEFAULT = 10
WINDOW_SECONDS = 60.0
INCREMENTAL_PREFIX = "/api/v2/incremental/"


class RateLimits:
    """The two windows and the headers that report them."""

    def __init__(
        self,
        account: int = ACCOUNT_LIMIT_DEFAULT,
        incremental: int = INCREMENTAL_LIMIT_DEFAULT,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._clock = clock
        self._t0 = clock()
        self.account = SlidingWindow(account, WINDOW_SECONDS, clock)
        self.incremental = SlidingWindow(incremental, WINDOW_SECONDS, clock)

    def take(self, path: str) -> float | None:
        """Count one request; None if allowed, else the seconds to wait (the request is refused)."""
        wait = self.account.acquire()
        if wait is not None:
            return wait
        if path.startswith(INCREMENTAL_PREFIX):
            return self.incremental.acquire()
        return None

    def headers(self, *, enforced: bool, refused: bool = False) -> dict[str, str]:
        """The account-limit headers; without enforcement the full budget is reported as remaining."""
        limit = self.account.limit
        remaining = 0 if refused else (self.account.remaining() if enforced else limit)
        # Seconds left in the current per-minute budget, as `ratelimit-reset` reports it.
        reset = max(1, math.ceil(WINDOW_SECONDS - (self._clock() - self._t0) % WINDOW_SECONDS))
        return {
            "X-Rate-Limit": str(limit),
            "X-Rate-Limit-Remaining": str(max(0, remaining)),
            "ratelimit-limit": str(limit),
            "ratelimit-remaining": str(max(0, remaining)),
            "ratelimit-reset": str(reset),
        }
