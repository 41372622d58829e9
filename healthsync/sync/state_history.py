"""Readers the portfolio report uses: a window of account snapshots, where each account's history
begins, NPS answers and contract outcomes (DESIGN.md 8). Mixed into `StateStore`.

Snapshots stream in (account, day) order so the report's loader can build frozen values without
holding SQLAlchemy rows, and the "state at the window's start" row comes from the same query.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time
from typing import Any, NamedTuple

from sqlalchemy import func, or_, select

from healthsync.model import RatingKind
from healthsync.sync import state_schema as s
from healthsync.sync.state_base import StoreBase
from healthsync.sync.state_reads import _outcome, _snapshot
from healthsync.sync.state_records import OutcomeRecord, SnapshotRow

__all__ = ["AccountStartRow", "NpsRow", "StateHistory"]

_STREAM_ROWS = 5_000


class AccountStartRow(NamedTuple):
    """Where an account's recorded history begins (over every snapshot, not only a window)."""

    account: str
    first_seen: date
    first_contract_start: date | None
    value_day: date | None


class NpsRow(NamedTuple):
    """One mirrored NPS answer, keyed by CRM account."""

    account: str
    at: datetime
    score: int


class StateHistory(StoreBase):
    """The report's readers."""

    def snapshot_window(self, since: date, until: date) -> Iterator[SnapshotRow]:
        """Per account, its last snapshot on or before `since`, then every snapshot in (`since`, `until`],
        ordered by (account, day, run). Several runs on one day keep only the day's last run."""
        t = s.account_snapshots
        last_run = (
            func.row_number()
            .over(partition_by=(t.c.account, t.c.day), order_by=t.c.run_id.desc())
            .label("run_rank")
        )
        before = (
            func.row_number()
            .over(partition_by=t.c.account, order_by=(t.c.day.desc(), t.c.run_id.desc()))
            .label("before_rank")
        )
        baseline = select(t, before).where(t.c.day <= since).subquery()
        window = select(t, last_run).where(t.c.day > since, t.c.day <= until).subquery()
        cols = [c.name for c in t.columns]
        stmt = (
            select(*[baseline.c[n] for n in cols])
            .where(baseline.c.before_rank == 1)
            .union_all(select(*[window.c[n] for n in cols]).where(window.c.run_rank == 1))
            .subquery()
        )
        query = select(stmt).order_by(stmt.c.account, stmt.c.day, stmt.c.run_id)
        with self._read() as conn:
            result = conn.execution_options(yield_per=_STREAM_ROWS).execute(query)
            for row in result:
                yield _snapshot(row)

    def account_starts(self, until: date) -> list[AccountStartRow]:
        """Each account's first snapshot day, earliest contract start and earliest value day."""
        t = s.account_snapshots
        stmt = (
            select(
                t.c.account,
                func.min(t.c.day).label("first_seen"),
                func.min(t.c.contract_start).label("first_contract_start"),
                func.min(t.c.value_day).label("value_day"),
            )
            .where(t.c.day <= until)
            .group_by(t.c.account)
            .order_by(t.c.account)
        )
        with self._read() as conn:
            return [
                AccountStartRow(r.account, r.first_seen, r.first_contract_start, r.value_day)
                for r in conn.execute(stmt)
            ]

    def first_snapshot_day(self) -> date | None:
        """The day of the earliest snapshot: history the report can use begins there."""
        with self._read() as conn:
            day: Any = conn.execute(select(func.min(s.account_snapshots.c.day))).scalar()
        return day if isinstance(day, date) else None

    def last_snapshot_day(self) -> date | None:
        """The day of the latest snapshot: the last day a sync (or backfill) recorded."""
        with self._read() as conn:
            day: Any = conn.execute(select(func.max(s.account_snapshots.c.day))).scalar()
        return day if isinstance(day, date) else None

    def nps_answers(self, since: date, until: date) -> list[NpsRow]:
        """Mirrored NPS answers given on days in (`since`, `until`]."""
        t = s.ratings
        start = datetime.combine(since, time.max, tzinfo=UTC)
        end = datetime.combine(until, time.max, tzinfo=UTC)
        stmt = (
            select(t.c.account_key, t.c.at, t.c.score)
            .where(t.c.kind == RatingKind.NPS.value, t.c.at > start, t.c.at <= end)
            .order_by(t.c.at, t.c.key)
        )
        with self._read() as conn:
            return [NpsRow(r.account_key, r.at, int(r.score)) for r in conn.execute(stmt)]

    def outcomes_decided(self, until: date) -> list[OutcomeRecord]:
        """Every recorded contract outcome decided on or before `until` (by decision day, then account)."""
        t = s.contract_outcomes
        day = func.coalesce(t.c.decided_on, t.c.contract_end)
        stmt = (
            select(t).where(or_(t.c.decided_on <= until, t.c.decided_on.is_(None))).order_by(day, t.c.account)
        )
        with self._read() as conn:
            return [_outcome(r) for r in conn.execute(stmt)]
