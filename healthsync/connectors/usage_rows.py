"""Turn usage, payment and NPS rows (from SQL or CSV) into the canonical model, or say what is wrong.

Both usage sources share these parsers so a row means the same thing wherever it comes from. A bad
row never sinks the batch: it becomes a `RowProblem` naming the source, the row and the column, and
the rest goes on; a missing column is a configuration error and stops the source at once.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any

from healthsync.errors import ConfigError, ConfigProblem
from healthsync.model import Payment, Rating, RatingKind, UsageDay

__all__ = [
    "LOGICAL_COLUMNS",
    "RowError",
    "RowProblem",
    "missing_columns_error",
    "parse_day",
    "parse_instant",
    "to_nps",
    "to_payment",
    "to_usage_day",
]

LOGICAL_COLUMNS: dict[str, tuple[str, ...]] = {
    "daily": ("account", "day", "active_users", "logins"),
    "payments": ("account", "due_date", "paid_date", "invoice_id", "amount"),
    "nps": ("account", "score", "at"),
}
"""The logical columns of each usage table, in config order (`[usage.<table>.columns]`)."""

OPTIONAL_COLUMNS = {"payments": {"paid_date", "invoice_id", "amount"}}
"""Columns a table may lack; an unpaid-invoice export has no paid date column, for instance."""


@dataclass(frozen=True)
class RowProblem:
    """One row that could not be used, located well enough to fix it at the source."""

    source: str
    """File path, or `table <name>` / `query` for SQL."""
    row: str
    """CSV line number, or the row's account and day for SQL."""
    column: str
    message: str

    def __str__(self) -> str:
        return f"{self.source}: {self.row}: {self.column}: {self.message}"


class RowError(ValueError):
    """Raised by a parser for one cell; the caller turns it into a RowProblem with the location."""

    def __init__(self, column: str, message: str) -> None:
        super().__init__(message)
        self.column = column


def missing_columns_error(
    config_source: str, table: str, where: str, missing: dict[str, str], available: Sequence[str]
) -> ConfigError:
    """A ConfigError naming each logical column whose mapped column is absent, and what exists."""
    problems = [
        ConfigProblem(
            source=config_source,
            key=f"usage.{table}.columns.{logical}",
            message=f"column '{actual}' not found in {where} (it has: {', '.join(available) or 'nothing'})",
            fix=f'map it: [usage.{table}.columns] {logical} = "<column name>"',
        )
        for logical, actual in missing.items()
    ]
    return ConfigError(f"{where}: mapped columns missing", problems)


def parse_day(value: Any, column: str) -> date:
    """A date from a date, datetime or ISO text (`2026-11-02`, `2026-11-02T10:00:00Z`)."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str) and value.strip():
        text = value.strip()
        try:
            return date.fromisoformat(text[:10])
        except ValueError:
            pass
    raise RowError(column, f"expected a date like 2026-11-02, got {value!r}")


def parse_instant(value: Any, column: str) -> datetime:
    """An aware UTC datetime from a datetime, date (midnight UTC) or ISO text; naive means UTC."""
    if isinstance(value, datetime):
        stamp = value
    elif isinstance(value, date):
        stamp = datetime.combine(value, time(0))
    elif isinstance(value, str) and value.strip():
        try:
            stamp = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise RowError(column, f"expected a date-time like 2026-11-02T10:00:00Z, got {value!r}") from None
    else:
        raise RowError(column, f"expected a date-time, got {value!r}")
    return stamp.replace(tzinfo=UTC) if stamp.tzinfo is None else stamp.astimezone(UTC)


def _count(value: Any, column: str) -> int:
    if isinstance(value, bool):
        raise RowError(column, f"expected a whole number ≥ 0, got {value!r}")
    try:
        number = float(value) if isinstance(value, str) else value
    except ValueError:
        raise RowError(column, f"expected a whole number ≥ 0, got {value!r}") from None
    if (
        not isinstance(number, int | float)
        or not math.isfinite(number)
        or number < 0
        or number != int(number)
    ):
        raise RowError(column, f"expected a whole number ≥ 0, got {value!r}")
    return int(number)


def _key(value: Any, column: str) -> str:
    text = "" if value is None else str(value).strip()
    if not text:
        raise RowError(column, "the account key is empty")
    return text


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def to_usage_day(row: dict[str, Any]) -> UsageDay:
    """A daily usage row (logical column names) as a UsageDay."""
    return UsageDay(
        account_key=_key(row.get("account"), "account"),
        day=parse_day(row.get("day"), "day"),
        active_users=_count(row.get("active_users"), "active_users"),
        logins=_count(row.get("logins"), "logins"),
    )


def to_payment(row: dict[str, Any]) -> Payment:
    """An invoice row as a Payment; a blank paid date means not paid (yet)."""
    paid = row.get("paid_date")
    raw_amount: Any = row.get("amount")
    amount: float | None = None
    if not _blank(raw_amount):
        try:
            amount = float(raw_amount)
        except (TypeError, ValueError):
            raise RowError("amount", f"expected a number, got {raw_amount!r}") from None
    invoice = row.get("invoice_id")
    return Payment(
        account_key=_key(row.get("account"), "account"),
        due_date=parse_day(row.get("due_date"), "due_date"),
        paid_date=None if _blank(paid) else parse_day(paid, "paid_date"),
        invoice_id=None if _blank(invoice) else str(invoice).strip(),
        amount=amount,
    )


def to_nps(row: dict[str, Any]) -> Rating:
    """An NPS answer row as a Rating (0-10)."""
    score = _count(row.get("score"), "score")
    if score > 10:
        raise RowError("score", f"an NPS answer is 0-10, got {score}")
    account = _key(row.get("account"), "account")
    at = parse_instant(row.get("at"), "at")
    return Rating(
        account_key=account, kind=RatingKind.NPS, score=score, at=at, id=f"nps:{account}:{at.isoformat()}"
    )
