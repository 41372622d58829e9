"""A hand-built portfolio report for the renderers' tests (HTML, CSV, the browser).

Every metric unit and status is there (on target, off target, no target, no data with a note), and
a section per chart kind (bar, stacked_bar, hbar, line, histogram) plus a table without a chart.
Account names and reasons carry markup so escaping shows: `HOSTILE` must appear as text, never run.
"""

from __future__ import annotations

from datetime import date, timedelta

from healthsync.report.model import Chart, Metric, Period, Report, Section, Table

__all__ = ["AS_OF", "HOSTILE", "PERIOD", "sample_report"]

AS_OF = date(2026, 10, 31)
PERIOD = Period("month", date(2026, 9, 30), date(2026, 10, 31))
HOSTILE = '<script>alert("x")</script> & Co'
"""An account name a test finds escaped in the HTML and quoted in the CSV."""


def _metrics() -> tuple[Metric, ...]:
    return (
        Metric(
            "nrr",
            "Net revenue retention",
            103.46,
            "%",
            100.0,
            ">",
            PERIOD,
            details={
                "arr_start": 1_200_000.0,
                "expansion": 62_000.0,
                "contraction": 8_500.0,
                "churned_arr": 12_000.0,
            },
        ),
        Metric("grr", "Gross revenue retention", 82.1, "%", 85.0, ">", PERIOD),
        Metric(
            "logo_churn", "Logo churn rate", 2.5, "%", 5.0, "<", PERIOD, details={"lost": 3, "at_start": 120}
        ),
        Metric("ltv", "Customer lifetime value", 1_234_567.0, "money", None, ">", PERIOD),
        Metric("ltv_cac", "LTV / CAC", 3.42, "ratio", 3.0, ">", PERIOD),
        Metric("ttv", "Time to value (median)", 12.0, "days", 14.0, "<", PERIOD),
        Metric("nps", "NPS", None, "score", 50.0, ">", PERIOD, note="not enough data since 2026-10-02"),
        Metric("coverage", "Health score coverage", 100.0, "%", 100.0, ">=", PERIOD),
    )


def _bands() -> Section:
    weeks = [AS_OF - timedelta(days=7 * i) for i in range(7, -1, -1)]
    trend = Table(
        "band_trend",
        "Accounts by band, weekly",
        ("week", "green", "yellow", "red"),
        tuple((w.isoformat(), 70 + i, 30 - i, 20 - (i % 3)) for i, w in enumerate(weeks)),
    )
    by_band = Table(
        "arr_by_band",
        "ARR by band",
        ("band", "accounts", "arr"),
        (("green", 77, 812_000.0), ("yellow", 23, 254_500.0), ("red", 18, 133_500.0), ("grey", 2, 0.0)),
    )
    movement = Table(
        "band_movement",
        "Band movement this week",
        ("from", "to", "accounts", "arr"),
        (("green", "yellow", 3, 21_000.0), ("yellow", "red", 2, 18_000.0), ("red", "yellow", 1, 6_000.0)),
        note="Compared with the snapshot 7 days before the as-of date.",
    )
    return Section(
        "bands",
        "Health bands",
        "118 accounts: 77 green, 23 yellow, 18 red; 5 moved down this week, 1 moved up.",
        tables=(trend, by_band, movement),
        charts=(
            Chart(
                "band_trend",
                "Accounts by band per week",
                "stacked_bar",
                "band_trend",
                "week",
                ("green", "yellow", "red"),
                "accounts",
            ),
            Chart("arr_by_band", "ARR by band", "bar", "arr_by_band", "band", ("arr",), "ARR"),
        ),
    )


