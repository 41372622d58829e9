"""Pull: read every source a run needs, committing mirrors and cursors page by page (DESIGN.md 3, 8).

- CRM accounts are read in full every run: their live output values are what the plan diffs
  against, so they must be this run's, and a full read at the vendor's page size costs one call per
  2,000 (Salesforce) or 100 (HubSpot) accounts.
- Zendesk organizations, tickets and ratings are mirrored in the state store and read
  incrementally: each page and its cursor commit in one transaction, so a crash never leaves a
  cursor ahead of its data and a re-run reads only what changed.
- Usage is folded as it streams (`UsageWindow`), invoices too (`PaymentsFold`: the verdict scoring
  reads); of NPS answers only those a run reads are kept (`NpsKept`).
- What a run holds for every account is kept lean: repeated short texts (owners, segments, stages)
  are shared rather than held once per account, live output values that are blank are not held (the
  plan reads a missing one as blank), and the raw input values and modification stamps the
  connectors keep for their own uses are not held (nothing past the pull reads them).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from types import MappingProxyType
from typing import Any

from healthsync.connectors.base import AccountSource, Page, TicketSource, UsageSource
from healthsync.connectors.incremental import WatermarkState
from healthsync.model import Account, Rating
from healthsync.sync.features import PAYMENT_WINDOW_DAYS, NpsKept, PaymentsFold, UsageWindow
from healthsync.sync.state import StateStore

__all__ = [
    "NPS_LOOKBACK_DAYS",
    "TICKET_START_DAYS",
    "Progress",
    "UsageInputs",
    "pull_accounts",
    "pull_support",
    "pull_usage",
]

TICKET_START_DAYS = 90
"""A first run exports tickets updated in the last 90 days: enough for every open critical ticket
that matters to a score, without exporting a helpdesk's whole history."""

NPS_LOOKBACK_DAYS = 365
"""The last NPS answer counts if given within a year."""

Progress = Callable[[str, int], None]
"""`progress(stage, n)`: n more records done in `stage` (the CLI draws bars from it)."""


def _quiet(stage: str, n: int) -> None:
    return None


_NOTHING: Mapping[str, Any] = MappingProxyType({})


class _Shared:
    """One copy of each repeated short text (owner ids, segments, stages): 100,000 accounts name a
    few hundred owners, and each parsed record brings its own copy of the text."""

    def __init__(self) -> None:
        self._texts: dict[str, str] = {}

    def __call__(self, text: str | None) -> str | None:
        return None if text is None else self._texts.setdefault(text, text)


def _lean(account: Account, shared: _Shared) -> Account:
    """`account` holding only what a run reads: its raw input values and modification stamp (the
    connectors' own business) and its blank live output values (a first sync's are all blank) are
    left out, and repeated texts are shared."""
    live = {name: value for name, value in account.live_outputs.items() if value is not None}
    return replace(
        account,
        owner_id=shared(account.owner_id),
        segment=shared(account.segment),
        lifecycle_stage=shared(account.lifecycle_stage),
        live_outputs=live or _NOTHING,
        raw_inputs=_NOTHING,
        modified_at=None,
    )


def pull_accounts(crm: AccountSource, *, run_started: datetime, progress: Progress = _quiet) -> list[Account]:
    """Every live CRM account, page by page at the vendor maximum (see the module docstring for what
    is held of each)."""
    accounts: list[Account] = []
    shared = _Shared()
    for page in crm.iter_accounts(None, run_started=run_started):
        accounts.extend(_lean(a, shared) for a in page.records if not a.deleted)
        progress("accounts", len(page.records))
    return accounts


@dataclass(frozen=True)
class SupportCounts:
    """What a support pull changed in the mirrors."""

    organizations: int = 0
    tickets: int = 0
    deleted_tickets: int = 0
    ratings: int = 0


def _watermark(store: StateStore, stream: str) -> WatermarkState | None:
    cursor = store.get_cursor("zendesk", stream)
    return WatermarkState.decode(cursor.value, cursor.keys_at_value) if cursor is not None else None


def _commit_watermark(store: StateStore, stream: str, page: Page[Any], write: Callable[..., int]) -> int:
    with store.transaction() as tx:
        written = write(tx)
        if isinstance(page.state, WatermarkState):
            value, keys = page.state.encode()
            tx.set_cursor("zendesk", stream, value, keys)
    return written


