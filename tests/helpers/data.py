"""Hand-made datasets for the sandbox: few enough records to name, as many as paging needs.

Every builder is deterministic and starts from `NOW`, the "now" the sandboxes serving these
datasets start their clocks at.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from healthsync.sandbox.dataset import (
    Archetype,
    Customer,
    Dataset,
    Owner,
    SupportTicket,
    SupportUser,
    SurveyRating,
    ZendeskLink,
)

__all__ = [
    "NOW",
    "OWNERS",
    "SEGMENTS",
    "companies",
    "crm_customer",
    "crm_dataset",
    "customer_accounts",
    "organizations",
    "small_dataset",
    "support_dataset",
]

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
"""The hand-made datasets' "now"; their sandboxes start their clocks there."""

SEGMENTS = ("SMB", "Mid-Market", "Enterprise")

OWNERS = (
    Owner(0, "Dana", "Reyes", "dana.reyes@vendor.example"),
    Owner(1, "Sam", "Okafor", "sam.okafor@vendor.example"),
)
"""The two CRM owners of every hand-made dataset (customer i is owned by owner i % 2)."""


def crm_customer(
    i: int,
    *,
    name: str,
    domain: str,
    modified_at: datetime,
    arr: float = 1000.0,
    seats: int = 10,
    owners: int = len(OWNERS),
    zendesk_link: ZendeskLink = ZendeskLink.NONE,
) -> Customer:
    """Customer `C{i:06d}`: owner i % `owners`, segment by i % 3, contract 2026-01-01 → 2027-01-01 + i % 365 days."""
    return Customer(
        index=i,
        key=f"C{i:06d}",
        name=name,
        domain=domain,
        owner=i % owners,
        industry="Software",
        segment=SEGMENTS[i % 3],
        archetype=Archetype.HEALTHY,
        arr=arr,
        seats=seats,
        contract_start=date(2026, 1, 1),
        contract_end=date(2027, 1, 1) + timedelta(days=i % 365),
        created_at=NOW - timedelta(days=500),
        modified_at=modified_at,
        zendesk_link=zendesk_link,
        zendesk_name=name,
    )


def companies(count: int, *, apart: timedelta = timedelta(seconds=1)) -> list[Customer]:
    """`count` companies "Company i", the first modified 10 days before `NOW` and each next one `apart` later.

    Company i has ARR 1,000 × (i % 50 + 1) and i % 40 + 1 seats.
    """
    return [
        crm_customer(
            i,
            name=f"Company {i}",
            domain=f"company{i}.example",
            arr=1000.0 * (i % 50 + 1),
            seats=i % 40 + 1,
            modified_at=NOW - timedelta(days=10) + apart * i,
        )
        for i in range(count)
    ]


def customer_accounts(count: int, *, owners: int = len(OWNERS)) -> list[Customer]:
    """`count` accounts "Customer 0000i", modified one hour apart, the last an hour before `NOW`.

    Customer i has ARR 1,000 × (i + 1) and 5 + i % 50 seats.
    """
    return [
        crm_customer(
            i,
            name=f"Customer {i:05d}",
            domain=f"customer{i}.example",
            arr=1000.0 * (i + 1),
            seats=5 + i % 50,
            owners=owners,
            modified_at=NOW - timedelta(hours=count - i),
        )
        for i in range(count)
    ]


def organizations(count: int) -> list[Customer]:
    """`count` customers "Customer i" with Zendesk organizations, modified a minute apart (the first last).

    Every fifth (i % 5 == 0) is linked to its CRM account by domain, the others by external id.
    """
    return [
        crm_customer(
            i,
            name=f"Customer {i}",
            domain=f"c{i}.example",
            modified_at=NOW - timedelta(days=10, minutes=i),
            zendesk_link=ZendeskLink.EXTERNAL_ID if i % 5 else ZendeskLink.DOMAIN,
        )
        for i in range(count)
    ]


def crm_dataset(workdir: Path, customers: list[Customer]) -> Dataset:
    """`customers` in the CRM, the two `OWNERS`, no support data, an empty usage database."""
    workdir.mkdir(parents=True, exist_ok=True)
    usage_db = workdir / "usage.db"
    sqlite3.connect(usage_db).close()
    return Dataset(
        seed=0, now=NOW, owners=list(OWNERS), customers=customers, support_users=[], tickets=[], ratings=[],
        usage_db=usage_db,
    )  # fmt: skip


