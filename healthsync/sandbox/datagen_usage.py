"""The usage database: daily usage, invoices and NPS answers per customer, in one SQLite file.

Tables and columns are the ones healthsync's `[usage]` source reads (see `tests/sandbox/conftest.py`):
`usage_daily(account_key, day, active_users, logins)`, `invoices(invoice_id, account_key, due_date,
paid_date, amount)`, `nps_responses(response_id, account_key, score, responded_at)`. Days are ISO
dates, `responded_at` is "YYYY-MM-DD HH:MM:SS" in UTC.

Speed matters here: 100,000 accounts are 9 million usage rows. The file is generated, so it is
written in one transaction with the journal and fsyncs off. Each customer's 90 days go in as one
multi-row INSERT, with the day literals in the SQL and the account key bound once (`?1`). That is
about three times faster than one `executemany` row per day. `usage_daily` is a `WITHOUT ROWID`
table keyed by (account_key, day): its rows arrive in key order, so the key is also the index, and
the file is half the size of a heap table with a separate index. Invoices and NPS answers are keyed
by their ids the same way ("INV-<key>-<YYYYMM>", "NPS-<key>-<YYYYMMDD>", in key order too).
"""

from __future__ import annotations

import bisect
import random
import sqlite3
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from healthsync.sandbox.datagen_model import (
    DECLINE_DAYS,
    AccountFacts,
    UsageAccount,
    billing_day,
    usage_profile,
    weekend_flags,
)
from healthsync.sandbox.dataset import Archetype, Customer

__all__ = [
    "HISTORY_DAYS",
    "SCHEMA",
    "BulkInsert",
    "create_usage_db",
    "invoice_fate",
    "invoice_id",
    "invoice_row",
    "nps_score",
    "nps_time",
    "write_history",
    "write_history_rows",
]

HISTORY_DAYS = 90
"""Days of usage generated up to (and excluding) the generation day."""

SCHEMA = """
CREATE TABLE usage_daily (
    account_key TEXT, day DATE, active_users INTEGER, logins INTEGER,
    PRIMARY KEY (account_key, day)
) WITHOUT ROWID;
CREATE TABLE invoices (
    invoice_id TEXT PRIMARY KEY, account_key TEXT, due_date DATE, paid_date DATE, amount REAL
) WITHOUT ROWID;
CREATE INDEX invoices_account_due ON invoices (account_key, due_date);
CREATE TABLE nps_responses (
    response_id TEXT PRIMARY KEY, account_key TEXT, score INTEGER, responded_at TIMESTAMP
) WITHOUT ROWID;
CREATE INDEX nps_responses_account_time ON nps_responses (account_key, responded_at);
"""


class BulkInsert:
    """Rows of one table, buffered and written `per_statement` to an INSERT.

    Multi-row VALUES lists cut the per-row cost of the sqlite3 module's binding loop; the remainder
    goes in with single-row statements on `flush`.
    """

    def __init__(
        self, db: sqlite3.Connection, table: str, columns: Sequence[str], per_statement: int = 64
    ) -> None:
        self._db = db
        self._width = len(columns)
        self._per = per_statement
        # Table and column names are the module's own constants, never input.
        head = f"INSERT INTO {table} ({', '.join(columns)}) VALUES "  # noqa: S608
        one = "(" + ", ".join("?" * self._width) + ")"
        self._one = head + one
        self._many = head + ", ".join([one] * per_statement)
        self._chunk = self._width * per_statement
        self._flat: list[object] = []
        self.rows = 0

    def add(self, *row: object) -> None:
        """Queue one row; full statements are written as the buffer fills."""
        self._flat.extend(row)
        self.rows += 1
        if len(self._flat) >= self._chunk * 256:
            self._write_full()

    def _write_full(self) -> None:
        full = len(self._flat) - len(self._flat) % self._chunk
        flat = self._flat
        self._db.executemany(self._many, [flat[i : i + self._chunk] for i in range(0, full, self._chunk)])
        del flat[:full]

    def flush(self) -> None:
        """Write everything still queued."""
        self._write_full()
        flat, width = self._flat, self._width
        self._db.executemany(self._one, [flat[i : i + width] for i in range(0, len(flat), width)])
        flat.clear()


def create_usage_db(path: Path) -> sqlite3.Connection:
    """A fresh usage database at `path` (an old file is replaced), set up for one bulk load."""
    path.unlink(missing_ok=True)
    db = sqlite3.connect(path, isolation_level=None, cached_statements=256)
    # Bigger pages and cache: a third fewer B-tree page splits and writes for 9 million rows.
    db.execute("PRAGMA page_size=16384")
    db.execute("PRAGMA cache_size=-65536")
    # A generated file: nothing to recover after a crash, so no journal and no fsync.
    db.execute("PRAGMA journal_mode=OFF")
    db.execute("PRAGMA synchronous=OFF")
    db.executescript(SCHEMA)
    return db


