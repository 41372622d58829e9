"""Portfolio views on a small hand-built history: the numbers in their tables, and every chart drawn
from a table of its own section.

The period is the trailing month as of 2026-10-31: (09-30, 10-31]; views show the portfolio on 10-31.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

import pytest

from healthsync.model import Band, ContractOutcome
from healthsync.report.history import AccountStart, History, Outcome, SignalNote, Snapshot
from healthsync.report.model import Cell, Section, Table
from healthsync.report.periods import period_for
from healthsync.report.targets import Targets
from healthsync.report.views import (
    all_sections,
    at_risk_section,
    bands_section,
    churn_section,
    expansion_section,
    onboarding_section,
    quarter_of,
    renewals_section,
    scores_section,
)

AS_OF = date(2026, 10, 31)
PERIOD = period_for(AS_OF, "month")
WEEK_AGO = date(2026, 10, 24)
T = Targets()
G, Y, R = Band.GREEN, Band.YELLOW, Band.RED


def d(month: int, day: int, year: int = 2026) -> date:
    return date(year, month, day)


def snap(
    account: str, day: date, arr: float | None = None, band: Band | None = None, **kw: object
) -> Snapshot:
    return Snapshot(account=account, day=day, arr=arr, band=band, **kw)  # type: ignore[arg-type]


def history(
    snaps: Iterable[Snapshot] = (), outcomes: Iterable[Outcome] = (), starts: Iterable[AccountStart] = ()
) -> History:
    return History(
        as_of=AS_OF,
        since=d(9, 1),
        snapshots=tuple(sorted(snaps, key=lambda s: (s.account, s.day))),
        outcomes=tuple(outcomes),
        starts={s.account: s for s in starts},
        first_day=d(6, 1),
    )


def table(section: Section, key: str) -> Table:
    return next(t for t in section.tables if t.key == key)


def rows(section: Section, key: str) -> list[tuple[Cell, ...]]:
    return list(table(section, key).rows)


def column(section: Section, key: str, name: str) -> list[Cell]:
    t = table(section, key)
    return [r[t.columns.index(name)] for r in t.rows]


def outcome(
    account: str, day: date, kind: ContractOutcome, reason: str | None = None, arr: float | None = None
) -> Outcome:
    return Outcome(account, contract_end=day, outcome=kind, day=day, reason=reason, arr=arr)


# --- bands --------------------------------------------------------------------------------------


def test_bands_and_their_movement_over_the_week() -> None:
    h = history(
        [
            snap("A", d(10, 20), 10_000, G),
            snap("A", d(10, 30), 12_000, G),  # green -> green
            snap("B", d(10, 20), 20_000, G),
            snap("B", d(10, 30), 20_000, R),  # green -> red: down
            snap("C", WEEK_AGO, 5_000, R),
            snap("C", d(10, 30), 5_000, Y),  # red -> yellow (on the day itself): up
            snap("D", d(10, 28), 7_000, Y),  # new this week
            snap("E", d(10, 20), None, None),
            snap("E", d(10, 30), None, None),  # unscored, no ARR
            snap("X", d(10, 20), 99_000, G),  # churned 10-25: not in the portfolio
        ],
        [outcome("X", d(10, 25), ContractOutcome.CHURNED)],
    )
    section = bands_section(h, PERIOD, T)
    # green A 12k; yellow C 5k + D 7k = 12k; red B 20k; none E
    assert rows(section, "band_summary") == [
        ("green", 1, 12_000),
        ("yellow", 2, 12_000),
        ("red", 1, 20_000),
        ("none", 1, 0),
    ]
    assert table(section, "band_movement").columns == ("from", "green", "yellow", "red", "none")
    assert rows(section, "band_movement") == [
        ("green", 1, 0, 1, 0),  # A stayed, B fell to red
        ("yellow", 0, 0, 0, 0),
        ("red", 0, 1, 0, 0),  # C rose to yellow
        ("none", 0, 0, 0, 1),  # E stayed unscored
        ("new", 0, 1, 0, 0),  # D
    ]
    assert section.summary.startswith("5 active accounts: 1 green, 2 yellow, 1 red, 1 without a score")
    assert "1 moved down and 1 moved up" in section.summary


# --- scores -------------------------------------------------------------------------------------


def test_score_distribution_and_trend() -> None:
    snaps = [
        # 10-24 sync: scores 40 (red) and 80 (green) -> mean 60, median 60
        snap("A", d(10, 24), band=R, score=40.0), snap("B", d(10, 24), band=G, score=80.0),
        # 10-31 sync: 0, 9.99, 10, 100 and one unscored -> mean 29.997 -> 30.0, median (9.99 + 10) / 2 = 10.0
        snap("A", d(10, 31), band=R, score=0.0), snap("B", d(10, 31), band=G, score=100.0),
        snap("C", d(10, 31), band=R, score=9.99), snap("D", d(10, 31), band=Y, score=10.0),
        snap("E", d(10, 31)),
        snap("A", d(9, 30), band=R, score=50.0),  # the start day: baseline, not in the trend
    ]  # fmt: skip
    section = scores_section(history(snaps), PERIOD, T)
    # 0 and 9.99 in 0-9, 10 in 10-19, 100 in the top bucket 90-100; E has no score
    assert rows(section, "score_distribution") == [
        ("0-9", 2), ("10-19", 1), ("20-29", 0), ("30-39", 0), ("40-49", 0),
        ("50-59", 0), ("60-69", 0), ("70-79", 0), ("80-89", 0), ("90-100", 1),
    ]  # fmt: skip
    assert rows(section, "score_trend") == [
        ("2026-10-24", 60.0, 60.0, 2, 1, 0, 1),
        ("2026-10-31", 30.0, 10.0, 4, 1, 1, 2),
    ]
    assert (
        section.summary
        == "4 active accounts with a score; on 2026-10-31 the mean was 30.0 and the median 10.0."
    )


# --- renewals -----------------------------------------------------------------------------------


def _renewals_history() -> History:
    def acct(account: str, end: date, arr: float, band: Band | None, **kw: object) -> Snapshot:
        return snap(account, d(10, 30), arr, band, contract_end=end, name=f"{account} Inc", owner="Ana", **kw)

    return history(
        [
            acct("G1", d(2, 28, 2027), 50_000, G),  # 120 days left: Preparation (included)
            acct("G2", d(3, 1, 2027), 90_000, G),  # 121 days: beyond the window
            acct("Y1", d(1, 29, 2027), 30_000, Y, score=55.0),  # 90 days: Initiation
            acct("R1", d(12, 1), 10_000, R),  # 31 days: Negotiation
            acct("R2", d(11, 30), 40_000, R),  # 30 days: Approval
            acct("N1", d(11, 1), 5_000, None),  # 1 day: Approval, unscored
            acct("Z0", d(10, 31), 8_000, R),  # ends on the end day itself: not in (end, end + 120]
            acct("W1", d(11, 15), 70_000, Y),  # renewal already won on 10-20: decided, not listed
            acct("L1", d(11, 20), 60_000, R),  # churned 10-28: not in the portfolio
        ],
        [
            Outcome("W1", d(11, 15), ContractOutcome.RENEWED, d(10, 20), arr=75_000),
            Outcome("L1", d(11, 20), ContractOutcome.CHURNED, d(10, 28), reason="price"),
        ],
    )


def test_renewals_by_stage_month_and_priority() -> None:
    section = renewals_section(_renewals_history(), PERIOD, T)
    assert rows(section, "renewals_by_stage") == [
        ("Preparation", "120-91", 1, 50_000),
        ("Initiation", "90-61", 1, 30_000),
        ("Negotiation", "60-31", 1, 10_000),
        ("Approval", "30-0", 2, 45_000),  # R2 40k + N1 5k
    ]
    assert rows(section, "renewals_by_month") == [
        ("2026-11", 2, 45_000),  # N1 11-01, R2 11-30
        ("2026-12", 1, 10_000),  # R1
        ("2027-01", 1, 30_000),  # Y1
        ("2027-02", 1, 50_000),  # G1
    ]
    # red first (by ARR), then yellow, green, unscored
    assert column(section, "renewals_list", "account") == ["R2", "R1", "Y1", "G1", "N1"]
    assert rows(section, "renewals_list")[2] == (
        "Y1", "Y1 Inc", "Ana", "yellow", 55.0, "2027-01-29", 90, 30_000, "Initiation"
    )  # fmt: skip
    # at-risk ARR = red R2 40k + R1 10k + yellow Y1 30k = 80k; all 5 renewals = 135k
    assert (
        section.summary
        == "5 renewals in the next 120 days (135,000 ARR); at-risk ARR (red + yellow): 80,000."
    )


# --- at risk ------------------------------------------------------------------------------------


def test_top_at_risk_accounts_by_arr_with_reasons() -> None:
    snaps = [
        snap(
            f"r{i:02d}",
            d(10, 30),
            1_000.0 * i,
            R if i % 2 else Y,
            reasons=(f"reason {i}", "usage down"),
            owner="Sam",
        )
        for i in range(1, 26)
    ]
    snaps.append(snap("g", d(10, 30), 1_000_000, G))  # green: not at risk however large
    section = at_risk_section(history(snaps), PERIOD, T)
    listed = rows(section, "at_risk_accounts")
    assert len(listed) == 20
    assert [r[0] for r in listed[:3]] == ["r25", "r24", "r23"]
    assert listed[0] == ("r25", "r25", "Sam", "red", None, 25_000, None, "reason 25; usage down")
    # 1k + ... + 25k = 325k across all 25
    assert section.summary == "25 red or yellow accounts with 325,000 ARR; the 20 largest are listed."


# --- expansion ----------------------------------------------------------------------------------


def test_expansion_candidates_from_the_latest_snapshot() -> None:
    up = SignalNote("expansion", "seats_full", "Seats nearly full", "48 of 50 licenses active")
    risk = SignalNote("risk", "usage_drop", "Usage dropped", "down 40 %")
    snaps = [
        snap("E1", d(10, 30), 20_000, G, licenses=50, signals=(up, risk), name="Acme"),
        snap("E2", d(10, 20), 5_000, G, signals=(up,)),  # signal no longer raised on its latest day
        snap("E2", d(10, 30), 5_000, G),
        snap("E3", d(10, 30), 40_000, Y, licenses=10, signals=(up,)),
    ]
    section = expansion_section(history(snaps), PERIOD, T)
    assert rows(section, "expansion_candidates") == [
        ("E3", "E3", None, "yellow", 40_000, 10, "Seats nearly full", "48 of 50 licenses active"),
        ("E1", "Acme", None, "green", 20_000, 50, "Seats nearly full", "48 of 50 licenses active"),
    ]
    assert rows(section, "expansion_by_band") == [
        ("green", 1, 20_000), ("yellow", 1, 40_000), ("red", 0, 0), ("none", 0, 0)
    ]  # fmt: skip


# --- onboarding ---------------------------------------------------------------------------------


def test_onboarding_phases_and_checkpoints() -> None:
    ages = {"P0": 0, "P30": 30, "P31": 31, "P60": 60, "P61": 61, "P90": 90, "P91": 91}
    starts = [
        AccountStart(a, d(1, 1), date.fromordinal(AS_OF.toordinal() - age), None) for a, age in ages.items()
    ]
    # P31 reached the milestone on 10-05; P0's value day is in the future (not reached by 10-31)
    value_days = {"P31": d(10, 5), "P0": d(11, 5)}
    starts = [
        AccountStart(s.account, s.first_seen, s.first_contract_start, value_days.get(s.account))
        for s in starts
    ]
    snaps = [snap(a, d(10, 30), 1_000, R if a == "P60" else G) for a in ages]
    section = onboarding_section(history(snaps, starts=starts), PERIOD, T)
    # P91 is past 90 days; phases 0-30: P0, P30; 31-60: P31 (reached), P60 (red); 61-90: P61, P90
    assert rows(section, "onboarding_phases") == [
        ("0-30", 2, 0, 2, 0),
        ("31-60", 2, 1, 1, 1),
        ("61-90", 2, 0, 2, 0),
    ]
    listed = rows(section, "onboarding_accounts")
    assert [r[0] for r in listed] == ["P0", "P30", "P31", "P60", "P61", "P90"]
    assert listed[2][:8] == ("P31", "P31", None, "31-60", "2026-09-30", 31, "yes", "2026-10-05")
    assert "1 reached the value milestone (active users >= 50 % of licenses)" in section.summary


# --- churn --------------------------------------------------------------------------------------


def test_churn_by_quarter_and_reason() -> None:
    churned = ContractOutcome.CHURNED
    snaps = [
        snap("A", d(9, 1), 10_000), snap("A", d(9, 20), 12_000), snap("A", d(10, 1), 99_000),
        snap("B", d(9, 1), 20_000),
        snap("C", d(9, 1), 5_000),
    ]  # fmt: skip
    outcomes = [
        outcome("A", d(9, 20), churned, "price"),  # ARR on the churn day: 12k (not the later 99k)
        outcome("B", d(10, 5), churned, "price"),  # 20k
        outcome("C", d(10, 6), churned, None),  # 5k, reason not recorded
        outcome("OLD", d(3, 2), churned, "competitor", arr=7_000),  # no snapshot: the deal's 7k
        outcome("FUT", d(11, 2), churned, "price"),  # after the end: not yet
        outcome("A", d(8, 1), ContractOutcome.RENEWED, arr=11_000),
        outcome("B", d(9, 2), ContractOutcome.RENEWED),  # no deal amount: its 20k ARR then
    ]
    section = churn_section(history(snaps, outcomes), PERIOD, T)
    assert rows(section, "churn_by_quarter") == [
        ("2026-Q1", "competitor", 1, 7_000),
        ("2026-Q3", "price", 1, 12_000),
        ("2026-Q4", "not recorded", 1, 5_000),
        ("2026-Q4", "price", 1, 20_000),
    ]
    assert rows(section, "churn_by_reason") == [
        ("price", 2, 32_000),
        ("competitor", 1, 7_000),
        ("not recorded", 1, 5_000),
    ]
    assert column(section, "churned_accounts", "account") == ["C", "B", "A", "OLD"]
    assert rows(section, "renewals_won") == [("2026-Q3", 2, 31_000)]
    # in (09-30, 10-31]: B and C, 25k
    assert (
        section.summary
        == "2 accounts churned in the period (25,000 ARR); 4 churns recorded in all, most often for price."
    )


def test_churn_before_the_loaded_history_estimates_its_arr() -> None:
    # PRE churned 08-01; the history only holds its state from 09-01 on (9k, kept by the CRM after the
    # churn) and the churn recorded no amount -> 9k, flagged as an estimate. NONE has no ARR at all.
    churned = ContractOutcome.CHURNED
    h = history(
        [snap("PRE", d(9, 1), 9_000)],
        [outcome("PRE", d(8, 1), churned, "budget"), outcome("NONE", d(8, 2), churned, "budget")],
    )
    section = churn_section(h, PERIOD, T)
    assert rows(section, "churn_by_quarter") == [("2026-Q3", "budget", 2, 9_000)]
    assert table(section, "churn_by_quarter").note == (
        "1 churn decided before the loaded history: ARR is the account's earliest loaded ARR, after the "
        "churn. 1 churn without a known ARR: counted as 0."
    )
    assert (
        section.summary
        == "0 accounts churned in the period (0 ARR); 2 churns recorded in all, most often for budget."
    )


@pytest.mark.parametrize(
    ("day", "quarter"),
    [
        (d(1, 1), "2026-Q1"),
        (d(3, 31), "2026-Q1"),
        (d(4, 1), "2026-Q2"),
        (d(9, 30), "2026-Q3"),
        (d(12, 31), "2026-Q4"),
    ],
)
def test_quarter_of(day: date, quarter: str) -> None:
    assert quarter_of(day) == quarter


# --- every view ---------------------------------------------------------------------------------


def _everything() -> History:
    base = _renewals_history()
    return History(
        as_of=AS_OF,
        since=base.since,
        snapshots=base.snapshots,
        outcomes=(*base.outcomes, outcome("X", d(10, 2), ContractOutcome.CHURNED, "budget")),
        starts={"R1": AccountStart("R1", d(10, 1), d(10, 1), d(10, 9))},
        first_day=base.first_day,
    )


@pytest.mark.parametrize("h", [pytest.param(_everything(), id="data"), pytest.param(history(), id="empty")])
def test_every_chart_draws_a_table_of_its_section(h: History) -> None:
    sections = all_sections(h, PERIOD, T)
    assert [s.key for s in sections] == [
        "bands",
        "scores",
        "renewals",
        "at_risk",
        "expansion",
        "onboarding",
        "churn",
    ]
    table_keys = [t.key for s in sections for t in s.tables]
    chart_keys = [c.key for s in sections for c in s.charts]
    assert len(set(table_keys)) == len(table_keys), "table keys name CSV files: unique across the report"
    assert len(set(chart_keys)) == len(chart_keys)
    for section in sections:
        assert section.summary
        assert section.charts, section.key
        tables = {t.key: t for t in section.tables}
        for t in section.tables:
            assert len(set(t.columns)) == len(t.columns), t.key
            assert all(len(row) == len(t.columns) for row in t.rows), t.key
            assert all(cell is None or isinstance(cell, str | int | float) for row in t.rows for cell in row)
        for chart in section.charts:
            assert chart.table in tables, (section.key, chart.key)
            columns = tables[chart.table].columns
            assert chart.x in columns, (section.key, chart.key)
            assert set(chart.y) <= set(columns), (section.key, chart.key)
            for name in chart.y:  # the series are numbers
                index = columns.index(name)
                assert all(
                    r[index] is None or isinstance(r[index], int | float) for r in tables[chart.table].rows
                )
