"""Week-over-week trend: which history entry is the reference, and when a move counts."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from healthsync.model import Direction, Trend
from healthsync.scoring.trend import TrendSettings, compute_trend

TODAY = date(2026, 11, 18)


def _ago(days: int) -> date:
    return TODAY - timedelta(days=days)


def test_exactly_seven_days_ago() -> None:
    trend = compute_trend([(_ago(7), 60.0)], TODAY, 65.0)
    assert trend == Trend(delta=5.0, direction=Direction.UP, previous_score=60.0, previous_day=_ago(7))


def test_exact_day_beats_an_earlier_one() -> None:
    trend = compute_trend([(_ago(9), 40.0), (_ago(7), 60.0), (_ago(8), 50.0)], TODAY, 65.0)
    assert trend.previous_day == _ago(7)
    assert trend.previous_score == 60.0


@pytest.mark.parametrize(
    ("days_ago", "used"),
    [
        pytest.param(8, True, id="1-day-early"),
        pytest.param(10, True, id="3-days-early-tolerance-edge"),
        pytest.param(11, False, id="4-days-early-too-old"),
    ],
)
def test_tolerance_before_the_window(days_ago: int, used: bool) -> None:
    trend = compute_trend([(_ago(days_ago), 80.0)], TODAY, 70.0)
    if used:
        assert (trend.delta, trend.direction, trend.previous_day) == (-10.0, Direction.DOWN, _ago(days_ago))
    else:
        assert trend == Trend(delta=None, direction=None, previous_score=None)


def test_latest_entry_within_tolerance_wins() -> None:
    trend = compute_trend([(_ago(10), 30.0), (_ago(8), 50.0), (_ago(9), 40.0)], TODAY, 50.0)
    assert trend.previous_day == _ago(8)
    assert trend.direction is Direction.FLAT


@pytest.mark.parametrize("days_ago", [6, 5, 1, 0, -1], ids=lambda d: f"{d}-days-ago")
def test_later_entries_are_never_the_reference(days_ago: int) -> None:
    trend = compute_trend([(_ago(days_ago), 10.0)], TODAY, 70.0)
    assert trend.delta is None


def test_later_entries_ignored_next_to_a_valid_one() -> None:
    history = [(TODAY, 70.0), (_ago(5), 90.0), (_ago(9), 60.0), (_ago(3), 20.0)]
    trend = compute_trend(history, TODAY, 70.0)
    assert (trend.previous_day, trend.previous_score, trend.delta) == (_ago(9), 60.0, 10.0)


@pytest.mark.parametrize(
    ("score", "direction"),
    [
        pytest.param(52.0, Direction.FLAT, id="plus-2-flat"),
        pytest.param(48.0, Direction.FLAT, id="minus-2-flat"),
        pytest.param(50.0, Direction.FLAT, id="no-change"),
        pytest.param(52.01, Direction.UP, id="plus-2.01-up"),
        pytest.param(47.99, Direction.DOWN, id="minus-2.01-down"),
    ],
)
def test_flat_boundary(score: float, direction: Direction) -> None:
    assert compute_trend([(_ago(7), 50.0)], TODAY, score).direction is direction


def test_float_noise_does_not_tip_the_flat_boundary() -> None:
    assert 64.4 - 62.4 > 2.0  # the noise this guards against
    trend = compute_trend([(_ago(7), 62.4)], TODAY, 64.4)
    assert trend.delta == 2.0
    assert trend.direction is Direction.FLAT


def test_custom_flat_within() -> None:
    assert compute_trend([(_ago(7), 50.0)], TODAY, 55.0, flat_within=5.0).direction is Direction.FLAT
    assert compute_trend([(_ago(7), 50.0)], TODAY, 51.0, flat_within=0.0).direction is Direction.UP


def test_no_history() -> None:
    assert compute_trend([], TODAY, 70.0) == Trend(delta=None, direction=None, previous_score=None)


def test_repeated_day_last_entry_wins() -> None:
    trend = compute_trend([(_ago(7), 40.0), (_ago(7), 45.0)], TODAY, 50.0)
    assert trend.previous_score == 45.0


def test_other_window() -> None:
    history = [(_ago(30), 80.0), (_ago(7), 10.0)]
    trend = compute_trend(history, TODAY, 60.0, window_days=30, tolerance_days=0)
    assert (trend.delta, trend.direction, trend.window_days) == (-20.0, Direction.DOWN, 30)


def test_settings_defaults() -> None:
    assert TrendSettings() == TrendSettings(window_days=7, tolerance_days=3, flat_within=2.0)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        pytest.param({"window_days": 0}, "window_days", id="window-zero"),
        pytest.param({"tolerance_days": -1}, "tolerance_days", id="tolerance-negative"),
        pytest.param({"flat_within": -0.1}, "flat_within", id="flat-negative"),
        pytest.param({"flat_within": float("nan")}, "flat_within", id="flat-nan"),
    ],
)
def test_settings_validation(kwargs: dict[str, float], field: str) -> None:
    with pytest.raises(ValueError, match=field):
        TrendSettings(**kwargs)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=field):
        compute_trend([], TODAY, 50.0, **kwargs)  # type: ignore[arg-type]
