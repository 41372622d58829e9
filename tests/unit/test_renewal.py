"""Renewal stages by days to contract end, their windows, and forward-only ordering."""

from __future__ import annotations

import pytest

from healthsync.model import ContractOutcome, RenewalStage
from healthsync.scoring.renewal import (
    DEFAULT_RENEWAL_WINDOWS,
    OPEN_STAGES,
    STAGE_ACTIONS,
    RenewalWindows,
    is_late_approval,
    next_stage_is_forward,
    renewal_stage,
    stage_order,
)

PREP = RenewalStage.PREPARATION
INIT = RenewalStage.INITIATION
NEG = RenewalStage.NEGOTIATION
APPR = RenewalStage.APPROVAL
RENEWED = RenewalStage.RENEWED
CHURNED = RenewalStage.CHURNED


@pytest.mark.parametrize(
    ("days", "expected"),
    [
        pytest.param(121, None, id="121-too-early"),
        pytest.param(120, PREP, id="120-preparation"),
        pytest.param(91, PREP, id="91-preparation"),
        pytest.param(90, INIT, id="90-initiation"),
        pytest.param(61, INIT, id="61-initiation"),
        pytest.param(60, NEG, id="60-negotiation"),
        pytest.param(31, NEG, id="31-negotiation"),
        pytest.param(30, APPR, id="30-approval"),
        pytest.param(15, APPR, id="15-approval"),
        pytest.param(14, APPR, id="14-late-approval"),
        pytest.param(0, APPR, id="0-end-day-approval"),
        pytest.param(-1, None, id="minus1-lapsed"),
        pytest.param(None, None, id="unknown-end"),
    ],
)
def test_stage_by_days_to_end(days: int | None, expected: RenewalStage | None) -> None:
    assert renewal_stage(days) == expected


@pytest.mark.parametrize(
    ("days", "outcome", "expected"),
    [
        pytest.param(45, ContractOutcome.RENEWED, RENEWED, id="renewed-mid-window"),
        pytest.param(None, ContractOutcome.RENEWED, RENEWED, id="renewed-no-end"),
        pytest.param(-10, ContractOutcome.RENEWED, RENEWED, id="renewed-after-end"),
        pytest.param(200, ContractOutcome.CHURNED, CHURNED, id="churned-far-out"),
        pytest.param(-1, ContractOutcome.CHURNED, CHURNED, id="churned-after-end"),
        pytest.param(10, None, APPR, id="no-outcome-uses-days"),
    ],
)
def test_recorded_outcome_wins_over_days(
    days: int | None, outcome: ContractOutcome | None, expected: RenewalStage
) -> None:
    assert renewal_stage(days, outcome) == expected


@pytest.mark.parametrize(
    ("days", "late"),
    [
        pytest.param(30, False, id="30"),
        pytest.param(15, False, id="15-playbook-floor"),
        pytest.param(14, True, id="14"),
        pytest.param(0, True, id="0"),
        pytest.param(-1, False, id="minus1-lapsed"),
        pytest.param(None, False, id="unknown"),
    ],
)
def test_is_late_approval(days: int | None, late: bool) -> None:
    assert is_late_approval(days) is late


def test_default_windows_are_the_playbook() -> None:
    assert DEFAULT_RENEWAL_WINDOWS.windows == (
        (PREP, 90, 120),
        (INIT, 60, 90),
        (NEG, 30, 60),
        (APPR, -1, 30),
    )


def test_custom_windows_move_the_boundaries() -> None:
    playbook_only = RenewalWindows(((PREP, 90, 120), (INIT, 60, 90), (NEG, 30, 60), (APPR, 14, 30)))
    assert renewal_stage(15, windows=playbook_only) == APPR
    assert renewal_stage(14, windows=playbook_only) is None
    shorter = RenewalWindows(((NEG, 30, 45), (APPR, -1, 30)))
    assert renewal_stage(46, windows=shorter) is None
    assert renewal_stage(45, windows=shorter) == NEG


@pytest.mark.parametrize(
    ("windows", "message"),
    [
        pytest.param((), "at least one", id="empty"),
        pytest.param(((PREP, 90, 120), (INIT, 60, 95)), "overlaps", id="overlap"),
        pytest.param(((PREP, 90, 120), (INIT, 60, 85)), "gap", id="gap"),
        pytest.param(((PREP, 90, 120), (PREP, 60, 90)), "twice", id="duplicate-stage"),
        pytest.param(((INIT, 90, 120), (PREP, 60, 90)), "later stage", id="out-of-stage-order"),
        pytest.param(((NEG, 30, 30),), "below upper", id="empty-window"),
        pytest.param(((APPR, -5, 30),), "past the contract end", id="below-day-0"),
        pytest.param(((RENEWED, -1, 30),), "set by date", id="outcome-stage"),
    ],
)
def test_windows_validation(windows: tuple[tuple[RenewalStage, int, int], ...], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        RenewalWindows(windows)


def test_stage_order_runs_preparation_to_outcome() -> None:
    assert stage_order(PREP) < stage_order(INIT) < stage_order(NEG) < stage_order(APPR)
    assert stage_order(APPR) < stage_order(RENEWED) == stage_order(CHURNED)


@pytest.mark.parametrize(
    ("current", "new", "forward"),
    [
        pytest.param(None, NEG, True, id="none-to-any"),
        pytest.param(PREP, INIT, True, id="prep-to-init"),
        pytest.param(PREP, APPR, True, id="skip-ahead"),
        pytest.param(APPR, RENEWED, True, id="approval-to-renewed"),
        pytest.param(NEG, CHURNED, True, id="negotiation-to-churned"),
        pytest.param(NEG, NEG, False, id="same-stage"),
        pytest.param(APPR, INIT, False, id="backward"),
        pytest.param(RENEWED, CHURNED, False, id="renewed-to-churned"),
        pytest.param(CHURNED, PREP, False, id="closed-deal"),
    ],
)
def test_next_stage_is_forward(current: RenewalStage | None, new: RenewalStage, forward: bool) -> None:
    assert next_stage_is_forward(current, new) is forward


def test_stage_actions_cover_open_stages_only() -> None:
    assert set(STAGE_ACTIONS) == set(OPEN_STAGES)
    assert all(actions and all(actions) for actions in STAGE_ACTIONS.values())
    with pytest.raises(TypeError):
        STAGE_ACTIONS[RENEWED] = ("celebrate",)  # type: ignore[index]
