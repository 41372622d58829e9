"""The engine with the built-in rules: every line of the reference table at its boundaries.

Also: clamping, bands, missing data, coverage, overrides and segments.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from healthsync.model import Band, Direction, Features, HealthResult, Override, Trend
from healthsync.scoring.engine import score, score_many
from healthsync.scoring.features_file import load_features
from healthsync.scoring.rules import RuleSet, default_rules, load_rules, parse_rules
from healthsync.tomlsource import parse_toml

AS_OF = date(2026, 3, 2)
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
ALL_SIGNALS = (
    "active_user_ratio",
    "last_nps",
    "oldest_critical_ticket_age_days",
    "open_critical_tickets",
    "payments_on_time_6m",
)


def run(rules: RuleSet | None = None, **fields: Any) -> HealthResult:
    fields.setdefault("account", "acme")
    return score(Features(**fields), rules or default_rules(), as_of=AS_OF)


def fired(result: HealthResult) -> dict[str, float]:
    return {c.rule_id: c.points for c in result.contributions}


def one_rule(points: float, extra: str = "") -> RuleSet:
    text = f"""{extra}
[[rule]]
id = "flat"
signal = "login_days_30d"
when = {{ gte = 0 }}
points = {points}
reason = "{{points}} points"
"""
    return parse_rules(parse_toml(text, "flat.toml"))


# --- the reference table, line by line -----------------------------------------------------------


@pytest.mark.parametrize(
    ("days", "rule", "points"),
    [(0, "login_low", 0), (4, "login_low", 0), (5, "login_medium", 15), (15, "login_medium", 15),
     (16, "login_high", 30), (30, "login_high", 30)],
)  # fmt: skip
def test_login_days_boundaries(days: int, rule: str, points: float) -> None:
    result = run(login_days_30d=days)
    assert fired(result) == {rule: points}
    assert result.score == points


def test_low_logins_show_up_in_the_explanation_with_zero_points() -> None:
    (contribution,) = run(login_days_30d=3).contributions
    assert contribution.points == 0
    assert contribution.value == 3
    assert contribution.reason == "Logged in on only 3 of the last 30 days (below 5)"


@pytest.mark.parametrize(
    ("active", "licenses", "points"),
    [(10, 20, None), (11, 20, 20), (50, 100, None), (51, 100, 20), (0, 20, None), (30, 20, 20)],
)
def test_active_user_ratio_needs_more_than_half(active: int, licenses: int, points: float | None) -> None:
    result = run(active_users=active, licenses=licenses)
    assert fired(result).get("active_users_high") == points
    assert "active_user_ratio" not in result.missing


def test_active_user_ratio_reason_reads_as_a_percentage() -> None:
    (contribution,) = run(active_users=11, licenses=20).contributions
    assert contribution.reason == "55% of licenses are in active use (more than half)"


@pytest.mark.parametrize(("active", "licenses"), [(None, 20), (10, None), (10, 0), (None, None)])
def test_active_user_ratio_without_a_usable_denominator_is_missing(
    active: int | None, licenses: int | None
) -> None:
    result = run(active_users=active, licenses=licenses)
    assert "active_user_ratio" in result.missing
    assert fired(result) == {}


def test_no_open_critical_tickets_earns_15_and_is_not_missing_an_age() -> None:
    result = run(open_critical_tickets=0)
    assert fired(result) == {"no_critical_tickets": 15}
    assert "oldest_critical_ticket_age_days" not in result.missing


@pytest.mark.parametrize(("age", "penalty"), [(0.5, None), (7, None), (7.0, None), (7.1, -20), (30, -20)])
def test_critical_ticket_open_more_than_7_days(age: float, penalty: float | None) -> None:
    result = run(open_critical_tickets=1, oldest_critical_ticket_age_days=age)
    assert fired(result).get("critical_ticket_stale") == penalty
    assert "no_critical_tickets" not in fired(result)


def test_stale_ticket_reason_shows_the_age() -> None:
    (contribution,) = run(open_critical_tickets=1, oldest_critical_ticket_age_days=7.1).contributions
    # Whole days: the reason is written to the CRM, and a text that changed by the hour would make
    # every re-sync write it again.
    assert contribution.reason == "A critical ticket has been open for 7 days (more than 7)"


def test_open_tickets_with_unknown_age_report_the_age_missing() -> None:
    assert "oldest_critical_ticket_age_days" in run(open_critical_tickets=2).missing


@pytest.mark.parametrize(
    ("nps", "rule", "points"),
    [(0, "nps_detractor", -15), (6, "nps_detractor", -15), (7, "nps_passive", 0), (8, "nps_passive", 0),
     (9, "nps_promoter", 20), (10, "nps_promoter", 20)],
)  # fmt: skip
def test_nps_promoter_passive_detractor(nps: int, rule: str, points: float) -> None:
    assert fired(run(last_nps=nps)) == {rule: points}


@pytest.mark.parametrize(("on_time", "points"), [(True, {"payments_on_time": 15}), (False, {})])
def test_payments_on_time(on_time: bool, points: dict[str, float]) -> None:
    result = run(payments_on_time_6m=on_time)
    assert fired(result) == points
    assert "payments_on_time_6m" not in result.missing


def test_payments_unknown_is_missing_not_late() -> None:
    result = run(payments_on_time_6m=None, login_days_30d=20)
    assert "payments_on_time_6m" in result.missing
    assert "payments_on_time" not in fired(result)


# --- totals, clamping, bands ---------------------------------------------------------------------


def test_best_account_scores_exactly_100() -> None:
    result = run(
        login_days_30d=30,
        active_users=20,
        licenses=20,
        open_critical_tickets=0,
        last_nps=10,
        payments_on_time_6m=True,
    )
    assert result.raw_score == 100
    assert result.score == 100
    assert result.band is Band.GREEN
    assert result.coverage == 1
    assert result.missing == ()


def test_all_negative_clamps_at_zero_and_keeps_the_raw_sum() -> None:
    result = run(
        login_days_30d=0,
        active_users=1,
        licenses=20,
        open_critical_tickets=3,
        oldest_critical_ticket_age_days=40,
        last_nps=0,
        payments_on_time_6m=False,
    )
    assert result.raw_score == -35
    assert result.score == 0
    assert result.band is Band.RED


def test_above_100_clamps_at_100() -> None:
    result = run(one_rule(150), login_days_30d=1)
    assert result.raw_score == 150
    assert result.score == 100


def test_score_is_rounded_to_one_decimal() -> None:
    result = run(one_rule(33.333), login_days_30d=1)
    assert result.raw_score == 33.333
    assert result.score == 33.3


@pytest.mark.parametrize(
    ("points", "band"),
    [(39.9, Band.RED), (40, Band.YELLOW), (69.9, Band.YELLOW), (70, Band.GREEN), (0, Band.RED)],
)
def test_band_boundaries(points: float, band: Band) -> None:
    result = run(one_rule(points), login_days_30d=1)
    assert result.score == points
    assert result.computed_band is band
    assert result.band is band


def test_custom_bands_from_the_rule_file() -> None:
    rules = one_rule(60, extra="[bands]\ngreen = 60\nyellow = 30\n")
    assert run(rules, login_days_30d=1).band is Band.GREEN


def test_contributions_ordered_by_size_then_id() -> None:
    result = run(
        login_days_30d=10,
        open_critical_tickets=1,
        oldest_critical_ticket_age_days=9,
        last_nps=7,
        payments_on_time_6m=True,
    )
    assert [c.rule_id for c in result.contributions] == [
        "critical_ticket_stale",
        "login_medium",
        "payments_on_time",
        "nps_passive",
    ]
    assert result.score == 10


# --- missing data and coverage -------------------------------------------------------------------


def test_no_data_at_all_is_reported_as_missing_not_zero() -> None:
    result = run()
    assert result.contributions == ()
    assert result.missing == tuple(sorted((*ALL_SIGNALS, "login_days_30d")))
    assert result.coverage == 0
    assert result.score == 0


def test_missing_lists_each_signal_once_and_coverage_counts_signals() -> None:
    result = run(login_days_30d=20, payments_on_time_6m=True)
    assert result.missing == (
        "active_user_ratio",
        "last_nps",
        "oldest_critical_ticket_age_days",
        "open_critical_tickets",
    )
    assert result.coverage == pytest.approx(2 / 6)
    assert result.score == 45


def test_zero_is_data() -> None:
    result = run(login_days_30d=0, open_critical_tickets=0, last_nps=0)
    assert "login_days_30d" not in result.missing
    assert "last_nps" not in result.missing
    assert result.coverage == pytest.approx(4 / 6)


def test_custom_input_of_the_wrong_type_counts_as_missing() -> None:
    rules = load_rules(EXAMPLES / "rules-enterprise.toml")
    result = run(rules, segment="enterprise", extra={"executive_sponsor": "yes"})
    assert "extra.executive_sponsor" in result.missing
    result = run(rules, segment="enterprise", extra={"executive_sponsor": True})
    assert fired(result) == {"executive_sponsor": 15}


# --- overrides -----------------------------------------------------------------------------------


@pytest.mark.parametrize("days_before_expiry", [0, 1, 30])
def test_override_wins_until_and_on_its_expiry_day(days_before_expiry: int) -> None:
    override = Override(
        Band.RED, author="dana@example.com", expires=AS_OF + timedelta(days=days_before_expiry)
    )
    features = Features("acme", login_days_30d=30, active_users=20, licenses=20, last_nps=10)
    result = score(features, default_rules(), as_of=AS_OF, override=override)
    assert result.computed_band is Band.GREEN
    assert result.band is Band.RED
    assert result.override == override
    assert result.override is not None
    assert result.override.author == "dana@example.com"
    assert result.score == 70


def test_override_lapses_the_day_after_expiry() -> None:
    override = Override(Band.RED, author="dana@example.com", expires=AS_OF - timedelta(days=1))
    features = Features("acme", login_days_30d=30, active_users=20, licenses=20, last_nps=10)
    result = score(features, default_rules(), as_of=AS_OF, override=override)
    assert result.band is Band.GREEN
    assert result.override is None


def test_trend_and_date_pass_through() -> None:
    trend = Trend(delta=5.0, direction=Direction.UP, previous_score=10.0)
    result = score(Features("acme", login_days_30d=9), default_rules(), as_of=AS_OF, trend=trend)
    assert result.trend == trend
    assert result.computed_at == AS_OF
    assert result.rules_version == default_rules().rules_version
    assert result.account == "acme"


# --- segments ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def enterprise_rules() -> RuleSet:
    return load_rules(EXAMPLES / "rules-enterprise.toml")


def test_segment_weights_are_applied(enterprise_rules: RuleSet) -> None:
    result = run(enterprise_rules, segment="smb", login_days_30d=20, payments_on_time_6m=True)
    assert fired(result) == {"login_high": 30, "payments_on_time": 7.5}
    assert result.score == 37.5
    assert result.segment == "smb"


def test_segment_replacement_rules_and_own_bands(enterprise_rules: RuleSet) -> None:
    # 11 login days is "high" for enterprise (> 10) but only "medium" by default (5-15).
    features: dict[str, Any] = {
        "login_days_30d": 11,
        "payments_on_time_6m": True,
        "extra": {"executive_sponsor": True},
    }
    enterprise = run(enterprise_rules, segment="enterprise", **features)
    assert fired(enterprise) == {"login_high": 25, "payments_on_time": 10, "executive_sponsor": 15}
    assert enterprise.score == 50
    assert enterprise.band is Band.YELLOW  # enterprise yellow starts at 50
    default = run(enterprise_rules, **features)
    assert fired(default) == {"login_medium": 15, "payments_on_time": 15}
    assert default.band is Band.RED
    assert default.segment is None


def test_segment_bands_apply(enterprise_rules: RuleSet) -> None:
    result = run(
        enterprise_rules,
        segment="enterprise",
        login_days_30d=20,
        active_users=10,
        licenses=20,
        open_critical_tickets=0,
        payments_on_time_6m=True,
    )
    assert result.score == 70
    assert result.band is Band.YELLOW  # green would need 75 in enterprise
    assert run(enterprise_rules, login_days_30d=20, active_users=11, licenses=20, open_critical_tickets=0,
               payments_on_time_6m=True).band is Band.GREEN  # fmt: skip


@pytest.mark.parametrize("segment", ["enterprise", "Enterprise", "ENTERPRISE", " enterprise "])
def test_segment_names_are_case_insensitive(enterprise_rules: RuleSet, segment: str) -> None:
    result = run(enterprise_rules, segment=segment, login_days_30d=11)
    assert result.segment == "enterprise"
    assert fired(result) == {"login_high": 25}


@pytest.mark.parametrize("segment", ["mid-market", "", None])
def test_unknown_segment_gets_the_default_rules(enterprise_rules: RuleSet, segment: str | None) -> None:
    result = run(enterprise_rules, segment=segment, login_days_30d=11)
    assert result.segment is None
    assert fired(result) == {"login_medium": 15}


def test_default_rules_ignore_segments() -> None:
    assert run(segment="enterprise", login_days_30d=16).segment is None


# --- many accounts -------------------------------------------------------------------------------


def test_score_many_keeps_order_and_routes_overrides_and_trends() -> None:
    override = Override(Band.GREEN, author="sam", expires=AS_OF)
    trend = Trend(delta=-3.0, direction=Direction.DOWN, previous_score=3.0)
    features = [Features("b", login_days_30d=1), Features("a", login_days_30d=20)]
    results = score_many(
        features, default_rules(), as_of=AS_OF, overrides={"b": override}, trends={"a": trend}
    )
    assert [r.account for r in results] == ["b", "a"]
    assert results[0].override == override
    assert results[0].band is Band.GREEN
    assert results[0].trend is None
    assert results[1].override is None
    assert results[1].trend == trend


def test_score_many_without_overrides() -> None:
    assert score_many([], default_rules(), as_of=AS_OF) == []
    (result,) = score_many([Features("a")], default_rules(), as_of=AS_OF)
    assert result.override is None


def test_example_accounts_score_as_documented() -> None:
    results = {
        r.account: r
        for r in score_many(load_features(EXAMPLES / "features.json"), default_rules(), as_of=AS_OF)
    }
    assert {name: (r.score, r.band) for name, r in results.items()} == {
        "Northwind Traders": (80, Band.GREEN),
        "Globex Corporation": (50, Band.YELLOW),
        "Initech": (0, Band.RED),
        "Pied Piper": (15, Band.RED),
        "Stark Industries": (100, Band.GREEN),
        "Wayne Enterprises": (45, Band.YELLOW),
        "Umbrella Health": (50, Band.YELLOW),
        "Cyberdyne Systems": (35, Band.RED),
    }
    assert results["Pied Piper"].coverage == pytest.approx(2 / 6)
    assert fired(results["Umbrella Health"]) == {
        "login_medium": 15,
        "nps_promoter": 20,
        "payments_on_time": 15,
    }
