"""The portfolio metrics: one pure function per metric, `(history, period, targets) -> Metric`.

Conventions every metric shares (see `periods` for the period itself):

- The period is (start, end]. An account's state on a day is its latest snapshot on or before that
  day; "existing at start" means it has one on or before `start` and no CHURNED outcome decided on
  or before `start`. An account is churned from the day its first CHURNED outcome was decided.
- Snapshots without ARR are skipped (unknown, not zero): an account's ARR on a day is the latest
  known ARR on or before it.
- A metric the history cannot support has value None and a note saying why, never 0 %: no sync on
  or before the period's start ("not enough data since ..."), no responses, an empty cohort, or a
  zero denominator.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

from healthsync.report._index import Index, index_of
from healthsync.report.history import History
from healthsync.report.model import Cell, Comparison, Metric, Period
from healthsync.report.periods import MONTHS
from healthsync.report.targets import Targets
from healthsync.sync.features import USAGE_WINDOW_DAYS

__all__ = [
    "MONITORED_FROM_START_DAYS",
    "all_metrics",
    "baseline_note",
    "gross_revenue_retention",
    "lifetime_value",
    "logo_churn_rate",
    "ltv_to_cac",
    "net_promoter_score",
    "net_revenue_retention",
    "score_coverage",
    "time_to_value",
]

MONITORED_FROM_START_DAYS = USAGE_WINDOW_DAYS - 1
"""TTV only counts accounts healthsync first saw within this many days of their contract start: a
sync reads the last 30 days of usage (the as-of day and 29 before), so its first sync's window still
held the start day; for an account first seen later, the milestone may have passed unwatched."""

_Unit = Literal["%", "days", "money", "ratio", "score"]

_SPECS: dict[str, tuple[str, _Unit, Comparison]] = {
    "nrr": ("Net revenue retention", "%", ">"),
    "grr": ("Gross revenue retention", "%", ">"),
    "logo_churn": ("Logo churn rate", "%", "<"),
    "ltv": ("Customer lifetime value", "money", ">"),
    "ltv_cac": ("LTV / CAC", "ratio", ">"),
    "ttv": ("Time to value (median)", "days", "<"),
    "nps": ("NPS", "score", ">"),
    "coverage": ("Health score coverage", "%", ">="),
}
"""Label, unit and comparison per metric key. LTV has no target; its ">" only says more is better."""


def baseline_note(history: History, period: Period) -> str | None:
    """Why metrics that compare with the period's start cannot be computed, or None when they can:
    no snapshot was recorded on or before the start day, so nobody knows the state there."""
    if history.first_day is None:
        return "not enough data: no sync recorded yet"
    if history.first_day > period.start:
        return f"not enough data since {history.first_day.isoformat()}"
    return None


def _metric(
    key: str,
    period: Period,
    value: float | None,
    target: float | None,
    *,
    note: str | None = None,
    details: Mapping[str, Cell] | None = None,
) -> Metric:
    label, unit, comparison = _SPECS[key]
    return Metric(key, label, value, unit, target, comparison, period, note, dict(details or {}))


@dataclass(frozen=True)
class _Retention:
    arr_start: float
    expansion: float
    contraction: float
    churned_arr: float
    accounts_start: int

    def details(self) -> dict[str, Cell]:
        return {
            "arr_start": self.arr_start,
            "expansion": self.expansion,
            "contraction": self.contraction,
            "churned_arr": self.churned_arr,
            "accounts_start": self.accounts_start,
        }


def _retention(index: Index, period: Period) -> _Retention:
    """Walk each starting account's ARR through the period (see `net_revenue_retention`)."""
    arr_start = expansion = contraction = churned = 0.0
    accounts = 0
    for account in index.accounts.values():
        base = account.last_arr(period.start)
        if base is None or index.churned_by(account.id, period.start):
            continue
        accounts += 1
        arr_start += base
        churn = index.churn_in(account.id, period.start, period.end)
        last = base
        for snap in account.between(period.start, churn.day if churn else period.end):
            if snap.arr is None:
                continue
            if snap.arr > last:
                expansion += snap.arr - last
            else:
                contraction += last - snap.arr
            last = snap.arr
        if churn is not None:
            churned += last
    return _Retention(arr_start, expansion, contraction, churned, accounts)


def net_revenue_retention(history: History, period: Period, targets: Targets) -> Metric:
    """NRR = (ARR at start + expansion - contraction - churned ARR) / ARR at start x 100.

    The base is the accounts existing at start with a known ARR; ARR at start is their ARR on the
    start day. Each one's snapshots in (start, end] are walked in day order: every rise is
    expansion, every fall contraction. If it churned in the period (CHURNED outcome decided in
    (start, end]), the walk stops at the churn day and its churned ARR is the last ARR seen on or
    before that day. New logos (first seen after start) are not in the base or the numerator.
    """
    note = baseline_note(history, period)
    if note:
        return _metric("nrr", period, None, targets.nrr, note=note)
    r = _retention(index_of(history), period)
    if r.arr_start <= 0:
        return _metric(
            "nrr", period, None, targets.nrr, note="no ARR at the start of the period", details=r.details()
        )
    value = 100.0 * (r.arr_start + r.expansion - r.contraction - r.churned_arr) / r.arr_start
    return _metric("nrr", period, value, targets.nrr, details=r.details())


