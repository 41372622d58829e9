"""Build the portfolio report for a config: open its state store, load the window, compute."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Literal

from healthsync.config import Config
from healthsync.report.build import build_report
from healthsync.report.load import load_history
from healthsync.report.model import Report
from healthsync.report.periods import period_for
from healthsync.report.targets import Targets
from healthsync.sync.state import StateStore

__all__ = ["MOVEMENT_DAYS", "portfolio_report", "targets_from"]

MOVEMENT_DAYS = 7
"""The band-movement view compares with a week before the as-of day, which a month always covers;
the window is widened for it anyway so a report as of any day can show it."""


def targets_from(config: Config) -> Targets:
    """The report's targets and inputs from `[report]` (the playbook's defaults where unset)."""
    section = config.report
    return Targets(
        **section.targets.model_dump(),
        cac=section.cac,
        value_share=section.value_share,
        coverage_days=section.coverage_days,
    )


def portfolio_report(
    config: Config,
    store: StateStore,
    *,
    as_of: date | None = None,
    period: Literal["month", "quarter"] = "month",
) -> Report:
    """The report as of `as_of` (default: the later of today and the last sync's day, so a report
    right after a simulated sync reads that sync) for the trailing month or quarter.

    Costs no API call: everything comes from what the syncs recorded.
    """
    day = as_of or max(date.today(), store.last_snapshot_day() or date.min)
    window = period_for(day, period)
    since = min(window.start, day - timedelta(days=MOVEMENT_DAYS))
    history = load_history(store, as_of=day, since=since, crm=config.crm.system)
    return build_report(history, period_kind=period, targets=targets_from(config))
