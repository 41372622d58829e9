"""Usage, payments and NPS from CSV files, for teams whose product data comes as exports.

Files are streamed row by row. Daily usage is aggregated per account and day (several rows for one
day — per plan, per region — combine as `MAX(active_users)`, `SUM(logins)`, as the SQL source does)
over the asked window only, so memory follows the window, not the file.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any, TypeVar

from healthsync.config import UsageSection
from healthsync.connectors.usage_rows import (
    LOGICAL_COLUMNS,
    OPTIONAL_COLUMNS,
    RowError,
    RowProblem,
    missing_columns_error,
    to_nps,
    to_payment,
    to_usage_day,
)
from healthsync.errors import ConfigError
from healthsync.model import Payment, Rating, UsageDay

__all__ = ["CsvUsageSource"]

T = TypeVar("T")
_BATCH = 5_000


class CsvUsageSource:
    """Reads `[usage.daily]`, `[usage.payments]` and `[usage.nps]` from CSV files (kind = "csv")."""

    name = "usage"

    def __init__(self, section: UsageSection, *, config_source: str = "") -> None:
        self._section = section
        self._config_source = config_source
        self.problems: list[RowProblem] = []

    def close(self) -> None:
        """Nothing to release: files are opened per read."""

    def iter_daily_usage(self, start: date, end: date) -> Iterator[list[UsageDay]]:
        """Usage per account per day for `start`..`end` (inclusive)."""
        combined: dict[tuple[str, date], UsageDay] = {}
        for day in self._read("daily", to_usage_day):
            if not start <= day.day <= end:
                continue
            key = (day.account_key, day.day)
            seen = combined.get(key)
            if seen is not None:
                day = UsageDay(
                    day.account_key,
                    day.day,
                    max(seen.active_users, day.active_users),
                    seen.logins + day.logins,
                )
            combined[key] = day
        ordered = [combined[k] for k in sorted(combined)]
        for at in range(0, len(ordered), _BATCH):
            yield ordered[at : at + _BATCH]

    def iter_payments(self, since: date) -> Iterator[list[Payment]]:
        """Invoices due on or after `since`."""
        yield from _batched(p for p in self._read("payments", to_payment) if p.due_date >= since)

    def iter_nps(self, since: date) -> Iterator[list[Rating]]:
        """NPS answers given on or after `since`."""
        yield from _batched(r for r in self._read("nps", to_nps) if r.at.date() >= since)

    def _read(self, table: str, convert: Callable[[dict[str, Any]], T]) -> Iterator[T]:
        config = getattr(self._section, table)
        if config is None or config.path is None:
            raise ConfigError(f"[usage.{table}] path is not configured")
        path = Path(config.path)
        mapping = {name: getattr(config.columns, name) for name in LOGICAL_COLUMNS[table]}
        optional = OPTIONAL_COLUMNS.get(table, set())
        try:
            handle = path.open(newline="", encoding="utf-8-sig")
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
        with handle:
            reader = csv.DictReader(handle)
            header = reader.fieldnames or []
            missing = {k: v for k, v in mapping.items() if v not in header and k not in optional}
            if missing:
                raise missing_columns_error(
                    self._config_source, table, f"{path} (header line 1)", missing, header
                )
            for row in reader:
                values = {k: row.get(v) for k, v in mapping.items()}
                try:
                    yield convert(values)
                except RowError as exc:
                    self.problems.append(
                        RowProblem(str(path), f"line {reader.line_num}", mapping[exc.column], str(exc))
                    )


def _batched(items: Iterator[T]) -> Iterator[list[T]]:
    batch: list[T] = []
    for item in items:
        batch.append(item)
        if len(batch) >= _BATCH:
            yield batch
            batch = []
    if batch:
        yield batch
