"""The generator's shared model: shares, per-customer traits and the usage curve of each archetype.

Determinism rules for everything under `healthsync.sandbox.datagen*`: randomness comes only from a
`random.Random` seeded from the dataset seed (never the global one, never `hash()` of a string,
never a set's iteration order). Traits that `advance` must know again later (how many of its seats a
customer uses, its weekend dip, its billing day) are not stored anywhere: `trait` recomputes them
from (seed, customer index), so a dataset built by hand evolves as well as a generated one.
"""

from __future__ import annotations

import bisect
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Protocol, TypeVar

from healthsync.sandbox.dataset import Archetype, Customer, ZendeskLink

__all__ = [
    "ARCHETYPE_SHARES",
    "CRITICAL",
    "DECLINE_DAYS",
    "LINK_SHARES",
    "OPEN_STATUSES",
    "SEGMENT_SHARES",
    "AccountFacts",
    "UsageAccount",
    "UsageProfile",
    "add_years",
    "billing_day",
    "cumulative",
    "day_rng",
    "floor_minute",
    "one",
    "pick",
    "poisson",
    "quota_shuffle",
    "ticket_rate",
    "timestamp",
    "trait",
    "traits",
    "usage_profile",
    "weekend_flags",
]

T = TypeVar("T")


class UsageAccount(Protocol):
    """What the usage model reads of a customer: a `Customer`, or `AccountFacts` in a worker."""

    @property
    def index(self) -> int: ...
    @property
    def key(self) -> str: ...
    @property
    def archetype(self) -> Archetype: ...
    @property
    def seats(self) -> int: ...
    @property
    def arr(self) -> float: ...
    @property
    def contract_start(self) -> date: ...
    @property
    def in_crm(self) -> bool: ...


@dataclass(slots=True)
class AccountFacts:
    """The usage-relevant facts of a customer, for the worker process that writes the usage
    database (see `as_row`: plain tuples pickle far faster than 100,000 `Customer`s)."""

    index: int
    key: str
    archetype: Archetype
    seats: int
    arr: float
    contract_start: date
    in_crm: bool

    @staticmethod
    def as_row(customer: Customer) -> tuple[int, str, Archetype, int, float, date, bool]:
        """A customer's facts as a plain tuple, `AccountFacts(*row)` on the other side."""
        return (
            customer.index,
            customer.key,
            customer.archetype,
            customer.seats,
            customer.arr,
            customer.contract_start,
            customer.in_crm,
        )


ARCHETYPE_SHARES: tuple[tuple[Archetype, float], ...] = (
    (Archetype.HEALTHY, 0.45),
    (Archetype.DECLINING, 0.15),
    (Archetype.CHURN_RISK, 0.12),
    (Archetype.ONBOARDING, 0.13),
    (Archetype.EXPANDING, 0.15),
)
SEGMENT_SHARES: tuple[tuple[str, float], ...] = (("SMB", 0.6), ("Mid-Market", 0.3), ("Enterprise", 0.1))
LINK_SHARES: tuple[tuple[ZendeskLink, float], ...] = (
    (ZendeskLink.EXTERNAL_ID, 0.60),
    (ZendeskLink.DOMAIN, 0.20),
    (ZendeskLink.NAME, 0.12),
    (ZendeskLink.NONE, 0.08),
)

CRITICAL = frozenset({"urgent", "high"})
"""healthsync's default critical priorities (`[zendesk] critical_priorities`)."""
OPEN_STATUSES = frozenset({"new", "open", "pending", "hold"})

DECLINE_DAYS = 14
"""Declining customers' usage dropped this many days before generation: the 14-day rule's window."""
RAMP_DAYS = 60
"""Onboarding customers reach their steady usage this many days after the contract start."""

_MASK = (1 << 64) - 1


