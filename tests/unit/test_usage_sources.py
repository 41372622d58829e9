"""Usage sources over real databases (SQLite, and PostgreSQL when one answers) and real CSV files."""

from __future__ import annotations

import itertools
import os
import uuid
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from healthsync.config import UsageSection
from healthsync.connectors.usage_csv import CsvUsageSource
from healthsync.connectors.usage_rows import (
    LOGICAL_COLUMNS,
    RowError,
    to_nps,
    to_nps_answers,
    to_payment,
    to_payments,
    to_usage_day,
    to_usage_days,
)
from healthsync.connectors.usage_sql import CHUNK_ROWS, SqlUsageSource
from healthsync.errors import ConfigError
from healthsync.model import RatingKind

PG_URL = os.environ.get("HEALTHSYNC_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")

DAILY = [
    # account, day, active_users, logins — two rows for C1 on 11-02 (per plan), combined in the database
    ("C1", "2026-11-01", 5, 7),
    ("C1", "2026-11-02", 4, 3),
    ("C1", "2026-11-02", 6, 2),
    ("C2", "2026-11-02", 1, 1),
    ("C2", "2026-10-15", 9, 9),  # outside the window
    ("C3", "2026-11-02", 2, -4),  # bad: negative logins
]
INVOICES = [
    ("I1", "C1", "2026-06-30", "2026-06-29", 100.0),
    ("I2", "C1", "2026-10-31", None, 100.0),
    ("I0", "C2", "2025-01-31", "2025-01-31", 50.0),
]
NPS = [("R1", "C1", 9, "2026-10-01 10:00:00"), ("R2", "C2", 11, "2026-10-02 10:00:00")]


def _fill(engine: sa.Engine, schema: str | None = None) -> None:
    meta = sa.MetaData(schema=schema)
    daily = sa.Table(
        "usage_daily",
        meta,
        sa.Column("acct", sa.Text),
        sa.Column("day", sa.Date),
        sa.Column("active_users", sa.Integer),
        # BIGINT: PostgreSQL sums it as `numeric`, which arrives as a Decimal and must read as a count.
        sa.Column("logins", sa.BigInteger),
    )
    invoices = sa.Table(
        "invoices",
        meta,
        sa.Column("invoice_id", sa.Text),
        sa.Column("account", sa.Text),
        sa.Column("due_date", sa.Date),
        sa.Column("paid_date", sa.Date),
        sa.Column("amount", sa.Float),
    )
    nps = sa.Table(
        "nps_responses",
        meta,
        sa.Column("response_id", sa.Text),
        sa.Column("account", sa.Text),
        sa.Column("score", sa.Integer),
        sa.Column("responded_at", sa.DateTime),
    )
    meta.create_all(engine)
    with engine.begin() as conn:
        conn.execute(
            daily.insert(),
            [
                dict(
                    zip(
                        ("acct", "day", "active_users", "logins"),
                        (a, date.fromisoformat(d), u, n),
                        strict=True,
                    )
                )
                for a, d, u, n in DAILY
            ],
        )
        conn.execute(
            invoices.insert(),
            [
                {
                    "invoice_id": i,
                    "account": a,
                    "due_date": date.fromisoformat(d),
                    "paid_date": date.fromisoformat(p) if p else None,
                    "amount": m,
                }
                for i, a, d, p, m in INVOICES
            ],
        )
        conn.execute(
            nps.insert(),
            [
                {"response_id": r, "account": a, "score": s, "responded_at": datetime.fromisoformat(t)}
                for r, a, s, t in NPS
            ],
        )


def _section(url: str, prefix: str = "") -> UsageSection:
    return UsageSection.model_validate(
        {
            "kind": "sql",
            "url": url,
            "account_key": "customer_key",
            "daily": {"table": f"{prefix}usage_daily", "columns": {"account": "acct"}},
            "payments": {"table": f"{prefix}invoices"},
            "nps": {"table": f"{prefix}nps_responses", "columns": {"at": "responded_at"}},
        }
    )


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def sql_source(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqlUsageSource]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'usage.db'}"
        engine = sa.create_engine(url)
        _fill(engine)
        engine.dispose()
        source = SqlUsageSource(_section(url), config_source="healthsync.toml")
        yield source
        source.close()
        return
    schema = f"usage_{uuid.uuid4().hex[:10]}"
    engine = sa.create_engine(PG_URL)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text(f"CREATE SCHEMA {schema}"))
    except sa.exc.OperationalError as exc:
        engine.dispose()
        pytest.skip(f"no PostgreSQL at {PG_URL}: {str(exc).splitlines()[0]}")
    try:
        _fill(engine, schema)
        source = SqlUsageSource(_section(PG_URL, prefix=f"{schema}."), config_source="healthsync.toml")
        yield source
        source.close()
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
        engine.dispose()