def _usage_sql(days: Sequence[date]) -> str:
    # One statement per customer: ?1 is the account key, then the active users, then the logins.
    n = len(days)
    values = ", ".join(f"(?1, '{day.isoformat()}', ?{i + 2}, ?{i + 2 + n})" for i, day in enumerate(days))
    return f"INSERT INTO usage_daily (account_key, day, active_users, logins) VALUES {values}"  # noqa: S608


_Scale = tuple[tuple[int, ...], tuple[float, ...]]


def _nps_scale(archetype: Archetype, last: bool) -> _Scale:
    # (scores, cumulative weights) of one archetype's answers.
    if archetype is Archetype.EXPANDING:
        return ((9, 10), (0.45, 1.0)) if last else ((8, 9, 10), (0.3, 0.7, 1.0))
    if archetype is Archetype.CHURN_RISK and last:
        return (1, 2, 3, 4, 5, 6), (0.05, 0.15, 0.3, 0.5, 0.75, 1.0)
    if archetype in (Archetype.CHURN_RISK, Archetype.DECLINING):
        return (3, 4, 5, 6, 7, 8, 9), (0.05, 0.15, 0.3, 0.5, 0.75, 0.92, 1.0)
    if archetype is Archetype.ONBOARDING:
        return (7, 8, 9, 10), (0.2, 0.5, 0.8, 1.0)
    return (5, 6, 7, 8, 9, 10), (0.02, 0.06, 0.22, 0.48, 0.8, 1.0)


_NPS_SCALES = {(a, last): _nps_scale(a, last) for a in Archetype for last in (False, True)}


def nps_score(rng: random.Random, archetype: Archetype, *, last: bool = False) -> int:
    """An NPS answer: promoters for expanding customers, detractors for churn risks, mixed otherwise.

    `last` is the latest answer of a churn risk or expanding customer, the one the rules read.
    """
    scores, cumulative = _NPS_SCALES[archetype, last]
    return scores[bisect.bisect(cumulative, rng.random())]


