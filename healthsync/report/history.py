"""The history the report is computed from: plain frozen values, loaded once from the state store.

Metrics and views are pure functions over a `History`, so unit tests hand-build one and the loader
(`load.py`) is the only part that knows SQL. Snapshots are what each sync saw of an account on its
day; between two snapshots nothing is known, so the report's time resolution is the sync cadence.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date

from healthsync.model import Band, ContractOutcome

__all__ = ["AccountStart", "History", "NpsAnswer", "Outcome", "SignalNote", "Snapshot"]


@dataclass(frozen=True, slots=True)
class SignalNote:
    """A signal a run raised for an account (the task's subject and why)."""

    kind: str
    """`SignalKind` value: risk, renewal, onboarding, expansion."""
    code: str
    subject: str
    reason: str


@dataclass(frozen=True, slots=True)
class Snapshot:
    """One account as one sync saw it on `day` (a backfill's day is its as-of date)."""

    account: str
    day: date
    arr: float | None = None
    licenses: int | None = None
    band: Band | None = None
    score: float | None = None
    contract_start: date | None = None
    contract_end: date | None = None
    owner: str | None = None
    """The owner's name when the CRM gave one, else the owner's id."""
    name: str | None = None
    segment: str | None = None
    reasons: tuple[str, ...] = ()
    """The top reasons behind the score, as written to the CRM."""
    signals: tuple[SignalNote, ...] = ()
    """Signals raised on this day (open conditions, whether or not a task already existed)."""
    value_day: date | None = None
    """First day in the run's usage window, on or after the contract start, that met the value milestone."""


@dataclass(frozen=True, slots=True)
class Outcome:
    """A renewal deal a person closed: the contract ending `contract_end` renewed or churned."""

    account: str
    contract_end: date
    outcome: ContractOutcome
    day: date
    """When it was decided: the deal's close date, else the day a sync first saw it closed."""
    reason: str | None = None
    """The loss reason for a churn (the CRM's own value)."""
    arr: float | None = None
    """The renewed ARR (the won deal's amount), or the ARR the churn lost (the account's ARR then)."""
    new_contract_end: date | None = None


@dataclass(frozen=True, slots=True)
class NpsAnswer:
    """One NPS answer (0-10) from the usage source's survey table."""

    account: str
    day: date
    score: int


@dataclass(frozen=True, slots=True)
class AccountStart:
    """Where an account's history begins, over all its snapshots (not only the loaded window)."""

    account: str
    first_seen: date
    """The day of the first snapshot of the account."""
    first_contract_start: date | None
    """The earliest contract start any snapshot recorded: the day it became a customer, as far as known."""
    value_day: date | None
    """The earliest value-milestone day any snapshot recorded."""


@dataclass(frozen=True)
class History:
    """Everything the report reads, for the window [`since`, `as_of`].

    `snapshots` holds, per account, the last snapshot before `since` (its state at the window's
    start) and every snapshot in the window, sorted by (account, day).
    """

    as_of: date
    since: date
    snapshots: tuple[Snapshot, ...] = ()
    outcomes: tuple[Outcome, ...] = ()
    nps: tuple[NpsAnswer, ...] = ()
    starts: Mapping[str, AccountStart] = field(default_factory=dict)
    first_day: date | None = None
    """The first day any snapshot was recorded: the answer to "not enough data since ...?"."""
    crm: str | None = None
