"""The retry/limit/count layer, as a table: error × idempotency → retried?, and how long it waits."""

from __future__ import annotations

import random

import pytest

from healthsync.errors import (
    AuthError,
    ConfigError,
    PaginationError,
    QuotaExhausted,
    RateLimited,
    RecordRejected,
    TransientError,
)
from healthsync.http import PACE_MARGIN, Http, Limiter, RetryPolicy, pace


class FakeTime:
    """A clock that only moves when something sleeps: tests of waiting without waiting."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def failing(*errors: BaseException, result: str = "ok"):
    """A call that raises each error in turn, then returns `result`; it records its attempts."""
    queue = list(errors)

    def fn() -> str:
        fn.attempts += 1  # type: ignore[attr-defined]
        if queue:
            raise queue.pop(0)
        return result

    fn.attempts = 0  # type: ignore[attr-defined]
    return fn


@pytest.fixture
def fake() -> FakeTime:
    return FakeTime()


@pytest.fixture
def http(fake: FakeTime) -> Http:
    return Http(
        retry_budget=10,
        sleep=fake.sleep,
        clock=fake.clock,
        rng=random.Random(1),
        policy=RetryPolicy(base_delay=1.0, max_delay=30.0, max_attempts=5),
    )


CASES = [
    # id, error, idempotent, retried, expected wait (None: backoff in [0.5, 1.0])
    (
        "hubspot-429-ten-secondly",
        RateLimited("ten_secondly_rolling", vendor="hubspot", status=429, retry_after=10),
        True,
        True,
        10.0,
    ),
    (
        "hubspot-429-create-still-retried",
        RateLimited("limit", vendor="hubspot", status=429, retry_after=2),
        False,
        True,
        2.0,
    ),
    ("zendesk-429-no-retry-after", RateLimited("slow", vendor="zendesk", status=429), True, True, None),
    (
        "zendesk-429-retry-after-capped",
        RateLimited("slow", vendor="zendesk", status=429, retry_after=3600),
        True,
        True,
        30.0,
    ),
    ("salesforce-503-read", TransientError("unavailable", vendor="salesforce", status=503), True, True, None),
    (
        "salesforce-503-create",
        TransientError("unavailable", vendor="salesforce", status=503),
        False,
        False,
        None,
    ),
    ("hubspot-dropped-connection-read", TransientError("reset", vendor="hubspot"), True, True, None),
    (
        "salesforce-403-request-limit",
        QuotaExhausted("REQUEST_LIMIT_EXCEEDED", vendor="salesforce", status=403),
        True,
        False,
        None,
    ),
    ("hubspot-429-daily", QuotaExhausted("DAILY", vendor="hubspot", status=429), True, False, None),
    ("zendesk-401", AuthError("Couldn't authenticate you", vendor="zendesk", status=401), True, False, None),
    ("config", ConfigError("bad mapping"), True, False, None),
    ("hubspot-207-record", RecordRejected("bad enum", vendor="hubspot", status=207), True, False, None),
    ("zendesk-cursor-repeat", PaginationError("cursor repeated", vendor="zendesk"), True, False, None),
]


@pytest.mark.parametrize(
    ("error", "idempotent", "retried", "wait"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_error_classification(http: Http, fake: FakeTime, error, idempotent, retried, wait) -> None:
    fn = failing(error)
    if retried:
        assert http.call("v", "e", fn, idempotent=idempotent, kind="read") == "ok"
        assert fn.attempts == 2
        assert len(fake.sleeps) == 1
        if wait is None:
            assert 0.5 <= fake.sleeps[0] <= 1.0
        else:
            assert fake.sleeps[0] == wait
    else:
        with pytest.raises(type(error)):
            http.call("v", "e", fn, idempotent=idempotent, kind="read")
        assert fn.attempts == 1
        assert fake.sleeps == []


def test_backoff_grows_and_is_capped(fake: FakeTime) -> None:
    http = Http(
        retry_budget=100,
        sleep=fake.sleep,
        clock=fake.clock,
        rng=random.Random(3),
        policy=RetryPolicy(base_delay=1.0, max_delay=4.0, max_attempts=6),
    )
    fn = failing(*[TransientError("x", vendor="v")] * 5)
    assert http.call("v", "e", fn, idempotent=True, kind="read") == "ok"
    ceilings = [1, 2, 4, 4, 4]
    assert all(c / 2 <= s <= c for s, c in zip(fake.sleeps, ceilings, strict=True))


def test_attempts_are_capped(http: Http) -> None:
    fn = failing(*[TransientError("x", vendor="v")] * 10)
    with pytest.raises(TransientError):
        http.call("v", "e", fn, idempotent=True, kind="read")
    assert fn.attempts == 5


def test_the_budget_is_shared_by_the_whole_run(fake: FakeTime) -> None:
    http = Http(retry_budget=3, sleep=fake.sleep, clock=fake.clock)
    assert http.call("a", "e", failing(TransientError("x", vendor="a")), idempotent=True, kind="read") == "ok"
    assert http.call("b", "e", failing(TransientError("x", vendor="b")), idempotent=True, kind="read") == "ok"
    fn = failing(*[TransientError("x", vendor="c")] * 3)
    with pytest.raises(TransientError):
        http.call("c", "e", fn, idempotent=True, kind="read")
    assert fn.attempts == 2  # one retry left for c, then the budget is spent
    assert http.stats()["retry_budget_left"] == 0


def test_sdk_exceptions_are_translated_or_left_alone(http: Http) -> None:
    class SdkError(Exception):
        pass

    def translate(exc: BaseException):
        return TransientError("sdk hiccup", vendor="v") if isinstance(exc, SdkError) else None

    fn = failing(SdkError("boom"))
    assert http.call("v", "e", fn, idempotent=True, kind="read", translate=translate) == "ok"
    with pytest.raises(KeyError):
        http.call("v", "e", failing(KeyError("bug")), idempotent=True, kind="read", translate=translate)
    with pytest.raises(TransientError) as info:
        http.call("v", "e", failing(SdkError("boom")), idempotent=False, kind="write", translate=translate)
    assert isinstance(info.value.__cause__, SdkError)


def test_every_attempt_is_counted_per_vendor_endpoint_and_kind(http: Http) -> None:
    http.call(
        "hubspot",
        "companies.list",
        failing(TransientError("x", vendor="hubspot")),
        idempotent=True,
        kind="read",
    )
    http.call("hubspot", "companies.batch_update", failing(), idempotent=True, kind="write")
    http.call("zendesk", "tickets.incremental", failing(), idempotent=True, kind="read")
    assert http.counter.totals() == {"hubspot": {"read": 2, "write": 1}, "zendesk": {"read": 1, "write": 0}}
    assert http.counter.by_endpoint()["hubspot"] == {"companies.batch_update": 1, "companies.list": 2}


def test_a_limiter_paces_calls_a_margin_under_the_vendor_limit(http: Http, fake: FakeTime) -> None:
    http.limit("hubspot", 100, 10.0)
    search = http.limit("hubspot", 5, 1.0, endpoints=lambda e: e.endswith(".search"))
    for _ in range(250):
        http.call("hubspot", "companies.list", failing(), idempotent=True, kind="read")
    # Calls 101 and 201 each wait for the window to roll; the window is the vendor's 10 s / 0.95.
    assert PACE_MARGIN == 0.95
    assert fake.now == pytest.approx(2 * 10.0 / PACE_MARGIN)
    started = fake.now
    for _ in range(11):
        http.call("hubspot", "companies.search", failing(), idempotent=True, kind="read")
    assert fake.now - started == pytest.approx(2 * 1.0 / PACE_MARGIN)
    assert search.waited == pytest.approx(2 * 1.0 / PACE_MARGIN)
    assert http.call("zendesk", "x", failing(), idempotent=True, kind="read") == "ok"  # other vendors unpaced


def test_a_paced_client_never_exceeds_the_vendors_window_despite_uneven_latency(
    http: Http, fake: FakeTime
) -> None:
    """The vendor counts arrivals in its own sliding window; arrivals lag departures unevenly.

    Here the run's first call opens the connection (TCP and TLS handshakes) and arrives 0.4 s after
    it left; the others arrive at once. The limiter lets call 11 leave exactly 60 s after call 1, so
    the vendor's minute ending at call 11 still holds call 1: paced at the limit itself, the vendor
    sees 11 calls in a minute (a 429); paced 95 % under it, never more than 10.
    """
    sent: list[float] = []

    def record() -> str:
        sent.append(fake.now)
        return "ok"

    def arrivals() -> list[float]:
        return [t + (0.4 if i == 0 else 0.0) for i, t in enumerate(sent)]

    def most_in_a_window(times: list[float], period: float) -> int:
        return max(sum(1 for u in times if t - period < u <= t) for t in times)

    exact = Http(sleep=fake.sleep, clock=fake.clock)
    exact.limit("zendesk", 10, 60.0, margin=1.0)
    for _ in range(40):
        exact.call("zendesk", "incremental/tickets/cursor", record, idempotent=True, kind="read")
    assert most_in_a_window(arrivals(), 60.0) == 11  # the vendor would answer 429

    sent.clear()
    http.limit("zendesk", 10, 60.0)
    for _ in range(40):
        http.call("zendesk", "incremental/tickets/cursor", record, idempotent=True, kind="read")
    assert most_in_a_window(arrivals(), 60.0) == 10


def test_a_call_under_two_limits_is_dated_when_it_leaves_in_both(http: Http, fake: FakeTime) -> None:
    """Zendesk's exports count against the account's per-minute limit and their own 10 a minute.

    Taking the account window's slot first and then waiting a minute on the export window would
    date the export call in the account window a minute before it left; the account window then
    lets a full window of other calls leave beside it, and the vendor, which counts arrivals,
    sees one call too many. Both windows must date the call when it leaves.
    """
    sent: list[float] = []

    def record() -> str:
        sent.append(fake.now)
        return "ok"

    http.limit("zendesk", 5, 60.0, margin=1.0)
    exports = http.limit("zendesk", 2, 60.0, endpoints=lambda e: e.startswith("incremental/"), margin=1.0)
    for _ in range(3):  # the third waits a minute on the export window
        http.call("zendesk", "incremental/tickets/cursor", record, idempotent=True, kind="read")
    for _ in range(10):
        http.call("zendesk", "satisfaction_ratings", record, idempotent=True, kind="read")
    assert sent[2] == pytest.approx(60.0)
    most = max(sum(1 for u in sent if t - 60.0 < u <= t) for t in sent)
    assert most == 5  # never 6 in the vendor's minute
    assert exports.waited == pytest.approx(60.0)  # the wait is booked to the window that imposed it


def test_pace_waits_for_the_fullest_window_and_slots_can_be_given_back(fake: FakeTime) -> None:
    first = Limiter("first", 2, 10.0, clock=fake.clock, sleep=fake.sleep)
    second = Limiter("second", 1, 10.0, clock=fake.clock, sleep=fake.sleep)
    assert second.take() == 0.0  # the second window is full for 10 s
    assert second.wait_for_slot() == pytest.approx(10.0)
    assert pace([first, second], fake.sleep) == pytest.approx(10.0)
    assert fake.now == pytest.approx(10.0)
    assert first.wait_for_slot() == 0.0  # one slot used (at 10 s), one left
    assert first.take() == pytest.approx(10.0)
    assert first.take() is None
    first.give_back(10.0)
    assert first.take() == pytest.approx(10.0)


def test_limiter_validates_its_settings() -> None:
    with pytest.raises(ValueError, match="positive"):
        Limiter("x", 0, 1.0)
    with pytest.raises(ValueError, match="margin"):
        Limiter("x", 10, 60.0, margin=1.5)
