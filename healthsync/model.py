"""The canonical model every stage shares (DESIGN.md section 4).

Connectors translate vendor JSON into these frozen dataclasses at the boundary; nothing past
`healthsync.connectors` sees vendor JSON. Dates are `datetime.date`, instants are timezone-aware
`datetime.datetime` in UTC, money is a float in the account's currency, and `None` always means
"not known" (never zero), so scoring can tell missing data from a bad value.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

__all__ = [
    "Account",
    "Band",
    "ContractOutcome",
    "Contribution",
    "DealUpsert",
    "Direction",
    "Features",
    "FieldWrite",
    "HealthResult",
    "Override",
    "Payment",
    "Plan",
    "Rating",
    "RatingKind",
    "RenewalStage",
    "Signal",
    "SignalKind",
    "SupportOrganization",
    "TaskPriority",
    "TaskUpsert",
    "Ticket",
    "Trend",
    "UsageDay",
]


class Band(enum.StrEnum):
    """Health band shown to the CSM; the order is worst to best."""

    RED = "red"
    YELLOW = "yellow"
    GREEN = "green"


class Direction(enum.StrEnum):
    """Which way the score moved over the trend window."""

    UP = "up"
    DOWN = "down"
    FLAT = "flat"


class RenewalStage(enum.StrEnum):
    """Stage of an upcoming renewal, by days before contract end (DESIGN.md section 5)."""

    PREPARATION = "Preparation"
    INITIATION = "Initiation"
    NEGOTIATION = "Negotiation"
    APPROVAL = "Approval"
    RENEWED = "Renewed"
    CHURNED = "Churned"


class ContractOutcome(enum.StrEnum):
    """What a person recorded about a contract's end."""

    RENEWED = "renewed"
    CHURNED = "churned"


class RatingKind(enum.StrEnum):
    """Survey kind: NPS is 0-10, CSAT is good/bad (stored as 1/0)."""

    NPS = "nps"
    CSAT = "csat"


class SignalKind(enum.StrEnum):
    """Why a task exists: the playbook family it belongs to."""

    RISK = "risk"
    RENEWAL = "renewal"
    ONBOARDING = "onboarding"
    EXPANSION = "expansion"


class TaskPriority(enum.StrEnum):
    """Task priority, mapped to each CRM's own values by the writer."""

    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


@dataclass(frozen=True)
class Override:
    """A CSM's judgement that wins over the computed band until it expires.

    `expires` is inclusive: the override holds on that day and lapses the day after.
    """

    band: Band
    author: str
    expires: date
    note: str = ""

    def active_on(self, day: date) -> bool:
        """True while the override still holds on `day`."""
        return day <= self.expires


@dataclass(frozen=True)
class Account:
    """A customer as the CRM (the system of record) knows it."""

    crm_id: str
    name: str
    domains: tuple[str, ...] = ()
    external_keys: Mapping[str, str] = field(default_factory=dict)
    owner_id: str | None = None
    arr: float | None = None
    licenses: int | None = None
    contract_start: date | None = None
    contract_end: date | None = None
    lifecycle_stage: str | None = None
    segment: str | None = None
    contract_outcome: ContractOutcome | None = None
    override: Override | None = None
    live_outputs: Mapping[str, Any] = field(default_factory=dict)
    """Current values of our output fields in the CRM, keyed by output name; the plan diffs against them."""
    raw_inputs: Mapping[str, Any] = field(default_factory=dict)
    """Mapped input values as read, for explanations and custom rules."""
    modified_at: datetime | None = None
    deleted: bool = False


@dataclass(frozen=True)
class SupportOrganization:
    """A customer company as the support system (Zendesk) knows it; matched to an Account."""

    id: str
    name: str
    external_id: str | None = None
    domains: tuple[str, ...] = ()
    updated_at: datetime | None = None
    deleted: bool = False


@dataclass(frozen=True)
class Ticket:
    """A support ticket, reduced to what scoring and signals need."""

    id: str
    organization_id: str | None
    priority: str | None
    status: str
    is_critical: bool
    created_at: datetime
    updated_at: datetime
    solved_at: datetime | None = None
    deleted: bool = False
    subject: str | None = None

    @property
    def is_open(self) -> bool:
        """Open means a person still has to act: not solved, closed or deleted."""
        return not self.deleted and self.status not in {"solved", "closed", "deleted"}


@dataclass(frozen=True)
class Rating:
    """One survey answer: NPS 0-10, or CSAT good (1) / bad (0)."""

    account_key: str
    kind: RatingKind
    score: int
    at: datetime
    id: str | None = None


