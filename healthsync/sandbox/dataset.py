"""The sandbox's business data, before any vendor shapes it.

The generator (`healthsync.sandbox.datagen`) produces one `Dataset`: a customer base with owners,
contracts, support users, tickets and CSAT ratings, plus a SQLite usage database (daily usage,
invoices, NPS answers). Each vendor app projects the same dataset into its own records (a Salesforce
Account, a HubSpot company and a Zendesk organization for one customer), so the three systems agree
the way a real company's systems mostly do, including where they do not: some Zendesk organizations
are linked by external id, some only by domain or by name, and a few match nothing.

`SimClock` advances produce a `Delta` of what changed; vendor apps apply it to their stores. Every
contract change (a renewal, a churn, a mid-term resize, a new customer signing) is also recorded as a
`ContractEvent`, in the delta and in the dataset's history, so tests and the report can check what
healthsync made of them.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Literal

__all__ = [
    "Archetype",
    "ContractEvent",
    "ContractEventKind",
    "Customer",
    "Dataset",
    "Delta",
    "Owner",
    "SupportTicket",
    "SupportUser",
    "SurveyRating",
    "ZendeskLink",
]


class Archetype(enum.StrEnum):
    """The customer stories the dataset tells, so every score band and signal has examples."""

    HEALTHY = "healthy"
    DECLINING = "declining"
    CHURN_RISK = "churn_risk"
    ONBOARDING = "onboarding"
    EXPANDING = "expanding"


class ZendeskLink(enum.StrEnum):
    """How a customer's Zendesk organization can be matched to its CRM account."""

    EXTERNAL_ID = "external_id"
    """The organization's `external_id` holds the CRM account key."""
    DOMAIN = "domain"
    """Only the organization's `domain_names` match the account's website domain."""
    NAME = "name"
    """Only the (differently written) name matches, e.g. "ACME, Inc." vs "Acme Inc"."""
    NONE = "none"
    """The customer has no Zendesk organization."""


@dataclass
class Owner:
    """A CSM / account owner: a Salesforce User and a HubSpot owner."""

    index: int
    first_name: str
    last_name: str
    email: str


@dataclass
class Customer:
    """One customer company and its current contract.

    `index` is stable and dense (0..N-1); vendor apps derive their record ids from it so that the
    same seed gives the same ids.
    """

    index: int
    key: str
    """Our account key, e.g. "C000042"; what `external_id` links and the usage database use."""
    name: str
    domain: str
    owner: int
    industry: str
    segment: str
    archetype: Archetype
    arr: float
    seats: int
    contract_start: date
    contract_end: date
    created_at: datetime
    modified_at: datetime
    zendesk_link: ZendeskLink
    zendesk_name: str
    """The name as support wrote it in Zendesk (differs from `name` for NAME links)."""
    in_crm: bool = True
    """False for the few customers only support knows about (unmatched on the Zendesk side)."""
    renewed: bool = False
    churned: bool = False
    churn_reason: str | None = None


@dataclass
class SupportUser:
    """A Zendesk end user (a customer's employee) or agent."""

    id: int
    customer: int | None
    name: str
    email: str
    role: str = "end-user"
    created_at: datetime | None = None
    updated_at: datetime | None = None


@dataclass
class SupportTicket:
    """A Zendesk ticket; `customer` is the Customer.index of its organization, if any."""

    id: int
    customer: int | None
    requester: int
    subject: str
    priority: str | None
    status: str
    type: str
    created_at: datetime
    updated_at: datetime
    solved_at: datetime | None = None
    deleted: bool = False


@dataclass
class SurveyRating:
    """A CSAT answer on a solved ticket (Zendesk `satisfaction_ratings`: good / bad)."""

    id: int
    customer: int | None
    ticket: int
    requester: int
    score: str
    created_at: datetime
    updated_at: datetime
    comment: str = ""


ContractEventKind = Literal["renewed", "churned", "expanded", "contracted", "signed"]


@dataclass(frozen=True)
class ContractEvent:
    """One change to a customer's contract, as `advance` made it.

    Before/after values describe the contract on each side of the change: a renewal (with more, fewer
    or the same seats: one event) moves the contract end a year on; a churn leaves nothing after it
    (`arr_after` 0, `seats_after` 0, `contract_end_after` None), a signing nothing before it. A
    mid-term resize keeps the contract end and is "expanded" or "contracted" by its ARR (by its seats
    when rounding left the ARR as it was).
    """

    at: datetime
    """The moment the change happened (what the customer's `modified_at` became)."""
    account_key: str
    """`Customer.key`."""
    index: int
    """`Customer.index`, from which each vendor app derives the account's record id."""
    kind: ContractEventKind
    arr_before: float
    arr_after: float
    seats_before: int
    seats_after: int
    contract_end_before: date | None
    contract_end_after: date | None
    reason: str | None = None
    """Why the customer left (one of `names.CHURN_REASONS`); None unless churned."""
    deals_closed: dict[str, str] = field(default_factory=dict, compare=False)
    """Filled in by the CRM apps when they apply the delta: vendor name → id of the open renewal deal
    a person closed for this event (won or lost). Empty when no CRM had an open deal to close."""


@dataclass
class Dataset:
    """Everything the generator made for one seed; vendor apps seed their stores from it."""

    seed: int
    now: datetime
    owners: list[Owner]
    customers: list[Customer]
    support_users: list[SupportUser]
    tickets: list[SupportTicket]
    ratings: list[SurveyRating]
    usage_db: Path
    """SQLite file with tables usage_daily, invoices and nps_responses (keyed by Customer.key)."""
    contract_events: list[ContractEvent] = field(default_factory=list)
    """Every contract event `advance` made, in time order (appended by each advance)."""


@dataclass
class Delta:
    """What changed when the simulated clock moved forward; vendor apps apply it to their stores."""

    now: datetime
    new_customers: list[Customer] = field(default_factory=list)
    changed_customers: list[Customer] = field(default_factory=list)
    """Customers whose contract, seats or ARR changed (renewals, expansions); full current values."""
    new_support_users: list[SupportUser] = field(default_factory=list)
    new_tickets: list[SupportTicket] = field(default_factory=list)
    changed_tickets: list[SupportTicket] = field(default_factory=list)
    """Tickets whose status changed (solved, reopened, deleted); full current values."""
    new_ratings: list[SurveyRating] = field(default_factory=list)
    contract_events: list[ContractEvent] = field(default_factory=list)
    """The contract events of this advance, in time order (also appended to `Dataset.contract_events`)."""

    def churned_only(self) -> set[int]:
        """Indexes of changed customers whose only contract events here are churns: their records'
        values did not change (a churn keeps the ARR and the contract end; the deal records it)."""
        kinds: dict[int, set[str]] = {}
        for event in self.contract_events:
            kinds.setdefault(event.index, set()).add(event.kind)
        return {index for index, seen in kinds.items() if seen == {"churned"}}
