"""The views over an account's life: renewals coming up, onboarding, churn and renewals decided.

Split from `views` (which re-exports these) to keep each module small; the same conventions hold:
pure functions `(history, period, targets) -> Section`, every chart over a table of its section.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import date, timedelta

from healthsync.model import Band, ContractOutcome
from healthsync.report._index import Account, Index, band_key, display_name, index_of, money, plural
from healthsync.report.history import History, Outcome, Snapshot
from healthsync.report.model import Cell, Chart, Period, Section, Table
from healthsync.report.targets import Targets
from healthsync.scoring.renewal import DEFAULT_RENEWAL_WINDOWS, OPEN_STAGES, renewal_stage

__all__ = [
    "ONBOARDING_DAYS",
    "RENEWAL_DAYS",
    "churn_section",
    "onboarding_section",
    "quarter_of",
    "renewals_section",
]

RENEWAL_DAYS = 120
ONBOARDING_DAYS = 90
_PRIORITY = {"red": 0, "yellow": 1, "green": 2, "none": 3}
"""Renewals list order: red first, then yellow, green, unscored."""
_PHASES = (("0-30", 30), ("31-60", 60), ("61-90", 90))
"""Onboarding phases by days since the first contract start: (name, last day in it)."""


def _arr(account: Account, day: date) -> float:
    return account.last_arr(day) or 0.0


def quarter_of(day: date) -> str:
    """The calendar quarter of `day`, e.g. "2026-Q3"."""
    return f"{day.year}-Q{(day.month - 1) // 3 + 1}"


def _months(first: date, last: date) -> list[str]:
    out, year, month = [], first.year, first.month
    while (year, month) <= (last.year, last.month):
        out.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out


def renewals_section(history: History, period: Period, targets: Targets) -> Section:
    """Active accounts' contracts ending in (end, end + 120 days] that no outcome has decided yet:
    by renewal stage (`renewal_stage` on the days left), by calendar month, and as a list with red
    renewals first, then yellow, green and unscored, each by ARR (largest first)."""
    index, end = index_of(history), period.end
    horizon = end + timedelta(days=RENEWAL_DAYS)
    items: list[tuple[Snapshot, date, int, str, float]] = []
    for account, snap in index.active(end):
        ce = snap.contract_end
        if ce is None or not end < ce <= horizon:
            continue
        decided = index.decided.get((account.id, ce))
        stage = renewal_stage((ce - end).days, decided.outcome if decided and decided.day <= end else None)
        if stage in OPEN_STAGES:
            items.append((snap, ce, (ce - end).days, stage.value, _arr(account, end)))
    items.sort(key=lambda i: (_PRIORITY[band_key(i[0])], -i[4], i[2], i[0].account))
    stage_rows = []
    for stage, lower, upper in DEFAULT_RENEWAL_WINDOWS.windows:
        these = [i for i in items if i[3] == stage.value]
        stage_rows.append((stage.value, f"{upper}-{lower + 1}", len(these), sum(i[4] for i in these)))
    month_rows = []
    for month in _months(end + timedelta(days=1), horizon):
        these = [i for i in items if i[1].isoformat()[:7] == month]
        month_rows.append((month, len(these), sum(i[4] for i in these)))
    rows = tuple(
        (s.account, display_name(s), s.owner, band_key(s), s.score, ce.isoformat(), days, arr, stage)
        for s, ce, days, stage, arr in items
    )
    at_risk = sum(i[4] for i in items if band_key(i[0]) in ("red", "yellow"))
    total = sum(i[4] for i in items)
    summary = (
        f"{plural(len(items), 'renewal')} in the next {RENEWAL_DAYS} days ({money(total)} ARR); "
        f"at-risk ARR (red + yellow): {money(at_risk)}."
    )
    return Section(
        "renewals",
        f"Renewals in the next {RENEWAL_DAYS} days",
        summary,
        tables=(
            Table(
                "renewals_by_stage",
                "Renewals by stage",
                ("stage", "days left", "accounts", "arr"),
                tuple(stage_rows),
            ),
            Table("renewals_by_month", "Renewals by month", ("month", "accounts", "arr"), tuple(month_rows)),
            Table(
                "renewals_list",
                "Renewals by priority (red, yellow, green; largest ARR first)",
                ("account", "name", "owner", "band", "score", "contract end", "days left", "arr", "stage"),
                rows,
            ),
        ),
        charts=(
            Chart(
                "renewals_stage_arr",
                "Renewal ARR by stage",
                "bar",
                "renewals_by_stage",
                "stage",
                ("arr",),
                "ARR",
            ),
            Chart(
                "renewals_month_arr",
                "Renewal ARR by month",
                "bar",
                "renewals_by_month",
                "month",
                ("arr",),
                "ARR",
            ),
        ),
    )


def onboarding_section(history: History, period: Period, targets: Targets) -> Section:
    """Active accounts whose first contract started 0-90 days before end, by 30-60-90 phase, with
    their checkpoint: value milestone reached by end (and on which day) and band."""
    index, end = index_of(history), period.end
    found: list[tuple[int, str, tuple[Cell, ...]]] = []
    phases: dict[str, Counter[str]] = {name: Counter() for name, _ in _PHASES}
    for account, snap in index.active(end):
        start = history.starts.get(account.id)
        begun = start.first_contract_start if start else None
        if start is None or begun is None or not 0 <= (end - begun).days <= ONBOARDING_DAYS:
            continue
        age = (end - begun).days
        phase = next(name for name, upper in _PHASES if age <= upper)
        reached = start.value_day is not None and start.value_day <= end
        phases[phase]["reached" if reached else "not yet"] += 1
        phases[phase]["at risk"] += snap.band in (Band.RED, Band.YELLOW)
        value_day = start.value_day.isoformat() if reached and start.value_day else None
        row = (
            account.id,
            display_name(snap),
            snap.owner,
            phase,
            begun.isoformat(),
            age,
            "yes" if reached else "no",
            value_day,
            band_key(snap),
            snap.score,
            _arr(account, end),
        )
        found.append((age, account.id, row))
    rows = [row for _, _, row in sorted(found, key=lambda f: (f[0], f[1]))]
    phase_rows = tuple(
        (name, c["reached"] + c["not yet"], c["reached"], c["not yet"], c["at risk"])
        for name, c in phases.items()
    )
    reached_total = sum(c["reached"] for c in phases.values())
    return Section(
        "onboarding",
        "Onboarding (first 90 days)",
        f"{plural(len(rows), 'account')} in their first {ONBOARDING_DAYS} days; {reached_total} reached "
        f"the value milestone ({targets.value_milestone}).",
        tables=(
            Table(
                "onboarding_phases",
                "Onboarding by phase",
                ("phase", "accounts", "reached", "not yet", "at risk"),
                phase_rows,
            ),
            Table(
                "onboarding_accounts",
                "Accounts in onboarding",
                (
                    "account",
                    "name",
                    "owner",
                    "phase",
                    "contract start",
                    "days since start",
                    "value reached",
                    "value day",
                    "band",
                    "score",
                    "arr",
                ),
                tuple(rows),
            ),
        ),
        charts=(
            Chart(
                "onboarding_checkpoint",
                "Value milestone by phase",
                "stacked_bar",
                "onboarding_phases",
                "phase",
                ("reached", "not yet"),
                "accounts",
            ),
        ),
    )


def _outcome_arr(index: Index, outcome: Outcome) -> tuple[float | None, bool]:
    """The ARR a decision was about, and whether it is an estimate.

    The account's last known ARR on or before the decision day; else the outcome's ARR (a renewal's
    amount, or the ARR a churn lost). A churn recorded by a healthsync before state schema 3 and
    decided before the loaded window has neither: then the earliest ARR loaded stands in for it (a
    CRM keeps an account's ARR after a lost renewal), flagged as an estimate.
    """
    account = index.accounts.get(outcome.account)
    arr = account.last_arr(outcome.day) if account else None
    if arr is not None or outcome.arr is not None:
        return (arr if arr is not None else outcome.arr), False
    later = next((s.arr for s in account.snapshots if s.arr is not None), None) if account else None
    return later, later is not None


def _churn_note(arrs: Iterable[tuple[float | None, bool]]) -> str | None:
    arrs = list(arrs)
    estimated = sum(1 for arr, guess in arrs if guess)
    unknown = sum(1 for arr, _ in arrs if arr is None)
    parts = []
    if estimated:
        parts.append(
            f"{plural(estimated, 'churn')} decided before the loaded history: ARR is the account's "
            "earliest loaded ARR, after the churn."
        )
    if unknown:
        parts.append(f"{plural(unknown, 'churn')} without a known ARR: counted as 0.")
    return " ".join(parts) or None


def _name(index: Index, account: str) -> str:
    known = index.accounts.get(account)
    return display_name(known.snapshots[-1]) if known else account


def _by(keys: Iterable[tuple[tuple[str, ...], float | None]]) -> dict[tuple[str, ...], list[float]]:
    totals: dict[tuple[str, ...], list[float]] = defaultdict(lambda: [0, 0.0])
    for key, arr in keys:
        totals[key][0] += 1
        totals[key][1] += arr or 0.0
    return totals


def churn_section(history: History, period: Period, targets: Targets) -> Section:
    """Every churn recorded up to end, by calendar quarter of its decision day x loss reason, with
    count and ARR (the last known ARR on or before that day, else the deal amount); renewals won
    per quarter alongside, for context."""
    index, end = index_of(history), period.end
    churns = sorted(
        (o for o in history.outcomes if o.outcome == ContractOutcome.CHURNED and o.day <= end),
        key=lambda o: (o.day, o.account),
        reverse=True,
    )
    found = {id(o): _outcome_arr(index, o) for o in churns}
    arrs = {key: arr for key, (arr, _) in found.items()}
    reason = {id(o): o.reason or "not recorded" for o in churns}
    by_quarter = _by(((quarter_of(o.day), reason[id(o)]), arrs[id(o)]) for o in churns)
    by_reason = _by(((reason[id(o)],), arrs[id(o)]) for o in churns)
    won = _by(
        ((quarter_of(o.day),), o.arr if o.arr is not None else _outcome_arr(index, o)[0])
        for o in history.outcomes
        if o.outcome == ContractOutcome.RENEWED and o.day <= end
    )
    note = _churn_note(found.values())
    in_period = [o for o in churns if period.start < o.day <= end]
    top = max(by_reason.items(), key=lambda kv: (kv[1][0], kv[1][1]), default=None)
    lost = sum(arrs[id(o)] or 0.0 for o in in_period)
    summary = (
        f"{plural(len(in_period), 'account')} churned in the period ({money(lost)} ARR); "
        f"{plural(len(churns), 'churn')} recorded in all" + (f", most often for {top[0][0]}." if top else ".")
    )
    return Section(
        "churn",
        "Churn and its reasons",
        summary,
        tables=(
            Table(
                "churn_by_quarter",
                "Churn by quarter and reason",
                ("quarter", "reason", "accounts", "arr"),
                tuple((*k, int(v[0]), v[1]) for k, v in sorted(by_quarter.items())),
                note=note,
            ),
            Table(
                "churn_by_reason",
                "Churn by reason",
                ("reason", "accounts", "arr"),
                tuple(
                    (k[0], int(v[0]), v[1])
                    for k, v in sorted(by_reason.items(), key=lambda kv: (-kv[1][1], kv[0]))
                ),
                note=note,
            ),
            Table(
                "churned_accounts",
                "Churned accounts (latest first)",
                ("account", "name", "decided", "quarter", "reason", "arr"),
                tuple(
                    (
                        o.account,
                        _name(index, o.account),
                        o.day.isoformat(),
                        quarter_of(o.day),
                        reason[id(o)],
                        arrs[id(o)],
                    )
                    for o in churns
                ),
            ),
            Table(
                "renewals_won",
                "Renewals won by quarter",
                ("quarter", "renewals", "arr"),
                tuple((k[0], int(v[0]), v[1]) for k, v in sorted(won.items())),
            ),
        ),
        charts=(
            Chart(
                "churn_reason_arr",
                "Churned ARR by reason",
                "bar",
                "churn_by_reason",
                "reason",
                ("arr",),
                "ARR",
            ),
            Chart(
                "renewals_won_arr",
                "Renewed ARR by quarter",
                "bar",
                "renewals_won",
                "quarter",
                ("arr",),
                "ARR",
            ),
        ),
    )
