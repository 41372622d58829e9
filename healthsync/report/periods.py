"""The trailing periods metrics cover: a month or a quarter ending on the as-of day.

A period is (start, end]: its start is exclusive. The baseline of every metric is each account's
state ON the start day (its latest snapshot on or before `start`), and events (churns, ARR changes,
NPS answers, contract starts) count when their day is in (start, end]. So consecutive periods share
a boundary day without counting anything twice: the day that ends one is the baseline of the next.

Trailing windows rather than calendar months, so a report run on any day covers the last full month
of activity. "One month earlier" is the same day number in the previous month, clamped to that
month's last day (03-31 -> 02-28, or 02-29 in a leap year), as a person counts months.
"""

from __future__ import annotations

import calendar
from datetime import date
from typing import Literal

from healthsync.report.model import Period

__all__ = ["MONTHS", "months_before", "period_for", "previous"]

MONTHS: dict[str, int] = {"month": 1, "quarter": 3}
"""How many calendar months each period kind spans."""


def months_before(day: date, months: int) -> date:
    """`day` moved back `months` calendar months, clamped to the end of the month it lands in."""
    index = day.year * 12 + (day.month - 1) - months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(day.day, last))


def period_for(as_of: date, kind: Literal["month", "quarter"]) -> Period:
    """The trailing `kind` ending on `as_of`: (`as_of` minus one or three months, `as_of`].

    Raises:
        ValueError: `kind` is neither "month" nor "quarter".
    """
    if kind not in MONTHS:
        raise ValueError(f"period kind must be month or quarter, got {kind!r}")
    return Period(kind, months_before(as_of, MONTHS[kind]), as_of)


def previous(period: Period) -> Period:
    """The period of the same kind just before `period`: it ends on `period.start`.

    Clamping is not undone: the month before (02-28, 03-31] is (01-28, 02-28], since its end is
    the start of the later one and its start is one month before that end.
    """
    return period_for(period.start, period.kind)
