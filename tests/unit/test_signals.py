"""Playbook signals: each one at its threshold boundary, keys, ordering and threshold validation."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from healthsync.model import (
    Band,
    Features,
    HealthResult,
    Override,
    RenewalStage,
    Signal,
    SignalKind,
    TaskPriority,
)
from healthsync.scoring.signals import SUBJECT_MAX_CHARS, SignalThresholds, detect_signals

AS_OF = date(2026, 11, 18)
ACCOUNT = "acct"


def _features(**values: Any) -> Features:
    return Features(account=ACCOUNT, **values)


def _result(band: Band = Band.GREEN, score: float = 80.0, **values: Any) -> HealthResult:
    fields: dict[str, Any] = {
        "account": ACCOUNT,
        "score": score,
        "band": band,
        "computed_band": band,
        "contributions": (),
        "missing": (),
        "coverage": 1.0,
        "rules_version": "test",
        "computed_at": AS_OF,
    }
    fields.update(values)
    return HealthResult(**fields)


def _detect(
    features: Features | None = None,
    result: HealthResult | None = None,
    *,
    previous_band: Band | None = Band.GREEN,
    as_of: date = AS_OF,
    **kwargs: Any,
) -> list[Signal]:
    return detect_signals(
        features or _features(),
        result or _result(),
        previous_band=previous_band,
        as_of=as_of,
        **kwargs,
    )


def _codes(signals: list[Signal]) -> list[str]:
    return [signal.code for signal in signals]


def _one(signals: list[Signal], code: str) -> Signal:
    matching = [signal for signal in signals if signal.code == code]
    assert len(matching) == 1, _codes(signals)
    return matching[0]


def test_nothing_known_fires_nothing() -> None:
    assert _detect() == []


# --- risk ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "fires"),
    [
        pytest.param(-0.62, True, id="minus-0.62"),
        pytest.param(-0.5, True, id="minus-0.5-boundary"),
        pytest.param(-0.49, False, id="minus-0.49"),
        pytest.param(0.3, False, id="growth"),
    ],
)
def test_usage_drop(change: float, fires: bool) -> None:
    signals = _detect(_features(usage_change_14d=change))
    assert _codes(signals) == (["risk.usage_drop"] if fires else [])


def test_usage_drop_signal_content() -> None:
    signal = _one(_detect(_features(usage_change_14d=-0.62)), "risk.usage_drop")
    assert signal.key == "acct:risk.usage_drop:2026-11"
    assert signal.kind is SignalKind.RISK
    assert signal.priority is TaskPriority.HIGH
    assert signal.due_in_days == 1
    assert signal.reason == "Active usage fell 62% over the last 14 days vs the 14 before."
    assert "62%" in signal.subject


@pytest.mark.parametrize(
    ("previous", "fires"),
    [
        pytest.param(Band.RED, False, id="was-red"),
        pytest.param(Band.YELLOW, True, id="was-yellow"),
        pytest.param(Band.GREEN, True, id="was-green"),
        pytest.param(None, True, id="no-previous"),
    ],
)
def test_band_red(previous: Band | None, fires: bool) -> None:
    signals = _detect(result=_result(Band.RED, score=32.0), previous_band=previous)
    assert _codes(signals) == (["risk.band_red"] if fires else [])
    if fires:
        signal = signals[0]
        assert signal.key == "acct:risk.band_red:2026-11-18"
        assert "32" in signal.reason
        assert (str(previous) if previous else "no earlier band") in signal.reason


@pytest.mark.parametrize("band", [Band.YELLOW, Band.GREEN], ids=str)
def test_band_red_needs_a_red_band(band: Band) -> None:
    assert _detect(result=_result(band), previous_band=Band.GREEN) == []


def test_band_red_follows_the_override_the_csm_sees() -> None:
    override = Override(band=Band.RED, author="Dana", expires=AS_OF + timedelta(days=30))
    to_red = _result(Band.RED, score=75.0, computed_band=Band.GREEN, override=override)
    signal = _one(_detect(result=to_red, previous_band=Band.GREEN), "risk.band_red")
    assert "Dana" in signal.reason
    assert "override" in signal.subject

    away_from_red = _result(
        Band.YELLOW, score=20.0, computed_band=Band.RED, override=Override(Band.YELLOW, "Dana", AS_OF)
    )
    assert _detect(result=away_from_red, previous_band=Band.YELLOW) == []


@pytest.mark.parametrize(
    ("age", "fires"),
    [
        pytest.param(7.0, False, id="7-days-boundary"),
        pytest.param(7.01, True, id="7.01-days"),
        pytest.param(30.0, True, id="30-days"),
        pytest.param(0.5, False, id="half-day"),
    ],
)
def test_critical_ticket_age(age: float, fires: bool) -> None:
    signals = _detect(_features(oldest_critical_ticket_age_days=age, oldest_critical_ticket_id="4711"))
    assert _codes(signals) == (["risk.critical_ticket"] if fires else [])


def test_critical_ticket_period_is_the_ticket() -> None:
    features = _features(
        oldest_critical_ticket_age_days=7.01, oldest_critical_ticket_id="4711", open_critical_tickets=3
    )
    signal = _one(_detect(features), "risk.critical_ticket")
    assert signal.key == "acct:risk.critical_ticket:4711"
    assert "#4711" in signal.reason
    assert "7.01 days" in signal.reason
    assert "3 critical tickets" in signal.reason


def test_critical_ticket_without_id_uses_the_month() -> None:
    signal = _one(_detect(_features(oldest_critical_ticket_age_days=9.0)), "risk.critical_ticket")
    assert signal.key == "acct:risk.critical_ticket:2026-11"


@pytest.mark.parametrize(
    ("nps", "code"),
    [
        pytest.param(0, "risk.detractor", id="0-detractor"),
        pytest.param(6, "risk.detractor", id="6-detractor"),
        pytest.param(7, None, id="7-passive"),
        pytest.param(8, None, id="8-passive"),
        pytest.param(9, "expansion.promoter", id="9-promoter"),
        pytest.param(10, "expansion.promoter", id="10-promoter"),
    ],
)
def test_nps(nps: int, code: str | None) -> None:
    assert _codes(_detect(_features(last_nps=nps))) == ([code] if code else [])


@pytest.mark.parametrize(
    ("answered", "period"),
    [
        pytest.param(date(2026, 10, 2), "2026-10-02", id="answer-date"),
        pytest.param(None, "2026-11", id="month-when-unknown"),
    ],
)
@pytest.mark.parametrize("nps", [3, 10], ids=["detractor", "promoter"])
def test_nps_period(nps: int, answered: date | None, period: str) -> None:
    (signal,) = _detect(_features(last_nps=nps, last_nps_at=answered))
    assert signal.key.endswith(f":{period}")
    assert f"{nps} out of 10" in signal.reason


# --- renewal -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stage", "days", "priority"),
    [
        pytest.param(RenewalStage.PREPARATION, 110, TaskPriority.MEDIUM, id="preparation"),
        pytest.param(RenewalStage.INITIATION, 80, TaskPriority.MEDIUM, id="initiation"),
        pytest.param(RenewalStage.NEGOTIATION, 45, TaskPriority.MEDIUM, id="negotiation"),
        pytest.param(RenewalStage.APPROVAL, 20, TaskPriority.HIGH, id="approval"),
    ],
)
def test_renewal_stage_signal(stage: RenewalStage, days: int, priority: TaskPriority) -> None:
    end = AS_OF + timedelta(days=days)
    features = _features(contract_end=end, days_to_contract_end=days)
    signal = _one(_detect(features, stage=stage), f"renewal.{stage.value.lower()}")
    assert signal.key == f"acct:renewal.{stage.value.lower()}:{end.isoformat()}"
    assert signal.kind is SignalKind.RENEWAL
    assert signal.priority is priority
    assert signal.due_in_days == 7
    assert stage.value in signal.subject
    assert f"{days} days" in signal.reason


def test_renewal_reason_lists_the_stage_actions() -> None:
    features = _features(contract_end=AS_OF + timedelta(days=100), days_to_contract_end=100)
    signal = _one(_detect(features, stage=RenewalStage.PREPARATION), "renewal.preparation")
    assert "quarterly business review" in signal.reason
    assert "health" in signal.reason


@pytest.mark.parametrize(
    "stage", [None, RenewalStage.RENEWED, RenewalStage.CHURNED], ids=["no-stage", "renewed", "churned"]
)
def test_no_renewal_signal_outside_open_stages(stage: RenewalStage | None) -> None:
    features = _features(contract_end=AS_OF + timedelta(days=20), days_to_contract_end=20)
    assert _detect(features, stage=stage) == []


def test_renewal_needs_the_contract_end() -> None:
    assert _detect(_features(days_to_contract_end=20), stage=RenewalStage.APPROVAL) == []


def test_late_approval_is_flagged_and_due_before_the_end() -> None:
    features = _features(contract_end=AS_OF + timedelta(days=3))  # days derived from the end date
    signal = _one(_detect(features, stage=RenewalStage.APPROVAL), "renewal.approval")
    assert signal.due_in_days == 3
    assert "3 days" in signal.reason
    assert "Fewer than 15 days" in signal.reason


# --- onboarding ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("days_in", "codes"),
    [
        pytest.param(29, [], id="day-29"),
        pytest.param(30, ["onboarding.day30"], id="day-30"),
        pytest.param(43, ["onboarding.day30"], id="day-43-last-grace-day"),
        pytest.param(44, [], id="day-44-grace-over"),
        pytest.param(89, [], id="day-89"),
        pytest.param(90, ["onboarding.day90"], id="day-90"),
        pytest.param(103, ["onboarding.day90"], id="day-103"),
        pytest.param(104, [], id="day-104"),
    ],
)
def test_onboarding_checkpoints(days_in: int, codes: list[str]) -> None:
    start = AS_OF - timedelta(days=days_in)
    features = _features(contract_start=start, days_since_contract_start=days_in)
    signals = _detect(features)
    assert _codes(signals) == codes
    for signal in signals:
        assert signal.key == f"acct:{signal.code}:{start.isoformat()}"
        assert signal.priority is TaskPriority.MEDIUM
        assert signal.due_in_days == 3


def test_onboarding_names_the_checkpoint() -> None:
    def subject(days_in: int) -> str:
        start = AS_OF - timedelta(days=days_in)
        (signal,) = _detect(_features(contract_start=start))  # days derived from the start date
        return signal.subject

    assert "checkpoint call" in subject(30)
    assert "value review" in subject(90)


def test_onboarding_needs_the_contract_start() -> None:
    assert _detect(_features(days_since_contract_start=30)) == []


def test_onboarding_key_is_stable_across_weekly_syncs() -> None:
    start = date(2026, 10, 1)
    keys = {
        _one(
            _detect(_features(contract_start=start), as_of=start + timedelta(days=d)), "onboarding.day30"
        ).key
        for d in (30, 37)
    }
    assert keys == {"acct:onboarding.day30:2026-10-01"}


# --- expansion -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("users", "licenses", "fires"),
    [
        pytest.param(80, 100, True, id="0.80-boundary"),
        pytest.param(79, 100, False, id="0.79"),
        pytest.param(4, 5, True, id="4-of-5"),
        pytest.param(12, 10, True, id="over-licensed"),
        pytest.param(5, 0, False, id="no-licenses"),
        pytest.param(None, 10, False, id="users-unknown"),
        pytest.param(9, None, False, id="licenses-unknown"),
    ],
)
def test_utilization(users: int | None, licenses: int | None, fires: bool) -> None:
    signals = _detect(_features(active_users=users, licenses=licenses))
    assert _codes(signals) == (["expansion.utilization"] if fires else [])


def test_utilization_signal_content() -> None:
    signal = _one(_detect(_features(active_users=46, licenses=50)), "expansion.utilization")
    assert signal.key == "acct:expansion.utilization:2026Q4"
    assert signal.priority is TaskPriority.LOW
    assert signal.due_in_days == 14
    assert "46 active users on 50 licenses (92%)" in signal.reason


@pytest.mark.parametrize(
    ("as_of", "quarter"),
    [
        pytest.param(date(2026, 1, 1), "2026Q1", id="jan"),
        pytest.param(date(2026, 3, 31), "2026Q1", id="mar"),
        pytest.param(date(2026, 4, 1), "2026Q2", id="apr"),
        pytest.param(date(2026, 9, 30), "2026Q3", id="sep"),
        pytest.param(date(2026, 12, 31), "2026Q4", id="dec"),
    ],
)
def test_quarter_period(as_of: date, quarter: str) -> None:
    (signal,) = _detect(_features(active_users=9, licenses=10), as_of=as_of)
    assert signal.key == f"acct:expansion.utilization:{quarter}"


@pytest.mark.parametrize(
    ("growth", "fires"),
    [
        pytest.param(1, True, id="1-seat"),
        pytest.param(12, True, id="12-seats"),
        pytest.param(0, False, id="no-change"),
        pytest.param(-3, False, id="shrank"),
    ],
)
def test_seat_growth(growth: int, fires: bool) -> None:
    signals = _detect(_features(seat_growth=growth))
    assert _codes(signals) == (["expansion.seat_growth"] if fires else [])
    if fires:
        assert signals[0].key == "acct:expansion.seat_growth:2026-11-18"


def test_seat_growth_grammar() -> None:
    (one,) = _detect(_features(seat_growth=1))
    assert "1 seat " in one.reason


# --- all together ------------------------------------------------------------------------------


def _everything() -> tuple[Features, HealthResult]:
    features = _features(
        usage_change_14d=-0.7,
        oldest_critical_ticket_age_days=12.5,
        oldest_critical_ticket_id="x" * 120,
        last_nps=2,
        active_users=10,
        licenses=10,
        seat_growth=3,
        contract_start=AS_OF - timedelta(days=30),
        contract_end=AS_OF + timedelta(days=25),
    )
    return features, _result(Band.RED, score=12.0)


def test_order_is_family_then_code() -> None:
    features, result = _everything()
    signals = _detect(features, result, previous_band=Band.YELLOW, stage=RenewalStage.APPROVAL)
    assert _codes(signals) == [
        "risk.band_red",
        "risk.critical_ticket",
        "risk.detractor",
        "risk.usage_drop",
        "renewal.approval",
        "onboarding.day30",
        "expansion.seat_growth",
        "expansion.utilization",
    ]


def test_keys_are_deterministic_and_subjects_fit() -> None:
    features, result = _everything()
    first = _detect(features, result, previous_band=None, stage=RenewalStage.APPROVAL)
    again = _detect(features, result, previous_band=None, stage=RenewalStage.APPROVAL)
    assert first == again
    assert len({signal.key for signal in first}) == len(first)
    for signal in first:
        assert signal.key.startswith(f"{ACCOUNT}:{signal.code}:")
        assert 0 < len(signal.subject) <= SUBJECT_MAX_CHARS
        assert signal.reason.endswith(".")


def test_accounts_must_match() -> None:
    with pytest.raises(ValueError, match="the result is for"):
        _detect(_features(), _result(account="other"))


def test_thresholds_are_configurable() -> None:
    thresholds = SignalThresholds(usage_drop=0.3, onboarding_checkpoints=(7,), onboarding_grace_days=7)
    features = _features(usage_change_14d=-0.35, contract_start=AS_OF - timedelta(days=10))
    assert _codes(_detect(features, thresholds=thresholds)) == ["risk.usage_drop", "onboarding.day7"]


# --- threshold validation ------------------------------------------------------------------------


def test_threshold_defaults() -> None:
    t = SignalThresholds()
    assert (t.usage_drop, t.critical_ticket_age_days, t.detractor_max, t.promoter_min) == (0.5, 7, 6, 9)
    assert (t.expansion_utilization, t.seat_growth_min) == (0.8, 1)
    assert (t.onboarding_checkpoints, t.onboarding_grace_days) == ((30, 90), 14)
    assert (t.risk_due_days, t.renewal_due_days, t.onboarding_due_days, t.expansion_due_days) == (1, 7, 3, 14)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        pytest.param({"usage_drop": 0.0}, "usage_drop", id="usage-drop-zero"),
        pytest.param({"usage_drop": 1.5}, "usage_drop", id="usage-drop-over-1"),
        pytest.param({"critical_ticket_age_days": -1}, "critical_ticket_age_days", id="ticket-age-negative"),
        pytest.param({"detractor_max": 11}, "detractor_max", id="detractor-over-10"),
        pytest.param({"promoter_min": -1}, "promoter_min", id="promoter-negative"),
        pytest.param({"detractor_max": 8, "promoter_min": 8}, "detractor_max", id="nps-bands-overlap"),
        pytest.param({"expansion_utilization": 0}, "expansion_utilization", id="utilization-zero"),
        pytest.param({"seat_growth_min": 0}, "seat_growth_min", id="seat-growth-zero"),
        pytest.param({"onboarding_checkpoints": (-5,)}, "onboarding_checkpoints", id="checkpoint-negative"),
        pytest.param(
            {"onboarding_checkpoints": (90, 30)}, "onboarding_checkpoints", id="checkpoints-unsorted"
        ),
        pytest.param({"onboarding_grace_days": 0}, "onboarding_grace_days", id="grace-zero"),
        pytest.param({"risk_due_days": -1}, "risk_due_days", id="risk-due-negative"),
        pytest.param({"renewal_due_days": -1}, "renewal_due_days", id="renewal-due-negative"),
        pytest.param({"onboarding_due_days": -1}, "onboarding_due_days", id="onboarding-due-negative"),
        pytest.param({"expansion_due_days": -1}, "expansion_due_days", id="expansion-due-negative"),
    ],
)
def test_threshold_validation(kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(ValueError, match=field):
        SignalThresholds(**kwargs)
