"""Usage, payments and NPS from any SQLAlchemy database, with the heavy work pushed down to it.

Product usage tables are big (one row per account per day, or per event); a warehouse aggregates
them far faster than we can stream them. So the daily query groups by account and day in the
database — `MAX(active_users)` (a day's distinct users do not add up across rows) and
`SUM(logins)` — and only the window asked for leaves it, streamed in chunks (`yield_per`).

A table is named with `table = "schema.name"` and its columns with `[usage.<t>.columns]`; or
`query = "SELECT ..."` gives any SQL whose result has the mapped columns, which is wrapped as a
subquery so the window filter and grouping still run in the database.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import date
from itertools import chain, islice
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import NoSuchTableError, SQLAlchemyError

from healthsync.config import UsageSection
from healthsync.connectors.usage_rows import (
    LOGICAL_COLUMNS,
    OPTIONAL_COLUMNS,
    OnBadRow,
    RowError,
    RowProblem,
    missing_columns_error,
    to_nps_answers,
    to_payments,
    to_usage_days,
)
from healthsync.errors import ConfigError, ConfigProblem
from healthsync.model import Payment, Rating, UsageDay
from healthsync.secrets import Secret

__all__ = ["CHUNK_ROWS", "SqlUsageSource"]

T = TypeVar("T")

CHUNK_ROWS = 5_000
"""Rows fetched per round trip and yielded per batch: big enough to amortise, small enough to stream."""


class SqlUsageSource:
    """Reads `[usage.daily]`, `[usage.payments]` and `[usage.nps]` from a SQL database.

    Args:
        section: the validated `[usage]` config (kind = "sql").
        password: the database password, when the URL needs one (kept out of the URL in the config).
        config_source: the config file, named in error messages.
    """

    name = "usage"

    def __init__(
        self, section: UsageSection, *, password: Secret | None = None, config_source: str = ""
    ) -> None:
        if section.url is None:
            raise ConfigError("usage.url is required for kind = 'sql'")
        url = sa.engine.make_url(section.url)
        if password is not None:
            url = url.set(password=password.reveal())
        self._section = section
        self._config_source = config_source
        self._engine: Engine = sa.create_engine(url, pool_pre_ping=True)
        self.problems: list[RowProblem] = []

    def close(self) -> None:
        """Release the connection pool."""
        self._engine.dispose()

    # --- reads -----------------------------------------------------------------------------------

    def iter_daily_usage(self, start: date, end: date) -> Iterator[list[UsageDay]]:
        """Usage per account per day for `start`..`end` (inclusive), aggregated in the database."""
        source = self._source("daily")
        day = self._day_expr(source.c.day)
        stmt = (
            sa.select(
                source.c.account.label("account"),
                day.label("day"),
                sa.func.max(source.c.active_users).label("active_users"),
                sa.func.sum(source.c.logins).label("logins"),
            )
            .where(day >= start, day <= end)
            .group_by(source.c.account, day)
            .order_by(source.c.account, day)
        )
        days: dict[str, date] = {}
        yield from self._rows(
            "daily",
            stmt,
            lambda rows, on_bad: to_usage_days(rows, on_bad, days),
            lambda r: f"account {r[0]} day {r[1]}",
        )

    def iter_payments(self, since: date) -> Iterator[list[Payment]]:
        """Invoices due on or after `since`."""
        source = self._source("payments")
        due = self._day_expr(source.c.due_date)
        stmt = (
            sa.select(*self._columns(source, "payments")).where(due >= since).order_by(source.c.account, due)
        )
        days: dict[str, date] = {}
        yield from self._rows(
            "payments",
            stmt,
            lambda rows, on_bad: to_payments(rows, on_bad, days),
            lambda r: f"account {r[0]} due {r[1]}",
        )

    def iter_nps(self, since: date) -> Iterator[list[Rating]]:
        """NPS answers given on or after `since`."""
        source = self._source("nps")
        stmt = (
            sa.select(*self._columns(source, "nps"))
            .where(self._day_expr(source.c.at) >= since)
            .order_by(source.c.account, source.c.at)
        )
        yield from self._rows("nps", stmt, to_nps_answers, lambda r: f"account {r[0]} at {r[2]}")

    # --- plumbing ----------------------------------------------------------------------------------

    def _day_expr(self, column: Any) -> Any:
        # SQLite has no DATE type: date() normalises text and timestamps; elsewhere CAST does.
        if self._engine.dialect.name == "sqlite":
            return sa.func.date(column)
        return sa.cast(column, sa.Date)

    @staticmethod
    def _columns(source: Any, table: str) -> list[Any]:
        """`source`'s columns in `LOGICAL_COLUMNS` order: the positions the row converters read."""
        return [source.c[name] for name in LOGICAL_COLUMNS[table]]

    def _source(self, table: str) -> Any:
        """A selectable whose columns carry the logical names (`account`, `day`, ...)."""
        config = getattr(self._section, table)
        if config is None:
            raise ConfigError(f"[usage.{table}] is not configured")
        mapping = {name: getattr(config.columns, name) for name in LOGICAL_COLUMNS[table]}
        optional = OPTIONAL_COLUMNS.get(table, set())
        if config.table is not None:
            schema, _, name = config.table.rpartition(".")
            where = f"table {config.table}"
            try:
                present = [
                    c["name"] for c in sa.inspect(self._engine).get_columns(name, schema=schema or None)
                ]
            except NoSuchTableError:
                raise ConfigError(
                    f"{where}: not found",
                    [
                        ConfigProblem(
                            self._config_source,
                            f"usage.{table}.table",
                            f"table '{config.table}' not found "
                            f"in {self._engine.url.render_as_string(hide_password=True)}",
                        )
                    ],
                ) from None
            lower = {c.lower(): c for c in present}
            missing = {k: v for k, v in mapping.items() if v.lower() not in lower and k not in optional}
            if missing:
                raise missing_columns_error(self._config_source, table, where, missing, present)
            base = sa.table(
                name,
                *(sa.column(lower[v.lower()]) for v in set(mapping.values()) if v.lower() in lower),
                schema=schema or None,
            )
            columns = [
                (base.c[lower[v.lower()]] if v.lower() in lower else sa.null()).label(k)
                for k, v in mapping.items()
            ]
            return sa.select(*columns).subquery(f"usage_{table}")
        assert config.query is not None
        text = sa.text(config.query).columns(*(sa.column(v) for v in mapping.values()))
        inner = text.subquery(f"usage_{table}_query")
        return sa.select(*(inner.c[v].label(k) for k, v in mapping.items())).subquery(f"usage_{table}")

    def _rows(
        self,
        table: str,
        stmt: Any,
        convert: Callable[[Iterable[Sequence[Any]], OnBadRow], list[T]],
        locate: Callable[[Sequence[Any]], str],
    ) -> Iterator[list[T]]:
        """Stream `stmt` in chunks of `CHUNK_ROWS`; `convert` turns a chunk's rows (tuple-like, in the
        statement's column order: no per-row mapping is built) into records, handing it each bad row.

        A chunk is fetched in one round trip but its rows are handed to `convert` one by one, so each
        row object dies as soon as it is read: a run reads hundreds of thousands, and a list of them
        per chunk would only feed the garbage collector."""
        config = getattr(self._section, table)
        where = f"table {config.table}" if config.table is not None else f"[usage.{table}] query"
        problems = self.problems

        def on_bad(row: Sequence[Any], exc: RowError) -> None:
            problems.append(RowProblem(where, locate(row), exc.column, str(exc)))

        try:
            with self._engine.connect() as conn:
                result = conn.execution_options(yield_per=CHUNK_ROWS).execute(stmt)
                rows = iter(result)
                for first in rows:
                    batch = convert(chain((first,), islice(rows, CHUNK_ROWS - 1)), on_bad)
                    if batch:
                        yield batch
        except SQLAlchemyError as exc:
            message = str(getattr(exc, "orig", None) or exc).splitlines()[0]
            key = f"usage.{table}.query" if config.query is not None else f"usage.{table}.table"
            raise ConfigError(
                f"{where}: the database refused the query",
                [
                    ConfigProblem(
                        self._config_source, key, message, fix="check the table, query and column mapping"
                    )
                ],
            ) from None