def _mix(value: int) -> int:
    # splitmix64's finaliser: a cheap, well-spread 64-bit hash of an integer, stable across runs.
    value = (value + 0x9E3779B97F4A7C15) & _MASK
    value = ((value ^ (value >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    value = ((value ^ (value >> 27)) * 0x94D049BB133111EB) & _MASK
    return value ^ (value >> 31)


def trait(seed: int, index: int, salt: int) -> float:
    """A number in [0, 1) fixed by (seed, customer index, salt): a trait nobody has to store."""
    return traits(seed, index, salt + 1)[salt]


def traits(seed: int, index: int, count: int) -> list[float]:
    """`trait(seed, index, salt)` for salts 0..count-1 at once (one hash of the customer, not `count`)."""
    customer = _mix(_mix(seed & _MASK) ^ index)
    return [_mix(customer ^ salt) / 2.0**64 for salt in range(count)]


def day_rng(seed: int, purpose: str, day: date) -> random.Random:
    """The random stream of one simulated day, so advancing 7 days twice equals advancing 14 once.

    String seeds are hashed with SHA-512 by `random.Random` (not with `hash()`), so this stream is
    the same in every process.
    """
    seed_text = f"healthsync-sandbox:{seed}:{purpose}:{day.isoformat()}"
    return random.Random(seed_text)  # noqa: S311 - repeatable test data, not cryptography


def one(rng: random.Random, values: Sequence[T]) -> T:
    """`rng.choice` without its per-call overhead (this runs millions of times for 100k accounts)."""
    return values[int(rng.random() * len(values))]


def cumulative(weights: Sequence[float]) -> tuple[float, ...]:
    """Running totals of `weights`, normalised to end at 1, for `pick`."""
    total, running, out = float(sum(weights)), 0.0, []
    for weight in weights:
        running += weight
        out.append(running / total)
    out[-1] = 1.0
    return tuple(out)


def pick(rng: random.Random, values: Sequence[T], cumulative_weights: Sequence[float]) -> T:
    """A weighted draw over `values` with weights prepared by `cumulative` (cheaper than `choices`)."""
    return values[bisect.bisect(cumulative_weights, rng.random())]


def quota_shuffle(rng: random.Random, shares: Sequence[tuple[T, float]], n: int) -> list[T]:
    """`n` values in exactly the given shares (largest remainder), in random order.

    Exact counts instead of independent draws keep small datasets representative: 500 accounts
    always have 60 churn risks, not anywhere from 45 to 75.
    """
    exact = [share * n for _, share in shares]
    counts = [math.floor(x) for x in exact]
    by_remainder = sorted(range(len(shares)), key=lambda i: (counts[i] - exact[i], i))
    for i in by_remainder[: n - sum(counts)]:
        counts[i] += 1
    out = [value for (value, _), count in zip(shares, counts, strict=True) for _ in range(count)]
    rng.shuffle(out)
    return out


def poisson(rng: random.Random, mean: float) -> int:
    """A Poisson draw (Knuth's method; the means here are small)."""
    limit, k, product = math.exp(-mean), 0, rng.random()
    while product > limit:
        k += 1
        product *= rng.random()
    return k


def add_years(day: date, years: int) -> date:
    """`day` moved by whole years; 29 February becomes 28 February in a common year."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def floor_minute(moment: datetime) -> datetime:
    """`moment` in UTC without seconds: the runtime's clock adds real elapsed time to its start, and
    data anchored on the whole minute stays the same however long set-up took."""
    if moment.tzinfo is None:
        raise ValueError("the sandbox data needs an aware datetime")
    return moment.astimezone(UTC).replace(second=0, microsecond=0)


def billing_day(seed: int, customer: UsageAccount) -> int:
    """Day of the month (1-28) the customer's monthly invoice is due."""
    return 1 + int(trait(seed, customer.index, 6) * 28)


_SEGMENT_TICKETS = {"SMB": 0.7, "Mid-Market": 1.6, "Enterprise": 3.2}
_ARCHETYPE_TICKETS = {
    Archetype.HEALTHY: 1.0,
    Archetype.DECLINING: 1.2,
    Archetype.CHURN_RISK: 1.5,
    Archetype.ONBOARDING: 1.4,
    Archetype.EXPANDING: 0.9,
}


def ticket_rate(customer: Customer) -> float:
    """Tickets per 30 days: 0.5-4, busier for bigger, newer and unhappier customers."""
    rate = _SEGMENT_TICKETS.get(customer.segment, 1.0) * _ARCHETYPE_TICKETS[customer.archetype]
    return min(4.0, max(0.5, rate))


@dataclass(slots=True)
class UsageProfile:
    """How one customer uses the product; `expected` gives the mean active users of a day."""

    archetype: Archetype
    seats: int
    level: float
    """Weekday active users as a share of seats once settled."""
    weekend: float
    """Weekend usage as a share of weekday usage."""
    logins_per_user: float
    decline: float
    """Declining customers: the share of their usage left after the drop."""
    start: date
    """No usage before this day (the contract start)."""
    decline_from: date | None
    """First low day of a declining customer; None means "already low" (after generation)."""
    gate: float = 1.0
    """Share of days with any activity at all: churn risks go quiet on most days."""

    def expected(self, day: date) -> float:
        """Mean active users on `day` before noise; 0 before the start (no row is written)."""
        since = (day - self.start).days
        if since < 0:
            return 0.0
        users = self.seats * self.level
        if self.archetype is Archetype.ONBOARDING:
            users *= 0.15 + 0.85 * min(1.0, since / RAMP_DAYS)
        elif self.archetype is Archetype.DECLINING and (
            self.decline_from is None or day >= self.decline_from
        ):
            users *= self.decline
        if day.weekday() >= 5:
            users *= self.weekend
        return users

    @property
    def steady(self) -> bool:
        """Same weekday and weekend level every day of the history (no ramp, no drop)."""
        return self.archetype not in (Archetype.DECLINING, Archetype.ONBOARDING)

    def series(self, first: date, weekend_flags: Sequence[bool]) -> list[float]:
        """`expected` for consecutive days from `first`, one per flag (True: a weekend day); fast path
        for the 90-day history, where a method call per day and customer would dominate."""
        weekday = self.seats * self.level
        weekend = weekday * self.weekend
        out = [weekend if flag else weekday for flag in weekend_flags]
        if self.archetype is Archetype.DECLINING:
            cut = 0 if self.decline_from is None else max(0, (self.decline_from - first).days)
            out[cut:] = [users * self.decline for users in out[cut:]]
        elif self.archetype is Archetype.ONBOARDING:
            offset = (first - self.start).days
            out = [
                0.0 if offset + i < 0 else users * (0.15 + 0.85 * min(1.0, (offset + i) / RAMP_DAYS))
                for i, users in enumerate(out)
            ]
        return out

    def draw(self, expected: float, rng: random.Random) -> tuple[int, int]:
        """(active users, logins) for a day: ±20 % noise, randomly rounded, capped at the seats."""
        if self.gate < 1.0 and rng.random() >= self.gate:
            return 0, 0
        active = int(expected * (0.8 + 0.4 * rng.random()) + rng.random())
        active = min(active, self.seats)
        logins = active + int(active * 2 * (self.logins_per_user - 1) * rng.random())
        return active, logins


_LEVELS = {
    Archetype.HEALTHY: (0.5, 0.68),
    Archetype.DECLINING: (0.5, 0.75),
    Archetype.CHURN_RISK: (0.03, 0.1),
    Archetype.ONBOARDING: (0.5, 0.7),
    Archetype.EXPANDING: (0.86, 0.97),
}


def usage_profile(seed: int, customer: UsageAccount, *, decline_from: date | None = None) -> UsageProfile:
    """The customer's usage traits, recomputed from (seed, index) and its current seats and archetype."""
    low, high = _LEVELS[customer.archetype]
    _, level, weekend, logins, decline, gate = traits(seed, customer.index, 6)
    archetype = customer.archetype
    return UsageProfile(
        archetype,
        max(1, customer.seats),
        low + (high - low) * level,
        0.15 + 0.2 * weekend,
        1.2 + 1.8 * logins,
        0.22 + 0.16 * decline,
        customer.contract_start if archetype is Archetype.ONBOARDING else date.min,
        decline_from,
        0.2 + 0.3 * gate if archetype is Archetype.CHURN_RISK else 1.0,
    )


def weekend_flags(first: date, days: int) -> list[bool]:
    """For each of `days` days from `first`: is it a Saturday or Sunday?"""
    return [(first + timedelta(days=i)).weekday() >= 5 for i in range(days)]


def timestamp(base: datetime, seconds: float) -> datetime:
    """`base` plus whole `seconds`: generated timestamps carry no sub-second noise."""
    return base + timedelta(seconds=int(seconds))
