"""`advance`: the generated world evolves deterministically when the sandbox clock moves."""

from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from datagen_features import db_digest, query

from healthsync.sandbox.datagen import advance, generate
from healthsync.sandbox.dataset import Archetype, Dataset, Delta, ZendeskLink
from healthsync.sandbox.names import CHURN_REASONS

START = datetime(2026, 11, 2, 9, 0, 0, 250_000, tzinfo=UTC)
TODAY = START.date()


def make(tmp_path: Path, name: str, accounts: int = 300, seed: int = 5) -> Dataset:
    return generate(accounts, seed, now=START, workdir=tmp_path / name)


def later(days: int, seconds: float = 1.5) -> datetime:
    # What the runtime passes: the clock moved by `days`, plus the real time that has passed.
    return START + timedelta(days=days, seconds=seconds)


def comparable(dataset: Dataset) -> Dataset:
    return replace(dataset, usage_db=Path())


def usage_days(dataset: Dataset) -> Counter[str]:
    return Counter(
        {
            str(k): int(str(n))
            for k, n in query(dataset.usage_db, "SELECT account_key, COUNT(*) FROM usage_daily GROUP BY 1")
        }
    )


def test_advance_is_deterministic(tmp_path: Path) -> None:
    first, second = make(tmp_path, "a"), make(tmp_path, "b")
    delta_a = advance(first, days=7, now=later(7))
    delta_b = advance(second, days=7, now=later(7))
    assert delta_a == delta_b
    assert comparable(first) == comparable(second)
    assert db_digest(first.usage_db) == db_digest(second.usage_db)


def test_two_weeks_in_one_step_or_two_agree(tmp_path: Path) -> None:
    stepped, whole = make(tmp_path, "a"), make(tmp_path, "b")
    advance(stepped, days=7, now=START + timedelta(days=7))
    advance(stepped, days=7, now=START + timedelta(days=14))
    advance(whole, days=14, now=START + timedelta(days=14))
    assert comparable(stepped) == comparable(whole)
    assert db_digest(stepped.usage_db) == db_digest(whole.usage_db)


def test_a_week_adds_seven_usage_days_per_customer(tmp_path: Path) -> None:
    dataset = make(tmp_path, "a")
    before = usage_days(dataset)
    advance(dataset, days=7, now=later(7))
    after = usage_days(dataset)
    for c in dataset.customers:
        if c.in_crm and not c.churned and c.index < 300:
            assert after[c.key] - before[c.key] == 7, c
    last = query(dataset.usage_db, "SELECT MAX(day) FROM usage_daily")[0][0]
    assert last == (TODAY + timedelta(days=6)).isoformat()
    assert dataset.now == later(7)


def test_usage_continues_each_archetypes_curve(tmp_path: Path) -> None:
    dataset = make(tmp_path, "a")
    advance(dataset, days=14, now=later(14))
    since = TODAY.isoformat()
    ratio: dict[Archetype, list[float]] = {a: [] for a in Archetype}
    for c in dataset.customers:
        if not c.in_crm or c.index >= 300:
            continue
        peak = query(
            dataset.usage_db,
            "SELECT MAX(active_users) FROM usage_daily WHERE account_key = ? AND day >= ?",
            c.key,
            since,
        )
        ratio[c.archetype].append(int(str(peak[0][0])) / c.seats)
    assert min(ratio[Archetype.EXPANDING]) >= 0.75
    # One active user is a third of a 3-seat account: judge churn risks by the typical one.
    assert statistics.median(ratio[Archetype.CHURN_RISK]) <= 0.15
    assert max(ratio[Archetype.DECLINING]) <= 0.45


def _window(delta: Delta, old: datetime) -> list[tuple[str, list[datetime]]]:
    return [
        ("new_customers", [c.created_at for c in delta.new_customers]),
        ("changed_customers", [c.modified_at for c in delta.changed_customers]),
        ("new_support_users", [u.created_at for u in delta.new_support_users if u.created_at]),
        ("new_tickets", [t.created_at for t in delta.new_tickets]),
        ("changed_tickets", [t.updated_at for t in delta.changed_tickets]),
        ("new_ratings", [r.created_at for r in delta.new_ratings]),
    ]


def test_delta_timestamps_lie_in_the_window_in_order(tmp_path: Path) -> None:
    dataset = make(tmp_path, "a", accounts=500)
    old, now = dataset.now, later(7)
    delta = advance(dataset, days=7, now=now)
    for name, stamps in _window(delta, old):
        # A week of 500 accounts brings a new customer only most of the time (30-day test below).
        assert stamps or name in ("new_customers", "new_support_users"), name
        assert all(old < s <= now for s in stamps), name
        assert stamps == sorted(stamps), name
    for t in delta.new_tickets + delta.changed_tickets:
        assert t.created_at <= t.updated_at
        if t.status in ("solved", "closed"):
            assert t.solved_at is not None
            assert t.solved_at <= t.updated_at
    assert delta.now == now


def test_tickets_move_on(tmp_path: Path) -> None:
    dataset = make(tmp_path, "a", accounts=500)
    before = {t.id: t.status for t in dataset.tickets}
    delta = advance(dataset, days=7, now=later(7))
    assert [t.id for t in dataset.tickets] == list(range(1, len(dataset.tickets) + 1))
    assert [t.id for t in delta.new_tickets] == list(range(len(before) + 1, len(dataset.tickets) + 1))
    assert all(t.status == "new" or t.id in {x.id for x in delta.new_tickets} for t in delta.new_tickets)
    moved = Counter((before[t.id], t.status) for t in delta.changed_tickets)
    assert moved[("solved", "closed")] > 0
    assert sum(n for (_, new), n in moved.items() if new == "solved") > 0
    assert not {t.id for t in delta.new_tickets} & {t.id for t in delta.changed_tickets}
    rated = {r.ticket for r in delta.new_ratings}
    assert rated
    assert rated <= {t.id for t in delta.changed_tickets + delta.new_tickets}
    assert [r.id for r in dataset.ratings] == list(range(1, len(dataset.ratings) + 1))