def test_daily_usage_is_aggregated_in_the_database_for_the_window(sql_source: SqlUsageSource) -> None:
    days = [d for batch in sql_source.iter_daily_usage(date(2026, 11, 1), date(2026, 11, 2)) for d in batch]
    assert [(d.account_key, d.day.isoformat(), d.active_users, d.logins) for d in days] == [
        ("C1", "2026-11-01", 5, 7),
        ("C1", "2026-11-02", 6, 5),
        ("C2", "2026-11-02", 1, 1),
    ]
    [problem] = sql_source.problems
    assert problem.source.startswith("table ")
    assert problem.source.endswith("usage_daily")
    assert (problem.row, problem.column, problem.message) == (
        "account C3 day 2026-11-02",
        "logins",
        "expected a whole number ≥ 0, got -4",
    )


def test_payments_since_and_unpaid(sql_source: SqlUsageSource) -> None:
    payments = [p for batch in sql_source.iter_payments(date(2026, 1, 1)) for p in batch]
    assert [(p.invoice_id, p.paid_date) for p in payments] == [("I1", date(2026, 6, 29)), ("I2", None)]
    assert payments[0].on_time(date(2026, 11, 1)) is True
    assert payments[1].on_time(date(2026, 11, 1)) is False  # overdue


def test_nps_answers_and_out_of_range_scores(sql_source: SqlUsageSource) -> None:
    ratings = [r for batch in sql_source.iter_nps(date(2026, 1, 1)) for r in batch]
    assert [(r.account_key, r.kind, r.score, r.at) for r in ratings] == [
        ("C1", RatingKind.NPS, 9, datetime(2026, 10, 1, 10, tzinfo=UTC))
    ]
    assert sql_source.problems[-1].column == "score"


def test_a_query_with_its_own_names_is_pushed_down_too(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'events.db'}"
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE logins (account_id TEXT, at TIMESTAMP, user_id TEXT)"))
        conn.execute(
            sa.text(
                "INSERT INTO logins VALUES ('C1','2026-11-02 09:00:00','u1'), "
                "('C1','2026-11-02 17:00:00','u2'), ('C1','2026-11-02 18:00:00','u1')"
            )
        )
    engine.dispose()
    section = UsageSection.model_validate(
        {
            "kind": "sql",
            "url": url,
            "daily": {
                "query": "SELECT account_id AS acc, date(at) AS d, COUNT(DISTINCT user_id) AS users, "
                "COUNT(*) AS n FROM logins GROUP BY account_id, date(at)",
                "columns": {"account": "acc", "day": "d", "active_users": "users", "logins": "n"},
            },
        }
    )
    source = SqlUsageSource(section)
    try:
        days = [d for batch in source.iter_daily_usage(date(2026, 11, 2), date(2026, 11, 2)) for d in batch]
    finally:
        source.close()
    assert [(d.account_key, d.active_users, d.logins) for d in days] == [("C1", 2, 3)]


def test_a_missing_column_names_the_mapping_key_and_what_exists(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'usage.db'}"
    engine = sa.create_engine(url)
    _fill(engine)
    engine.dispose()
    section = UsageSection.model_validate(
        {
            "kind": "sql",
            "url": url,
            "daily": {"table": "usage_daily", "columns": {"logins": "login_count"}},
        }
    )
    source = SqlUsageSource(section, config_source="healthsync.toml")
    with pytest.raises(ConfigError) as info:
        next(source.iter_daily_usage(date(2026, 11, 1), date(2026, 11, 2)))
    source.close()
    text = str(info.value)
    assert "usage.daily.columns.logins" in text
    assert "column 'login_count' not found in table usage_daily" in text
    assert "active_users" in text  # what the table has


