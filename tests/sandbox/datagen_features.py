"""Helpers for the data generator's tests: health features computed straight from generated data.

The definitions follow DESIGN.md sections 4-5 and healthsync's default rules, computed here
independently of healthsync's own feature code so the tests check the data, not the code reading it.
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

from healthsync.sandbox.dataset import Dataset

CRITICAL = frozenset({"urgent", "high"})
OPEN = frozenset({"new", "open", "pending", "hold"})
_SUFFIX = re.compile(
    r"[\s,]+(inc|incorporated|llc|l\.l\.c|corp|corporation|ltd|limited|plc|p\.l\.c|gmbh|ag|a\.g|sa|s\.a|"
    r"sas|s\.a\.s|s\.l|sl|b\.v|bv|ab|aktiebolag|oy|pty\.? ltd)\.?$",
    re.IGNORECASE,
)


def normalise(name: str) -> str:
    """What a name matcher compares: no legal suffix, no case, no punctuation."""
    return "".join(ch for ch in _SUFFIX.sub("", name.strip()).lower() if ch.isalnum())


def db_digest(path: Path) -> str:
    """A canonical hash of every table's rows, independent of the file's layout."""
    db = sqlite3.connect(path)
    try:
        digest = hashlib.sha256()
        for table in ("usage_daily", "invoices", "nps_responses"):
            for row in db.execute(f"SELECT * FROM {table} ORDER BY 1, 2"):  # noqa: S608
                digest.update(repr(row).encode())
        return digest.hexdigest()
    finally:
        db.close()


def query(path: Path, sql: str, *params: object) -> list[tuple[object, ...]]:
    db = sqlite3.connect(path)
    try:
        return db.execute(sql, params).fetchall()
    finally:
        db.close()


@dataclass
class Features:
    """One account's signals as of the dataset's day."""

    login_days_30d: int
    usage_change_14d: float | None
    active_ratio: float
    open_critical: int
    oldest_critical_days: float | None
    last_nps: int | None
    payments_on_time_6m: bool | None
    usage_days: int


def features(dataset: Dataset, now: datetime) -> dict[int, Features]:
    """Features of every CRM customer from the dataset and its usage database."""
    today = now.date()
    usage: dict[str, dict[date, tuple[int, int]]] = defaultdict(dict)
    for key, day, active, logins in query(dataset.usage_db, "SELECT * FROM usage_daily"):
        usage[str(key)][date.fromisoformat(str(day))] = (int(str(active)), int(str(logins)))
    nps: dict[str, tuple[str, int]] = {}
    for key, score, at in query(
        dataset.usage_db, "SELECT account_key, score, responded_at FROM nps_responses"
    ):
        if str(key) not in nps or str(at) > nps[str(key)][0]:
            nps[str(key)] = (str(at), int(str(score)))
    on_time: dict[str, bool] = {}
    since = today - timedelta(days=182)
    for key, due, paid in query(dataset.usage_db, "SELECT account_key, due_date, paid_date FROM invoices"):
        due_day = date.fromisoformat(str(due))
        if not since < due_day <= today:
            continue
        ok = paid is not None and date.fromisoformat(str(paid)) <= due_day
        if paid is None and due_day >= today:
            continue  # not yet due
        on_time[str(key)] = on_time.get(str(key), True) and ok
    critical: dict[int, list[float]] = defaultdict(list)
    for ticket in dataset.tickets:
        if (
            ticket.customer is not None
            and not ticket.deleted
            and ticket.status in OPEN
            and ticket.priority in CRITICAL
        ):
            critical[ticket.customer].append((now - ticket.created_at).total_seconds() / 86400)
    out = {}
    for c in dataset.customers:
        if not c.in_crm:
            continue
        days = usage.get(c.key, {})
        last = [days.get(today - timedelta(days=i)) for i in range(1, 15)]
        before = [days.get(today - timedelta(days=i)) for i in range(15, 29)]
        recent = sum(d[0] for d in last if d)
        earlier = sum(d[0] for d in before if d)
        week = [days[d][0] for d in (today - timedelta(days=i) for i in range(1, 8)) if d in days]
        ages = critical.get(c.index, [])
        out[c.index] = Features(
            login_days_30d=sum(1 for i in range(1, 31) if days.get(today - timedelta(days=i), (0, 0))[1] > 0),
            usage_change_14d=recent / earlier - 1 if earlier else None,
            active_ratio=max(week, default=0) / c.seats,
            open_critical=len(ages),
            oldest_critical_days=max(ages) if ages else None,
            last_nps=nps[c.key][1] if c.key in nps else None,
            payments_on_time_6m=on_time.get(c.key),
            usage_days=len(days),
        )
    return out
