"""The sandbox's data generator: determinism, a realistic customer base, and archetypes whose data
really produces their health signals under healthsync's default rules."""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from datagen_features import db_digest, normalise, query

from healthsync.sandbox.datagen import generate
from healthsync.sandbox.dataset import Archetype, Customer, Dataset, ZendeskLink

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
TODAY = NOW.date()
ACCOUNTS = 500


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Dataset:
    return generate(ACCOUNTS, 42, now=NOW, workdir=tmp_path_factory.mktemp("gen"))


def crm(dataset: Dataset) -> list[Customer]:
    return [c for c in dataset.customers if c.in_crm]


# --- determinism ----------------------------------------------------------------------------------


def test_same_seed_gives_byte_identical_data(tmp_path: Path) -> None:
    first = generate(150, 7, now=NOW, workdir=tmp_path / "a")
    # The sandbox's clock runs a few milliseconds before generation: the data must not notice.
    second = generate(150, 7, now=NOW + timedelta(seconds=3), workdir=tmp_path / "b")
    assert replace(first, now=NOW, usage_db=Path()) == replace(second, now=NOW, usage_db=Path())
    assert db_digest(first.usage_db) == db_digest(second.usage_db)
    # SQLite writes the same operations into the same bytes, so even the files agree.
    assert first.usage_db.read_bytes() == second.usage_db.read_bytes()


def test_a_worker_process_writes_the_same_usage_database(tmp_path: Path) -> None:
    alone = generate(80, 9, now=NOW, workdir=tmp_path / "a", processes=1)
    helped = generate(80, 9, now=NOW, workdir=tmp_path / "b", processes=2)
    assert replace(alone, usage_db=Path()) == replace(helped, usage_db=Path())
    assert alone.usage_db.read_bytes() == helped.usage_db.read_bytes()


def test_another_seed_gives_other_data(tmp_path: Path) -> None:
    first = generate(50, 1, now=NOW, workdir=tmp_path / "a")
    second = generate(50, 2, now=NOW, workdir=tmp_path / "b")
    assert [c.name for c in first.customers] != [c.name for c in second.customers]
    assert db_digest(first.usage_db) != db_digest(second.usage_db)


def test_regenerating_into_the_same_folder_replaces_the_database(tmp_path: Path) -> None:
    generate(30, 1, now=NOW, workdir=tmp_path)
    again = generate(20, 1, now=NOW, workdir=tmp_path)
    keys = {key for (key,) in query(again.usage_db, "SELECT DISTINCT account_key FROM usage_daily")}
    assert keys <= {c.key for c in again.customers}


def test_rejects_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="negative"):
        generate(-1, 1, now=NOW, workdir=tmp_path)
    with pytest.raises(ValueError, match="aware"):
        generate(5, 1, now=datetime(2026, 11, 2, 9, 0), workdir=tmp_path)


def test_tiny_datasets_still_have_two_owners(tmp_path: Path) -> None:
    data = generate(1, 5, now=NOW, workdir=tmp_path)
    assert len(data.owners) == 2
    assert len(crm(data)) == 1


# --- the customer base ----------------------------------------------------------------------------


def test_names_and_domains_are_unique_and_plausible(dataset: Dataset) -> None:
    customers = dataset.customers
    assert len({c.name for c in customers}) == len(customers)
    assert len({c.domain for c in customers}) == len(customers)
    assert len({normalise(c.name) for c in customers}) == len(customers)
    assert all(c.domain.endswith(".example") for c in customers)
    assert all(c.domain.split(".")[0] == normalise(c.name) for c in customers)
    suffixes = Counter(c.name.rsplit(" ", 1)[-1] for c in customers)
    assert {"Inc.", "LLC", "GmbH", "Ltd", "SA"} <= set(suffixes)
    assert [c.key for c in customers] == [f"C{i:06d}" for i in range(len(customers))]
    assert [c.index for c in customers] == list(range(len(customers)))


