"""Write-back bookkeeping: the task/deal outbox and the dead-letter queue (DESIGN.md section 7).

The outbox row is written *before* the CRM create call, so a crash in between leaves a PENDING row
that the next run reconciles against the CRM instead of creating a duplicate. Dead letters hold the
records a vendor refused, one open row per (vendor, object, record, operation), retried next run.
Both use single ``INSERT … ON CONFLICT`` statements, so concurrent writers cannot double a row.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import Integer, Row, String, bindparam, func, select, update

from healthsync.errors import StateError, truncate
from healthsync.sync import state_schema as s
from healthsync.sync.state_base import StoreBase
from healthsync.sync.state_reads import chunked_keys
from healthsync.sync.state_records import DeadLetter, OutboxEntry, OutboxStatus
from healthsync.sync.state_tx import UPSERT_BATCH, batched, dialect_insert

__all__ = ["ERROR_LIMIT", "OutboxMixin"]


class _NewEntry(Protocol):
    @property
    def key(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def account(self) -> str: ...
    @property
    def payload(self) -> Mapping[str, Any]: ...


ERROR_LIMIT = 2_000
"""Characters of a vendor message kept per outbox entry or dead letter: enough to act on, never a payload."""


def _outbox(row: Row[Any]) -> OutboxEntry:
    return OutboxEntry(
        key=row.key,
        kind=row.kind,
        account=row.account,
        payload=dict(row.payload or {}),
        status=OutboxStatus(row.status),
        crm_id=row.crm_id,
        last_error=row.last_error,
        created_at=row.created_at,
        updated_at=row.updated_at,
        run_id=row.run_id,
        attempts=row.attempts,
    )


_ATTEMPTED = frozenset({OutboxStatus.SENT, OutboxStatus.FAILED})

_MARK = (
    update(s.outbox)
    .where(s.outbox.c.key == bindparam("m_key", type_=String()))
    .values(
        status=bindparam("m_status", type_=String()),
        updated_at=bindparam("m_now", type_=s.UTCDateTime()),
        attempts=s.outbox.c.attempts + bindparam("m_attempted", type_=Integer()),
        last_error=bindparam("m_error", type_=String()),
        # A NULL parameter keeps the stored id: a known CRM id is never cleared.
        crm_id=func.coalesce(bindparam("m_crm_id", type_=String()), s.outbox.c.crm_id),
    )
)
"""Moving one outbox entry to a status, built once and run with one parameter set per entry
(executemany), so marking a batch compiles nothing per row; see `_mark_params`."""

_MARK_RETURNING = _MARK.returning(*s.outbox.c)


def _mark_params(
    key: str, status: OutboxStatus, crm_id: str | None, error: str | None, now: datetime
) -> dict[str, Any]:
    """The parameters of `_MARK` for moving `key` to `status`: SENT and FAILED count as an attempt,
    the error is kept for FAILED only, and a known CRM id is never cleared."""
    status = OutboxStatus(status)
    return {
        "m_key": key,
        "m_status": status.value,
        "m_now": now,
        "m_attempted": 1 if status in _ATTEMPTED else 0,
        "m_error": truncate(error, ERROR_LIMIT) if error and status is OutboxStatus.FAILED else None,
        "m_crm_id": crm_id,
    }


def _dead_letter(row: Row[Any]) -> DeadLetter:
    return DeadLetter(
        id=row.id,
        run_id=row.run_id,
        vendor=row.vendor,
        object=row.object,
        record_key=row.record_key,
        operation=row.operation,
        payload=row.payload,
        error=row.error,
        attempts=row.attempts,
        first_seen=row.first_seen,
        last_seen=row.last_seen,
        resolved_at=row.resolved_at,
    )


class OutboxMixin(StoreBase):
    """Outbox and dead-letter operations; mixed into `StateStore`."""

    # --- outbox ----------------------------------------------------------------------------------

    def outbox_put(
        self, key: str, kind: str, account: str, payload: Mapping[str, Any], run_id: int | None = None
    ) -> bool:
        """Write a task or deal ahead of its CRM call, unless its key is already there.

        Write-ahead is what makes a crash between "create" and "remember" harmless: the next run
        finds the PENDING row and reconciles it against the CRM before creating anything.

        Returns:
            True if the entry is new; False if the key existed (its row is left untouched).
        """
        o = s.outbox
        now = self._now()
        with self._write() as conn:
            ins = dialect_insert(conn, o)
            stmt = (
                ins.values(
                    key=key,
                    kind=kind,
                    account=account,
                    payload=dict(payload),
                    status=OutboxStatus.PENDING.value,
                    created_at=now,
                    updated_at=now,
                    run_id=run_id,
                    attempts=0,
                )
                .on_conflict_do_nothing(index_elements=["key"])
                .returning(o.c.key)
            )
            return conn.execute(stmt).first() is not None

    def outbox_mark(
        self, key: str, status: OutboxStatus, crm_id: str | None = None, error: str | None = None
    ) -> OutboxEntry:
        """Move an outbox entry to `status`, keeping the CRM id once known.

        SENT and FAILED count as an attempt. `error` is kept for FAILED and cleared otherwise.

        Raises:
            StateError: no entry has this key.
        """
        params = _mark_params(key, status, crm_id, error, self._now())
        with self._write() as conn:
            row = conn.execute(_MARK_RETURNING, params).first()
        if row is None:
            raise StateError(f"there is no outbox entry with key {key!r}")
        return _outbox(row)

    def outbox_put_many(self, entries: Iterable[OutboxEntry | _NewEntry], run_id: int | None = None) -> int:
        """`outbox_put` for many entries in one transaction (keys already present are left alone).

        Each entry gives `key`, `kind`, `account` and `payload`. Returns how many were new. One
        ``INSERT … ON CONFLICT DO NOTHING RETURNING key`` runs over all rows as an executemany, which
        SQLAlchemy sends as multi-row inserts without compiling a statement per row or per batch.
        """
        now = self._now()
        pending = OutboxStatus.PENDING.value
        rows = [
            {
                "key": e.key,
                "kind": e.kind,
                "account": e.account,
                "payload": dict(e.payload),
                "status": pending,
                "created_at": now,
                "updated_at": now,
                "run_id": run_id,
                "attempts": 0,
            }
            for e in entries
        ]
        if not rows:
            return 0
        new = 0
        with self._write() as conn:
            stmt = (
                dialect_insert(conn, s.outbox)
                .on_conflict_do_nothing(index_elements=["key"])
                .returning(s.outbox.c.key)
            )
            for batch in batched(rows, UPSERT_BATCH):
                new += len(conn.execute(stmt, batch).all())
        return new

    def outbox_mark_many(self, marks: Iterable[tuple[str, OutboxStatus, str | None, str | None]]) -> None:
        """`outbox_mark` for many (key, status, crm_id, error) in one transaction; unknown keys skipped.

        Marks apply in the order given (a key marked twice ends in its last status, counting both
        attempts), as one executemany of a statement built once.
        """
        now = self._now()
        params = [_mark_params(key, status, crm_id, error, now) for key, status, crm_id, error in marks]
        if not params:
            return
        with self._write() as conn:
            for batch in batched(params, UPSERT_BATCH):
                conn.execute(_MARK, batch)

    def outbox_lookup(self, keys: Iterable[str]) -> dict[str, OutboxEntry]:
        """The outbox entries of `keys` that exist, by key (one query per 900 keys)."""
        o = s.outbox
        found: dict[str, OutboxEntry] = {}
        with self._read() as conn:
            for chunk in chunked_keys(keys):
                for row in conn.execute(select(o).where(o.c.key.in_(chunk))):
                    found[row.key] = _outbox(row)
        return found

    def outbox_for_account(self, account: str) -> list[OutboxEntry]:
        """Tasks written ahead for one account, newest first (for `explain`)."""
        o = s.outbox
        stmt = select(o).where(o.c.account == account).order_by(o.c.created_at.desc(), o.c.key)
        with self._read() as conn:
            return [_outbox(r) for r in conn.execute(stmt)]

    def outbox_get(self, key: str) -> OutboxEntry | None:
        """One outbox entry by its task/deal key."""
        with self._read() as conn:
            row = conn.execute(select(s.outbox).where(s.outbox.c.key == key)).first()
        return _outbox(row) if row is not None else None

    def outbox_pending(
        self,
        kind: str | None = None,
        statuses: Iterable[OutboxStatus] = (OutboxStatus.PENDING, OutboxStatus.FAILED),
    ) -> list[OutboxEntry]:
        """Entries not known to exist in the CRM (PENDING or FAILED by default), oldest first.

        These are what a run reconciles against the CRM before it creates anything.
        """
        o = s.outbox
        stmt = select(o).where(o.c.status.in_([st.value for st in statuses]))
        if kind is not None:
            stmt = stmt.where(o.c.kind == kind)
        with self._read() as conn:
            return [_outbox(r) for r in conn.execute(stmt.order_by(o.c.created_at, o.c.key))]

    # --- dead letters ----------------------------------------------------------------------------

    def add_dead_letter(
        self,
        vendor: str,
        object: str,
        record_key: str,
        operation: str,
        error: str,
        *,
        payload: Mapping[str, Any] | None = None,
        run_id: int | None = None,
    ) -> DeadLetter:
        """Record a record the vendor refused, or count another failure of an open one.

        The same vendor, object, record and operation failing again while unresolved increments
        ``attempts`` and refreshes ``last_seen``, the error and the payload, so ``status`` shows one
        line per stuck record rather than one per run.
        """
        d = s.dead_letters
        now = self._now()
        with self._write() as conn:
            ins = dialect_insert(conn, d)
            stmt = (
                ins.values(
                    run_id=run_id,
                    vendor=vendor,
                    object=object,
                    record_key=record_key,
                    operation=operation,
                    payload=dict(payload) if payload is not None else None,
                    error=truncate(error, ERROR_LIMIT),
                    attempts=1,
                    first_seen=now,
                    last_seen=now,
                )
                .on_conflict_do_update(
                    index_elements=list(s.OPEN_DEAD_LETTER_COLUMNS),
                    index_where=d.c.resolved_at.is_(None),
                    set_={
                        "attempts": d.c.attempts + 1,
                        "last_seen": ins.excluded.last_seen,
                        "error": ins.excluded.error,
                        "payload": ins.excluded.payload,
                        "run_id": ins.excluded.run_id,
                    },
                )
                .returning(*d.c)
            )
            return _dead_letter(conn.execute(stmt).one())

    def open_dead_letters(self, vendor: str | None = None) -> list[DeadLetter]:
        """Unresolved dead letters, oldest first."""
        d = s.dead_letters
        stmt = select(d).where(d.c.resolved_at.is_(None))
        if vendor is not None:
            stmt = stmt.where(d.c.vendor == vendor)
        with self._read() as conn:
            return [_dead_letter(r) for r in conn.execute(stmt.order_by(d.c.first_seen, d.c.id))]

    def resolve_dead_letter(self, letter_id: int) -> None:
        """Mark one dead letter resolved (a retry succeeded, or a person dismissed it).

        Raises:
            StateError: there is no dead letter with this id.
        """
        d = s.dead_letters
        with self._write() as conn:
            conn.execute(
                update(d)
                .where(d.c.id == letter_id, d.c.resolved_at.is_(None))
                .values(resolved_at=self._now())
            )
            if conn.execute(select(d.c.id).where(d.c.id == letter_id)).first() is None:
                raise StateError(f"there is no dead letter {letter_id} in {self._where}")

    def resolve_dead_letters(
        self, vendor: str, object: str, record_key: str, operation: str | None = None
    ) -> int:
        """Resolve the open letters of one record (all operations unless given); returns how many."""
        d = s.dead_letters
        cond = [
            d.c.vendor == vendor,
            d.c.object == object,
            d.c.record_key == record_key,
            d.c.resolved_at.is_(None),
        ]
        if operation is not None:
            cond.append(d.c.operation == operation)
        with self._write() as conn:
            return len(
                conn.execute(update(d).where(*cond).values(resolved_at=self._now()).returning(d.c.id)).all()
            )

    def resolve_dead_letters_many(self, vendor: str, object: str, record_keys: Iterable[str]) -> int:
        """Resolve the open letters of many records of one object (a retry succeeded); returns how many."""
        d = s.dead_letters
        resolved = 0
        with self._write() as conn:
            for chunk in chunked_keys(record_keys):
                stmt = (
                    update(d)
                    .where(
                        d.c.vendor == vendor,
                        d.c.object == object,
                        d.c.record_key.in_(chunk),
                        d.c.resolved_at.is_(None),
                    )
                    .values(resolved_at=self._now())
                    .returning(d.c.id)
                )
                resolved += len(conn.execute(stmt).all())
        return resolved
