"""The report as CSV files: one `<table key>.csv` per table (every row) and `metrics.csv`.

UTF-8, a header row of the table's columns, the csv module's quoting. None is an empty cell. Text
cells that a spreadsheet would run as a formula (starting with =, +, -, @, tab or carriage return:
CRM account names are typed by many people) are written with a leading apostrophe, as OWASP advises;
numbers are written as they are.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

from healthsync.report.model import Cell, Report

__all__ = ["METRIC_COLUMNS", "write_csv"]

METRIC_COLUMNS = (
    "key",
    "label",
    "value",
    "unit",
    "target",
    "comparison",
    "on_target",
    "period_start",
    "period_end",
    "note",
)

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_SAFE_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


def _cell(value: Cell | bool) -> str | int | float:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def _write(path: Path, header: tuple[str, ...], rows: list[tuple[Cell | bool, ...]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows([_cell(c) for c in row] for row in rows)
    return path


def write_csv(report: Report, folder: Path | str) -> list[Path]:
    """Write each table as `<key>.csv` and the metrics as `metrics.csv` into `folder` (created if
    missing). Returns the paths written: the tables in report order, then metrics.csv.

    Raises ValueError, before writing anything, for a table key that is not a plain file name or
    that two tables (or a table and the metrics) share: one file would overwrite the other.
    """
    target = Path(folder)
    tables = report.tables()
    seen = {"metrics"}
    for table in tables:
        if not _SAFE_KEY.fullmatch(table.key) or ".." in table.key:
            raise ValueError(f"table key {table.key!r} is not a plain file name")
        if table.key in seen:
            raise ValueError(f"two CSV files would be named {table.key}.csv")
        seen.add(table.key)
    target.mkdir(parents=True, exist_ok=True)
    written = [_write(target / f"{t.key}.csv", t.columns, list(t.rows)) for t in tables]
    metrics: list[tuple[Cell | bool, ...]] = [
        (
            m.key,
            m.label,
            m.value,
            m.unit,
            m.target,
            m.comparison,
            m.on_target,
            m.period.start.isoformat(),
            m.period.end.isoformat(),
            m.note,
        )
        for m in report.metrics
    ]
    written.append(_write(target / "metrics.csv", METRIC_COLUMNS, metrics))
    return written