def _scores() -> Section:
    buckets = Table(
        "score_distribution",
        "Score distribution",
        ("score", "accounts"),
        tuple(
            (f"{lo}–{lo + 9}", n)
            for lo, n in zip(range(0, 100, 10), (1, 2, 4, 6, 9, 14, 19, 25, 24, 14), strict=True)
        ),
    )
    trend = Table(
        "score_trend",
        "Average score, weekly",
        ("week", "average", "median"),
        tuple(
            ((AS_OF - timedelta(days=7 * (11 - i))).isoformat(), 66.0 + i * 0.4, 68.0 + (i % 4) * 0.5)
            for i in range(12)
        ),
    )
    return Section(
        "scores",
        "Health scores",
        "Median score 71; the average rose 4.4 points over 12 weeks.",
        tables=(buckets, trend),
        charts=(
            Chart(
                "score_distribution",
                "Accounts by score",
                "histogram",
                "score_distribution",
                "score",
                ("accounts",),
                "accounts",
            ),
            Chart(
                "score_trend", "Score trend", "line", "score_trend", "week", ("average", "median"), "score"
            ),
        ),
    )


def _renewals() -> Section:
    months = Table(
        "renewals_by_month",
        "Renewals in the next 120 days",
        ("month", "green", "yellow", "red"),
        (
            ("2026-11", 210_000.0, 64_000.0, 31_000.0),
            ("2026-12", 150_000.0, 12_000.0, 48_000.0),
            ("2027-01", 98_000.0, 40_500.0, 0.0),
            ("2027-02", 20_000.0, 0.0, 9_000.0),
        ),
    )
    at_risk = Table(
        "at_risk",
        "Top at-risk accounts",
        ("account", "arr", "band", "score", "renewal", "owner", "reasons"),
        (
            (
                HOSTILE,
                48_000.0,
                "red",
                31.5,
                "2026-12-15",
                "Dana <b>Owner</b>",
                "usage halved over 14 days; <img src=x onerror=alert(1)>",
            ),
            ("Globex", 31_000.0, "red", 38.0, "2026-11-20", "Sam Lee", "critical ticket open 9 days"),
            ("Initech", 22_500.0, "yellow", 55.0, "2027-01-04", "Sam Lee", "champion left"),
            (
                "Umbrella Corporation of the Very Long Name Ltd",
                9_000.0,
                "yellow",
                58.5,
                None,
                "Ana Ruiz",
                "NPS detractor (4)",
            ),
        ),
    )
    return Section(
        "renewals",
        "Renewals",
        "At-risk ARR 79,000 in the next 120 days; red and yellow renewals first.",
        tables=(months, at_risk),
        charts=(
            Chart(
                "renewals_by_month",
                "Renewal ARR by month and band",
                "bar",
                "renewals_by_month",
                "month",
                ("green", "yellow", "red"),
                "ARR",
            ),
            Chart("at_risk", "At-risk ARR by account", "hbar", "at_risk", "account", ("arr",), "ARR"),
        ),
    )


def _churn() -> Section:
    reasons = Table(
        "churn_reasons",
        "Churn reasons by quarter",
        ("quarter", "price", "missing feature", "champion left", "competitor"),
        (("2026-Q1", 1, 0, 1, 0), ("2026-Q2", 0, 2, 0, 1), ("2026-Q3", 2, 1, 0, 0), ("2026-Q4", 0, 0, 1, 1)),
    )
    churned = Table(
        "churned_accounts",
        "Churned accounts",
        ("account", "closed", "arr", "reason", "note"),
        (
            ("Hooli", "2026-10-12", 12_000.0, "price", None),
            (f"{HOSTILE} (EU)", "2026-08-03", 7_500.0, "competitor", '=HYPERLINK("x")'),
        ),
    )
    return Section(
        "churn",
        "Churn",
        "2 accounts churned this quarter (19,500 ARR); the most common reason is price.",
        tables=(reasons, churned),
        charts=(
            Chart(
                "churn_reasons",
                "Churned accounts by reason",
                "stacked_bar",
                "churn_reasons",
                "quarter",
                ("price", "missing feature", "champion left", "competitor"),
                "accounts",
            ),
        ),
    )


def sample_report() -> Report:
    """Eight metrics, four sections, seven charts over nine tables (two of them without a chart)."""
    return Report(
        as_of=AS_OF,
        period=PERIOD,
        metrics=_metrics(),
        sections=(_bands(), _scores(), _renewals(), _churn()),
        crm="hubspot",
        first_day=date(2026, 7, 1),
    )