def pull_support(
    zendesk: TicketSource, store: StateStore, *, as_of: date, progress: Progress = _quiet, full: bool = False
) -> SupportCounts:
    """Mirror organizations, tickets and CSAT ratings changed since the stored cursors.

    `full` ignores the cursors: every organization is listed (those no longer listed become
    tombstones), tickets are exported again from the start window and every rating is read, so a
    nightly full run reconciles whatever incremental reads missed.
    """
    orgs = tickets = deleted = ratings = 0
    seen: set[str] = set()
    for org_page in zendesk.iter_organizations(None if full else _watermark(store, "organizations")):
        orgs += _commit_watermark(
            store, "organizations", org_page, lambda tx, p=org_page: tx.upsert_organizations(p.records)
        )
        seen.update(o.id for o in org_page.records)
        progress("organizations", len(org_page.records))
    if full:
        gone = [o for o in store.organizations() if o.id not in seen]
        if gone:
            store.upsert_organizations(replace(o, deleted=True) for o in gone)

    cursor = None if full else store.get_cursor("zendesk", "tickets")
    start = as_of - timedelta(days=TICKET_START_DAYS)
    for page in zendesk.iter_tickets(cursor.value if cursor else None, start=start):
        with store.transaction() as tx:
            tx.upsert_tickets(page.records)
            if isinstance(page.state, str) and page.state:
                tx.set_cursor("zendesk", "tickets", page.state)
        tickets += len(page.records)
        deleted += len(page.deleted)
        progress("tickets", len(page.records))

    since = None if full else _watermark(store, "ratings")
    for rating_page in zendesk.iter_ratings(since, known_organizations=store.ticket_organizations):
        ratings += _commit_watermark(
            store, "ratings", rating_page, lambda tx, p=rating_page: tx.upsert_ratings(p.records)
        )
        progress("ratings", len(rating_page.records))
    return SupportCounts(orgs, tickets, deleted, ratings)


@dataclass
class UsageInputs:
    """Usage folded per account, plus NPS answers and payment verdicts by the usage source's key."""

    window: UsageWindow
    nps: dict[str, list[Rating]] | None
    """The answers a run reads (`NpsKept`): those given since `nps_recent_since`, and the last one."""
    payments: dict[str, bool | None] | None
    """Per key, whether every invoice due in the last six months was paid on time (`PaymentsFold`)."""


def pull_usage(
    usage: UsageSource,
    *,
    as_of: date,
    has_payments: bool,
    has_nps: bool,
    progress: Progress = _quiet,
    milestones: Mapping[str, tuple[int, date]] | None = None,
    normalize: Callable[[str], str] | None = None,
    at: datetime | None = None,
    nps_recent_since: datetime | None = None,
) -> UsageInputs:
    """Fold the usage window ending `as_of`; fold payments due in six months; read a year of NPS.

    `milestones` (see `UsageWindow.milestones`) lets the fold note each new account's first day of value.
    `at` is the instant features are measured at (default: the end of `as_of`, UTC): payment verdicts
    are as of its day and the last NPS answer is the last one by then. Of older NPS answers than
    `nps_recent_since` (default: all are kept) only that last one is kept.
    """
    window = UsageWindow(as_of, milestones=milestones or {}, normalize=normalize)
    for batch in usage.iter_daily_usage(window.start, as_of):
        window.add(batch)
        progress("usage rows", len(batch))
    at = at or datetime.combine(as_of, datetime.max.time(), tzinfo=UTC)
    payments = nps = None
    if has_payments:
        fold = PaymentsFold(at.date())
        for invoices in usage.iter_payments(as_of - timedelta(days=PAYMENT_WINDOW_DAYS)):
            fold.add(invoices)
        payments = fold.verdicts
    if has_nps:
        kept = NpsKept(at, nps_recent_since or datetime.min.replace(tzinfo=UTC))
        for answers in usage.iter_nps(as_of - timedelta(days=NPS_LOOKBACK_DAYS)):
            kept.add(answers)
        nps = kept.result()
    return UsageInputs(window, nps, payments)
