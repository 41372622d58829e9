"""Week-over-week trend of a health score, from the account's score history (DESIGN.md section 5).

A score alone hides where an account is heading: 65 and rising beats 75 and falling. So the trend
(delta and direction) is written to the CRM next to the score, and a CSM reads both together.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from healthsync.model import Direction, Trend

__all__ = ["TrendSettings", "compute_trend"]

_DELTA_DECIMALS = 6
"""Deltas are rounded here so float noise (64.4 - 62.4 = 2.000000000000007) cannot tip the flat boundary."""


@dataclass(frozen=True)
class TrendSettings:
    """How the trend is measured; config builds one and passes its fields to `compute_trend`.

    Attributes:
        window_days: compare with the score this many days before today (7: week over week).
        tolerance_days: how many days *before* the window's start an entry may be and still count,
            because scheduled syncs drift; never after it, which would shorten the window.
        flat_within: a move of at most this many points either way is FLAT, not UP or DOWN.
    """

    window_days: int = 7
    tolerance_days: int = 3
    flat_within: float = 2.0

    def __post_init__(self) -> None:
        if self.window_days < 1:
            raise ValueError(f"window_days must be at least 1, got {self.window_days}")
        if self.tolerance_days < 0:
            raise ValueError(f"tolerance_days must not be negative, got {self.tolerance_days}")
        if not self.flat_within >= 0:  # also rejects NaN
            raise ValueError(f"flat_within must not be negative, got {self.flat_within}")


def compute_trend(
    history: Sequence[tuple[date, float]],
    today: date,
    score: float,
    *,
    window_days: int = 7,
    tolerance_days: int = 3,
    flat_within: float = 2.0,
) -> Trend:
    """Compare today's score with the score `window_days` earlier and say which way it moved.

    The trend exists because a score alone misleads: an account at 65 and rising is in better shape
    than one at 75 and falling, and a CSM should see that next to the number.

    The reference is the history entry dated exactly `today - window_days`. Syncs drift, so failing
    that, the latest entry up to `tolerance_days` *before* that day is used. A later entry is never
    used: a score from 5 days ago does not make a week-over-week trend. With no usable entry the
    trend is unknown (all None), not zero.

    Args:
        history: (day, score) pairs in any order. Entries dated today or later are ignored (the
            history may already hold today's own score). If a day appears twice, the pair that comes
            last in `history` wins, as a later run overwrites an earlier one.
        today: the day `score` was computed for.
        score: today's score.
        window_days: how far back to compare (see `TrendSettings`).
        tolerance_days: how much earlier than the window start an entry may be.
        flat_within: largest absolute delta still reported as FLAT (inclusive).

    Returns:
        The trend; `delta` is `score - previous_score`, rounded to 6 decimals.

    Raises:
        ValueError: a setting is out of range (see `TrendSettings`).
    """
    settings = TrendSettings(window_days=window_days, tolerance_days=tolerance_days, flat_within=flat_within)
    target = today - timedelta(days=settings.window_days)
    earliest = target - timedelta(days=settings.tolerance_days)

    by_day: dict[date, float] = {}
    for day, past_score in history:
        if earliest <= day <= target:
            by_day[day] = past_score
    if not by_day:
        return Trend(delta=None, direction=None, previous_score=None, window_days=settings.window_days)

    previous_day = max(by_day)
    previous_score = by_day[previous_day]
    delta = round(score - previous_score, _DELTA_DECIMALS)
    if abs(delta) <= settings.flat_within:
        direction = Direction.FLAT
    else:
        direction = Direction.UP if delta > 0 else Direction.DOWN
    return Trend(
        delta=delta,
        direction=direction,
        previous_score=previous_score,
        previous_day=previous_day,
        window_days=settings.window_days,
    )
