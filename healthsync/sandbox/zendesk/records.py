"""Zendesk records projected from the vendor-neutral dataset, in the JSON shape the Support API returns.

Ids are derived from the dataset (organization id from `Customer.index`, users, tickets and ratings
keep their dataset ids), so one seed always gives the same Zendesk ids. Field sets follow the object
references (https://developer.zendesk.com/api-reference/ticketing/organizations/organizations/,
.../tickets/tickets/, .../users/users/, .../ticket-management/satisfaction_ratings/). Values the
dataset does not model are given one plausible, fixed value (one support group, one brand, one form),
so every record has what a real account's records have.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from healthsync.sandbox.dataset import Customer, SupportTicket, SupportUser, SurveyRating, ZendeskLink

__all__ = [
    "ADMIN_EMAIL",
    "ADMIN_USER_ID",
    "ORGANIZATION_TEMPLATE",
    "ORG_ID_BASE",
    "RATING_TEMPLATE",
    "TICKET_TEMPLATE",
    "USER_TEMPLATE",
    "epoch",
    "iso",
    "org_id",
    "organization_record",
    "parse_iso",
    "rating_record",
    "ticket_record",
    "user_record",
]

ORG_ID_BASE = 360_000_000_000
"""Organization id = ORG_ID_BASE + Customer.index (Zendesk ids are large integers)."""
ADMIN_USER_ID = 361_000_000_001
"""The API user the sandbox credentials belong to (an admin, as incremental exports require)."""
ADMIN_EMAIL = "api-admin@healthsync-sandbox.example"
SUPPORT_GROUP_ID = 362_000_000_001
BRAND_ID = 363_000_000_001
TICKET_FORM_ID = 364_000_000_001
# Each account has one custom status per status category; the ids are the account's own.
# https://developer.zendesk.com/api-reference/ticketing/tickets/custom_ticket_statuses/
_CUSTOM_STATUS = {"new": 1, "open": 2, "pending": 3, "hold": 4, "solved": 5, "closed": 5}


def iso(moment: datetime) -> str:
    """Zendesk's timestamp format: ISO-8601 in UTC, whole seconds, `Z` suffix."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def epoch(moment: datetime) -> int:
    """Whole Unix seconds (Zendesk stamps records to the second)."""
    return int(moment.timestamp())


def from_epoch(seconds: int) -> datetime:
    """The UTC instant of a Unix time."""
    return datetime.fromtimestamp(seconds, UTC)


def parse_iso(text: str) -> int:
    """Unix seconds of a Zendesk timestamp (`2026-11-02T09:00:00Z`)."""
    return epoch(datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC))


def org_id(customer: Customer) -> int | None:
    """The customer's organization id, or None when support has no organization for it."""
    if customer.zendesk_link is ZendeskLink.NONE:
        return None
    return ORG_ID_BASE + customer.index


# Field order and the values every record of a kind shares. Records store only what varies and
# are merged over these when served, which keeps a 100,000-account sandbox in memory. The shared
# values are never mutated (lists are tuples; they serialise as JSON arrays all the same).
ORGANIZATION_TEMPLATE: dict[str, Any] = {
    "id": None,
    "name": None,
    "external_id": None,
    "domain_names": (),
    "details": None,
    "notes": None,
    "group_id": None,
    "shared_tickets": False,
    "shared_comments": False,
    "tags": (),
    "organization_fields": {},
    "created_at": None,
    "updated_at": None,
}
USER_TEMPLATE: dict[str, Any] = {
    "id": None,
    "name": None,
    "email": None,
    "role": "end-user",
    "role_type": None,
    "custom_role_id": None,
    "organization_id": None,
    "external_id": None,
    "alias": "",
    "details": "",
    "notes": "",
    "signature": "",
    "phone": None,
    "shared_phone_number": None,
    "photo": None,
    "locale": "en-US",
    "locale_id": 1,
    "time_zone": "UTC",
    "iana_time_zone": "Etc/UTC",
    "active": True,
    "verified": True,
    "suspended": False,
    "moderator": False,
    "restricted_agent": False,
    "only_private_comments": False,
    "shared": False,
    "shared_agent": False,
    "ticket_restriction": "requested",
    "two_factor_auth_enabled": None,
    "report_csv": False,
    "tags": (),
    "user_fields": {},
    "last_login_at": None,
    "created_at": None,
    "updated_at": None,
}
# `external_id`, `problem_id` and `recipient` are null as the live API returns them for tickets
# without one, although the published OAS forgets to mark them nullable.
TICKET_TEMPLATE: dict[str, Any] = {
    "id": None,
    "external_id": None,
    "type": None,
    "subject": None,
    "raw_subject": None,
    "description": None,
    "priority": None,
    "status": None,
    "custom_status_id": None,
    "recipient": None,
    "requester_id": None,
    "submitter_id": None,
    "assignee_id": None,
    "organization_id": None,
    "group_id": SUPPORT_GROUP_ID,
    "brand_id": BRAND_ID,
    "ticket_form_id": TICKET_FORM_ID,
    "collaborator_ids": (),
    "follower_ids": (),
    "email_cc_ids": (),
    "followup_ids": (),
    "sharing_agreement_ids": (),
    "problem_id": None,
    "has_incidents": False,
    "is_public": True,
    "due_at": None,
    "tags": (),
    "custom_fields": (),
    "satisfaction_rating": None,
    "via": {"channel": "web", "source": {"from": {}, "to": {}, "rel": None}},
    "allow_channelback": False,
    "allow_attachments": True,
    "from_messaging_channel": False,
    "created_at": None,
    "updated_at": None,
    "generated_timestamp": None,
}
RATING_TEMPLATE: dict[str, Any] = {
    "id": None,
    "score": None,
    "comment": "",
    "ticket_id": None,
    "requester_id": None,
    "assignee_id": None,
    "group_id": SUPPORT_GROUP_ID,
    "created_at": None,
    "updated_at": None,
}
_UNOFFERED: dict[str, Any] = {"score": "unoffered"}


