"""Each archetype's generated data produces its health signals under healthsync's default rules.

Features are computed from the generated records in `datagen_features` (not by healthsync's feature
code), then scored with the built-in rule set; shares are checked on a 500-account dataset.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from datagen_features import Features, features, query

from healthsync.model import Band
from healthsync.model import Features as ScoringFeatures
from healthsync.sandbox.datagen import generate
from healthsync.sandbox.dataset import Archetype, Customer, Dataset, ZendeskLink
from healthsync.scoring.engine import score
from healthsync.scoring.rules import default_rules

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
TODAY = NOW.date()

Pair = tuple[Customer, Features]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Dataset:
    return generate(500, 11, now=NOW, workdir=tmp_path_factory.mktemp("signals"))


@pytest.fixture(scope="module")
def by_archetype(dataset: Dataset) -> dict[Archetype, list[Pair]]:
    found = features(dataset, NOW)
    out: dict[Archetype, list[Pair]] = defaultdict(list)
    for c in dataset.customers:
        if c.in_crm:
            out[c.archetype].append((c, found[c.index]))
    return out


def share(pairs: list[Pair], test: Callable[[Customer, Features], bool]) -> float:
    return sum(1 for c, f in pairs if test(c, f)) / len(pairs)


def stale(f: Features) -> bool:
    return f.oldest_critical_days is not None and f.oldest_critical_days > 7


def band(c: Customer, f: Features) -> Band:
    inputs = ScoringFeatures(
        account=c.key,
        login_days_30d=f.login_days_30d,
        active_users=round(f.active_ratio * c.seats),
        licenses=c.seats,
        open_critical_tickets=f.open_critical if c.zendesk_link is not ZendeskLink.NONE else None,
        oldest_critical_ticket_age_days=f.oldest_critical_days,
        last_nps=f.last_nps,
        payments_on_time_6m=f.payments_on_time_6m,
        usage_change_14d=f.usage_change_14d,
        segment=c.segment,
    )
    return score(inputs, default_rules(), as_of=TODAY).band


def test_healthy_customers_log_in_use_their_seats_and_pay(by_archetype: dict[Archetype, list[Pair]]) -> None:
    healthy = by_archetype[Archetype.HEALTHY]
    assert share(healthy, lambda c, f: f.login_days_30d > 15) >= 0.97
    assert share(healthy, lambda c, f: f.active_ratio > 0.5) >= 0.9
    assert share(healthy, lambda c, f: f.active_ratio >= 0.8) <= 0.15
    assert share(healthy, lambda c, f: f.usage_change_14d is not None and f.usage_change_14d <= -0.5) == 0
    assert share(healthy, lambda c, f: stale(f)) <= 0.03
    assert share(healthy, lambda c, f: f.payments_on_time_6m is True) >= 0.85
    assert share(healthy, lambda c, f: f.last_nps is not None and f.last_nps >= 7) >= 0.85
    assert share(healthy, lambda c, f: band(c, f) is Band.GREEN) >= 0.8


def test_declining_customers_halved_their_usage(by_archetype: dict[Archetype, list[Pair]]) -> None:
    declining = by_archetype[Archetype.DECLINING]
    assert (
        share(declining, lambda c, f: f.usage_change_14d is not None and f.usage_change_14d <= -0.5) >= 0.97
    )
    # Not silent: they still log in, which is what makes the drop a signal rather than a churn.
    assert share(declining, lambda c, f: f.login_days_30d >= 5) >= 0.95


def test_churn_risks_show_every_warning(by_archetype: dict[Archetype, list[Pair]]) -> None:
    risks = by_archetype[Archetype.CHURN_RISK]
    with_support = [(c, f) for c, f in risks if c.zendesk_link is not ZendeskLink.NONE]
    assert share(with_support, lambda c, f: stale(f)) >= 0.95
    assert share(risks, lambda c, f: f.last_nps is not None and f.last_nps <= 6) >= 0.97
    assert share(risks, lambda c, f: f.payments_on_time_6m is False) >= 0.95
    assert share(risks, lambda c, f: f.active_ratio <= 0.2) >= 0.95
    assert share(risks, lambda c, f: f.login_days_30d <= 15) >= 0.9
    assert share(risks, lambda c, f: band(c, f) is Band.RED) >= 0.9


def test_onboarding_customers_started_recently_and_ramp_up(
    dataset: Dataset, by_archetype: dict[Archetype, list[Pair]]
) -> None:
    onboarding = by_archetype[Archetype.ONBOARDING]
    assert all(TODAY - timedelta(days=100) <= c.contract_start <= TODAY for c, _ in onboarding)
    # Both onboarding checkpoints (day 30 and day 90) have customers around them.
    ages = [(TODAY - c.contract_start).days for c, _ in onboarding]
    assert any(25 <= a <= 40 for a in ages)
    assert any(85 <= a <= 100 for a in ages)
    growing = 0
    ramping = [c for c, _ in onboarding if (TODAY - c.contract_start).days >= 35]
    for c in ramping:
        days = query(
            dataset.usage_db,
            "SELECT day, active_users FROM usage_daily WHERE account_key = ? ORDER BY day",
            c.key,
        )
        assert str(days[0][0]) >= c.contract_start.isoformat()
        first, last = days[:14], days[-14:]
        growing += sum(int(str(a)) for _, a in last) > sum(int(str(a)) for _, a in first)
    assert growing / len(ramping) >= 0.9


def test_expanding_customers_fill_their_seats_and_promote(by_archetype: dict[Archetype, list[Pair]]) -> None:
    expanding = by_archetype[Archetype.EXPANDING]
    assert share(expanding, lambda c, f: f.active_ratio >= 0.8) >= 0.95
    assert share(expanding, lambda c, f: f.last_nps is not None and f.last_nps >= 9) >= 0.97
    assert share(expanding, lambda c, f: f.login_days_30d > 15) >= 0.97
    assert share(expanding, lambda c, f: band(c, f) is Band.GREEN) >= 0.9


def test_every_band_has_examples(by_archetype: dict[Archetype, list[Pair]]) -> None:
    bands = {band(c, f) for pairs in by_archetype.values() for c, f in pairs}
    assert bands == {Band.GREEN, Band.YELLOW, Band.RED}
