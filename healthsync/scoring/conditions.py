"""Rule conditions (`when = { gt = 15 }`) and the overlap test between two of them.

A condition is one operator and one value. Besides matching a signal value, each condition can be
seen as the set of values it accepts: numeric comparisons are intervals with open or closed ends,
`eq` and `in` are point sets. The rule loader uses that view to reject two rules on the same signal
that would both fire for some value, because a CSM reading "why 45?" must see one reading per
signal, not "15 days: medium logins" and "15 days: high logins" at once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

__all__ = [
    "OPERATORS",
    "Condition",
    "Operator",
    "Scalar",
    "format_scalar",
    "overlap",
]

Operator = Literal["gt", "gte", "lt", "lte", "eq", "between", "in"]
Scalar = int | float | bool | str

OPERATORS: tuple[Operator, ...] = ("gt", "gte", "lt", "lte", "eq", "between", "in")
"""The operators a `when` table may use, exactly one per rule."""

_SYMBOLS = {"gt": ">", "gte": "≥", "lt": "<", "lte": "≤", "eq": "="}


@dataclass(frozen=True)
class Condition:
    """One comparison of a signal value: `op` with its threshold(s).

    Attributes:
        op: the operator.
        value: a scalar for gt/gte/lt/lte/eq, `(lo, hi)` for between (both ends included), and a
            non-empty tuple of accepted values for in. The loader has already checked the types.
    """

    op: Operator
    value: Scalar | tuple[Scalar, ...]

    def matches(self, value: Scalar) -> bool:
        """True when `value` satisfies the condition; values of another type never do."""
        if self.op == "eq":
            return _same(value, self.value)
        if self.op == "in":
            return isinstance(self.value, tuple) and any(_same(value, v) for v in self.value)
        if isinstance(value, bool | str):
            return False
        if self.op == "between":
            lo, hi = self._bounds()
            return lo <= value <= hi
        threshold = self._threshold()
        if self.op == "gt":
            return value > threshold
        if self.op == "gte":
            return value >= threshold
        if self.op == "lt":
            return value < threshold
        return value <= threshold

    def describe(self) -> str:
        """The condition as a CSM reads it: "> 15", "5–15", "= true", "in {9, 10}"."""
        if self.op == "between":
            lo, hi = self._bounds()
            return f"{format_scalar(lo)}–{format_scalar(hi)}"
        if isinstance(self.value, tuple):
            return "in {" + ", ".join(_literal(v) for v in self.value) + "}"
        return f"{_SYMBOLS[self.op]} {_literal(self.value)}"

    def _threshold(self) -> float:
        value = self.value
        assert isinstance(value, int | float)
        return value

    def _bounds(self) -> tuple[float, float]:
        value = self.value
        assert isinstance(value, tuple)
        lo, hi = value
        assert isinstance(lo, int | float)
        assert isinstance(hi, int | float)
        return lo, hi


def format_scalar(value: Scalar) -> str:
    """Render a value for people: 7.0 as "7", 0.3333 as "0.33", True as "yes"."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        rounded = round(value, 2)
        if rounded == 0 and value != 0:
            return f"{value:.2g}"
        if rounded.is_integer():
            return str(int(rounded))
        return repr(rounded)
    return value


def _literal(value: Scalar) -> str:
    """A value as written in a rule file, so condition descriptions match what the user wrote."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    return format_scalar(value)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _same(a: object, b: object) -> bool:
    """Equality that does not let True equal 1 or "1" equal 1."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, str) or isinstance(b, str):
        return isinstance(a, str) and isinstance(b, str) and a == b
    return a == b


@dataclass(frozen=True)
class _Interval:
    lo: float
    lo_closed: bool
    hi: float
    hi_closed: bool


