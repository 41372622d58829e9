"""What a connector offers, as small protocols rather than a base class (DESIGN.md section 3).

A connector implements the protocols its system supports: a CRM is an `AccountSource` and a
`CrmWriter`; Zendesk is a `TicketSource`; a product database is a `UsageSource`. Reads are
generators of `Page`s, each carrying the cursor to commit *with* its records (the engine writes both
in one transaction, so a cursor never runs ahead of its data). Connectors never touch the state
store and never retry: `healthsync.http.Http` does.

Writes take batches and return one `WriteOutcome` per input, in input order: a record the vendor
refused is an outcome with an error, not an exception, so one bad record never sinks its batch.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Generic, Protocol, TypeVar

from healthsync.connectors.incremental import WatermarkState
from healthsync.model import (
    Account,
    DealUpsert,
    Payment,
    Rating,
    RenewalStage,
    SupportOrganization,
    TaskUpsert,
    Ticket,
    UsageDay,
)

__all__ = [
    "AccountSource",
    "CrmDeal",
    "CrmTask",
    "CrmWriter",
    "DealLink",
    "FieldSchema",
    "FieldUpdate",
    "ObjectSchema",
    "Owner",
    "Page",
    "TicketSource",
    "UsageSource",
    "WriteOutcome",
]

T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of records and where the stream stands once they are committed.

    Attributes:
        records: the page's records, in the canonical model.
        state: the stream position after this page: a `WatermarkState` for timestamp cursors, an
            opaque string for vendor cursors (Zendesk `after_cursor`), None when the stream keeps none.
        deleted: keys of records the vendor reports deleted or archived in this page's range.
    """

    records: tuple[T, ...]
    state: WatermarkState | str | None = None
    deleted: tuple[str, ...] = ()


@dataclass(frozen=True)
class Owner:
    """A CRM user who owns accounts and receives tasks."""

    id: str
    name: str
    email: str | None = None
    active: bool = True


@dataclass(frozen=True)
class FieldSchema:
    """One field as the live CRM describes it: what validation and provisioning need."""

    name: str
    label: str
    type: str
    """The vendor's own type name (`double`, `picklist`, `number`, `enumeration` ...)."""
    writable: bool
    unique: bool = False
    external_id: bool = False
    options: tuple[str, ...] = ()
    custom: bool = False


@dataclass(frozen=True)
class ObjectSchema:
    """The live schema of one CRM object, read once per run (`describe` / properties API)."""

    object: str
    fields: dict[str, FieldSchema] = field(default_factory=dict)
    createable: bool = True
    """healthsync's user may create records of this object (Salesforce describe `createable`)."""
    updateable: bool = True
    """healthsync's user may edit records of this object."""

    def get(self, name: str) -> FieldSchema | None:
        """A field by name; Salesforce names are case-insensitive, HubSpot's are lower case."""
        return self.fields.get(name) or next(
            (f for n, f in self.fields.items() if n.lower() == name.lower()), None
        )


@dataclass(frozen=True)
class FieldUpdate:
    """New values for some fields of one record; only the fields that change are sent."""

    object: str
    record_id: str
    values: dict[str, Any]


@dataclass(frozen=True)
class WriteOutcome:
    """What happened to one input of a batch write.

    Attributes:
        key: the input's key (record id, task key or deal key), so outcomes can be matched.
        ok: the vendor accepted it.
        crm_id: the record's id in the CRM (new or existing), when known.
        created: True for a new record, False for an update, None when the vendor does not say.
        error: the vendor's message for a refused record.
        retryable: the refusal may pass (e.g. Salesforce UNABLE_TO_LOCK_ROW): try again later.
        created_at: when the CRM says it created the record, by its own clock (HubSpot `createdAt`,
            ISO 8601), where it says so.
    """

    key: str
    ok: bool
    crm_id: str | None = None
    created: bool | None = None
    error: str | None = None
    retryable: bool = False
    created_at: str | None = None


@dataclass(frozen=True)
class DealLink:
    """A saved renewal deal to associate with its account, where the CRM keeps that link apart.

    Attributes:
        key: the deal's key (its external id).
        crm_id: the deal's id in the CRM.
        account_id: the account (company) it belongs to.
        new: True when this run created the deal, so it cannot be linked yet; False when it may
            already be (an existing deal, or one a crashed run saved): its links are read first.
    """

    key: str
    crm_id: str
    account_id: str
    new: bool


@dataclass(frozen=True)
class CrmDeal:
    """A renewal deal as it stands in the CRM: what the planner checks before moving it.

    `stage` is the canonical renewal stage when the CRM stage is one the mapping names, else None
    (a person moved it to a stage of their own, which the planner then leaves alone).
    """

    key: str
    crm_id: str
    stage_name: str | None
    stage: RenewalStage | None
    is_closed: bool
    close_date: date | None
    amount: float | None
    account_id: str | None
    deleted: bool = False
    loss_reason: str | None = None
    """Why a closed-lost deal was lost: the mapping's `loss_reason_field` (the report's churn reasons)."""