def nps_time(moment: datetime) -> str:
    """`responded_at` as stored: UTC, no offset, whole seconds."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


_LATE_SHARE = {
    Archetype.HEALTHY: 0.01,
    Archetype.DECLINING: 0.02,
    Archetype.CHURN_RISK: 0.3,
    Archetype.ONBOARDING: 0.01,
    Archetype.EXPANDING: 0.005,
}


def invoice_fate(rng: random.Random, archetype: Archetype) -> bool:
    """Will this invoice be paid late? Mostly not, except for churn risks."""
    return rng.random() < _LATE_SHARE[archetype]


def invoice_id(customer: Customer, due: date) -> str:
    """One invoice per customer and month."""
    return f"INV-{customer.key}-{due.year:04d}{due.month:02d}"


def invoice_row(
    rng: random.Random, customer: Customer, due: date, late: bool, today: date
) -> tuple[str, str, str, str | None, float]:
    """One invoice row: paid up to 10 days early, or (late) 5-45 days after its due date, and
    unpaid while that day is still in the future."""
    if late:
        paid: date | None = due + timedelta(days=5 + int(rng.random() * 41))
        if paid is not None and paid > today:
            paid = None
    else:
        paid = min(today, due - timedelta(days=int(rng.random() * 11)))
    return (
        invoice_id(customer, due),
        customer.key,
        due.isoformat(),
        paid.isoformat() if paid is not None else None,
        round(customer.arr / 12, 2),
    )


class _Calendar:
    """Day strings around `today` by ordinal, made once: date formatting dominated the bulk writes."""

    def __init__(self, today: date, back: int = 400, ahead: int = 60) -> None:
        self.today = today.toordinal()
        self.base = self.today - back
        days = [date.fromordinal(self.base + i) for i in range(back + ahead + 1)]
        self.iso = [day.isoformat() for day in days]
        self.compact = [f"{day.year:04d}{day.month:02d}{day.day:02d}" for day in days]
        # The last 13 months: (first day's ordinal, "YYYYMM").
        self.months = []
        year, month = today.year, today.month
        for _ in range(13):
            self.months.append((date(year, month, 1).toordinal(), f"{year:04d}{month:02d}"))
            year, month = (year, month - 1) if month > 1 else (year - 1, 12)
        self.months.reverse()


def _write_invoices(
    rng: random.Random, seed: int, customer: UsageAccount, cal: _Calendar, sink: BulkInsert
) -> None:
    # Monthly invoices of the last 12 months, none due before the contract started.
    today, base, iso, rnd = cal.today, cal.base, cal.iso, rng.random
    offset = billing_day(seed, customer) - 1
    floor = max(today - 365, customer.contract_start.toordinal() - 1)
    dues = [(first + offset, month) for first, month in cal.months if floor < first + offset <= today]
    share = _LATE_SHARE[customer.archetype]
    late = [rnd() < share for _ in dues]
    if customer.archetype is Archetype.CHURN_RISK:
        # The risk story needs evidence: at least one invoice of the last 6 months paid late or overdue.
        recent = [i for i, (due, _) in enumerate(dues) if today - 182 < due < today]
        if recent and not any(late[i] for i in recent):
            late[recent[int(rnd() * len(recent))]] = True
    key, amount = customer.key, round(customer.arr / 12, 2)
    for (due, month), is_late in zip(dues, late, strict=True):
        if is_late:
            paid = due + 5 + int(rnd() * 41)
            paid_text = iso[paid - base] if paid <= today else None
        else:
            paid_text = iso[due - int(rnd() * 11) - base]
        sink.add(f"INV-{key}-{month}", key, iso[due - base], paid_text, amount)


def _write_nps(rng: random.Random, customer: UsageAccount, cal: _Calendar, sink: BulkInsert) -> None:
    # Quarterly-ish survey waves since the contract start (at most a year back); most get answered.
    today, base, rnd = cal.today, cal.base, rng.random
    day = max(customer.contract_start.toordinal(), today - 365) + 20 + int(rnd() * 61)
    waves = []
    while day < today:
        waves.append(day)
        day += 75 + int(rnd() * 31)
    forced = customer.archetype in (Archetype.CHURN_RISK, Archetype.EXPANDING)
    key, archetype = customer.key, customer.archetype
    for i, wave in enumerate(waves):
        last = i == len(waves) - 1
        if not (last and forced) and rnd() >= 0.7:
            continue
        second = 7 * 3600 + int(rnd() * 13 * 3600)
        at = f"{cal.iso[wave - base]} {second // 3600:02d}:{second // 60 % 60:02d}:{second % 60:02d}"
        score = nps_score(rng, archetype, last=last and forced)
        sink.add(f"NPS-{key}-{cal.compact[wave - base]}", key, score, at)


def write_history(path: Path, customers: Sequence[UsageAccount], seed: int, now: datetime) -> dict[str, int]:
    """Create the usage database with 90 days of usage, a year of invoices and NPS answers.

    Customers only support knows (`in_crm=False`) have no usage: the product does not know them.
    The database has its own random stream (from the seed), so it comes out the same whether it is
    written in this process or, for big datasets, in a worker beside the support data.

    Returns:
        Rows written per table.
    """
    rng = random.Random(f"healthsync-sandbox:{seed}:usage-db")  # noqa: S311 - repeatable test data
    today = now.date()
    first = today - timedelta(days=HISTORY_DAYS)
    flags = weekend_flags(first, HISTORY_DAYS)
    all_days = [first + timedelta(days=i) for i in range(HISTORY_DAYS)]
    full_sql = _usage_sql(all_days)
    calendar = _Calendar(today)
    db = create_usage_db(path)
    try:
        db.execute("BEGIN")
        invoices = BulkInsert(
            db, "invoices", ("invoice_id", "account_key", "due_date", "paid_date", "amount")
        )
        nps = BulkInsert(db, "nps_responses", ("response_id", "account_key", "score", "responded_at"))
        full: list[list[object]] = []
        usage_rows = 0
        rnd = rng.random
        decline_from = today - timedelta(days=DECLINE_DAYS)
        for customer in customers:
            if not customer.in_crm:
                continue
            profile = usage_profile(seed, customer, decline_from=decline_from)
            seats = profile.seats
            if profile.steady and profile.gate == 1.0:
                # Most customers: two levels, weekday and weekend; no list of means needed.
                weekday = seats * profile.level
                weekend = weekday * profile.weekend
                skip = 0
                active = [
                    (
                        a
                        if (a := int((weekend if f else weekday) * (0.8 + 0.4 * rnd()) + rnd())) <= seats
                        else seats
                    )
                    for f in flags
                ]
            else:
                means = profile.series(first, flags)
                skip = 0
                while skip < HISTORY_DAYS and all_days[skip] < profile.start:
                    skip += 1
                if skip:
                    means = means[skip:]
                if profile.gate < 1.0:
                    means = [m if rnd() < profile.gate else 0.0 for m in means]
                # ±20 % noise and random rounding, capped at the seats (see UsageProfile.draw).
                active = [
                    (a if (a := int(m * (0.8 + 0.4 * rnd()) + rnd())) <= seats else seats) for m in means
                ]
            spread = 2 * (profile.logins_per_user - 1)
            logins = [a + int(a * spread * rnd()) for a in active]
            usage_rows += len(active)
            if skip == 0:
                full.append([customer.key, *active, *logins])
                if len(full) >= 1000:
                    db.executemany(full_sql, full)
                    full.clear()
            elif active:
                db.execute(_usage_sql(all_days[skip:]), [customer.key, *active, *logins])
            _write_invoices(rng, seed, customer, calendar, invoices)
            _write_nps(rng, customer, calendar, nps)
        db.executemany(full_sql, full)
        invoices.flush()
        nps.flush()
        db.execute("COMMIT")
    finally:
        db.close()
    return {"usage_daily": usage_rows, "invoices": invoices.rows, "nps_responses": nps.rows}


def write_history_rows(
    path: Path, rows: Sequence[tuple[Any, ...]], seed: int, now: datetime
) -> dict[str, int]:
    """`write_history` for customers sent to a worker process as `AccountFacts.as_row` tuples."""
    return write_history(path, [AccountFacts(*row) for row in rows], seed, now)