def _region(condition: Condition) -> _Interval | tuple[Scalar, ...]:
    """The values `condition` accepts: an interval, or a set of points (eq, in)."""
    inf = math.inf
    op, value = condition.op, condition.value
    if op == "in":
        assert isinstance(value, tuple)
        return value
    if op == "eq":
        assert not isinstance(value, tuple)
        return (value,)
    if op == "between":
        lo, hi = condition._bounds()
        return _Interval(lo, True, hi, True)
    threshold = condition._threshold()
    if op in ("gt", "gte"):
        return _Interval(threshold, op == "gte", inf, False)
    return _Interval(-inf, False, threshold, op == "lte")


def _contains(interval: _Interval, value: Scalar) -> bool:
    if not _is_number(value):
        return False
    assert isinstance(value, int | float)
    above = value > interval.lo or (interval.lo_closed and value == interval.lo)
    below = value < interval.hi or (interval.hi_closed and value == interval.hi)
    return above and below


def _intersect(a: _Interval, b: _Interval) -> _Interval:
    if a.lo > b.lo:
        lo, lo_closed = a.lo, a.lo_closed
    elif b.lo > a.lo:
        lo, lo_closed = b.lo, b.lo_closed
    else:
        lo, lo_closed = a.lo, a.lo_closed and b.lo_closed
    if a.hi < b.hi:
        hi, hi_closed = a.hi, a.hi_closed
    elif b.hi < a.hi:
        hi, hi_closed = b.hi, b.hi_closed
    else:
        hi, hi_closed = a.hi, a.hi_closed and b.hi_closed
    return _Interval(lo, lo_closed, hi, hi_closed)


def _describe_interval(interval: _Interval, *, integer: bool) -> str | None:
    """Describe a non-empty interval ("16–20", "≥ 16", "> 0.5 and ≤ 0.8"), or None when empty."""
    lo, hi = interval.lo, interval.hi
    if integer:
        first: float = lo
        last: float = hi
        if math.isfinite(lo):  # the smallest whole value inside
            first = math.ceil(lo) if interval.lo_closed else math.floor(lo) + 1
        if math.isfinite(hi):  # the largest whole value inside
            last = math.floor(hi) if interval.hi_closed else math.ceil(hi) - 1
        if first > last:
            return None
        return _describe_closed(first, last)
    if lo > hi or (lo == hi and not (interval.lo_closed and interval.hi_closed)):
        return None
    if interval.lo_closed and interval.hi_closed:
        return _describe_closed(lo, hi)
    parts = []
    if math.isfinite(lo):
        parts.append(f"{'≥' if interval.lo_closed else '>'} {format_scalar(lo)}")
    if math.isfinite(hi):
        parts.append(f"{'≤' if interval.hi_closed else '<'} {format_scalar(hi)}")
    return " and ".join(parts) if parts else "any value"


def _describe_closed(first: float, last: float) -> str:
    if first == last:
        return format_scalar(first)
    if not math.isfinite(first) and not math.isfinite(last):
        return "any value"
    if not math.isfinite(first):
        return f"≤ {format_scalar(last)}"
    if not math.isfinite(last):
        return f"≥ {format_scalar(first)}"
    return f"{format_scalar(first)}–{format_scalar(last)}"


def overlap(a: Condition, b: Condition, *, integer: bool = False) -> str | None:
    """The values both conditions accept, described for a person, or None when they are disjoint.

    Args:
        a: one condition.
        b: another condition on the same signal.
        integer: the signal only takes whole values (a count), so `gt 15` and `lt 16` do not overlap.
    """
    ra, rb = _region(a), _region(b)
    if isinstance(ra, tuple) and isinstance(rb, tuple):
        common = [x for x in ra if any(_same(x, y) for y in rb)]
    elif isinstance(ra, tuple):
        assert isinstance(rb, _Interval)
        common = [x for x in ra if _contains(rb, x)]
    elif isinstance(rb, tuple):
        common = [x for x in rb if _contains(ra, x)]
    else:
        return _describe_interval(_intersect(ra, rb), integer=integer)
    if integer:
        common = [x for x in common if not isinstance(x, float) or x.is_integer()]
    return ", ".join(_literal(x) for x in common) if common else None
