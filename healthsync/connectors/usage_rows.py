"""Turn usage, payment and NPS rows (from SQL or CSV) into the canonical model, or say what is wrong.

Both usage sources share these parsers so a row means the same thing wherever it comes from. A bad
row never sinks the batch: it becomes a `RowProblem` naming the source, the row and the column, and
the rest goes on; a missing column is a configuration error and stops the source at once.

`to_usage_day`, `to_payment` and `to_nps` read one row by its logical column names (CSV);
`to_usage_days`, `to_payments` and `to_nps_answers` read a whole batch of positional rows (SQL) the
same way, only faster.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any

from healthsync.errors import ConfigError, ConfigProblem
from healthsync.model import Payment, Rating, RatingKind, UsageDay

__all__ = [
    "LOGICAL_COLUMNS",
    "OnBadRow",
    "RowError",
    "RowProblem",
    "missing_columns_error",
    "parse_day",
    "parse_instant",
    "to_nps",
    "to_nps_answers",
    "to_payment",
    "to_payments",
    "to_usage_day",
    "to_usage_days",
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


def _shown(value: Any) -> str:
    """A value as a problem quotes it: a database Decimal as its digits, anything else as repr."""
    return str(value) if isinstance(value, Decimal) else repr(value)


def _count(value: Any, column: str) -> int:
    if isinstance(value, bool):
        raise RowError(column, f"expected a whole number ≥ 0, got {_shown(value)}")
    try:
        # A SUM over a BIGINT column comes back from PostgreSQL as a Decimal (`numeric`).
        number = float(value) if isinstance(value, str | Decimal) else value
    except (ValueError, ArithmeticError):
        raise RowError(column, f"expected a whole number ≥ 0, got {_shown(value)}") from None
    if (
        not isinstance(number, int | float)
        or not math.isfinite(number)
        or number < 0
        or number != int(number)
    ):
        raise RowError(column, f"expected a whole number ≥ 0, got {_shown(value)}")
    return int(number)


def _key(value: Any, column: str) -> str:
    text = "" if value is None else str(value).strip()
    if not text:
        raise RowError(column, "the account key is empty")
    return text


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _usage_day(account: Any, day: Any, active_users: Any, logins: Any) -> UsageDay:
    return UsageDay(
        account_key=_key(account, "account"),
        day=parse_day(day, "day"),
        active_users=_count(active_users, "active_users"),
        logins=_count(logins, "logins"),
    )


def _payment(account: Any, due_date: Any, paid_date: Any, invoice_id: Any, amount: Any) -> Payment:
    number: float | None = None
    if not _blank(amount):
        try:
            number = float(amount)
        except (TypeError, ValueError):
            raise RowError("amount", f"expected a number, got {amount!r}") from None
    return Payment(
        account_key=_key(account, "account"),
        due_date=parse_day(due_date, "due_date"),
        paid_date=None if _blank(paid_date) else parse_day(paid_date, "paid_date"),
        invoice_id=None if _blank(invoice_id) else str(invoice_id).strip(),
        amount=number,
    )


def _nps(account: Any, score: Any, at: Any) -> Rating:
    number = _count(score, "score")
    if number > 10:
        raise RowError("score", f"an NPS answer is 0-10, got {number}")
    key = _key(account, "account")
    stamp = parse_instant(at, "at")
    return Rating(
        account_key=key, kind=RatingKind.NPS, score=number, at=stamp, id=f"nps:{key}:{stamp.isoformat()}"
    )


def to_usage_day(row: dict[str, Any]) -> UsageDay:
    """A daily usage row (logical column names) as a UsageDay."""
    return _usage_day(row.get("account"), row.get("day"), row.get("active_users"), row.get("logins"))


def to_payment(row: dict[str, Any]) -> Payment:
    """An invoice row as a Payment; a blank paid date means not paid (yet)."""
    return _payment(
        row.get("account"),
        row.get("due_date"),
        row.get("paid_date"),
        row.get("invoice_id"),
        row.get("amount"),
    )


def to_nps(row: dict[str, Any]) -> Rating:
    """An NPS answer row as a Rating (0-10)."""
    return _nps(row.get("account"), row.get("score"), row.get("at"))


# --- whole batches of positional rows ---------------------------------------------------------------
#
# A SQL source reads hundreds of thousands of rows a run, nearly all of them already well typed
# (whole numbers as ints, account keys as text, days as ISO text from SQLite or dates from
# PostgreSQL). So each row first tries a fast path that accepts only values whose result is
# plain — the same value the validating parsers above would give — and anything else (a blank,
# a float, a Decimal, a bad value) goes through those parsers, which also raise the same errors.
# Rows come as sequences in `LOGICAL_COLUMNS` order.

OnBadRow = Callable[[Sequence[Any], RowError], None]
"""`on_bad(row, error)`: what to do with a row a parser rejected (record it and go on)."""

_DAYS_REMEMBERED = 4_096
"""How many distinct day texts a `days` memo holds before it starts over (a daily query has about
30; stamped due dates could have many more, and memory must not follow the table)."""


def _memo_day(days: dict[str, date], text: str) -> date | None:
    """`parse_day(text)`, remembered in `days`; None if it is not a day (the caller's slow path says why)."""
    try:
        parsed = parse_day(text, "")
    except RowError:
        return None
    if len(days) >= _DAYS_REMEMBERED:
        days.clear()
    days[text] = parsed
    return parsed


def to_usage_days(
    rows: Iterable[Sequence[Any]], on_bad: OnBadRow, days: dict[str, date] | None = None
) -> list[UsageDay]:
    """Daily usage rows `(account, day, active_users, logins)` as UsageDays, as `to_usage_day` reads each.

    `days` remembers parsed day texts; pass one dict for all the batches of a query.
    """
    days = {} if days is None else days
    out: list[UsageDay] = []
    append = out.append
    for row in rows:
        account, day, users, logins = row
        kind = type(day)
        if kind is str:
            parsed = days.get(day) or _memo_day(days, day)
        elif kind is date:
            parsed = day
        else:
            parsed = None
        if (
            parsed is not None
            and type(account) is str
            and type(users) is int
            and type(logins) is int
            and users >= 0
            and logins >= 0
        ):
            key = account.strip()
            if key:
                append(UsageDay(key, parsed, users, logins))
                continue
        try:
            append(_usage_day(account, day, users, logins))
        except RowError as exc:
            on_bad(row, exc)
    return out


def to_payments(
    rows: Iterable[Sequence[Any]], on_bad: OnBadRow, days: dict[str, date] | None = None
) -> list[Payment]:
    """Invoice rows `(account, due_date, paid_date, invoice_id, amount)` as Payments, as `to_payment`
    reads each; `days` as for `to_usage_days`."""
    days = {} if days is None else days
    out: list[Payment] = []
    append = out.append
    for row in rows:
        account, due, paid, invoice, amount = row
        kind = type(due)
        if kind is str:
            due_day = days.get(due) or _memo_day(days, due)
        elif kind is date:
            due_day = due
        else:
            due_day = None
        plain = type(account) is str
        paid_day: date | None = None
        kind = type(paid)
        if kind is str:
            paid_day = days.get(paid) or _memo_day(days, paid)
            plain = plain and paid_day is not None
        elif kind is date:
            paid_day = paid
        elif paid is not None:
            plain = False
        kind = type(invoice)
        if kind is str:
            invoice = invoice.strip() or None
        elif invoice is not None:
            plain = False
        kind = type(amount)
        if kind is int:
            amount = float(amount)
        elif kind is not float and amount is not None:
            plain = False
        if plain and due_day is not None:
            key = account.strip()
            if key:
                append(Payment(key, due_day, paid_day, invoice, amount))
                continue
        try:
            append(_payment(*row))
        except RowError as exc:
            on_bad(row, exc)
    return out


def to_nps_answers(rows: Iterable[Sequence[Any]], on_bad: OnBadRow) -> list[Rating]:
    """NPS rows `(account, score, at)` as Ratings, as `to_nps` reads each."""
    out: list[Rating] = []
    append = out.append
    nps = RatingKind.NPS
    for row in rows:
        account, score, at = row
        if type(account) is str and type(score) is int and 0 <= score <= 10:
            key = account.strip()
            if key:
                try:
                    stamp = parse_instant(at, "at")
                except RowError as exc:
                    on_bad(row, exc)  # what `_nps` would say: the account and score are good
                    continue
                append(Rating(key, nps, score, stamp, f"nps:{key}:{stamp.isoformat()}"))
                continue
        try:
            append(_nps(*row))
        except RowError as exc:
            on_bad(row, exc)
    return out
