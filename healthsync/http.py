"""The one place that retries, rate-limits and counts vendor calls (DESIGN.md section 3).

Every vendor call goes through `Http.call(vendor, endpoint, fn, idempotent=..., kind=...)`.
Connectors never sleep, loop on errors or catch vendor exceptions to retry; they translate SDK
exceptions into `healthsync.errors` classes (or pass a `translate` function here) and let this
layer decide:

- `RateLimited` (429): wait `Retry-After` (else jittered backoff) within the run's retry budget,
  for idempotent and non-idempotent calls alike: a 429 means the vendor refused the request before
  doing anything, so a replay cannot double it.
- `TransientError` (5xx, timeout, dropped connection): the same wait for idempotent calls; raised at
  once for non-idempotent ones, since the write may have happened (the outbox reconciles next run).
- `QuotaExhausted`: raised; the run stops cleanly and resumes next time.
- `ConfigError` / `AuthError`: raised; retrying cannot fix a credential.
- `RecordRejected`, `PaginationError`: raised to the caller (dead letter, or a bug to report).

The decision takes the caller's word on idempotency rather than the HTTP method: a HubSpot search
is a POST but a read; a Salesforce external-id upsert is a PATCH that replays safely; a plain
create does not.

Client-side limiters keep a run a small margin under each vendor's documented limits
(`PACE_MARGIN`), so the vendors' 429s stay rare rather than being the pacing mechanism. All waiting
goes through an injectable `sleep` and `clock`, so tests run without real time passing.

Every attempt is logged at DEBUG (`healthsync.http`: vendor, endpoint, kind, attempt, outcome, the
HTTP status of a failure, duration_ms) and every retry at WARNING with its wait; never a header, a
URL's query or a payload beyond what the error class already carries (redacted and truncated).
"""

from __future__ import annotations

import contextlib
import logging
import random
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from healthsync.errors import (
    ConfigError,
    HealthsyncError,
    QuotaExhausted,
    RateLimited,
    TransientError,
)

__all__ = ["PACE_MARGIN", "CallCounter", "Http", "Limiter", "RetryBudget", "RetryPolicy", "pace"]

log = logging.getLogger("healthsync.http")

T = TypeVar("T")
Kind = Literal["read", "write"]

PACE_MARGIN = 0.95
"""Share of a vendor's documented rate the client-side limiters use: each window is stretched to
`period / PACE_MARGIN` (HubSpot's 100 per 10 s become 100 per 10.53 s; Zendesk's 10 exports a
minute, 10 per 63.2 s).

Why not the limit itself: the client and the vendor count different instants. The limiter stamps
a call when it leaves; the vendor counts it when it arrives, on its own clock and in its own
window. Arrival lags departure by a varying amount (connection setup, TLS, a request queued
behind a slow answer), so when one call lingers and the next does not, the vendor's window holds
one call more than the client's did and answers 429: with limiters sitting exactly at the limits,
a 10,000-account run under realistic limits collected a few such 429s (and waited out their
Retry-After). 5 % of each period (0.5 s of HubSpot's 10 s, 3 s of Zendesk's minute) is far more
than that skew on any sane connection, and costs at most 5 % of the rate-limit floor."""
Translate = Callable[[BaseException], HealthsyncError | None]


@dataclass(frozen=True)
class RetryPolicy:
    """How long to wait between attempts: capped exponential backoff with full jitter.

    Attributes:
        base_delay: the first backoff step in seconds.
        max_delay: no single wait is longer (also caps a server's Retry-After, which some APIs
            set to hours when a daily cap is hit; those are `QuotaExhausted`, not waits).
        max_attempts: attempts per call, the first included.
    """

    base_delay: float = 0.5
    max_delay: float = 60.0
    max_attempts: int = 8

    def backoff(self, attempt: int, rng: random.Random) -> float:
        """Seconds to wait before retry number `attempt` (1-based), with full jitter (AWS-style)."""
        ceiling = min(self.max_delay, self.base_delay * (2 ** (attempt - 1)))
        return rng.uniform(ceiling / 2, ceiling)


