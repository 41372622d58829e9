"""Properties of the score over any features: bounded, coverage a share, promoters never hurt."""

from __future__ import annotations

import dataclasses
from datetime import date
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from healthsync.model import Features
from healthsync.scoring.engine import score
from healthsync.scoring.rules import RuleSet, default_rules, load_rules

AS_OF = date(2026, 3, 2)
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
RULE_SETS = {
    "default": default_rules(),
    "enterprise-example": load_rules(EXAMPLES / "rules-enterprise.toml"),
}


def maybe(strategy: st.SearchStrategy[object]) -> st.SearchStrategy[object]:
    return st.none() | strategy


def finite(low: float, high: float) -> st.SearchStrategy[float]:
    return st.floats(low, high, allow_nan=False, allow_infinity=False)


features = st.builds(
    Features,
    account=st.just("acct"),
    login_days_30d=maybe(st.integers(0, 30)),
    active_users=maybe(st.integers(0, 5_000)),
    licenses=maybe(st.integers(0, 5_000)),
    open_critical_tickets=maybe(st.integers(0, 50)),
    oldest_critical_ticket_age_days=maybe(finite(0, 400)),
    last_nps=maybe(st.integers(0, 10)),
    payments_on_time_6m=maybe(st.booleans()),
    usage_change_14d=maybe(finite(-1, 10)),
    seat_growth=maybe(st.integers(-500, 500)),
    days_since_contract_start=maybe(st.integers(-30, 3_650)),
    days_to_contract_end=maybe(st.integers(-365, 3_650)),
    segment=st.sampled_from([None, "enterprise", "Enterprise", "smb", "mid-market"]),
    extra=st.fixed_dictionaries(
        {},
        optional={
            "executive_sponsor": st.none()
            | st.booleans()
            | st.integers()
            | st.text(alphabet="yesno", max_size=3)
        },
    ),
)

rule_sets = pytest.mark.parametrize("rules", RULE_SETS.values(), ids=RULE_SETS.keys())


@rule_sets
@given(f=features)
def test_score_is_always_between_0_and_100(rules: RuleSet, f: Features) -> None:
    result = score(f, rules, as_of=AS_OF)
    assert 0 <= result.score <= 100
    assert result.raw_score is not None
    assert result.score == round(min(max(result.raw_score, 0), 100), 1)


@rule_sets
@given(f=features)
def test_coverage_is_a_share(rules: RuleSet, f: Features) -> None:
    result = score(f, rules, as_of=AS_OF)
    assert 0 <= result.coverage <= 1
    assert len(set(result.missing)) == len(result.missing)


@rule_sets
@given(f=features, before=st.none() | st.integers(0, 8), after=st.sampled_from([9, 10]))
def test_becoming_a_promoter_never_lowers_the_score(
    rules: RuleSet, f: Features, before: int | None, after: int
) -> None:
    old = score(dataclasses.replace(f, last_nps=before), rules, as_of=AS_OF)
    new = score(dataclasses.replace(f, last_nps=after), rules, as_of=AS_OF)
    assert new.score >= old.score
