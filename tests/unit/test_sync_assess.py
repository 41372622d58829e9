"""Assess: how the pulled sources reach each account, and what history and overrides do to its health.

Scored with the built-in rules. With only a usage summary of 20 login days, an account scores 30
(`login_high`), which is red: the band-red signal is then a clean probe of the previous band.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from healthsync.connectors.hubspot_read import CompanyReader
from healthsync.mappings import load_mapping
from healthsync.model import (
    Account,
    Band,
    ContractOutcome,
    Direction,
    Override,
    Payment,
    Rating,
    RatingKind,
    RenewalStage,
    Ticket,
    Trend,
)
from healthsync.scoring.rules import default_rules
from healthsync.scoring.signals import SignalThresholds
from healthsync.scoring.trend import TrendSettings
from healthsync.sync.assess import Assessor, Inputs, assess, usage_key
from healthsync.sync.features import UsageSummary
from healthsync.sync.plan import Assessment
from healthsync.sync.state_records import HistoryPoint

AT = datetime(2026, 3, 31, 12, 0, tzinfo=UTC)
TODAY = AT.date()
RULES = default_rules()
USAGE = UsageSummary(login_days=20, active_users=None, recent_users=0, earlier_users=0, days_seen=20)
"""Scores 30 (login_high) on its own: red."""


def run(inputs: Inputs, trend: TrendSettings | None = None) -> dict[str, Assessment]:
    found = assess(inputs, RULES, at=AT, thresholds=SignalThresholds(), trend=trend or TrendSettings())
    return {a.key: a for a in found}


def one(inputs: Inputs) -> Assessment:
    (only,) = run(inputs).values()
    return only


def codes(assessment: Assessment) -> list[str]:
    return [s.code for s in assessment.signals]


def days_ago(n: int) -> date:
    return TODAY - timedelta(days=n)


# --- usage keys ----------------------------------------------------------------------------------


ACME = Account(
    "001",
    "ACME, Inc.",
    domains=("https://www.Acme.com/about", "acme.io"),
    external_keys={"customer_key": " CK-7 ", "zendesk_org_id": "42"},
)


@pytest.mark.parametrize(
    ("kind", "key"),
    [
        ("crm_id", "001"),
        ("customer_key", "CK-7"),
        ("zendesk_org_id", "42"),
        ("domain", "acme.com"),
        ("name", "acme"),
    ],
)
def test_usage_key_by_kind(kind: str, key: str) -> None:
    assert usage_key(ACME, kind) == key


@pytest.mark.parametrize("kind", ["customer_key", "zendesk_org_id", "domain"])
def test_an_account_without_that_key_has_no_usage_key(kind: str) -> None:
    assert usage_key(Account("001", "Acme"), kind) is None


def test_a_nameless_account_has_no_name_key() -> None:
    assert usage_key(Account("001", "Inc."), "name") == "inc"  # a lone legal suffix is kept
    assert usage_key(Account("001", "  "), "name") is None


def test_an_unknown_usage_key_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown usage account key 'email'"):
        usage_key(ACME, "email")


@pytest.mark.parametrize(
    ("kind", "source_key"),
    [
        ("crm_id", "001"),
        ("customer_key", "CK-7"),
        ("zendesk_org_id", "42"),
        ("domain", "WWW.ACME.COM"),  # the source's keys are normalised too
        ("domain", "http://acme.com/"),
        ("name", "Acme"),
        ("name", "acme inc"),
    ],
)
def test_usage_nps_and_payments_reach_the_account_by_its_usage_key(kind: str, source_key: str) -> None:
    inputs = Inputs(
        accounts=[ACME],
        usage={source_key: USAGE},
        nps={source_key: [Rating(source_key, RatingKind.NPS, 9, AT - timedelta(days=2))]},
        payments={source_key: [Payment(source_key, days_ago(10), days_ago(12))]},
        usage_key_kind=kind,
    )
    features = one(inputs).features
    assert (features.login_days_30d, features.last_nps, features.payments_on_time_6m) == (20, 9, True)


@pytest.mark.parametrize("kind", ["crm_id", "customer_key", "domain", "name"])
def test_rows_under_another_accounts_key_do_not_reach_this_one(kind: str) -> None:
    other = Account("002", "Globex", domains=("globex.com",), external_keys={"customer_key": "CK-9"})
    theirs = usage_key(other, kind)
    assert theirs is not None
    inputs = Inputs(
        accounts=[ACME, other],
        usage={theirs: USAGE},
        nps={theirs: [Rating(theirs, RatingKind.NPS, 9, AT)]},
        payments={theirs: [Payment(theirs, days_ago(10), days_ago(12))]},
        usage_key_kind=kind,
    )
    features = run(inputs)["001"].features
    assert (features.login_days_30d, features.last_nps, features.payments_on_time_6m) == (None, None, None)
    assert run(inputs)["002"].features.login_days_30d == 20


def test_a_hubspot_company_keyed_by_its_zendesk_org_id_gets_its_usage(tmp_path: Path) -> None:
    user_mapping = tmp_path / "mapping.toml"
    user_mapping.write_text('[account.inputs]\nzendesk_org_id = "zendesk_org_id"\n', encoding="utf-8")
    reader = CompanyReader(None, load_mapping("hubspot", user_mapping), lag=timedelta(0), now=lambda: AT)  # type: ignore[arg-type]  # reads no wire
    company = {  # a `results[]` object as the companies list answers it
        "id": "101",
        "properties": {"name": "Acme", "zendesk_org_id": "42"},
        "createdAt": AT.isoformat(),
        "updatedAt": AT.isoformat(),
        "archived": False,
    }
    inputs = Inputs(
        accounts=[reader.to_account(company)], usage={"42": USAGE}, usage_key_kind="zendesk_org_id"
    )
    assert one(inputs).features.login_days_30d == 20


# --- sources that are missing or empty -----------------------------------------------------------


def fields(assessment: Assessment) -> dict[str, Any]:
    f = assessment.features
    return {
        "login_days_30d": f.login_days_30d,
        "active_users": f.active_users,
        "usage_change_14d": f.usage_change_14d,
        "last_nps": f.last_nps,
        "payments_on_time_6m": f.payments_on_time_6m,
        "open_critical_tickets": f.open_critical_tickets,
    }


NO_DATA = dict.fromkeys(
    (
        "login_days_30d",
        "active_users",
        "usage_change_14d",
        "last_nps",
        "payments_on_time_6m",
        "open_critical_tickets",
    )
)


def test_sources_that_are_not_configured_give_no_data() -> None:
    assessment = one(Inputs(accounts=[ACME], organizations_of={"001": ["org-1"]}))
    assert fields(assessment) == NO_DATA
    assert assessment.result.missing == (
        "active_user_ratio",
        "last_nps",
        "login_days_30d",
        "oldest_critical_ticket_age_days",
        "open_critical_tickets",
        "payments_on_time_6m",
    )


def test_configured_sources_without_rows_for_the_account_give_no_data() -> None:
    inputs = Inputs(
        accounts=[ACME],
        critical_tickets=[],
        usage={"someone-else": USAGE},
        nps={"someone-else": [Rating("someone-else", RatingKind.NPS, 9, AT)]},
        payments={"someone-else": [Payment("someone-else", days_ago(5))]},
    )
    assert fields(one(inputs)) == NO_DATA


def test_an_account_without_its_usage_key_gets_no_usage_data() -> None:
    inputs = Inputs(
        accounts=[Account("001", "Acme")],
        usage={"": USAGE},
        nps={"": [Rating("", RatingKind.NPS, 9, AT)]},
        payments={"": [Payment("", days_ago(5), days_ago(5))]},
        usage_key_kind="customer_key",
    )
    assert fields(one(inputs)) == NO_DATA


# --- tickets through organizations ---------------------------------------------------------------


def ticket(ticket_id: str, org: str | None, age_days: float = 2) -> Ticket:
    created = AT - timedelta(days=age_days)
    return Ticket(ticket_id, org, "urgent", "open", True, created, created)


def test_tickets_reach_an_account_only_through_its_organizations() -> None:
    inputs = Inputs(
        accounts=[Account("001", "Acme"), Account("002", "Globex"), Account("003", "Initech")],
        organizations_of={"001": ["org-1", "org-2"], "002": ["org-3"]},
        critical_tickets=[
            ticket("1", "org-1", age_days=3),
            ticket("2", "org-2", age_days=9),
            ticket("3", "org-9"),  # an organization linked to no account
            ticket("4", None),  # a ticket with no organization
        ],
    )
    found = run(inputs)
    acme = found["001"].features
    oldest = (acme.oldest_critical_ticket_age_days, acme.oldest_critical_ticket_id)
    assert (acme.open_critical_tickets, oldest) == (2, (9.0, "2"))
    assert found["002"].features.open_critical_tickets == 0  # linked, nothing open
    assert found["003"].features.open_critical_tickets is None  # not linked: no data


def test_an_account_linked_by_its_zendesk_key_still_needs_the_organization_link() -> None:
    inputs = Inputs(accounts=[ACME], critical_tickets=[ticket("1", "42")])
    assert one(inputs).features.open_critical_tickets is None


# --- history: trend and previous band ------------------------------------------------------------


def scored(history: list[HistoryPoint], trend: TrendSettings | None = None) -> Assessment:
    inputs = Inputs(accounts=[Account("001", "Acme")], usage={"001": USAGE}, history={"001": history})
    (only,) = run(inputs, trend).values()
    return only


def test_the_trend_compares_with_the_score_7_days_back() -> None:
    assessment = scored(
        [
            HistoryPoint(days_ago(8), 10.0, Band.RED),
            HistoryPoint(days_ago(7), 20.0, Band.RED),
            HistoryPoint(days_ago(3), 29.0, Band.RED),
        ]
    )
    assert assessment.result.score == 30.0
    assert assessment.result.trend == Trend(10.0, Direction.UP, 20.0, days_ago(7), 7)


def test_the_trend_falls_back_to_an_earlier_day_within_the_tolerance() -> None:
    trend = scored([HistoryPoint(days_ago(10), 50.0, Band.YELLOW)]).result.trend
    assert trend == Trend(-20.0, Direction.DOWN, 50.0, days_ago(10), 7)


def test_without_a_score_7_to_10_days_back_the_trend_is_unknown() -> None:
    history = [HistoryPoint(days_ago(11), 50.0, Band.YELLOW), HistoryPoint(days_ago(6), 50.0, Band.YELLOW)]
    assert scored(history).result.trend == Trend(None, None, None, None, 7)


def test_the_trend_settings_are_used() -> None:
    history = [HistoryPoint(days_ago(14), 29.0, Band.RED), HistoryPoint(days_ago(7), 0.0, Band.RED)]
    trend = scored(history, TrendSettings(window_days=14, tolerance_days=0, flat_within=1.0)).result.trend
    assert trend == Trend(1.0, Direction.FLAT, 29.0, days_ago(14), 14)


def test_todays_own_entry_is_not_history() -> None:
    assessment = scored([HistoryPoint(days_ago(7), 20.0, Band.RED), HistoryPoint(TODAY, 90.0, Band.GREEN)])
    assert assessment.result.trend == Trend(10.0, Direction.UP, 20.0, days_ago(7), 7)


@pytest.mark.parametrize(
    ("history", "fires"),
    [
        ([], True),  # no earlier band on record
        ([HistoryPoint(days_ago(1), 50.0, Band.YELLOW)], True),
        ([HistoryPoint(days_ago(1), 80.0, Band.GREEN)], True),
        ([HistoryPoint(days_ago(1), 30.0, Band.RED)], False),
        ([HistoryPoint(days_ago(9), 30.0, Band.RED), HistoryPoint(days_ago(2), 50.0, Band.YELLOW)], True),
        ([HistoryPoint(days_ago(9), 50.0, Band.YELLOW), HistoryPoint(days_ago(2), 30.0, Band.RED)], False),
        ([HistoryPoint(days_ago(1), 30.0, Band.RED), HistoryPoint(TODAY, 80.0, Band.GREEN)], False),
        ([HistoryPoint(days_ago(1), 50.0, Band.YELLOW), HistoryPoint(TODAY, 30.0, Band.RED)], True),
    ],
    ids=[
        "no-history",
        "yellow-yesterday",
        "green-yesterday",
        "red-yesterday",
        "red-then-yellow",
        "yellow-then-red",
        "red-yesterday-green-earlier-today",
        "yellow-yesterday-red-earlier-today",
    ],
)
def test_band_red_fires_only_when_the_last_band_before_today_was_not_red(
    history: list[HistoryPoint], fires: bool
) -> None:
    assessment = scored(history)
    assert assessment.result.band is Band.RED
    assert codes(assessment) == (["risk.band_red"] if fires else [])


# --- overrides, stage, seats, deleted accounts ---------------------------------------------------


def with_account(account: Account, **inputs: Any) -> Assessment:
    return one(Inputs(accounts=[account], usage={account.crm_id: USAGE}, **inputs))


def test_an_active_override_sets_the_band_and_silences_band_red() -> None:
    override = Override(Band.GREEN, "dana", expires=TODAY)
    assessment = with_account(Account("001", "Acme", override=override))
    result = assessment.result
    assert (result.band, result.computed_band, result.override) == (Band.GREEN, Band.RED, override)
    assert codes(assessment) == []


def test_an_expired_override_is_not_applied() -> None:
    assessment = with_account(
        Account("001", "Acme", override=Override(Band.GREEN, "dana", expires=days_ago(1)))
    )
    result = assessment.result
    assert (result.band, result.computed_band, result.override) == (Band.RED, Band.RED, None)
    assert codes(assessment) == ["risk.band_red"]


@pytest.mark.parametrize(
    ("end", "outcome", "stage"),
    [
        (TODAY + timedelta(days=121), None, None),
        (TODAY + timedelta(days=120), None, RenewalStage.PREPARATION),
        (TODAY + timedelta(days=90), None, RenewalStage.INITIATION),
        (TODAY + timedelta(days=45), None, RenewalStage.NEGOTIATION),
        (TODAY, None, RenewalStage.APPROVAL),
        (TODAY - timedelta(days=1), None, None),
        (TODAY + timedelta(days=45), ContractOutcome.RENEWED, RenewalStage.RENEWED),
        (TODAY + timedelta(days=45), ContractOutcome.CHURNED, RenewalStage.CHURNED),
        (None, None, None),
    ],
)
def test_the_stage_follows_the_contract_end_unless_an_outcome_is_recorded(
    end: date | None, outcome: ContractOutcome | None, stage: RenewalStage | None
) -> None:
    assessment = with_account(Account("001", "Acme", contract_end=end, contract_outcome=outcome))
    assert assessment.stage is stage


def test_seat_growth_uses_the_previous_licenses_by_crm_id() -> None:
    found = run(
        Inputs(
            accounts=[Account("001", "Acme", licenses=12), Account("002", "Globex", licenses=5)],
            previous_licenses={"001": 10},
        )
    )
    assert (found["001"].features.seat_growth, found["002"].features.seat_growth) == (2, None)
    assert "expansion.seat_growth" in codes(found["001"])


def test_deleted_accounts_are_not_assessed() -> None:
    found = run(Inputs(accounts=[Account("001", "Acme", deleted=True), Account("002", "Globex")]))
    assert list(found) == ["002"]


def test_the_assessment_carries_the_account_and_its_crm_id_key() -> None:
    account = Account("001", "Acme", external_keys={"customer_key": "CK-7"})
    assessment = with_account(account, usage_key_kind="crm_id")
    assert (assessment.account, assessment.key) == (account, "001")
    assert (assessment.features.account, assessment.result.account) == ("001", "001")


# --- assessing a run in chunks -------------------------------------------------------------------


def test_folded_payment_verdicts_reach_the_account_by_its_usage_key() -> None:
    for verdict in (True, False, None):
        inputs = Inputs(accounts=[ACME], payments_on_time={"WWW.ACME.COM": verdict}, usage_key_kind="domain")
        assert one(inputs).features.payments_on_time_6m is verdict
    elsewhere = Inputs(accounts=[ACME], payments_on_time={"globex.com": True}, usage_key_kind="domain")
    assert one(elsewhere).features.payments_on_time_6m is None


def test_assessing_in_chunks_with_each_chunks_history_is_assessing_at_once() -> None:
    accounts = [
        Account(f"{n:03d}", f"Acct {n}", licenses=10 + n, external_keys={"customer_key": f"CK-{n}"})
        for n in range(9)
    ]
    history = {a.crm_id: [HistoryPoint(days_ago(7), 40.0 + n, Band.YELLOW)] for n, a in enumerate(accounts)}
    inputs = Inputs(
        accounts=accounts,
        organizations_of={"001": ["org-1"], "004": ["org-4"]},
        critical_tickets=[ticket("t1", "org-1", age_days=9), ticket("t4", "org-4")],
        usage={f"CK-{n}": USAGE for n in range(0, 9, 2)},
        nps={"CK-3": [Rating("CK-3", RatingKind.NPS, 2, AT - timedelta(days=3))]},
        payments_on_time={"CK-5": False},
        usage_key_kind="customer_key",
        history=history,
        previous_licenses={"002": 8},
    )
    whole = assess(inputs, RULES, at=AT, thresholds=SignalThresholds(), trend=TrendSettings())
    assessor = Assessor(inputs, RULES, at=AT, thresholds=SignalThresholds(), trend=TrendSettings())
    chunked = [
        found
        for at in range(0, len(accounts), 4)
        for found in assessor.assess(
            accounts[at : at + 4],
            {a.crm_id: history[a.crm_id] for a in accounts[at : at + 4]},
            {"002": 8},
        )
    ]
    assert chunked == whole
    assert assessor.usage_of(accounts[2]) == USAGE
    assert assessor.usage_of(accounts[1]) is None
    assert [r.score for r in assessor.nps_of(accounts[3])] == [2]
    assert assessor.nps_of(accounts[4]) == []