def gross_revenue_retention(history: History, period: Period, targets: Targets) -> Metric:
    """GRR = (ARR at start - contraction - churned ARR) / ARR at start x 100.

    The same base and walk as `net_revenue_retention`; expansion does not count, so GRR <= 100.
    """
    note = baseline_note(history, period)
    if note:
        return _metric("grr", period, None, targets.grr, note=note)
    r = _retention(index_of(history), period)
    if r.arr_start <= 0:
        return _metric(
            "grr", period, None, targets.grr, note="no ARR at the start of the period", details=r.details()
        )
    value = 100.0 * (r.arr_start - r.contraction - r.churned_arr) / r.arr_start
    return _metric("grr", period, value, targets.grr, details=r.details())


def _logo_counts(index: Index, period: Period) -> tuple[int, int]:
    """(accounts existing at start, how many of them churned in (start, end])."""
    at_start = churned = 0
    for account in index.accounts.values():
        if account.latest(period.start) is None or index.churned_by(account.id, period.start):
            continue
        at_start += 1
        if index.churn_in(account.id, period.start, period.end) is not None:
            churned += 1
    return at_start, churned


def _churn_target(period: Period, targets: Targets) -> tuple[float, str]:
    months = MONTHS[period.kind]
    if months == 1:
        return targets.logo_churn, f"{targets.logo_churn:g} % per month"
    target = (1 - (1 - targets.logo_churn / 100) ** months) * 100
    return target, f"{targets.logo_churn:g} % per month compounded over {months} months = {target:.2f} %"


def logo_churn_rate(history: History, period: Period, targets: Targets) -> Metric:
    """Logo churn = accounts existing at start that churned in (start, end] / accounts at start x 100.

    The target is per month; a quarter is judged by the compounded monthly target,
    (1 - (1 - t/100)^3) x 100 (14.26 % for 5 %), not 3 x t: a churned account cannot churn again.
    """
    target, basis = _churn_target(period, targets)
    note = baseline_note(history, period)
    if note:
        return _metric("logo_churn", period, None, target, note=note, details={"target_basis": basis})
    at_start, churned = _logo_counts(index_of(history), period)
    details: dict[str, Cell] = {"churned": churned, "accounts_start": at_start, "target_basis": basis}
    if at_start == 0:
        return _metric(
            "logo_churn", period, None, target, note="no accounts at the start of the period", details=details
        )
    return _metric("logo_churn", period, 100.0 * churned / at_start, target, details=details)


def _lifetime_value(history: History, period: Period) -> tuple[float | None, str | None, dict[str, Cell]]:
    note = baseline_note(history, period)
    if note:
        return None, note, {}
    index = index_of(history)
    at_start, churned = _logo_counts(index, period)
    arrs = [
        arr
        for account in index.accounts.values()
        if not index.churned_by(account.id, period.end) and (arr := account.last_arr(period.end)) is not None
    ]
    details: dict[str, Cell] = {"active_accounts": len(arrs), "churned": churned, "accounts_start": at_start}
    if not arrs:
        return None, "no active accounts with ARR at the end of the period", details
    average = sum(arrs) / len(arrs)
    details["avg_arr"] = average
    if at_start == 0:
        return None, "no accounts at the start of the period", details
    if churned == 0:
        return None, "no churned accounts in the period: lifetime cannot be estimated yet", details
    rate = churned / at_start
    monthly = 1 - (1 - rate) ** (1 / MONTHS[period.kind])
    annual = 1 - (1 - monthly) ** 12
    lifetime = 1 / annual
    details.update(monthly_churn=100 * monthly, annual_churn=100 * annual, lifetime_years=lifetime)
    return average * lifetime, None, details


def lifetime_value(history: History, period: Period, targets: Targets) -> Metric:
    """LTV = average ARR per active account at end x average lifetime in years.

    Active at end: an account's latest snapshot on or before end, not churned by end, with a known
    ARR. Lifetime = 1 / annual churn rate, annual = 1 - (1 - monthly)^12, where monthly is the
    period's logo churn rate (a quarter's rate q converted: 1 - (1 - q)^(1/3)). Without a churned
    account in the period there is no rate to estimate a lifetime from: value None. No target.
    """
    value, note, details = _lifetime_value(history, period)
    return _metric("ltv", period, value, None, note=note, details=details)


