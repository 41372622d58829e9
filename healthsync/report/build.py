"""Build the whole report from a loaded `History`: no I/O here, so tests build one from a hand-made
History and the CLI from the state store (`run.py`) get the same numbers."""

from __future__ import annotations

from typing import Literal

from healthsync.report.history import History
from healthsync.report.metrics import all_metrics
from healthsync.report.model import Report
from healthsync.report.periods import period_for
from healthsync.report.targets import DEFAULT_TARGETS, Targets
from healthsync.report.views import all_sections

__all__ = ["build_report"]


def build_report(
    history: History,
    *,
    period_kind: Literal["month", "quarter"] = "month",
    targets: Targets = DEFAULT_TARGETS,
) -> Report:
    """The report as of `history.as_of` for the trailing month or quarter ending that day.

    The history must reach back to the period's start (`History.since` on or before it) for the
    baselines; `run.portfolio_report` loads it that way.
    """
    period = period_for(history.as_of, period_kind)
    return Report(
        as_of=history.as_of,
        period=period,
        metrics=all_metrics(history, period, targets),
        sections=all_sections(history, period, targets),
        crm=history.crm,
        first_day=history.first_day,
    )
