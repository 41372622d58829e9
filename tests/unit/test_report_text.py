"""The report on a terminal (`healthsync report` without --json): values, targets, status, notes."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from io import StringIO

from helpers.report_data import sample_report
from rich.console import Console

from healthsync.report.model import Metric, Period
from healthsync.report.render_text import format_target, format_value, print_report

PERIOD = Period("month", date(2026, 10, 24), date(2026, 11, 24))


def metric(unit: str, value: float | None, target: float | None = None, comparison: str = ">") -> Metric:
    return Metric("m", "M", value, unit, target, comparison, PERIOD)  # type: ignore[arg-type]


def test_values_and_targets_read_as_a_leader_reads_them() -> None:
    assert format_value(metric("%", 101.234)) == "101.2 %"
    assert format_value(metric("money", 654229.4)) == "654,229"
    assert format_value(metric("days", 38.0)) == "38 days"
    assert format_value(metric("days", 12.5)) == "12.5 days"
    assert format_value(metric("ratio", 3.04)) == "3.0×"
    assert format_value(metric("score", 24.6)) == "24.6"
    assert format_value(metric("%", None)) == "—"
    assert format_target(metric("%", 90.0, 85.0)) == "> 85.0 %"
    assert format_target(metric("days", 9.0, 14.0, "<")) == "< 14 days"
    assert format_target(metric("money", 1.0)) == "—"


def test_the_table_shows_every_metric_and_notes_verbatim() -> None:
    report = sample_report()
    noted = replace(report.metrics[0], value=None, note="set [report] cac to compare")
    report = replace(report, metrics=(noted, *report.metrics[1:]))
    out = StringIO()
    print_report(Console(file=out, width=200, color_system=None), report)
    text = out.getvalue()
    for m in report.metrics:
        assert m.label in text
    assert "set [report] cac to compare" in text  # not eaten as console markup
    assert "no data" in text
    for section in report.sections:
        assert section.title in text
