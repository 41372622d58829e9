"""The values the state store hands out and takes in, beyond the canonical model of `healthsync.model`.

They live apart from `state.py` so that code which only reads runs or outbox entries (CLI
``status``, the report) can type against them without importing SQLAlchemy machinery.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, NamedTuple

from healthsync.model import Band, ContractOutcome

__all__ = [
    "MAX_CURSOR_KEYS",
    "AccountSnapshot",
    "CursorState",
    "DeadLetter",
    "HistoryPoint",
    "Lease",
    "OutboxEntry",
    "OutboxStatus",
    "OutcomeRecord",
    "RunRecord",
    "RunStatus",
    "SnapshotRow",
]

MAX_CURSOR_KEYS = 10_000
"""Most keys kept per cursor row for de-duplicating records stamped exactly at the cursor value.

Unbounded, this list is how dlt's state grew past 100 MB (dlt-hub/dlt#2580): a bulk update stamps
millions of records with one timestamp. Dropping keys beyond the bound is safe because mirror
upserts are idempotent: a forgotten key only means that record is fetched and written once more.
"""


class RunStatus(enum.StrEnum):
    """Lifecycle of a run row; everything but RUNNING is final."""

    RUNNING = "running"
    OK = "ok"
    PARTIAL = "partial"
    """Finished, but some records failed (dead letters) or a quota stopped it early."""
    FAILED = "failed"
    INTERRUPTED = "interrupted"
    """The process died mid-run; set by `StateStore.mark_stale_runs`, never by the run itself."""


class OutboxStatus(enum.StrEnum):
    """Where a write-ahead task/deal stands (DESIGN.md section 7)."""

    PENDING = "pending"
    """Recorded before the create call; it may or may not exist in the CRM, so reconcile first."""
    SENT = "sent"
    """The CRM accepted the call and returned an id."""
    CONFIRMED = "confirmed"
    """Seen in the CRM on a later read: done."""
    FAILED = "failed"
    """The call failed; retried after reconciling, like PENDING."""


@dataclass(frozen=True)
class RunRecord:
    """One sync run as recorded; `counts`, `api_calls` and `errors` are empty until it finishes."""

    id: int
    config_name: str
    config_fingerprint: str | None
    started_at: datetime
    ended_at: datetime | None
    status: RunStatus
    dry_run: bool
    counts: Mapping[str, Any] = field(default_factory=dict)
    api_calls: Mapping[str, Any] = field(default_factory=dict)
    errors: tuple[Any, ...] = ()
    lease_name: str | None = None
    lease_holder: str | None = None


@dataclass(frozen=True)
class CursorState:
    """Where a stream's incremental read resumes.

    Attributes:
        value: the cursor as the connector understands it (a watermark timestamp or an opaque token).
        keys_at_value: keys of records already stored whose cursor field equals `value` exactly;
            the next read starts *at* `value` (closed bound) and skips these. At most
            `MAX_CURSOR_KEYS`, newest last.
    """

    value: str
    keys_at_value: tuple[str, ...] = ()


@dataclass(frozen=True)
class Lease:
    """Proof that this process may run the sync called `name` until `expires_at` (then renew it)."""

    name: str
    holder: str
    """``host:pid:uuid``: who holds it, unique per acquisition so a second acquire never aliases the first."""
    acquired_at: datetime
    expires_at: datetime


class HistoryPoint(NamedTuple):
    """An account's health on one day (the last run of that day wins)."""

    day: date
    score: float
    band: Band


@dataclass(frozen=True)
class HealthRecord:
    """One recorded health result in full: what `explain` shows without calling the CRM."""

    account: str
    day: date
    score: float
    band: Band
    computed_band: Band
    contributions: tuple[Mapping[str, Any], ...]
    missing: tuple[str, ...]
    coverage: float | None
    rules_version: str
    run_id: int | None


@dataclass(frozen=True)
class AccountSnapshot:
    """An account's commercial facts as one run saw them, for seat growth and the portfolio report."""

    account: str
    arr: float | None = None
    licenses: int | None = None
    band: Band | None = None
    score: float | None = None
    contract_start: date | None = None
    contract_end: date | None = None
    owner_id: str | None = None
    segment: str | None = None
    name: str | None = None
    owner_name: str | None = None
    reasons: tuple[str, ...] = ()
    """The top reasons behind the score, as the CRM shows them."""
    signals: tuple[Mapping[str, Any], ...] = ()
    """Signals raised that day: kind, code, subject and reason of each (the report's expansion view)."""
    value_day: date | None = None
    """First day in the usage window, on or after the contract start, that met the value milestone."""


@dataclass(frozen=True, kw_only=True)
class SnapshotRow(AccountSnapshot):
    """An `AccountSnapshot` read back, with the run and day it was taken."""

    run_id: int
    day: date


@dataclass(frozen=True)
class OutcomeRecord:
    """A person's verdict on a contract end: renewed (with the new end date) or churned (with a reason)."""

    account: str
    contract_end: date
    outcome: ContractOutcome
    reason: str | None
    new_contract_end: date | None
    arr: float | None
    """The renewed ARR (the won deal's amount), or the ARR lost with a churn (the account's ARR then)."""
    recorded_at: datetime
    decided_on: date | None = None
    """The day the deal was closed (its close date), when known."""
    deal_key: str | None = None
    """The renewal deal the verdict was read from."""


@dataclass(frozen=True)
class OutboxEntry:
    """A task or deal written ahead of its CRM call, keyed by its deterministic key."""

    key: str
    kind: str
    account: str
    payload: Mapping[str, Any]
    status: OutboxStatus
    crm_id: str | None
    last_error: str | None
    created_at: datetime
    updated_at: datetime
    run_id: int | None
    attempts: int


@dataclass(frozen=True)
class DeadLetter:
    """A record a vendor refused; retried next run and shown by ``healthsync status`` until resolved."""

    id: int
    run_id: int | None
    vendor: str
    object: str
    record_key: str
    operation: str
    payload: Mapping[str, Any] | None
    error: str
    attempts: int
    first_seen: datetime
    last_seen: datetime
    resolved_at: datetime | None