@dataclass(frozen=True)
class CrmTask:
    """A task healthsync created, as it stands in the CRM (a person may have completed it)."""

    key: str
    crm_id: str
    status: str | None
    is_closed: bool
    owner_id: str | None
    account_id: str | None
    due: date | None
    deleted: bool = False
    created_at: str | None = None
    """When the CRM created it, by its own clock (ISO 8601), where the read reports it."""


class AccountSource(Protocol):
    """A CRM's customer records: accounts (Salesforce) or companies (HubSpot)."""

    def iter_accounts(
        self, since: WatermarkState | None = None, *, run_started: datetime | None = None
    ) -> Iterator[Page[Account]]:
        """Accounts changed at or after `since` (all when None), page by page at the vendor maximum.

        `run_started` is the run's start by the vendor's clock: watermarks never pass it, so a record
        changed while the run pulls is seen again next run rather than skipped.
        """

    def describe(self) -> ObjectSchema:
        """The live schema of the account object."""

    def owners(self) -> dict[str, Owner]:
        """CRM users who can own accounts and tasks, by id."""


class TicketSource(Protocol):
    """A support system: organizations, tickets and satisfaction ratings."""

    def iter_organizations(self, since: WatermarkState | None = None) -> Iterator[Page[SupportOrganization]]:
        """Organizations changed since `since` (all when None)."""

    def iter_tickets(self, cursor: str | None, *, start: date | None = None) -> Iterator[Page[Ticket]]:
        """Tickets changed since the stored export `cursor` (or since `start` on a first run)."""

    def iter_ratings(
        self,
        since: WatermarkState | None = None,
        *,
        known_organizations: Callable[[Iterable[str]], Mapping[str, str]] | None = None,
    ) -> Iterator[Page[Rating]]:
        """Satisfaction ratings given since `since`; `known_organizations` maps ticket ids to
        organizations the caller already knows (its mirror), so only the others cost a look-up."""


class UsageSource(Protocol):
    """A product database or exports: usage per account per day, payments, NPS answers."""

    def iter_daily_usage(self, start: date, end: date) -> Iterator[list[UsageDay]]:
        """Usage for `start`..`end` inclusive, one row per account per day."""

    def iter_payments(self, since: date) -> Iterator[list[Payment]]:
        """Invoices due on or after `since`."""

    def iter_nps(self, since: date) -> Iterator[list[Rating]]:
        """NPS answers given on or after `since`."""

    def close(self) -> None:
        """Release connections."""


class CrmWriter(Protocol):
    """Where results land: batch writes only (a single write is a batch of one).

    `separate_deal_links` says whether a renewal deal's link to its account is a request of its own
    (HubSpot: batch upsert takes no associations) or part of the upsert (Salesforce `AccountId`).
    When it is, a writer upserts every deal with `link=False` and hands the run's deals to one
    `link_deals` pass, so the links go out in the vendor's largest batches.
    """

    separate_deal_links: bool
    upserts_tasks: bool
    """True where tasks are upserted by their key (Salesforce external id), so no create can double
    one; False where a task is a plain create (HubSpot) and the writer must know which keys exist:
    it adopts the keyed tasks the CRM holds beyond what the state store knows (`keyed_tasks`)."""

    def update_fields(self, batch: Sequence[FieldUpdate]) -> list[WriteOutcome]:
        """Write changed field values; batches of the vendor's maximum size."""

    def upsert_tasks(self, batch: Sequence[TaskUpsert], *, look_up: bool = True) -> list[WriteOutcome]:
        """Create tasks keyed by their dedup key (never twice for one key).

        `look_up=False`: the caller vouches that none of these keys has a task in the CRM (the
        writer's outbox and `keyed_tasks` scan), so a CRM without task upserts skips its key reads.
        """

    def upsert_deals(self, batch: Sequence[DealUpsert], *, link: bool = True) -> list[WriteOutcome]:
        """Upsert renewal deals by external id; `link=False` leaves separate links to `link_deals`."""

    def link_deals(self, links: Sequence[DealLink]) -> list[WriteOutcome]:
        """Link saved deals to their accounts where the link is missing; one outcome per link, in order."""

    def fetch_deals(self, keys: Sequence[str]) -> dict[str, CrmDeal]:
        """The renewal deals that exist for `keys`, as they stand (keys with none are absent)."""

    def fetch_tasks(self, keys: Sequence[str]) -> dict[str, CrmTask]:
        """The healthsync tasks that exist for `keys` (the outbox reconciles against this)."""

    def keyed_tasks(self, since: str | None) -> Iterator[CrmTask]:
        """Every task carrying a healthsync key, created at or after `since` (a `created_at` this
        CRM reported; None: all), with `created_at` set. Only called where `upserts_tasks` is False."""