def test_a_missing_table_and_a_broken_query_are_config_errors(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    source = SqlUsageSource(
        UsageSection.model_validate({"kind": "sql", "url": url, "daily": {"table": "nope"}})
    )
    with pytest.raises(ConfigError, match="table 'nope' not found"):
        next(source.iter_daily_usage(date(2026, 11, 1), date(2026, 11, 2)))
    source.close()
    source = SqlUsageSource(
        UsageSection.model_validate({"kind": "sql", "url": url, "daily": {"query": "SELEC 1"}})
    )
    with pytest.raises(ConfigError, match="the database refused the query"):
        next(source.iter_daily_usage(date(2026, 11, 1), date(2026, 11, 2)))
    source.close()


def _csv(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_csv_source_reads_aggregates_and_reports_bad_lines(tmp_path: Path) -> None:
    daily = _csv(
        tmp_path / "daily.csv",
        "account,day,active_users,logins\nC1,2026-11-02,4,3\nC1,2026-11-02,6,2\n"
        "C2,2026-11-02,x,1\nC2,2026-10-01,1,1\n",
    )
    payments = _csv(
        tmp_path / "payments.csv", "account,due_date,paid_date\nC1,2026-10-31,\nC1,2026-09-30,2026-10-02\n"
    )
    nps = _csv(tmp_path / "nps.csv", "account,score,at\nC1,10,2026-10-01T10:00:00Z\n")
    section = UsageSection.model_validate(
        {
            "kind": "csv",
            "daily": {"path": str(daily)},
            "payments": {"path": str(payments)},
            "nps": {"path": str(nps)},
        }
    )
    source = CsvUsageSource(section)
    days = [d for batch in source.iter_daily_usage(date(2026, 11, 1), date(2026, 11, 2)) for d in batch]
    assert [(d.account_key, d.active_users, d.logins) for d in days] == [("C1", 6, 5)]
    assert [str(p) for p in source.problems] == [
        f"{daily}: line 4: active_users: expected a whole number ≥ 0, got 'x'"
    ]
    paid = [p for batch in source.iter_payments(date(2026, 1, 1)) for p in batch]
    assert [(p.paid_date, p.on_time(date(2026, 11, 5))) for p in paid] == [
        (None, False),
        (date(2026, 10, 2), False),
    ]
    assert [r.score for batch in source.iter_nps(date(2026, 1, 1)) for r in batch] == [10]


def test_csv_missing_column_names_the_file_and_header(tmp_path: Path) -> None:
    daily = _csv(tmp_path / "daily.csv", "account,date,active_users,logins\nC1,2026-11-02,4,3\n")
    source = CsvUsageSource(
        UsageSection.model_validate({"kind": "csv", "daily": {"path": str(daily)}}),
        config_source="healthsync.toml",
    )
    with pytest.raises(ConfigError) as info:
        next(source.iter_daily_usage(date(2026, 11, 1), date(2026, 11, 2)))
    assert (
        f"healthsync.toml: usage.daily.columns.day: column 'day' not found in {daily} (header line 1)"
        in str(info.value)
    )


# --- batches of rows read as each row alone is read ------------------------------------------------
#
# The SQL source converts whole chunks of plain rows with a fast path for already-typed values;
# whatever a row holds, the result (or the error naming the column) must be the one the per-row
# parsers give.

_ACCOUNTS = ["C1", " C1 ", "", "  ", None, 42]
_DAYS = [
    "2026-11-02",
    " 2026-11-02",
    "2026-11-02T10:00:00Z",
    "20261102",
    "",
    "nope",
    date(2026, 11, 2),
    datetime(2026, 11, 2, 10),
    None,
    20261102,
]
_COUNTS = [0, 3, -1, True, 3.0, 3.5, "4", " 4 ", "x", None, Decimal("3"), float("nan")]


def _one_by_one(
    table: str, convert: Callable[[dict[str, Any]], Any], rows: list[tuple[Any, ...]]
) -> list[Any]:
    out: list[Any] = []
    for row in rows:
        try:
            out.append(convert(dict(zip(LOGICAL_COLUMNS[table], row, strict=True))))
        except RowError as exc:
            out.append((row, exc.column, str(exc)))
    return out


def _batched(convert: Callable[..., list[Any]], rows: list[tuple[Any, ...]], *args: Any) -> list[Any]:
    """`convert` over `rows` in one batch, the bad rows put back in order as (row, column, message)."""
    bad: dict[int, tuple[Any, ...]] = {}

    def on_bad(row: Sequence[Any], exc: RowError) -> None:
        bad[id(row)] = (row, exc.column, str(exc))

    good = iter(convert(rows, on_bad, *args))
    return [bad[id(row)] if id(row) in bad else next(good) for row in rows]


def test_a_batch_of_daily_rows_reads_every_value_as_one_row_does() -> None:
    rows = list(itertools.product(_ACCOUNTS, _DAYS, _COUNTS[:7], _COUNTS))
    rows += [("C1", "2026-11-02", 4, 3)] * 3  # the day text again, from the memo
    assert _batched(to_usage_days, rows) == _one_by_one("daily", to_usage_day, rows)


def test_a_batch_of_invoices_reads_every_value_as_one_row_does() -> None:
    paid = [None, "", "  ", "2026-11-01", date(2026, 11, 1), datetime(2026, 11, 1, 9), "bad"]
    amounts = [None, "", 10.5, 10, "10.5", "x", True, Decimal("1.5")]
    rows = list(itertools.product(_ACCOUNTS[:5], _DAYS[:8], paid, [None, "", " I1 ", 7], amounts))
    assert _batched(to_payments, rows) == _one_by_one("payments", to_payment, rows)


def test_a_batch_of_nps_answers_reads_every_value_as_one_row_does() -> None:
    stamps = [
        "2026-10-01 10:00:00",
        "2026-10-01T10:00:00Z",
        datetime(2026, 10, 1, 10),
        datetime(2026, 10, 1, 12, tzinfo=timezone(timedelta(hours=2))),
        date(2026, 10, 1),
        "",
        None,
        "nope",
    ]
    rows = list(itertools.product(_ACCOUNTS, [0, 10, 11, -1, "9", 9.0, True, None], stamps))
    assert _batched(to_nps_answers, rows) == _one_by_one("nps", to_nps, rows)


def test_the_day_memo_stays_bounded() -> None:
    """A memo shared by a query's batches holds a few thousand day texts at most, however many it sees."""
    start = datetime(2026, 1, 1)
    stamps = [(start + timedelta(minutes=m)).isoformat(sep=" ") for m in range(10_000)]
    days: dict[str, date] = {}
    rows = [("C1", stamp, 1, 1) for stamp in stamps]
    read = to_usage_days(rows, lambda row, exc: None, days)
    assert [d.day for d in read] == [date.fromisoformat(stamp[:10]) for stamp in stamps]
    assert 0 < len(days) <= 4_096


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def empty_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[sa.Engine, str, str]]:
    """An empty database: its engine, its URL and the table-name prefix (a fresh schema on PostgreSQL)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'big.db'}"
        engine = sa.create_engine(url)
        yield engine, url, ""
        engine.dispose()
        return
    schema = f"usage_{uuid.uuid4().hex[:10]}"
    engine = sa.create_engine(PG_URL)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text(f"CREATE SCHEMA {schema}"))
    except sa.exc.OperationalError as exc:
        engine.dispose()
        pytest.skip(f"no PostgreSQL at {PG_URL}: {str(exc).splitlines()[0]}")
    try:
        yield engine, PG_URL, f"{schema}."
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
        engine.dispose()


def test_daily_usage_streams_in_chunks(empty_db: tuple[sa.Engine, str, str]) -> None:
    """More rows than a chunk come in batches of CHUNK_ROWS, in order; a bad row in a later chunk is
    named and left out of its batch alone."""
    engine, url, prefix = empty_db
    accounts = CHUNK_ROWS // 10 + 7
    bad = (300, 5)  # account, day offset: row 300 * 20 + 4, in the second chunk
    daily = sa.Table(
        "usage_daily",
        sa.MetaData(schema=prefix.rstrip(".") or None),
        sa.Column("acct", sa.Text),
        sa.Column("day", sa.Date),
        sa.Column("active_users", sa.Integer),
        sa.Column("logins", sa.Integer),
    )
    daily.create(engine)
    first = date(2026, 11, 1)
    with engine.begin() as conn:
        conn.execute(
            daily.insert(),
            [
                {
                    "acct": f"A{a:05d}",
                    "day": first + timedelta(days=d),
                    "active_users": d,
                    "logins": -1 if (a, d) == bad else a,
                }
                for a in range(accounts)
                for d in range(21)
            ],
        )
    section = UsageSection.model_validate(
        {
            "kind": "sql",
            "url": url,
            "daily": {"table": f"{prefix}usage_daily", "columns": {"account": "acct"}},
        }
    )
    source = SqlUsageSource(section)
    try:
        batches = list(source.iter_daily_usage(first + timedelta(days=1), first + timedelta(days=20)))
    finally:
        source.close()
    total = accounts * 20
    assert [len(batch) for batch in batches] == [CHUNK_ROWS, CHUNK_ROWS - 1, total - 2 * CHUNK_ROWS]
    days = [(d.account_key, d.day, d.active_users, d.logins) for batch in batches for d in batch]
    assert days == [
        (f"A{a:05d}", first + timedelta(days=d), d, a)
        for a in range(accounts)
        for d in range(1, 21)
        if (a, d) != bad
    ]
    [problem] = source.problems
    assert (problem.row, problem.column) == (
        f"account A{bad[0]:05d} day {first + timedelta(days=bad[1])}",
        "logins",
    )
