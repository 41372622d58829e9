"""Fixtures for sandbox tests: a small hand-made dataset whose every record a test can name."""

from __future__ import annotations

import sqlite3
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

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

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def _customer(
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


def build_small_dataset(workdir: Path) -> Dataset:
    """Six customers (one per Zendesk link kind, one support-only), two owners, tickets and ratings."""
    owners = [
        Owner(0, "Dana", "Reyes", "dana.reyes@vendor.example"),
        Owner(1, "Sam", "Okafor", "sam.okafor@vendor.example"),
    ]
    customers = [
        _customer(0, "Acme Corp", ZendeskLink.EXTERNAL_ID),
        _customer(1, "Globex Corporation", ZendeskLink.DOMAIN, archetype=Archetype.DECLINING),
        _customer(2, "Initech LLC", ZendeskLink.NAME, zendesk_name="INITECH", archetype=Archetype.CHURN_RISK),
        _customer(3, "Umbrella Health", ZendeskLink.NONE, archetype=Archetype.ONBOARDING),
        _customer(4, "Stark Industries", ZendeskLink.EXTERNAL_ID, archetype=Archetype.EXPANDING),
        _customer(5, "Hooli Support Only", ZendeskLink.NAME, in_crm=False),
    ]
    users = [
        SupportUser(100 + c.index, c.index, f"User {c.index}", f"user{c.index}@{c.domain}", created_at=NOW)
        for c in customers
        if c.zendesk_link is not ZendeskLink.NONE
    ] + [SupportUser(900, None, "Agent Smith", "agent@vendor.example", role="agent", created_at=NOW)]
    tickets = [
        SupportTicket(
            1,
            0,
            100,
            "Login fails",
            "urgent",
            "open",
            "incident",
            NOW - timedelta(days=9),
            NOW - timedelta(days=1),
        ),
        SupportTicket(
            2,
            0,
            100,
            "Export slow",
            "normal",
            "solved",
            "problem",
            NOW - timedelta(days=20),
            NOW - timedelta(days=15),
            solved_at=NOW - timedelta(days=15),
        ),
        SupportTicket(
            3,
            1,
            101,
            "Billing question",
            "low",
            "pending",
            "question",
            NOW - timedelta(days=3),
            NOW - timedelta(days=2),
        ),
        SupportTicket(
            4,
            2,
            102,
            "Data loss",
            "high",
            "open",
            "incident",
            NOW - timedelta(days=2),
            NOW - timedelta(hours=5),
        ),
        SupportTicket(
            5,
            2,
            102,
            "Old spam",
            None,
            "deleted",
            "question",
            NOW - timedelta(days=30),
            NOW - timedelta(days=29),
            deleted=True,
        ),
        SupportTicket(
            6,
            None,
            900,
            "Internal",
            "normal",
            "closed",
            "task",
            NOW - timedelta(days=40),
            NOW - timedelta(days=35),
            solved_at=NOW - timedelta(days=36),
        ),
    ]
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


@pytest.fixture
def small_dataset(tmp_path: Path) -> Dataset:
    """The six-customer dataset, in a fresh folder per test."""
    return build_small_dataset(tmp_path)
