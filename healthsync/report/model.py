"""What a built report is: metrics against targets, and sections of tables with charts over them.

Renderers (JSON, CSV, HTML) only read these values. Every chart names the table that holds its
numbers, so the page shows the same figures as text beside each chart (printing, screen readers).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

__all__ = ["Chart", "Metric", "Period", "Report", "Section", "Table"]

Cell = str | int | float | None
Comparison = Literal[">", "<", ">="]
ChartKind = Literal["bar", "stacked_bar", "hbar", "line", "histogram"]


@dataclass(frozen=True)
class Period:
    """The span a metric covers: `start` (exclusive: the state at its end is the baseline) to `end`."""

    kind: Literal["month", "quarter"]
    start: date
    end: date

    @property
    def label(self) -> str:
        return f"{self.start.isoformat()} to {self.end.isoformat()}"

    def to_json(self) -> dict[str, str]:
        return {"kind": self.kind, "start": self.start.isoformat(), "end": self.end.isoformat()}


@dataclass(frozen=True)
class Metric:
    """One metric's value for one period against its target.

    `value` is None when the history cannot support it; `note` then says why ("not enough data
    since 2026-10-02"), never a misleading 0.
    """

    key: str
    label: str
    value: float | None
    unit: Literal["%", "days", "money", "ratio", "score"]
    target: float | None
    comparison: Comparison
    period: Period
    note: str | None = None
    details: Mapping[str, Cell] = field(default_factory=dict)
    """The formula's inputs (ARR at start, expansion, ...), so a reader can redo the sum."""

    @property
    def on_target(self) -> bool | None:
        """None when there is no value or no target to judge it by."""
        if self.value is None or self.target is None:
            return None
        if self.comparison == ">":
            return self.value > self.target
        if self.comparison == ">=":
            return self.value >= self.target
        return self.value < self.target

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "label": self.label,
            "value": self.value,
            "unit": self.unit,
            "target": self.target,
            "comparison": self.comparison,
            "on_target": self.on_target,
            "period": self.period.to_json(),
            "note": self.note,
            "details": dict(self.details),
        }


@dataclass(frozen=True)
class Table:
    """Rows of plain cells; `key` names its CSV file (`<key>.csv`)."""

    key: str
    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...]
    note: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "title": self.title,
            "columns": list(self.columns),
            "rows": [list(r) for r in self.rows],
            "note": self.note,
        }


@dataclass(frozen=True)
class Chart:
    """A chart drawn from columns of one of its section's tables.

    `x` is the category (or x-axis) column; `y` are the value columns (one series each; stacked for
    `stacked_bar`). The renderer draws only what the table holds.
    """

    key: str
    title: str
    kind: ChartKind
    table: str
    x: str
    y: tuple[str, ...]
    y_label: str = ""


@dataclass(frozen=True)
class Section:
    """One view of the portfolio: a short summary line, its tables and the charts over them."""

    key: str
    title: str
    summary: str
    tables: tuple[Table, ...] = ()
    charts: tuple[Chart, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "title": self.title,
            "summary": self.summary,
            "tables": [t.to_json() for t in self.tables],
            "charts": [
                {"key": c.key, "title": c.title, "kind": c.kind, "table": c.table, "x": c.x, "y": list(c.y)}
                for c in self.charts
            ],
        }


@dataclass(frozen=True)
class Report:
    """The whole portfolio report as of one day."""

    as_of: date
    period: Period
    metrics: tuple[Metric, ...]
    sections: tuple[Section, ...]
    crm: str | None = None
    first_day: date | None = None
    """The first day healthsync recorded anything; metrics need history from before their period."""

    def metric(self, key: str) -> Metric:
        return next(m for m in self.metrics if m.key == key)

    def tables(self) -> list[Table]:
        return [t for s in self.sections for t in s.tables]

    def to_json(self) -> dict[str, Any]:
        return {
            "as_of": self.as_of.isoformat(),
            "period": self.period.to_json(),
            "crm": self.crm,
            "first_day": self.first_day.isoformat() if self.first_day else None,
            "metrics": {m.key: m.to_json() for m in self.metrics},
            "sections": [s.to_json() for s in self.sections],
        }