def test_segments_arr_and_seats_scale_together(dataset: Dataset) -> None:
    customers = crm(dataset)
    segments = Counter(c.segment for c in customers)
    assert segments == {"SMB": 300, "Mid-Market": 150, "Enterprise": 50}
    arr = {s: statistics.median(c.arr for c in customers if c.segment == s) for s in segments}
    seats = {s: statistics.median(c.seats for c in customers if c.segment == s) for s in segments}
    assert arr["SMB"] < arr["Mid-Market"] < arr["Enterprise"]
    assert seats["SMB"] < seats["Mid-Market"] < seats["Enterprise"]
    # A long right tail: the mean is above the median.
    assert statistics.mean(c.arr for c in customers) > statistics.median(c.arr for c in customers)
    assert all(c.arr > 0 and c.seats > 0 for c in customers)


def test_owners_cover_the_book(dataset: Dataset) -> None:
    assert len(dataset.owners) == round(ACCOUNTS / 40)
    assert len({o.email for o in dataset.owners}) == len(dataset.owners)
    assert {c.owner for c in crm(dataset)} == {o.index for o in dataset.owners}


def test_contracts_spread_over_the_next_18_months(dataset: Dataset) -> None:
    for c in crm(dataset):
        assert TODAY <= c.contract_end <= TODAY + timedelta(days=548), c
        if c.archetype is Archetype.ONBOARDING:
            assert TODAY - timedelta(days=100) <= c.contract_start <= TODAY
        else:
            assert TODAY - timedelta(days=3 * 366) <= c.contract_start <= TODAY - timedelta(days=365)
        assert c.created_at <= c.modified_at <= NOW
        assert c.created_at.date() <= c.contract_start
    to_end = [(c.contract_end - TODAY).days for c in crm(dataset)]
    # Every renewal stage (Approval 15-30, Negotiation 30-60, Initiation 60-90, Preparation 90-120).
    for low, high in ((0, 15), (15, 30), (30, 60), (60, 90), (90, 120)):
        assert sum(low <= d < high for d in to_end) >= 3, (low, high)
    assert sum(d > 365 for d in to_end) > 50


def test_archetype_shares_are_exact(dataset: Dataset) -> None:
    shares = Counter(c.archetype for c in crm(dataset))
    assert shares == {
        Archetype.HEALTHY: 225,
        Archetype.DECLINING: 75,
        Archetype.CHURN_RISK: 60,
        Archetype.ONBOARDING: 65,
        Archetype.EXPANDING: 75,
    }


def test_zendesk_links_and_name_variants(dataset: Dataset) -> None:
    links = Counter(c.zendesk_link for c in crm(dataset))
    assert links == {
        ZendeskLink.EXTERNAL_ID: 300,
        ZendeskLink.DOMAIN: 100,
        ZendeskLink.NAME: 60,
        ZendeskLink.NONE: 40,
    }
    for c in dataset.customers:
        if c.zendesk_link is ZendeskLink.NAME:
            assert c.zendesk_name != c.name
            assert normalise(c.zendesk_name) == normalise(c.name), (c.name, c.zendesk_name)
        else:
            assert c.zendesk_name == c.name
    support_only = [c for c in dataset.customers if not c.in_crm]
    assert len(support_only) == 10
    assert all(c.zendesk_link in (ZendeskLink.NAME, ZendeskLink.DOMAIN) for c in support_only)
    assert len(
        {c.zendesk_name.casefold() for c in dataset.customers if c.zendesk_link is not ZendeskLink.NONE}
    ) == (sum(c.zendesk_link is not ZendeskLink.NONE for c in dataset.customers))


