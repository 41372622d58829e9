"""Zendesk JSON to the canonical model, at the boundary (`to_*`).

Field references: organizations
https://developer.zendesk.com/api-reference/ticketing/organizations/organizations/ , tickets
https://developer.zendesk.com/api-reference/ticketing/tickets/tickets/ , satisfaction ratings
https://developer.zendesk.com/api-reference/ticketing/ticket-management/satisfaction_ratings/ .
Zendesk stamps records as ISO-8601 UTC with whole seconds (`2026-11-02T09:00:00Z`).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from healthsync.connectors.zendesk_errors import VENDOR
from healthsync.errors import PaginationError
from healthsync.model import Rating, RatingKind, SupportOrganization, Ticket

__all__ = [
    "CSAT_SCORES",
    "ZendeskUser",
    "records_of",
    "stamp",
    "to_organization",
    "to_rating",
    "to_ticket",
    "to_user",
]

CSAT_SCORES = {"good": 1, "bad": 0}
"""A received (legacy) CSAT rating is good or bad; `offered`/`unoffered` are surveys not answered."""
DELETED_STATUS = "deleted"
"""Incremental ticket exports include deleted tickets with this status (incremental exports reference)."""


@dataclass(frozen=True)
class ZendeskUser:
    """The user the credentials sign in as (`users/me`), for `healthsync auth test`."""

    id: str
    name: str
    email: str | None
    role: str | None


def _shape(what: str, record: Any) -> PaginationError:
    keys = sorted(record) if isinstance(record, Mapping) else type(record).__name__
    return PaginationError(f"record in an unexpected shape: {what} (got keys {keys})", vendor=VENDOR)


def records_of(page: Mapping[str, Any], name: str) -> list[Mapping[str, Any]]:
    """The list of records under `name` in a page, checked to be a list of objects."""
    records = page.get(name)
    if not isinstance(records, list) or not all(isinstance(r, Mapping) for r in records):
        raise _shape(f"a page needs a list `{name}`", page)
    return records


def stamp(value: Any) -> datetime | None:
    """A Zendesk timestamp as an aware UTC datetime (None when absent)."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise PaginationError(f"expected an ISO-8601 timestamp, got {type(value).__name__}", vendor=VENDOR)
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise PaginationError(f"expected an ISO-8601 timestamp, got {value[:40]!r}", vendor=VENDOR) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _id(record: Mapping[str, Any], what: str) -> str:
    value = record.get("id")
    if value is None or isinstance(value, bool):
        raise _shape(f"{what} without an id", record)
    return str(value)


def _text(value: Any) -> str | None:
    return str(value) if value not in (None, "") else None


def to_organization(record: Mapping[str, Any]) -> SupportOrganization:
    """An organization; `deleted_at` (set on deleted organizations in exports) marks it deleted."""
    domains = record.get("domain_names") or ()
    if not isinstance(domains, list | tuple):
        raise _shape("organization `domain_names` must be a list", record)
    return SupportOrganization(
        id=_id(record, "organization"),
        name=str(record.get("name") or ""),
        external_id=_text(record.get("external_id")),
        domains=tuple(str(d).lower() for d in domains if d),
        updated_at=stamp(record.get("updated_at")),
        deleted=bool(record.get("deleted_at")),
    )


def to_ticket(record: Mapping[str, Any], *, critical: Collection[str]) -> Ticket:
    """A ticket; `status: "deleted"` (incremental exports) is `deleted=True`.

    Args:
        record: the ticket JSON.
        critical: priorities that make a ticket critical (config `zendesk.critical_priorities`).
    """
    ticket_id = _id(record, "ticket")
    created, updated = stamp(record.get("created_at")), stamp(record.get("updated_at"))
    if created is None:
        raise _shape(f"ticket {ticket_id} without `created_at`", record)
    status = str(record.get("status") or "")
    priority = _text(record.get("priority"))
    organization = record.get("organization_id")
    return Ticket(
        id=ticket_id,
        organization_id=str(organization) if organization is not None else None,
        priority=priority,
        status=status,
        is_critical=priority in critical,
        created_at=created,
        updated_at=updated or created,
        deleted=status == DELETED_STATUS,
        subject=_text(record.get("subject")),
    )


def to_rating(record: Mapping[str, Any], *, organization_id: str) -> Rating | None:
    """A received CSAT rating (good 1 / bad 0) keyed by its ticket's organization; None if unanswered."""
    score = CSAT_SCORES.get(str(record.get("score")))
    if score is None:
        return None
    at = stamp(record.get("created_at"))
    if at is None:
        raise _shape("satisfaction rating without `created_at`", record)
    return Rating(
        account_key=organization_id,
        kind=RatingKind.CSAT,
        score=score,
        at=at,
        id=_id(record, "satisfaction rating"),
    )


def to_user(record: Mapping[str, Any]) -> ZendeskUser:
    """The `users/me` user."""
    return ZendeskUser(
        id=_id(record, "user"),
        name=str(record.get("name") or ""),
        email=_text(record.get("email")),
        role=_text(record.get("role")),
    )
