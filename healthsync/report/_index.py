"""One pass over a `History` that every metric and view shares: snapshots and outcomes per account.

A History may hold 100k accounts x ~10 snapshots. Grouping them once per account (with their days
for bisection) makes "the state on day d" a binary search instead of a rescan, so each metric and
view is O(accounts x log snapshots-per-account). The index is cached per History object (weakly,
so it goes when the History does); metrics stay pure functions of their arguments.
"""

from __future__ import annotations

import weakref
from bisect import bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

from healthsync.model import ContractOutcome
from healthsync.report.history import History, Outcome, Snapshot

__all__ = [
    "ACTIVE_DAYS",
    "BANDS",
    "Account",
    "Index",
    "band_key",
    "display_name",
    "index_of",
    "money",
    "plural",
]

ACTIVE_DAYS = 90
"""An account whose latest snapshot is this old or older is no longer synced (deleted or moved out
of scope in the CRM): it is not part of the portfolio at that day."""

BANDS: tuple[str, ...] = ("green", "yellow", "red", "none")
"""Band keys in table order; "none" is an account without a band (no score yet)."""


def band_key(snapshot: Snapshot) -> str:
    return snapshot.band.value if snapshot.band is not None else "none"


def money(value: float) -> str:
    """ARR in a summary line: whole units with separators."""
    return f"{value:,.0f}"


def plural(count: int, noun: str) -> str:
    """ "1 account", "2 accounts": summaries read as sentences."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def display_name(snapshot: Snapshot) -> str:
    """The account's name, else its id: a label is never blank."""
    return snapshot.name or snapshot.account


@dataclass(frozen=True, slots=True)
class Account:
    """One account's snapshots in day order, with their days for bisection."""

    id: str
    snapshots: tuple[Snapshot, ...]
    days: tuple[date, ...]

    def latest(self, day: date) -> Snapshot | None:
        """The state on `day`: the latest snapshot on or before it."""
        i = bisect_right(self.days, day)
        return self.snapshots[i - 1] if i else None

    def last_arr(self, day: date) -> float | None:
        """The latest known ARR on or before `day` (snapshots without ARR are skipped: unknown, not 0)."""
        for i in range(bisect_right(self.days, day) - 1, -1, -1):
            arr = self.snapshots[i].arr
            if arr is not None:
                return arr
        return None

    def between(self, start: date, end: date) -> Sequence[Snapshot]:
        """Snapshots with day in (`start`, `end`]."""
        return self.snapshots[bisect_right(self.days, start) : bisect_right(self.days, end)]


@dataclass(frozen=True)
class Index:
    """A History grouped per account, with each account's churn days, for day-by-day look-ups."""

    accounts: Mapping[str, Account]
    churns: Mapping[str, tuple[Outcome, ...]]
    """CHURNED outcomes per account, by day."""
    decided: Mapping[tuple[str, date], Outcome]
    """The first outcome recorded per (account, contract end)."""
    first_churn: Mapping[str, date] = field(default_factory=dict)
    """The day each churned account's first CHURNED outcome was decided."""
    _active: dict[date, tuple[tuple[Account, Snapshot], ...]] = field(default_factory=dict, repr=False)
    """`active` per day: most views ask for the same end day."""

    def churned_by(self, account: str, day: date) -> bool:
        """A CHURNED outcome was decided on or before `day`."""
        first = self.first_churn.get(account)
        return first is not None and first <= day

    def churn_in(self, account: str, start: date, end: date) -> Outcome | None:
        """The first CHURNED outcome decided in (`start`, `end`]."""
        for outcome in self.churns.get(account, ()):
            if start < outcome.day <= end:
                return outcome
        return None

    def active(self, end: date) -> tuple[tuple[Account, Snapshot], ...]:
        """The portfolio on `end`: accounts seen in the last `ACTIVE_DAYS` days and not churned,
        each with its latest snapshot."""
        cached = self._active.get(end)
        if cached is not None:
            return cached
        oldest = end - timedelta(days=ACTIVE_DAYS)
        out: list[tuple[Account, Snapshot]] = []
        for account in self.accounts.values():
            snap = account.latest(end)
            if snap is not None and snap.day > oldest and not self.churned_by(account.id, end):
                out.append((account, snap))
        self._active[end] = result = tuple(out)
        return result


def _build(history: History) -> Index:
    grouped: dict[str, list[Snapshot]] = {}
    for snap in history.snapshots:
        grouped.setdefault(snap.account, []).append(snap)
    accounts: dict[str, Account] = {}
    for key, snaps in grouped.items():
        snaps.sort(key=lambda s: s.day)  # already sorted as loaded: a linear check in Timsort
        accounts[key] = Account(key, tuple(snaps), tuple(s.day for s in snaps))
    churns: dict[str, list[Outcome]] = {}
    decided: dict[tuple[str, date], Outcome] = {}
    for outcome in sorted(history.outcomes, key=lambda o: (o.day, o.account)):
        if outcome.outcome == ContractOutcome.CHURNED:
            churns.setdefault(outcome.account, []).append(outcome)
        decided.setdefault((outcome.account, outcome.contract_end), outcome)
    first = {k: v[0].day for k, v in churns.items()}
    return Index(accounts, {k: tuple(v) for k, v in churns.items()}, decided, first)


_cache: dict[int, tuple[weakref.ref[History], Index]] = {}
"""Keyed by id(History) (a History holds a dict, so it is not hashable); the weak reference both
checks that the id still names the same object and drops the entry when the History is freed.
No lock: dict operations are atomic, and two threads racing only build the same index twice."""


def index_of(history: History) -> Index:
    """The index of `history`, built on first use and kept while the History lives."""
    key = id(history)
    hit = _cache.get(key)
    if hit is not None and hit[0]() is history:
        return hit[1]
    index = _build(history)

    def _drop(ref: weakref.ref[History]) -> None:
        entry = _cache.get(key)
        if entry is not None and entry[0] is ref:
            _cache.pop(key, None)

    _cache[key] = (weakref.ref(history, _drop), index)
    return index