class RetryBudget:
    """Retries left for the whole run, shared by every vendor: an outage slows a run, never loops it."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.used = 0
        self._lock = threading.Lock()

    def take(self) -> bool:
        """Spend one retry; False when none is left."""
        with self._lock:
            if self.used >= self.total:
                return False
            self.used += 1
            return True


class Limiter:
    """Client-side sliding-window limiter: at most `limit` calls per `period / margin` seconds.

    `acquire` blocks (through the injected sleep) until a call fits, so a run paces itself below
    the vendor's limit instead of collecting 429s. `margin` (0 < margin <= 1) is the share of the
    vendor's rate used; `Http.limit` passes `PACE_MARGIN`.
    """

    def __init__(
        self,
        name: str,
        limit: int,
        period: float,
        *,
        margin: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if limit < 1 or period <= 0:
            raise ValueError(f"limiter {name}: needs a positive limit and period")
        if not 0 < margin <= 1:
            raise ValueError(f"limiter {name}: the margin is a share of the limit, in (0, 1]")
        self.name = name
        self.limit = limit
        self.period = period / margin
        """The window the limiter keeps: the vendor's period stretched by the margin."""
        self._clock = clock
        self._sleep = sleep
        self._calls: deque[float] = deque()
        self._lock = threading.Lock()
        self.waited = 0.0

    def acquire(self) -> float:
        """Wait until one more call fits in the window, take it, and return the seconds waited."""
        return pace((self,), self._sleep)

    def wait_for_slot(self) -> float:
        """Seconds until one more call would fit (0 when it fits now); takes nothing."""
        with self._lock:
            now = self._prune()
            return 0.0 if len(self._calls) < self.limit else self._calls[0] + self.period - now

    def take(self) -> float | None:
        """Stamp one call now if it fits: its stamp (for `give_back`), or None when the window is full."""
        with self._lock:
            now = self._prune()
            if len(self._calls) >= self.limit:
                return None
            self._calls.append(now)
            return now

    def _prune(self) -> float:
        """Drop the calls that left the window; the current time. Called with the lock held."""
        now = self._clock()
        while self._calls and self._calls[0] <= now - self.period:
            self._calls.popleft()
        return now

    def give_back(self, stamp: float) -> None:
        """Undo a `take` whose call did not leave (another window of the same call was full)."""
        with self._lock, contextlib.suppress(ValueError):  # already rolled out of the window
            self._calls.remove(stamp)

    def book_wait(self, seconds: float) -> None:
        """Add a wait this window imposed to `waited` (callers on several threads share a limiter)."""
        with self._lock:
            self.waited += seconds


def pace(limiters: Sequence[Limiter], sleep: Callable[[float], None]) -> float:
    """Wait until one more call fits in every window, then take a slot in each at the same instant.

    Taking them one after the other would stamp the first window before a wait on the next one: a
    Zendesk export waits up to 6 s on its 10-a-minute window after the 400-a-minute window took its
    slot, so that window would date the call seconds before it left and let the vendor, counting
    arrivals, see one call too many in its minute (a 100,000-account run drew that 429). Returns
    the seconds waited; each wait is booked to the limiter that imposed it.
    """
    waited = 0.0
    while True:
        waits = [limiter.wait_for_slot() for limiter in limiters]
        longest = max(waits, default=0.0)
        if longest <= 0:
            taken: list[tuple[Limiter, float]] = []
            for limiter in limiters:
                stamp = limiter.take()
                if stamp is None:
                    break
                taken.append((limiter, stamp))
            else:
                return waited
            for limiter, stamp in taken:  # another thread took the last slot meanwhile: try again
                limiter.give_back(stamp)
            continue
        limiters[waits.index(longest)].book_wait(longest)
        sleep(longest)
        waited += longest


@dataclass
class CallCounter:
    """Every request counted per vendor, endpoint and read/write; the run record stores the totals."""

    _counts: dict[tuple[str, str, Kind], int] = field(default_factory=lambda: defaultdict(int))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self, vendor: str, endpoint: str, kind: Kind) -> None:
        """Record one request (each attempt of a retried call is one request)."""
        with self._lock:
            self._counts[(vendor, endpoint, kind)] += 1

    def totals(self) -> dict[str, dict[str, int]]:
        """`{vendor: {"read": n, "write": n}}`, the shape of `sync --json`'s `api_calls`."""
        out: dict[str, dict[str, int]] = {}
        with self._lock:
            for (vendor, _, kind), n in self._counts.items():
                out.setdefault(vendor, {"read": 0, "write": 0})[kind] += n
        return dict(sorted(out.items()))

    def by_endpoint(self) -> dict[str, dict[str, int]]:
        """`{vendor: {endpoint: n}}`, for benchmarks and exact-count tests."""
        out: dict[str, dict[str, int]] = {}
        with self._lock:
            for (vendor, endpoint, _), n in sorted(self._counts.items()):
                out.setdefault(vendor, {})[endpoint] = out.get(vendor, {}).get(endpoint, 0) + n
        return out


@dataclass
class _Route:
    limiter: Limiter
    matches: Callable[[str], bool]