def ltv_to_cac(history: History, period: Period, targets: Targets) -> Metric:
    """LTV / CAC, with CAC from `[report] cac`; on target above `targets.ltv_cac` (3)."""
    note = baseline_note(history, period)
    if note:
        return _metric("ltv_cac", period, None, targets.ltv_cac, note=note)
    if targets.cac is None:
        return _metric("ltv_cac", period, None, targets.ltv_cac, note="set [report] cac to compare")
    ltv, ltv_note, _ = _lifetime_value(history, period)
    details: dict[str, Cell] = {"ltv": ltv, "cac": targets.cac}
    if ltv is None:
        return _metric("ltv_cac", period, None, targets.ltv_cac, note=ltv_note, details=details)
    return _metric("ltv_cac", period, ltv / targets.cac, targets.ltv_cac, details=details)


def time_to_value(history: History, period: Period, targets: Targets) -> Metric:
    """TTV = median days from first contract start to the value milestone, over a cohort.

    Cohort: accounts whose first contract start is in (start, end] and whom healthsync first saw
    within `MONITORED_FROM_START_DAYS` of it. Reached: a value day on or before end; its days are
    value day - contract start. Within target: reached in fewer than `ttv_days` days (the target is
    "<", so exactly 14 days is not within). The share within target is over the members whose
    result is known: those that reached it, and those not yet there but already `ttv_days` or more
    days past their start (they can no longer make it); younger members still waiting are left out.
    """
    start, end, target = period.start, period.end, targets.ttv_days
    watched = timedelta(days=MONITORED_FROM_START_DAYS)
    cohort = [
        (begun, s)
        for s in history.starts.values()
        if (begun := s.first_contract_start) is not None
        and start < begun <= end
        and s.first_seen <= begun + watched
    ]
    days: list[int] = []
    overdue = 0
    for begun, s in cohort:
        if s.value_day is not None and s.value_day <= end:
            days.append(max(0, (s.value_day - begun).days))
        elif (end - begun).days >= target:
            overdue += 1
    within = sum(1 for d in days if d < target)
    known = len(days) + overdue
    details: dict[str, Cell] = {
        "cohort": len(cohort),
        "reached": len(days),
        "not_yet": len(cohort) - len(days),
        "within_target": within,
        "share_within_target": 100.0 * within / known if known else None,
        "milestone": targets.value_milestone,
    }
    if not cohort:
        note = "no new accounts in the period (contract started in it, watched from its start)"
        return _metric("ttv", period, None, target, note=note, details=details)
    if not days:
        note = f"none of the {len(cohort)} new accounts has reached the value milestone yet"
        return _metric("ttv", period, None, target, note=note, details=details)
    return _metric("ttv", period, float(statistics.median(days)), target, details=details)


def net_promoter_score(history: History, period: Period, targets: Targets) -> Metric:
    """NPS = % promoters (9-10) - % detractors (0-6) over the answers given in (start, end].

    Passives (7-8) count in the total only. Answers outside 0-10 are ignored.
    """
    scores = [a.score for a in history.nps if period.start < a.day <= period.end and 0 <= a.score <= 10]
    promoters = sum(1 for s in scores if s >= 9)
    detractors = sum(1 for s in scores if s <= 6)
    details: dict[str, Cell] = {
        "responses": len(scores),
        "promoters": promoters,
        "passives": len(scores) - promoters - detractors,
        "detractors": detractors,
    }
    if not scores:
        return _metric(
            "nps", period, None, targets.nps, note="no NPS responses in the period", details=details
        )
    return _metric(
        "nps", period, 100.0 * (promoters - detractors) / len(scores), targets.nps, details=details
    )


def score_coverage(history: History, period: Period, targets: Targets) -> Metric:
    """Coverage = active accounts with a score from the last `coverage_days` days / active x 100.

    Active at end: latest snapshot on or before end within the last 90 days, not churned by end.
    Covered: a snapshot with a score on a day in (end - coverage_days, end].
    """
    index = index_of(history)
    recent = period.end - timedelta(days=targets.coverage_days)
    active = index.active(period.end)
    covered = sum(
        1 for account, _ in active if any(s.score is not None for s in account.between(recent, period.end))
    )
    details: dict[str, Cell] = {"active": len(active), "covered": covered, "days": targets.coverage_days}
    if not active:
        note = "no active accounts at the end of the period"
        return _metric("coverage", period, None, targets.coverage, note=note, details=details)
    return _metric("coverage", period, 100.0 * covered / len(active), targets.coverage, details=details)


_ALL = (
    net_revenue_retention,
    gross_revenue_retention,
    logo_churn_rate,
    lifetime_value,
    ltv_to_cac,
    time_to_value,
    net_promoter_score,
    score_coverage,
)


def all_metrics(history: History, period: Period, targets: Targets) -> tuple[Metric, ...]:
    """Every metric, always in this order: nrr, grr, logo_churn, ltv, ltv_cac, ttv, nps, coverage."""
    return tuple(f(history, period, targets) for f in _ALL)