def organization_record(customer: Customer) -> dict[str, Any]:
    """The organization for a customer (caller checks it has one); `updated_at` is set by the store.

    Linking per the sandbox brief: `external_id` holds the customer key only for EXTERNAL_ID links;
    `domain_names` holds the domain for EXTERNAL_ID and DOMAIN links; NAME links share only the name.
    """
    link = customer.zendesk_link
    record: dict[str, Any] = {
        "id": ORG_ID_BASE + customer.index,
        "name": customer.zendesk_name,
        "created_at": iso(customer.created_at),
    }
    if link is ZendeskLink.EXTERNAL_ID:
        record["external_id"] = customer.key
    if link in (ZendeskLink.EXTERNAL_ID, ZendeskLink.DOMAIN):
        record["domain_names"] = [customer.domain]
    return record


def user_record(user: SupportUser, organization_id: int | None, created_at: datetime) -> dict[str, Any]:
    """A user as an admin sees it (`UserForAdmin` in the published OAS); agents have a default group."""
    record: dict[str, Any] = {
        "id": user.id,
        "name": user.name,
        "email": user.email,
        "role": user.role,
        "organization_id": organization_id,
        "last_login_at": iso(created_at),
        "created_at": iso(created_at),
    }
    if user.role != "end-user":
        record.update(
            moderator=True,
            ticket_restriction=None,
            report_csv=user.role == "admin",
            default_group_id=SUPPORT_GROUP_ID,
        )
    return record


def admin_user() -> SupportUser:
    """The admin whose email and token the sandbox hands out (what `users/me` answers)."""
    return SupportUser(ADMIN_USER_ID, None, "Sandbox API Admin", ADMIN_EMAIL, role="admin")


def ticket_record(
    ticket: SupportTicket,
    organization_id: int | None,
    assignee_id: int,
    rating: SurveyRating | None,
) -> dict[str, Any]:
    """A ticket; a deleted one keeps its fields with `status: "deleted"` (as incremental exports show it).

    A ticket without a priority has `priority: null`, as on Zendesk (the OAS enum omits null).
    """
    return {
        "id": ticket.id,
        "type": ticket.type,
        "subject": ticket.subject,
        "raw_subject": ticket.subject,
        "description": ticket.subject,
        "priority": ticket.priority,
        "status": "deleted" if ticket.deleted else ticket.status,
        "custom_status_id": _CUSTOM_STATUS.get(ticket.status, 5),
        "requester_id": ticket.requester,
        "submitter_id": ticket.requester,
        "assignee_id": assignee_id,
        "organization_id": organization_id,
        "satisfaction_rating": (
            {"id": rating.id, "score": rating.score, "comment": rating.comment} if rating else _UNOFFERED
        ),
        "created_at": iso(ticket.created_at),
    }


def rating_record(rating: SurveyRating, assignee_id: int) -> dict[str, Any]:
    """A (legacy) CSAT rating; `updated_at` is set by the store."""
    return {
        "id": rating.id,
        "score": rating.score,
        "comment": rating.comment,
        "ticket_id": rating.ticket,
        "requester_id": rating.requester,
        "assignee_id": assignee_id,
        "created_at": iso(rating.created_at),
    }