class Http:
    """Retries, rate limits and counts for all vendor calls of one run.

    Args:
        retry_budget: retries allowed in the whole run (config `sync.retry_budget`).
        policy: backoff settings.
        sleep: how to wait (tests pass a recorder).
        clock: monotonic seconds (tests pass a fake that `sleep` advances).
        rng: jitter source (seeded in tests).
    """

    def __init__(
        self,
        *,
        retry_budget: int = 50,
        policy: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        self.budget = RetryBudget(retry_budget)
        self.policy = policy or RetryPolicy()
        self.counter = CallCounter()
        self._sleep = sleep
        self._clock = clock
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not cryptography
        self._limits: dict[str, list[_Route]] = defaultdict(list)
        self.retries: list[tuple[str, str, str, float]] = []
        """(vendor, endpoint, error class, wait) of every retry, for logs and the run record."""

    def limit(
        self,
        vendor: str,
        limit: int,
        period: float,
        *,
        endpoints: Callable[[str], bool] | None = None,
        name: str | None = None,
        margin: float = PACE_MARGIN,
    ) -> Limiter:
        """Pace `vendor`'s calls (those whose endpoint satisfies `endpoints`, default all) a `margin`
        under the vendor's `limit` calls per `period` seconds (see `PACE_MARGIN`)."""
        limiter = Limiter(
            name or f"{vendor}:{limit}/{period:g}s",
            limit,
            period,
            margin=margin,
            clock=self._clock,
            sleep=self._sleep,
        )
        self._limits[vendor].append(_Route(limiter, endpoints or (lambda _: True)))
        return limiter

    def call(
        self,
        vendor: str,
        endpoint: str,
        fn: Callable[[], T],
        *,
        idempotent: bool,
        kind: Kind,
        translate: Translate | None = None,
    ) -> T:
        """Run one vendor call with pacing, counting and the retry policy of the module docstring.

        Args:
            vendor: `salesforce`, `hubspot`, `zendesk` or a usage source name.
            endpoint: a stable name for counters and limits, e.g. `companies.search`.
            fn: performs the request; raises `healthsync.errors` classes or SDK exceptions.
            idempotent: True when replaying the call cannot change the outcome.
            kind: read or write, for the counters.
            translate: maps an SDK exception to one of ours (None: not ours to handle; re-raised).
        """
        attempt = 0
        while True:
            attempt += 1
            pace([r.limiter for r in self._limits.get(vendor, ()) if r.matches(endpoint)], self._sleep)
            self.counter.count(vendor, endpoint, kind)
            started = time.perf_counter()
            try:
                answer = fn()
            except HealthsyncError as exc:
                error: HealthsyncError = exc
            except Exception as exc:
                translated = translate(exc) if translate is not None else None
                if translated is None:
                    _log_attempt(vendor, endpoint, kind, attempt, started, type(exc).__name__)
                    raise
                error = translated
                error.__cause__ = exc
            else:
                _log_attempt(vendor, endpoint, kind, attempt, started, None)
                return answer
            wait = self._retry_wait(error, attempt, idempotent=idempotent)
            _log_attempt(vendor, endpoint, kind, attempt, started, error, retry=wait is not None)
            if wait is None:
                raise error
            self.retries.append((vendor, endpoint, type(error).__name__, wait))
            fields = _fields(vendor, endpoint, kind, attempt, error)
            fields.update(wait_s=round(wait, 3), retry_budget_left=self.budget.total - self.budget.used)
            log.warning("%s %s: %s; retry %d in %.1f s", vendor, endpoint, error, attempt, wait, extra=fields)
            self._sleep(wait)

    def _retry_wait(self, error: HealthsyncError, attempt: int, *, idempotent: bool) -> float | None:
        """Seconds to wait before retrying, or None to give up and raise."""
        if isinstance(error, ConfigError | QuotaExhausted) or not isinstance(error, TransientError):
            return None
        if not isinstance(error, RateLimited) and not idempotent:
            return None
        if attempt >= self.policy.max_attempts or not self.budget.take():
            return None
        if isinstance(error, RateLimited) and error.retry_after is not None:
            return min(max(error.retry_after, 0.0), self.policy.max_delay)
        return self.policy.backoff(attempt, self._rng)

    def stats(self) -> dict[str, Any]:
        """Calls per vendor, retries and time spent waiting on limiters, for the run record."""
        waited = {r.limiter.name: round(r.limiter.waited, 3) for rs in self._limits.values() for r in rs}
        return {
            "api_calls": self.counter.totals(),
            "retries": len(self.retries),
            "retry_budget_left": self.budget.total - self.budget.used,
            "limiter_wait_s": waited,
        }


def _fields(
    vendor: str, endpoint: str, kind: Kind, attempt: int, error: HealthsyncError | str | None
) -> dict[str, Any]:
    """The structured fields of a request's log line: which call, which attempt, which error."""
    fields: dict[str, Any] = {"vendor": vendor, "endpoint": endpoint, "kind": kind, "attempt": attempt}
    if error is not None:
        fields["error"] = error if isinstance(error, str) else type(error).__name__
        status = getattr(error, "status", None)
        if status is not None:
            fields["status"] = status
    return fields


def _log_attempt(
    vendor: str,
    endpoint: str,
    kind: Kind,
    attempt: int,
    started: float,
    error: HealthsyncError | str | None,
    *,
    retry: bool = False,
) -> None:
    """One DEBUG line per request: `ok`, `retry` or `error` (with the error class and HTTP status)."""
    if not log.isEnabledFor(logging.DEBUG):
        return
    ms = round((time.perf_counter() - started) * 1000, 1)
    fields = _fields(vendor, endpoint, kind, attempt, error)
    fields["outcome"] = "ok" if error is None else "retry" if retry else "error"
    fields["duration_ms"] = ms
    outcome = fields["outcome"] if error is None else f"{fields['outcome']} ({fields['error']})"
    log.debug("%s %s %s #%d: %s in %.0f ms", vendor, kind, endpoint, attempt, outcome, ms, extra=fields)