@dataclass(frozen=True)
class UsageDay:
    """Product usage of one account on one day, as aggregated by the usage source."""

    account_key: str
    day: date
    active_users: int
    logins: int
    feature_counts: Mapping[str, int] = field(default_factory=dict)

    @property
    def logged_in(self) -> bool:
        """Somebody from the account logged in that day."""
        return self.logins > 0


@dataclass(frozen=True)
class Payment:
    """An invoice: when it was due and when (if ever) it was paid."""

    account_key: str
    due_date: date
    paid_date: date | None = None
    invoice_id: str | None = None
    amount: float | None = None

    def on_time(self, as_of: date) -> bool | None:
        """True if paid by the due date; False if paid late or overdue at `as_of`; None if not yet due."""
        if self.paid_date is not None:
            return self.paid_date <= self.due_date
        return None if as_of <= self.due_date else False


@dataclass(frozen=True)
class Features:
    """Everything scoring needs for one account, computed from the records above.

    Every field may be None: "no data", which rules report instead of scoring as zero. The names
    are the signal names rule files use; `healthsync.scoring.registry` documents each one.
    """

    account: str
    login_days_30d: int | None = None
    active_users: int | None = None
    licenses: int | None = None
    open_critical_tickets: int | None = None
    oldest_critical_ticket_age_days: float | None = None
    oldest_critical_ticket_id: str | None = None
    last_nps: int | None = None
    last_nps_at: date | None = None
    payments_on_time_6m: bool | None = None
    usage_change_14d: float | None = None
    """Relative change of active usage, last 14 days vs the 14 before: -0.5 means halved."""
    seat_growth: int | None = None
    """Licenses now minus licenses at the previous snapshot (positive: the customer bought seats)."""
    days_since_contract_start: int | None = None
    days_to_contract_end: int | None = None
    contract_start: date | None = None
    contract_end: date | None = None
    segment: str | None = None
    extra: Mapping[str, float | int | bool | str | None] = field(default_factory=dict)
    """Custom numeric/boolean inputs mapped by RevOps, addressable by rules as `extra.<name>`."""


@dataclass(frozen=True)
class Contribution:
    """One rule's effect on one account's score, with the sentence a CSM reads."""

    rule_id: str
    signal: str
    points: float
    reason: str
    value: Any = None


@dataclass(frozen=True)
class Trend:
    """Score now vs the score `window_days` earlier; None delta when there is no earlier score."""

    delta: float | None
    direction: Direction | None
    previous_score: float | None
    previous_day: date | None = None
    window_days: int = 7


@dataclass(frozen=True)
class HealthResult:
    """An account's health: score, band, and every reason behind them."""

    account: str
    score: float
    band: Band
    computed_band: Band
    contributions: tuple[Contribution, ...]
    missing: tuple[str, ...]
    """Signals (feature names) that had no data, so their rules contributed nothing."""
    coverage: float
    """Share of rule signals that had data, 0.0-1.0."""
    rules_version: str
    computed_at: date
    segment: str | None = None
    override: Override | None = None
    """The CSM override in force, when it is what set `band`."""
    trend: Trend | None = None
    raw_score: float | None = None
    """Sum of points before clamping to 0-100, kept so explanations can show why a score is pinned."""


@dataclass(frozen=True)
class Signal:
    """A condition the playbook wants an owner to act on; becomes a task keyed by `key`."""

    kind: SignalKind
    code: str
    account: str
    key: str
    """Deterministic (account, code, period) key: the same condition in the same period is one task."""
    subject: str
    reason: str
    due_in_days: int
    priority: TaskPriority


@dataclass(frozen=True)
class FieldWrite:
    """One CRM field to change, with the value we believe is there now."""

    object: str
    record_id: str
    field: str
    old: Any
    new: Any
    reason: str


@dataclass(frozen=True)
class TaskUpsert:
    """A task for an account owner, created once per key."""

    key: str
    account_id: str
    subject: str
    body: str
    due: date
    owner_id: str | None
    priority: TaskPriority
    reason: str


@dataclass(frozen=True)
class DealUpsert:
    """A renewal deal upserted by external id `key`; stages only move forward."""

    key: str
    account_id: str
    name: str
    pipeline: str
    stage: RenewalStage
    amount: float | None
    close_date: date
    owner_id: str | None
    reason: str


@dataclass(frozen=True)
class Plan:
    """Every write a run intends, each with its reason; `--dry-run` prints it and stops."""

    field_writes: tuple[FieldWrite, ...] = ()
    task_upserts: tuple[TaskUpsert, ...] = ()
    deal_upserts: tuple[DealUpsert, ...] = ()

    @property
    def is_empty(self) -> bool:
        """True when the CRM already holds the desired state."""
        return not (self.field_writes or self.task_upserts or self.deal_upserts)
