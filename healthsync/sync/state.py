"""The state store: what healthsync remembers between runs (DESIGN.md section 8).

Runs, cursors, mirrors of tickets/ratings/usage/payments, health history, account snapshots,
contract outcomes, the task/deal outbox, dead letters and the run lease, on SQLAlchemy Core: a SQLite
file by default, any PostgreSQL database for teams.

Three promises the rest of healthsync relies on:

* **Atomic pages.** Mirror rows and the cursor that covers them commit in one transaction
  (`StateStore.transaction`), so a crash never leaves a cursor ahead of its data.
* **Race-safe coordination.** The run lease, the outbox's put-if-absent and dead-letter de-duplication
  are each a single conditional statement (``INSERT … ON CONFLICT``), never read-then-write, so two
  processes on one database cannot both win.
* **No secrets.** Runs record a config *name* and *fingerprint*, never config values; nothing else
  here takes configuration.

Run ids are integers from the database (ascending, never reused), which keeps ``healthsync status``
readable ("run 42") and orders runs without trusting clocks.

Times are aware UTC datetimes in and out. ``clock`` is injectable so tests expire leases without
sleeping.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from typing import Any

from sqlalchemy import Row, and_, or_, select, update
from sqlalchemy.exc import OperationalError

from healthsync.errors import StateError
from healthsync.model import (
    ContractOutcome,
    HealthResult,
    Payment,
    Rating,
    SupportOrganization,
    Ticket,
    UsageDay,
)
from healthsync.sync import state_schema as s
from healthsync.sync.state_base import utc_now
from healthsync.sync.state_engine import create_state_engine
from healthsync.sync.state_history import StateHistory
from healthsync.sync.state_lease import LeaseMixin
from healthsync.sync.state_outbox import OutboxMixin
from healthsync.sync.state_reads import StateReads
from healthsync.sync.state_records import (
    MAX_CURSOR_KEYS,
    AccountSnapshot,
    CursorState,
    DeadLetter,
    HistoryPoint,
    Lease,
    OutboxEntry,
    OutboxStatus,
    OutcomeRecord,
    RunRecord,
    RunStatus,
    SnapshotRow,
)
from healthsync.sync.state_tx import StateTransaction, read_cursor

__all__ = [
    "MAX_CURSOR_KEYS",
    "AccountSnapshot",
    "CursorState",
    "DeadLetter",
    "HistoryPoint",
    "Lease",
    "OutboxEntry",
    "OutboxStatus",
    "OutcomeRecord",
    "RunRecord",
    "RunStatus",
    "SnapshotRow",
    "StateStore",
    "StateTransaction",
    "utc_now",
]


def _run(row: Row[Any]) -> RunRecord:
    return RunRecord(
        id=row.id,
        config_name=row.config_name,
        config_fingerprint=row.config_fingerprint,
        started_at=row.started_at,
        ended_at=row.ended_at,
        status=RunStatus(row.status),
        dry_run=bool(row.dry_run),
        counts=dict(row.counts or {}),
        api_calls=dict(row.api_calls or {}),
        errors=tuple(row.errors or ()),
        lease_name=row.lease_name,
        lease_holder=row.lease_holder,
    )


class StateStore(StateReads, StateHistory, OutboxMixin, LeaseMixin):
    """Everything healthsync persists between runs; open with `StateStore.open`, close when done.

    One instance may be shared by threads (SQLAlchemy pools connections); separate processes
    coordinate through the database itself (lease, conditional upserts).
    """

    # --- lifecycle -------------------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        url: str,
        *,
        schema: str | None = None,
        clock: Callable[[], datetime] | None = None,
        connect_args: Mapping[str, Any] | None = None,
    ) -> StateStore:
        """Open (creating or migrating as needed) the state database at `url`.

        A new database gets the current schema; an older healthsync file is migrated forward in one
        transaction; a file from a newer healthsync, or a database that is not ours, is refused
        rather than guessed at.

        Args:
            url: SQLAlchemy URL: ``sqlite:///path/state.db`` (directories created; WAL mode) or
                ``postgresql+psycopg://user@host/db``.
            schema: PostgreSQL only: keep the tables in this schema (created if missing).
            clock: returns the current aware UTC time; injectable so tests can move time.
            connect_args: extra DBAPI ``connect()`` arguments.

        Raises:
            StateError: the URL is unusable, the database cannot be reached, or its schema cannot
                be used (see `healthsync.sync.state_schema.ensure_schema`).
        """
        engine, where = create_state_engine(url, schema=schema, connect_args=connect_args)
        store = cls(engine, where, clock or utc_now)
        try:
            with store._write() as conn:
                s.ensure_schema(conn, where)
        except OperationalError as exc:
            store.close()
            raise StateError(f"cannot open the state database {where}: {exc.orig}") from exc
        except BaseException:
            store.close()
            raise
        return store

    @contextmanager
    def transaction(self) -> Iterator[StateTransaction]:
        """Group writes so they commit together or not at all.

        This is how the engine stores a page of mirrored records with the cursor that covers it:
        if anything inside raises, neither the rows nor the cursor are written, and the next run
        re-reads that page (dlt-hub/dlt#4052 is what happens otherwise).

        Example:
            ``with store.transaction() as tx: tx.upsert_tickets(page.records); tx.set_cursor(...)``
        """
        with self._write() as conn:
            yield StateTransaction(conn, self._now)

    # --- runs ------------------------------------------------------------------------------------

    def start_run(
        self,
        config_name: str,
        dry_run: bool,
        *,
        config_fingerprint: str | None = None,
        lease: Lease | None = None,
    ) -> int:
        """Record that a run began, and return its id.

        Args:
            config_name: which configuration runs (a name or path, never its contents).
            dry_run: true for ``sync --dry-run`` and ``plan``.
            config_fingerprint: a hash of the effective config, so ``status`` can tell runs of a
                changed config apart without the store holding any config value (or secret).
            lease: the run lease this run holds; lets `mark_stale_runs` tell a crashed run from a
                live one.
        """
        with self._write() as conn:
            run_id = conn.execute(
                s.runs.insert()
                .values(
                    config_name=config_name,
                    config_fingerprint=config_fingerprint,
                    started_at=self._now(),
                    status=RunStatus.RUNNING.value,
                    dry_run=dry_run,
                    lease_name=lease.name if lease else None,
                    lease_holder=lease.holder if lease else None,
                )
                .returning(s.runs.c.id)
            ).scalar_one()
            return int(run_id)

    def finish_run(
        self,
        run_id: int,
        status: RunStatus,
        counts: Mapping[str, Any] | None = None,
        api_calls: Mapping[str, Any] | None = None,
        errors: Sequence[Any] | None = None,
    ) -> RunRecord:
        """Record how a run ended, with its counts, API calls per vendor/endpoint and errors.

        A run marked INTERRUPTED (its lease lapsed, so it looked dead) may still be finished by its
        own process: the real outcome is better information than the guess.

        Raises:
            StateError: the run does not exist, already finished, or `status` is RUNNING.
        """
        status = RunStatus(status)
        if status is RunStatus.RUNNING:
            raise StateError(f"run {run_id} cannot be finished with status 'running'")
        r = s.runs
        with self._write() as conn:
            row = conn.execute(
                update(r)
                .where(
                    r.c.id == run_id, r.c.status.in_([RunStatus.RUNNING.value, RunStatus.INTERRUPTED.value])
                )
                .values(
                    status=status.value,
                    ended_at=self._now(),
                    counts=dict(counts or {}),
                    api_calls=dict(api_calls or {}),
                    errors=list(errors or []),
                )
                .returning(*r.c)
            ).first()
            if row is not None:
                return _run(row)
            existing = conn.execute(select(r.c.status).where(r.c.id == run_id)).scalar_one_or_none()
        if existing is None:
            raise StateError(f"there is no run {run_id} in {self._where}")
        raise StateError(f"run {run_id} already finished with status {existing!r}")

    def get_run(self, run_id: int) -> RunRecord | None:
        """One run, or None if there is no such id."""
        with self._read() as conn:
            row = conn.execute(select(s.runs).where(s.runs.c.id == run_id)).first()
        return _run(row) if row is not None else None

    def recent_runs(self, limit: int = 20, config_name: str | None = None) -> list[RunRecord]:
        """The latest runs, newest first, optionally of one config (for ``healthsync status``)."""
        stmt = select(s.runs)
        if config_name is not None:
            stmt = stmt.where(s.runs.c.config_name == config_name)
        with self._read() as conn:
            return [_run(r) for r in conn.execute(stmt.order_by(s.runs.c.id.desc()).limit(limit))]

    def mark_stale_runs(self, *, started_before: datetime | None = None) -> list[int]:
        """Mark runs left ``running`` by a dead process as INTERRUPTED; return their ids.

        A run that holds a lease is stale once that lease expired or passed to another holder: a
        live process renews its lease, a crashed one cannot. A run started without a lease is
        judged only by age, and only if `started_before` is given. Safe to call at any time.
        """
        r, lease = s.runs, s.run_lease
        now = self._now()
        lease_alive = (
            select(lease.c.name)
            .where(
                lease.c.name == r.c.lease_name, lease.c.holder == r.c.lease_holder, lease.c.expires_at > now
            )
            .exists()
        )
        stale = and_(r.c.lease_holder.is_not(None), ~lease_alive)
        if started_before is not None:
            stale = or_(stale, and_(r.c.lease_holder.is_(None), r.c.started_at < started_before))
        stmt = (
            update(r)
            .where(r.c.status == RunStatus.RUNNING.value, stale)
            .values(status=RunStatus.INTERRUPTED.value, ended_at=now)
            .returning(r.c.id)
        )
        with self._write() as conn:
            return sorted(int(i) for i in conn.execute(stmt).scalars())

    # --- cursors and one-shot writes ---------------------------------------------------------------

    def get_cursor(self, source: str, stream: str) -> CursorState | None:
        """Where `source`/`stream` resumes, or None before its first committed page."""
        with self._read() as conn:
            return read_cursor(conn, source, stream)

    def cursors(self) -> dict[str, str]:
        """Every stored cursor as ``{"source/stream": value}`` (for `status`)."""
        c = s.cursors
        with self._read() as conn:
            rows = conn.execute(select(c.c.source, c.c.stream, c.c.value).order_by(c.c.source, c.c.stream))
            return {f"{r.source}/{r.stream}": r.value for r in rows}

    def set_cursor(
        self, source: str, stream: str, value: str, keys_at_value: Iterable[str] = ()
    ) -> CursorState:
        """Store a cursor on its own; prefer `transaction` when rows come with it."""
        with self.transaction() as tx:
            return tx.set_cursor(source, stream, value, keys_at_value)

    def upsert_tickets(self, tickets: Iterable[Ticket]) -> int:
        """Mirror tickets in their own transaction; see `StateTransaction.upsert_tickets`."""
        with self.transaction() as tx:
            return tx.upsert_tickets(tickets)

    def upsert_organizations(self, organizations: Iterable[SupportOrganization]) -> int:
        """Mirror organizations in their own transaction; see `StateTransaction.upsert_organizations`."""
        with self.transaction() as tx:
            return tx.upsert_organizations(organizations)

    def upsert_ratings(self, ratings: Iterable[Rating]) -> int:
        """Mirror ratings in their own transaction; see `StateTransaction.upsert_ratings`."""
        with self.transaction() as tx:
            return tx.upsert_ratings(ratings)

    def upsert_usage_days(self, days: Iterable[UsageDay]) -> int:
        """Mirror usage days in their own transaction; see `StateTransaction.upsert_usage_days`."""
        with self.transaction() as tx:
            return tx.upsert_usage_days(days)

    def upsert_payments(self, payments: Iterable[Payment]) -> int:
        """Mirror payments in their own transaction; see `StateTransaction.upsert_payments`."""
        with self.transaction() as tx:
            return tx.upsert_payments(payments)

    def record_health(self, run_id: int, results: Iterable[HealthResult], day: date | None = None) -> int:
        """Store each account's health for the day; see `StateTransaction.record_health`."""
        with self.transaction() as tx:
            return tx.record_health(run_id, results, day)

    def record_snapshots(self, run_id: int, day: date, rows: Iterable[AccountSnapshot]) -> int:
        """Store what a run saw of each account; see `StateTransaction.record_snapshots`."""
        with self.transaction() as tx:
            return tx.record_snapshots(run_id, day, rows)

    def record_outcome(
        self,
        account: str,
        contract_end: date,
        outcome: ContractOutcome,
        *,
        reason: str | None = None,
        new_contract_end: date | None = None,
        arr: float | None = None,
        decided_on: date | None = None,
        deal_key: str | None = None,
    ) -> OutcomeRecord:
        """Record that a contract ending on `contract_end` was renewed or churned.

        Re-recording the same contract end replaces the earlier verdict: people correct mistakes.
        """
        record = OutcomeRecord(
            account, contract_end, outcome, reason, new_contract_end, arr, self._now(), decided_on, deal_key
        )
        with self.transaction() as tx:
            tx.record_outcomes([record])
        return record
