"""HubSpot's API limits: a rolling 10-second window, 5 searches per second, and a daily cap.

Numbers from https://developers.hubspot.com/docs/api/usage-details and the limit-increase changelog
https://developers.hubspot.com/changelog/increasing-our-api-limits (vendor-facts §11): private apps
get 100 requests per 10 s and 250,000 a day on Free/Starter, 190 per 10 s and 650,000 (Professional)
or 1,000,000 (Enterprise) a day; search endpoints allow 5 requests per second and do not return the
rate-limit headers (HubSpot community announcement "Rate limit headers will now appear for OAuth
authenticated calls", https://community.hubspot.com/t5/Developer-Announcements/ , post 399520).

The 429 body is HubSpot's: `{status: "error", message: "You have reached your ten_secondly_rolling
limit.", errorType: "RATE_LIMIT", correlationId, policyName: "TEN_SECONDLY_ROLLING"}` plus
`category: "RATE_LIMITS"` (both spellings are seen; vendor-facts §11).

`Retry-After`: HubSpot does not document one on API 429s. The sandbox sends one on the rolling and
per-second limits by default (the seconds until the window frees a slot, 1 for search) so that
clients which honour it wait the right amount; `HubSpotApp.retry_after_on_429 = False` turns it off
to match HubSpot exactly. Beware that urllib3's default `Retry` (what hubspot-api-client uses unless
given `retry=`) honours `Retry-After` on 429 for GET/PUT/DELETE and silently retries up to three times.
The daily cap never carries one: waiting until midnight is not something a client should do
transparently, and urllib3 would sleep for hours.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from typing import Any

from healthsync.sandbox.clock import SimClock
from healthsync.sandbox.hubspot.errors import error_body
from healthsync.sandbox.limits import DailyQuota, SlidingWindow
from healthsync.sandbox.wire import Response, json_response

__all__ = ["TIERS", "RateLimiter", "Tier", "rate_limit_response"]


@dataclass(frozen=True)
class Tier:
    """The limits of one HubSpot subscription tier (private app)."""

    per_ten_seconds: int
    per_day: int


TIERS = {
    "free": Tier(100, 250_000),
    "starter": Tier(100, 250_000),
    "professional": Tier(190, 650_000),
    "enterprise": Tier(190, 1_000_000),
}
SEARCH_PER_SECOND = 5
WINDOW_SECONDS = 10

_POLICIES = {
    "TEN_SECONDLY_ROLLING": "You have reached your ten_secondly_rolling limit.",
    "SECONDLY": "You have reached your secondly limit.",
    "DAILY": "You have reached your daily limit.",
}


def rate_limit_response(policy: str, retry_after: float | None) -> Response:
    """HubSpot's 429 for `policy` (TEN_SECONDLY_ROLLING, SECONDLY or DAILY)."""
    body: dict[str, Any] = error_body("RATE_LIMITS", _POLICIES[policy])
    body["errorType"] = "RATE_LIMIT"
    body["policyName"] = policy
    headers = {"Retry-After": SlidingWindow.retry_after_header(retry_after)} if retry_after else {}
    if policy == "DAILY":
        headers = {}
    return json_response(body, 429, headers)


class RateLimiter:
    """Windows and the daily cap of one portal; windows only bite when `enforce` is set.

    The daily cap always applies, so quota-exhaustion faults work without realistic rate limits; at
    250,000 calls a day nothing else reaches it. It resets when the simulated day changes.
    """

    def __init__(self, tier: str, enforce: bool, clock: SimClock, *, retry_after: bool = True) -> None:
        if tier not in TIERS:
            raise ValueError(f"unknown HubSpot tier {tier!r}; use one of {', '.join(TIERS)}")
        self.tier = TIERS[tier]
        self.enforce = enforce
        self.retry_after = retry_after
        self.clock = clock
        self.window = SlidingWindow(self.tier.per_ten_seconds, WINDOW_SECONDS)
        self.search = SlidingWindow(SEARCH_PER_SECOND, 1)
        self.daily = DailyQuota(self.tier.per_day)
        self._day: date = clock.today()

    def check(self, is_search: bool) -> Response | None:
        """The 429 for this call, or None after counting it."""
        today = self.clock.today()
        if today != self._day:
            self._day = today
            self.daily.reset()
        if self.daily.used >= self.daily.limit:
            return rate_limit_response("DAILY", None)
        if self.enforce:
            wait = (self.search if is_search else self.window).acquire()
            if wait is not None:
                policy = "SECONDLY" if is_search else "TEN_SECONDLY_ROLLING"
                return rate_limit_response(policy, wait if self.retry_after else None)
        if not self.daily.take():
            return rate_limit_response("DAILY", None)
        return None

    def headers(self) -> dict[str, str]:
        """The `X-HubSpot-RateLimit-*` headers of a normal (non-search) response."""
        limit = self.tier.per_ten_seconds
        remaining = self.window.remaining() if self.enforce else limit
        secondly = math.ceil(limit / WINDOW_SECONDS)
        return {
            "X-HubSpot-RateLimit-Daily": str(self.daily.limit),
            "X-HubSpot-RateLimit-Daily-Remaining": str(max(0, self.daily.limit - self.daily.used)),
            "X-HubSpot-RateLimit-Interval-Milliseconds": str(WINDOW_SECONDS * 1000),
            "X-HubSpot-RateLimit-Max": str(limit),
            "X-HubSpot-RateLimit-Remaining": str(remaining),
            "X-HubSpot-RateLimit-Secondly": str(secondly),
            "X-HubSpot-RateLimit-Secondly-Remaining": str(min(secondly, remaining)),
        }
