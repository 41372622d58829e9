"""The portfolio views: pure functions `(history, period, targets) -> Section` of tables and charts.

Every chart draws columns of a table in its own section, so the page shows the same numbers as text
(printing, screen readers) and the CSV export has them. Tables carry every row; renderers decide
how many to show. Views describe the portfolio on the period's end day: the accounts seen in the
last 90 days and not churned (`Index.active`), each as its latest snapshot on or before that day.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import date, timedelta
from statistics import median

from healthsync.model import Band, SignalKind
from healthsync.report._index import BANDS, Account, band_key, display_name, index_of, money, plural
from healthsync.report._views_lifecycle import (
    ONBOARDING_DAYS,
    RENEWAL_DAYS,
    churn_section,
    onboarding_section,
    quarter_of,
    renewals_section,
)
from healthsync.report.history import History, Snapshot
from healthsync.report.model import Cell, Chart, Period, Section, Table
from healthsync.report.targets import Targets

__all__ = [
    "MOVEMENT_DAYS",
    "ONBOARDING_DAYS",
    "RENEWAL_DAYS",
    "TOP_AT_RISK",
    "all_sections",
    "at_risk_section",
    "bands_section",
    "churn_section",
    "expansion_section",
    "onboarding_section",
    "quarter_of",
    "renewals_section",
    "scores_section",
]

MOVEMENT_DAYS = 7
"""Band movement compares with the portfolio this many days before the end day."""
TOP_AT_RISK = 20
_RANK = {"red": 0, "yellow": 1, "green": 2}
"""Band order for "moved up/down"; an unscored account moves neither way."""


def _arr(account: Account, day: date) -> float:
    return account.last_arr(day) or 0.0


def bands_section(history: History, period: Period, targets: Targets) -> Section:
    """Accounts and ARR by band on the end day, and how bands moved since a week before it.

    Movement compares each active account's latest snapshot on or before end - 7 days with its
    latest on or before end; "new" is an account not synced yet a week ago.
    """
    index, end = index_of(history), period.end
    week_ago = end - timedelta(days=MOVEMENT_DAYS)
    counts: Counter[str] = Counter()
    arr: dict[str, float] = defaultdict(float)
    moves: dict[str, Counter[str]] = {b: Counter() for b in (*BANDS, "new")}
    up = down = 0
    for account, snap in index.active(end):
        now = band_key(snap)
        counts[now] += 1
        arr[now] += _arr(account, end)
        before = account.latest(week_ago)
        then = band_key(before) if before is not None else "new"
        moves[then][now] += 1
        if then in _RANK and now in _RANK:
            up += _RANK[now] > _RANK[then]
            down += _RANK[now] < _RANK[then]
    summary_table = Table(
        "band_summary",
        "Accounts and ARR by band",
        ("band", "accounts", "arr"),
        tuple((b, counts[b], arr[b]) for b in BANDS),
    )
    movement = Table(
        "band_movement",
        f"Band movement since {week_ago.isoformat()} (accounts, from row band to column band)",
        ("from", *BANDS),
        tuple((b, *(moves[b][to] for to in BANDS)) for b in (*BANDS, "new")),
        note=f"Latest snapshot on or before {week_ago.isoformat()} against the latest on or before "
        f"{end.isoformat()}; 'new' accounts were not synced a week before.",
    )
    total = sum(counts.values())
    summary = (
        f"{plural(total, 'active account')}: {counts['green']} green, {counts['yellow']} yellow, "
        f"{counts['red']} red, {counts['none']} without a score; {down} moved down and {up} moved up "
        "in the last week."
    )
    return Section(
        "bands",
        "Health bands",
        summary,
        tables=(summary_table, movement),
        charts=(
            Chart(
                "band_accounts", "Accounts by band", "bar", "band_summary", "band", ("accounts",), "accounts"
            ),
            Chart("band_arr", "ARR by band", "bar", "band_summary", "band", ("arr",), "ARR"),
            Chart(
                "band_moves",
                "Where last week's bands are now",
                "stacked_bar",
                "band_movement",
                "from",
                BANDS,
                "accounts",
            ),
        ),
    )


def scores_section(history: History, period: Period, targets: Targets) -> Section:
    """The score distribution on the end day (10-point buckets; 100 is in the top one), and per
    sync day in (start, end] the mean and median score of that day's snapshots and their bands."""
    index, end = index_of(history), period.end
    buckets = [0] * 10
    for _, snap in index.active(end):
        if snap.score is not None:
            buckets[min(9, max(0, int(snap.score // 10)))] += 1
    labels = [f"{lo}-{lo + 9}" for lo in range(0, 90, 10)] + ["90-100"]
    distribution = Table(
        "score_distribution",
        "Accounts by score",
        ("score", "accounts"),
        tuple(zip(labels, buckets, strict=True)),
    )
    scores: dict[date, list[float]] = defaultdict(list)
    bands: dict[date, Counter[str]] = defaultdict(Counter)
    for account in index.accounts.values():
        for snap in account.between(period.start, end):
            bands[snap.day][band_key(snap)] += 1
            if snap.score is not None:
                scores[snap.day].append(snap.score)
    rows: list[tuple[Cell, ...]] = []
    for day in sorted(bands):
        values = scores.get(day, [])
        mean = round(sum(values) / len(values), 1) if values else None
        mid = round(float(median(values)), 1) if values else None
        rows.append((day.isoformat(), mean, mid, len(values), *(bands[day][b] for b in BANDS[:3])))
    trend = Table(
        "score_trend",
        "Scores per sync day",
        ("day", "mean", "median", "scored", "green", "yellow", "red"),
        tuple(rows),
        note="Each sync day's snapshots (the accounts that sync saw).",
    )
    scored = sum(buckets)
    latest = f"; on {rows[-1][0]} the mean was {rows[-1][1]} and the median {rows[-1][2]}" if rows else ""
    return Section(
        "scores",
        "Health scores",
        f"{plural(scored, 'active account')} with a score{latest}.",
        tables=(distribution, trend),
        charts=(
            Chart(
                "score_histogram",
                "Accounts by score",
                "histogram",
                "score_distribution",
                "score",
                ("accounts",),
                "accounts",
            ),
            Chart(
                "score_trend",
                "Mean and median score",
                "line",
                "score_trend",
                "day",
                ("mean", "median"),
                "score",
            ),
            Chart("band_trend", "Accounts per band", "line", "score_trend", "day", BANDS[:3], "accounts"),
        ),
    )


def at_risk_section(history: History, period: Period, targets: Targets) -> Section:
    """The 20 red or yellow accounts with the most ARR, with the reasons behind their score."""
    index, end = index_of(history), period.end
    risky = [(s, _arr(a, end)) for a, s in index.active(end) if s.band in (Band.RED, Band.YELLOW)]
    risky.sort(key=lambda i: (-i[1], i[0].account))
    rows = tuple(
        (
            s.account,
            display_name(s),
            s.owner,
            band_key(s),
            s.score,
            arr,
            s.contract_end.isoformat() if s.contract_end else None,
            "; ".join(s.reasons),
        )
        for s, arr in risky[:TOP_AT_RISK]
    )
    total = sum(arr for _, arr in risky)
    return Section(
        "at_risk",
        "Top at-risk accounts",
        f"{plural(len(risky), 'red or yellow account')} with {money(total)} ARR; the {len(rows)} largest "
        "are listed.",
        tables=(
            Table(
                "at_risk_accounts",
                f"Top {TOP_AT_RISK} red and yellow accounts by ARR",
                ("account", "name", "owner", "band", "score", "arr", "contract end", "reasons"),
                rows,
            ),
        ),
        charts=(
            Chart(
                "at_risk_arr", "At-risk ARR by account", "hbar", "at_risk_accounts", "name", ("arr",), "ARR"
            ),
        ),
    )


def expansion_section(history: History, period: Period, targets: Targets) -> Section:
    """Active accounts whose latest snapshot carries an expansion signal, largest ARR first."""
    index, end = index_of(history), period.end
    found: list[tuple[Snapshot, float, list[str], list[str]]] = []
    for account, snap in index.active(end):
        signals = [n for n in snap.signals if n.kind == SignalKind.EXPANSION.value]
        if signals:
            found.append(
                (snap, _arr(account, end), [n.subject for n in signals], [n.reason for n in signals])
            )
    found.sort(key=lambda i: (-i[1], i[0].account))
    rows = tuple(
        (s.account, display_name(s), s.owner, band_key(s), arr, s.licenses, "; ".join(subj), "; ".join(why))
        for s, arr, subj, why in found
    )
    by_band = tuple(
        (b, sum(1 for f in found if band_key(f[0]) == b), sum(f[1] for f in found if band_key(f[0]) == b))
        for b in BANDS
    )
    return Section(
        "expansion",
        "Expansion candidates",
        f"{plural(len(found), 'account')} with an expansion signal ({money(sum(f[1] for f in found))} ARR).",
        tables=(
            Table(
                "expansion_candidates",
                "Accounts with an expansion signal",
                ("account", "name", "owner", "band", "arr", "licenses", "signal", "reason"),
                rows,
            ),
            Table("expansion_by_band", "Expansion candidates by band", ("band", "accounts", "arr"), by_band),
        ),
        charts=(
            Chart(
                "expansion_arr",
                "Expansion candidates' ARR by band",
                "bar",
                "expansion_by_band",
                "band",
                ("arr",),
                "ARR",
            ),
        ),
    )


_ALL = (
    bands_section,
    scores_section,
    renewals_section,
    at_risk_section,
    expansion_section,
    onboarding_section,
    churn_section,
)


def all_sections(history: History, period: Period, targets: Targets) -> tuple[Section, ...]:
    """Every view, in this order: bands, scores, renewals, at_risk, expansion, onboarding, churn."""
    return tuple(f(history, period, targets) for f in _ALL)