def test_support_users(dataset: Dataset) -> None:
    by_customer: dict[int, list[str]] = defaultdict(list)
    agents = []
    for user in dataset.support_users:
        if user.customer is None:
            agents.append(user)
        else:
            by_customer[user.customer].append(user.email)
    assert 3 <= len(agents) <= 12
    assert all(a.role == "agent" for a in agents)
    assert len({u.id for u in dataset.support_users}) == len(dataset.support_users)
    assert len({u.email for u in dataset.support_users}) == len(dataset.support_users)
    for c in dataset.customers:
        emails = by_customer.get(c.index, [])
        if c.zendesk_link is ZendeskLink.NONE:
            assert emails == []
        else:
            assert 1 <= len(emails) <= 5
            assert all(e.endswith("@" + c.domain) for e in emails)


# --- tickets and ratings --------------------------------------------------------------------------


def test_ticket_ids_timestamps_and_statuses(dataset: Dataset) -> None:
    tickets = dataset.tickets
    assert [t.id for t in tickets] == list(range(1, len(tickets) + 1))
    assert [t.created_at for t in tickets] == sorted(t.created_at for t in tickets)
    for t in tickets:
        assert NOW - timedelta(days=120) <= t.created_at <= t.updated_at <= NOW, t
        assert (t.solved_at is not None) == (t.status in ("solved", "closed")), t
        if t.solved_at is not None:
            assert t.created_at <= t.solved_at <= t.updated_at
        assert t.deleted == (t.status == "deleted")
    per_account_month = len([t for t in tickets if t.customer is not None]) / (ACCOUNTS * 4)
    assert 0.5 <= per_account_month <= 4
    deleted = sum(t.deleted for t in tickets) / len(tickets)
    assert 0.002 <= deleted <= 0.03
    old = [t for t in tickets if NOW - t.created_at > timedelta(days=30)]
    assert sum(t.status in ("solved", "closed", "deleted") for t in old) / len(old) > 0.95
    young = Counter(t.status for t in tickets if NOW - t.created_at < timedelta(days=7))
    assert {"new", "open", "pending"} <= set(young)
    assert young["new"] + young["open"] + young["pending"] + young["hold"] > young["solved"]


def test_ticket_priorities(dataset: Dataset) -> None:
    shares = Counter(t.priority for t in dataset.tickets)
    total = len(dataset.tickets)
    assert 0.02 <= shares["urgent"] / total <= 0.1
    assert 0.1 <= shares["high"] / total <= 0.25
    assert 0.5 <= shares["normal"] / total <= 0.7
    assert 0.14 <= shares["low"] / total <= 0.26
    assert 0 < shares[None] / total <= 0.05


def test_open_critical_tickets_span_both_sides_of_seven_days(dataset: Dataset) -> None:
    ages = [
        (NOW - t.created_at).days
        for t in dataset.tickets
        if t.status in ("new", "open", "pending", "hold") and t.priority in ("urgent", "high")
    ]
    assert any(age <= 7 for age in ages)
    assert any(7 < age <= 30 for age in ages)
    assert max(ages) <= 30


def test_tickets_belong_to_their_organizations_users(dataset: Dataset) -> None:
    owner_of = {u.id: u.customer for u in dataset.support_users}
    linked = {c.index for c in dataset.customers if c.zendesk_link is not ZendeskLink.NONE}
    for t in dataset.tickets:
        assert owner_of[t.requester] == t.customer
        assert t.customer is None or t.customer in linked


def test_csat_on_about_a_third_of_solved_tickets(dataset: Dataset) -> None:
    tickets = {t.id: t for t in dataset.tickets}
    solved = [t for t in dataset.tickets if t.solved_at is not None and t.customer is not None]
    assert 0.2 <= len(dataset.ratings) / len(solved) <= 0.4
    assert [r.id for r in dataset.ratings] == list(range(1, len(dataset.ratings) + 1))
    archetype = {c.index: c.archetype for c in dataset.customers}
    good: dict[Archetype, list[bool]] = defaultdict(list)
    for r in dataset.ratings:
        ticket = tickets[r.ticket]
        assert ticket.solved_at is not None
        assert ticket.solved_at <= r.created_at <= NOW
        assert (r.customer, r.requester) == (ticket.customer, ticket.requester)
        assert r.customer is not None
        good[archetype[r.customer]].append(r.score == "good")
    share = {a: sum(v) / len(v) for a, v in good.items()}
    assert share[Archetype.EXPANDING] > share[Archetype.CHURN_RISK] + 0.3
    assert share[Archetype.HEALTHY] > 0.8


