"""The report on a terminal: the metrics against their targets, then one line per view."""

from __future__ import annotations

from dataclasses import replace

from rich.console import Console
from rich.markup import escape
from rich.table import Table as RichTable

from healthsync.report.model import Metric, Report

__all__ = ["format_target", "format_value", "print_report"]


def format_value(metric: Metric) -> str:
    """The value as a leader reads it: percentages to one decimal, money with separators."""
    value = metric.value
    if value is None:
        return "—"
    if metric.unit == "%":
        return f"{value:.1f} %"
    if metric.unit == "money":
        return f"{value:,.0f}"
    if metric.unit == "days":
        return f"{value:.1f} days" if value != int(value) else f"{int(value)} days"
    if metric.unit == "ratio":
        return f"{value:.1f}×"
    return f"{value:.0f}" if value == int(value) else f"{value:.1f}"


def format_target(metric: Metric) -> str:
    """ "> 100 %", "< 14 days", or "—" for a metric shown without a target."""
    if metric.target is None:
        return "—"
    shown = format_value(replace(metric, value=metric.target))
    return f"{metric.comparison} {shown}"


def _status(metric: Metric) -> str:
    if metric.on_target is None:
        return "[dim]no data[/]" if metric.value is None else "[dim]—[/]"
    return "[green]on target[/]" if metric.on_target else "[red]off target[/]"


def print_report(console: Console, report: Report) -> None:
    """Metrics table, then each view's one-line summary (the HTML has the charts and tables)."""
    period = report.period
    console.print(
        f"[bold]Portfolio report[/] as of {report.as_of.isoformat()} "
        f"({period.kind} {period.start.isoformat()} → {period.end.isoformat()}"
        + (f", {report.crm}" if report.crm else "")
        + ")"
    )
    table = RichTable(show_edge=False, pad_edge=False)
    for column in ("Metric", "Value", "Target", "Status", "Note"):
        table.add_column(column, overflow="fold")
    for metric in report.metrics:
        note = escape(metric.note or "")  # notes name config keys such as "[report] cac"
        table.add_row(
            escape(metric.label), format_value(metric), format_target(metric), _status(metric), note
        )
    console.print(table)
    for section in report.sections:
        console.print(f"[bold]{escape(section.title)}[/]: {escape(section.summary)}")