def support_dataset(
    workdir: Path, *, orgs: int = 250, tickets: int = 0, ratings: int = 0, deleted_every: int = 0
) -> Dataset:
    """`orgs` organizations (one end user each, plus an agent), `tickets` tickets, `ratings` ratings.

    Ticket i belongs to organization (i - 1) % orgs, has priority low/normal/high/urgent by i % 4 and
    status open/pending/solved by i % 3, and was updated i seconds after 5 days before `NOW`; every
    `deleted_every`-th ticket is deleted. Rating i is on ticket i, good unless i % 3 == 0.
    """
    base = organizations(orgs)
    users = [SupportUser(10_000 + c.index, c.index, f"User {c.index}", f"u{c.index}@c.example") for c in base]
    users.append(SupportUser(9_000, None, "Agent", "agent@vendor.example", role="agent"))
    made = [
        SupportTicket(
            i,
            (i - 1) % orgs,
            10_000 + (i - 1) % orgs,
            f"Ticket {i}",
            ["low", "normal", "high", "urgent"][i % 4],
            ["open", "pending", "solved"][i % 3],
            "question",
            NOW - timedelta(days=30),
            NOW - timedelta(days=5) + timedelta(seconds=i),
            deleted=bool(deleted_every) and i % deleted_every == 0,
        )
        for i in range(1, tickets + 1)
    ]
    rated = [
        SurveyRating(
            i,
            (i - 1) % orgs,
            i,
            10_000 + (i - 1) % orgs,
            "good" if i % 3 else "bad",
            NOW - timedelta(days=4, hours=i),
            NOW - timedelta(days=4, hours=i),
            "thanks" if i % 2 else "",
        )
        for i in range(1, ratings + 1)
    ]
    return Dataset(
        seed=0, now=NOW, owners=[], customers=base, support_users=users, tickets=made, ratings=rated,
        usage_db=workdir / "usage.db",
    )  # fmt: skip


def _small_customer(
    index: int, name: str, link: ZendeskLink, *, zendesk_name: str | None = None, **kw: object
) -> Customer:
    domain = name.lower().split()[0].strip(",.") + ".example"
    values: dict[str, object] = {
        "index": index,
        "key": f"C{index:06d}",
        "name": name,
        "domain": domain,
        "owner": index % 2,
        "industry": "Software",
        "segment": "Enterprise" if index % 3 == 0 else "SMB",
        "archetype": Archetype.HEALTHY,
        "arr": 12000.0 * (index + 1),
        "seats": 10 * (index + 1),
        "contract_start": date(2026, 1, 1),
        "contract_end": date(2027, 1, 1) + timedelta(days=30 * index),
        "created_at": NOW - timedelta(days=400 - index),
        "modified_at": NOW - timedelta(days=10 - index),
        "zendesk_link": link,
        "zendesk_name": zendesk_name or name,
    }
    values.update(kw)
    return Customer(**values)  # type: ignore[arg-type]


def small_dataset(workdir: Path) -> Dataset:
    """Six customers (one per Zendesk link kind, one support-only), two owners, tickets and ratings."""
    owners = list(OWNERS)
    customers = [
        _small_customer(0, "Acme Corp", ZendeskLink.EXTERNAL_ID),
        _small_customer(1, "Globex Corporation", ZendeskLink.DOMAIN, archetype=Archetype.DECLINING),
        _small_customer(
            2, "Initech LLC", ZendeskLink.NAME, zendesk_name="INITECH", archetype=Archetype.CHURN_RISK
        ),
        _small_customer(3, "Umbrella Health", ZendeskLink.NONE, archetype=Archetype.ONBOARDING),
        _small_customer(4, "Stark Industries", ZendeskLink.EXTERNAL_ID, archetype=Archetype.EXPANDING),
        _small_customer(5, "Hooli Support Only", ZendeskLink.NAME, in_crm=False),
    ]
    users = [
        SupportUser(100 + c.index, c.index, f"User {c.index}", f"user{c.index}@{c.domain}", created_at=NOW)
        for c in customers
        if c.zendesk_link is not ZendeskLink.NONE
    ] + [SupportUser(900, None, "Agent Smith", "agent@vendor.example", role="agent", created_at=NOW)]
    day = timedelta(days=1)
    tickets = [
        SupportTicket(1, 0, 100, "Login fails", "urgent", "open", "incident", NOW - 9 * day, NOW - day),
        SupportTicket(2, 0, 100, "Export slow", "normal", "solved", "problem", NOW - 20 * day, NOW - 15 * day,
                      solved_at=NOW - 15 * day),
        SupportTicket(3, 1, 101, "Billing question", "low", "pending", "question", NOW - 3 * day, NOW - 2 * day),
        SupportTicket(4, 2, 102, "Data loss", "high", "open", "incident", NOW - 2 * day, NOW - timedelta(hours=5)),
        SupportTicket(5, 2, 102, "Old spam", None, "deleted", "question", NOW - 30 * day, NOW - 29 * day,
                      deleted=True),
        SupportTicket(6, None, 900, "Internal", "normal", "closed", "task", NOW - 40 * day, NOW - 35 * day,
                      solved_at=NOW - 36 * day),
    ]  # fmt: skip
    ratings = [
        SurveyRating(1, 0, 2, 100, "good", NOW - timedelta(days=14), NOW - timedelta(days=14), "Thanks!"),
        SurveyRating(2, 5, 6, 105, "bad", NOW - timedelta(days=30), NOW - timedelta(days=30)),
    ]
    usage_db = workdir / "usage.db"
    with sqlite3.connect(usage_db) as db:
        db.executescript(
            "CREATE TABLE usage_daily (account_key TEXT, day DATE, active_users INTEGER, logins INTEGER);"
            "CREATE TABLE invoices (invoice_id TEXT, account_key TEXT, due_date DATE, paid_date DATE, amount REAL);"
            "CREATE TABLE nps_responses (response_id TEXT, account_key TEXT, score INTEGER, responded_at TIMESTAMP);"
        )
    db.close()
    return Dataset(
        seed=0,
        now=NOW,
        owners=owners,
        customers=customers,
        support_users=users,
        tickets=tickets,
        ratings=ratings,
        usage_db=usage_db,
    )