# --- the usage database ---------------------------------------------------------------------------


def test_usage_tables_have_the_columns_healthsync_reads(dataset: Dataset) -> None:
    expected = {
        "usage_daily": ["account_key", "day", "active_users", "logins"],
        "invoices": ["invoice_id", "account_key", "due_date", "paid_date", "amount"],
        "nps_responses": ["response_id", "account_key", "score", "responded_at"],
    }
    for table, columns in expected.items():
        assert [row[1] for row in query(dataset.usage_db, f"PRAGMA table_info({table})")] == columns
    indexes = {
        str(name)
        for (name,) in query(dataset.usage_db, "SELECT name FROM sqlite_master WHERE type = 'index'")
    }
    assert {"invoices_account_due", "nps_responses_account_time"} <= indexes


def test_ninety_days_of_usage_within_seats(dataset: Dataset) -> None:
    per_key = dict(
        query(dataset.usage_db, "SELECT account_key, COUNT(*) FROM usage_daily GROUP BY account_key")
    )
    first, last = query(dataset.usage_db, "SELECT MIN(day), MAX(day) FROM usage_daily")[0]
    assert (first, last) == (
        (TODAY - timedelta(days=90)).isoformat(),
        (TODAY - timedelta(days=1)).isoformat(),
    )
    for c in dataset.customers:
        if not c.in_crm:
            assert c.key not in per_key
        elif c.archetype is Archetype.ONBOARDING:
            assert per_key.get(c.key, 0) == min(90, (TODAY - c.contract_start).days)
        else:
            assert per_key[c.key] == 90
    seats = {c.key: c.seats for c in dataset.customers}
    for key, active, logins in query(
        dataset.usage_db, "SELECT account_key, active_users, logins FROM usage_daily"
    ):
        assert 0 <= int(str(active)) <= seats[str(key)]
        assert int(str(logins)) >= int(str(active))


def test_weekdays_are_busier_than_weekends(dataset: Dataset) -> None:
    weekday, weekend = [], []
    for day, active in query(dataset.usage_db, "SELECT day, SUM(active_users) FROM usage_daily GROUP BY day"):
        (weekend if datetime.fromisoformat(str(day)).weekday() >= 5 else weekday).append(int(str(active)))
    assert statistics.mean(weekend) < 0.5 * statistics.mean(weekday)


def test_invoices_monthly_for_a_year(dataset: Dataset) -> None:
    counts = dict(query(dataset.usage_db, "SELECT account_key, COUNT(*) FROM invoices GROUP BY account_key"))
    for c in crm(dataset):
        if c.archetype is not Archetype.ONBOARDING:
            assert 11 <= int(str(counts[c.key])) <= 12
    for due, paid in query(dataset.usage_db, "SELECT due_date, paid_date FROM invoices"):
        assert str(due) <= TODAY.isoformat()
        assert paid is None or str(paid) <= TODAY.isoformat()
    amount = dict(
        query(dataset.usage_db, "SELECT account_key, MAX(amount) FROM invoices GROUP BY account_key")
    )
    c = crm(dataset)[0]
    assert amount[c.key] == pytest.approx(c.arr / 12, abs=0.01)


def test_nps_answers_quarterly(dataset: Dataset) -> None:
    counts = Counter(str(k) for (k,) in query(dataset.usage_db, "SELECT account_key FROM nps_responses"))
    established = [c for c in crm(dataset) if c.archetype is not Archetype.ONBOARDING]
    assert statistics.mean(counts[c.key] for c in established) == pytest.approx(3, abs=1)
    for (at,) in query(dataset.usage_db, "SELECT responded_at FROM nps_responses"):
        assert datetime.fromisoformat(str(at)).replace(tzinfo=UTC) <= NOW