def test_renewals_happen_when_contracts_end(tmp_path: Path) -> None:
    dataset = make(tmp_path, "a", accounts=500)
    ends = {c.index: c.contract_end for c in dataset.customers if c.in_crm}
    now = later(60)
    delta = advance(dataset, days=60, now=now)
    changed = {c.index for c in delta.changed_customers}
    due = [
        c for c in dataset.customers if c.index in ends and ends[c.index] <= now.date() - timedelta(days=1)
    ]
    assert len(due) > 20
    for c in due:
        assert c.index in changed
        if c.churned:
            assert c.churn_reason in CHURN_REASONS
            assert not c.renewed
        else:
            assert c.renewed
            assert c.contract_start == ends[c.index] + timedelta(days=1)
            assert c.contract_end.year == ends[c.index].year + 1
            assert c.contract_end >= now.date()
    assert any(c.churned for c in due)
    assert any(c.renewed for c in due)
    churned_risks = [c.churned for c in due if c.archetype is Archetype.CHURN_RISK]
    churned_healthy = [c.churned for c in due if c.archetype is Archetype.HEALTHY]
    assert sum(churned_risks) / len(churned_risks) > sum(churned_healthy) / len(churned_healthy)
    # A churned customer stops using the product.
    for c in due:
        if c.churned:
            after = query(
                dataset.usage_db,
                "SELECT COUNT(*) FROM usage_daily WHERE account_key = ? AND day > ?",
                c.key,
                c.modified_at.date().isoformat(),
            )
            assert after[0][0] == 0


def test_mid_term_seat_changes_and_new_customers(tmp_path: Path) -> None:
    dataset = make(tmp_path, "a", accounts=500)
    seats = {c.index: (c.seats, c.arr) for c in dataset.customers}
    count = len(dataset.customers)
    delta = advance(dataset, days=30, now=later(30))
    grown = [
        c for c in delta.changed_customers if not c.renewed and not c.churned and c.seats > seats[c.index][0]
    ]
    assert grown
    assert all(c.arr > seats[c.index][1] for c in grown)
    assert delta.new_customers
    assert [c.index for c in delta.new_customers] == list(range(count, len(dataset.customers)))
    assert len({c.domain for c in dataset.customers}) == len(dataset.customers)
    for c in delta.new_customers:
        assert c.archetype is Archetype.ONBOARDING
        assert c.contract_start == c.created_at.date()
        assert c.key == f"C{c.index:06d}"
        users = [u for u in delta.new_support_users if u.customer == c.index]
        assert (len(users) > 0) == (c.zendesk_link is not ZendeskLink.NONE)
        assert all(u.email.endswith("@" + c.domain) for u in users)
    assert {u.id for u in delta.new_support_users} == set(
        range(len(dataset.support_users) - len(delta.new_support_users) + 1, len(dataset.support_users) + 1)
    )


def test_invoices_and_nps_keep_coming(tmp_path: Path) -> None:
    dataset = make(tmp_path, "a")
    invoices = int(str(query(dataset.usage_db, "SELECT COUNT(*) FROM invoices")[0][0]))
    nps = int(str(query(dataset.usage_db, "SELECT COUNT(*) FROM nps_responses")[0][0]))
    advance(dataset, days=31, now=later(31))
    window = query(
        dataset.usage_db,
        "SELECT account_key, due_date, paid_date FROM invoices WHERE due_date > ?",
        TODAY.isoformat(),
    )
    per_key = Counter(str(k) for k, _, _ in window)
    active = [c for c in dataset.customers if c.in_crm and not c.churned and c.index < 300]
    assert all(per_key[c.key] >= 1 for c in active)
    assert int(str(query(dataset.usage_db, "SELECT COUNT(*) FROM invoices")[0][0])) > invoices
    assert int(str(query(dataset.usage_db, "SELECT COUNT(*) FROM nps_responses")[0][0])) > nps
    risky = {c.key for c in dataset.customers if c.archetype is Archetype.CHURN_RISK}
    late = [
        k
        for k, due, paid in window
        if paid is None or date.fromisoformat(str(paid)) > date.fromisoformat(str(due))
    ]
    assert late
    assert sum(k in risky for k in late) > len(late) / 2


def test_hand_made_datasets_evolve_too(small_dataset: Dataset) -> None:
    old = small_dataset.now
    delta = advance(small_dataset, days=3, now=old + timedelta(days=3, seconds=2))
    days = query(small_dataset.usage_db, "SELECT DISTINCT day FROM usage_daily ORDER BY day")
    assert [d for (d,) in days] == [(old.date() + timedelta(days=i)).isoformat() for i in range(3)]
    assert small_dataset.now == delta.now
    keys = {str(k) for (k,) in query(small_dataset.usage_db, "SELECT DISTINCT account_key FROM usage_daily")}
    assert keys == {c.key for c in small_dataset.customers if c.in_crm}


def test_zero_days_and_bad_arguments(tmp_path: Path) -> None:
    dataset = make(tmp_path, "a", accounts=20)
    digest = db_digest(dataset.usage_db)
    delta = advance(dataset, days=0, now=START + timedelta(seconds=30))
    assert delta == Delta(now=START + timedelta(seconds=30))
    assert db_digest(dataset.usage_db) == digest
    with pytest.raises(ValueError, match="negative"):
        advance(dataset, days=-1, now=later(1))
    with pytest.raises(ValueError, match="backwards"):
        advance(dataset, days=1, now=START)
