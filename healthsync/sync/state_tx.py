"""Writes that must commit together: mirrored rows, the cursor that covers them, and a run's results.

`StateStore.transaction()` yields a `StateTransaction` bound to one database transaction. The engine
writes a page of tickets and the advanced cursor through it, so either both land or neither does:
a cursor saved apart from its rows is how dlt-hub/dlt#4052 duplicated data (STYLE.md section 3,
pitfall 3).

Every upsert is batched: rows go to the driver in `executemany` chunks of an ``INSERT … ON CONFLICT
DO UPDATE`` compiled once for the dialect (SQLite and PostgreSQL share the syntax), never one
statement per row. The statement itself is built once per table and dialect and then reused, so a
call writing one cursor row costs little more than the row.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, date, datetime
from functools import lru_cache
from itertools import islice
from operator import itemgetter
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Connection, Table, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.base import ReadOnlyColumnCollection
from sqlalchemy.sql.elements import KeyedColumnElement

from healthsync.errors import StateError
from healthsync.model import HealthResult, Payment, Rating, SupportOrganization, Ticket, UsageDay
from healthsync.sync import state_schema as s
from healthsync.sync.state_records import MAX_CURSOR_KEYS, AccountSnapshot, CursorState, OutcomeRecord

__all__ = [
    "UPSERT_BATCH",
    "StateTransaction",
    "batched",
    "dialect_insert",
    "payment_key",
    "rating_key",
    "read_cursor",
    "upsert",
]

UPSERT_BATCH = 5_000
"""Rows per executemany call: bounds the memory of one parameter list, not the number of rows."""

_T = TypeVar("_T")


def batched(items: Iterable[_T], size: int) -> Iterator[list[_T]]:
    """Yield lists of up to `size` items, consuming `items` lazily (itertools.batched is 3.12+)."""
    it = iter(items)
    while batch := list(islice(it, size)):
        yield batch


def _insert(dialect: str, table: Table) -> sqlite.Insert | postgresql.Insert:
    if dialect == "sqlite":
        return sqlite.insert(table)
    if dialect == "postgresql":
        return postgresql.insert(table)
    raise StateError(f"the state store supports SQLite and PostgreSQL, not {dialect}")


def dialect_insert(conn: Connection, table: Table) -> sqlite.Insert | postgresql.Insert:
    """The INSERT construct that can say ON CONFLICT on this connection's backend."""
    return _insert(conn.dialect.name, table)


@lru_cache(maxsize=64)
def _upsert_statement(
    dialect: str,
    table: Table,
    keys: tuple[str, ...],
    update: tuple[str, ...],
    only_if: Callable[[Any], ColumnElement[bool]] | None,
) -> sqlite.Insert | postgresql.Insert:
    """The ``INSERT … ON CONFLICT DO UPDATE`` of `upsert`, built once per distinct call shape.

    Building it (the ``excluded`` alias, the SET clause) costs more than writing a small batch, and
    `upsert` runs once per page or cursor; the bounded cache holds one per table in practice.
    """
    ins = _insert(dialect, table)
    return ins.on_conflict_do_update(
        index_elements=list(keys),
        set_={name: ins.excluded[name] for name in update},
        where=only_if(ins.excluded) if only_if is not None else None,
    )


def upsert(
    conn: Connection,
    table: Table,
    rows: Iterable[Mapping[str, Any]],
    *,
    keys: Sequence[str],
    update: Sequence[str] | None = None,
    only_if: Callable[[Any], ColumnElement[bool]] | None = None,
) -> int:
    """Insert rows, or update the existing row with the same `keys`, in batches.

    Rows with the same key inside one batch are collapsed to the last one, so the statement never
    has to touch a row twice (PostgreSQL refuses that for multi-row inserts).

    Args:
        conn: connection inside a transaction.
        table: target table.
        rows: column → value mappings, all with the same columns.
        keys: the primary-key (or unique) columns that identify a row.
        update: columns to overwrite on conflict; defaults to every non-key column.
        only_if: given the ``excluded`` namespace, a condition for the update (e.g. newer stamps only);
            pass a module-level function, not a fresh lambda, so the built statement is reused.

    Returns:
        The number of rows given, after de-duplication.
    """
    columns = update if update is not None else [c.name for c in table.columns if c.name not in keys]
    stmt = _upsert_statement(conn.dialect.name, table, tuple(keys), tuple(columns), only_if)
    key_of = itemgetter(*keys)
    written = 0
    for batch in batched(rows, UPSERT_BATCH):
        by_key = {key_of(row): row for row in batch}
        unique = batch if len(by_key) == len(batch) else list(by_key.values())
        conn.execute(stmt, unique)
        written += len(unique)
    return written


def rating_key(rating: Rating) -> str:
    """The rating's vendor id, or a stable key from what identifies a survey answer without one."""
    if rating.id:
        return rating.id
    return f"{rating.account_key}|{rating.kind.value}|{rating.at.astimezone(UTC).isoformat()}"


def payment_key(payment: Payment) -> str:
    """The invoice id, or ``due:<date>`` when the source has no invoice ids (one invoice per due date)."""
    return payment.invoice_id if payment.invoice_id else f"due:{payment.due_date.isoformat()}"


def _ticket_row(ticket: Ticket) -> dict[str, Any]:
    return {
        "id": ticket.id,
        "organization_id": ticket.organization_id,
        "priority": ticket.priority,
        "status": ticket.status,
        "is_critical": ticket.is_critical,
        "created_at": ticket.created_at,
        "updated_at": ticket.updated_at,
        "solved_at": ticket.solved_at,
        "deleted": ticket.deleted,
    }


def _newer_ticket(excluded: ReadOnlyColumnCollection[str, KeyedColumnElement[Any]]) -> ColumnElement[bool]:
    """A ticket update applies only if it is not older than the stored row."""
    return excluded.updated_at >= s.tickets.c.updated_at


@lru_cache(maxsize=4)
def _tombstone_statement(dialect: str) -> sqlite.Insert | postgresql.Insert:
    """Upsert of deleted tickets: fields the vendor leaves empty keep their stored values."""
    t = s.tickets
    ins = _insert(dialect, t)
    set_: dict[str, Any] = {name: ins.excluded[name] for name in ("status", "deleted", "updated_at")}
    for name in ("organization_id", "priority", "solved_at"):
        set_[name] = func.coalesce(ins.excluded[name], t.c[name])
    return ins.on_conflict_do_update(
        index_elements=["id"], set_=set_, where=ins.excluded.updated_at >= t.c.updated_at
    )


_ORGANIZATION_UPDATE = ("name", "external_id", "domains", "updated_at", "deleted")
"""What a newer copy of an organization overwrites: everything but its id."""


def _contribution_rows(result: HealthResult) -> list[dict[str, Any]]:
    return [
        {"rule_id": c.rule_id, "signal": c.signal, "points": c.points, "reason": c.reason, "value": c.value}
        for c in result.contributions
    ]


def read_cursor(conn: Connection, source: str, stream: str) -> CursorState | None:
    """The stored cursor of one stream, or None before its first committed page."""
    row = conn.execute(
        select(s.cursors.c.value, s.cursors.c.keys_at_value).where(
            s.cursors.c.source == source, s.cursors.c.stream == stream
        )
    ).first()
    if row is None:
        return None
    keys = row.keys_at_value
    if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
        raise StateError(
            f"cursor row {source}/{stream} is damaged (keys_at_value is not a list of strings); "
            f"delete the row to re-read that stream from the start"
        )
    return CursorState(value=str(row.value), keys_at_value=tuple(keys))


class StateTransaction:
    """Writes bound to one open transaction; all of them commit, or none does.

    Obtain one from `StateStore.transaction()`; do not call `StateStore` write methods while it is
    open (on SQLite they would wait for this transaction's write lock).
    """

    def __init__(self, conn: Connection, clock: Callable[[], datetime]) -> None:
        self._conn = conn
        self._clock = clock

    @property
    def connection(self) -> Connection:
        """The underlying connection, for reads that must see this transaction's own writes."""
        return self._conn

    def get_cursor(self, source: str, stream: str) -> CursorState | None:
        """The cursor as this transaction sees it (including its own uncommitted update)."""
        return read_cursor(self._conn, source, stream)

    def set_cursor(
        self, source: str, stream: str, value: str, keys_at_value: Iterable[str] = ()
    ) -> CursorState:
        """Store where `source`/`stream` resumes, with the keys already read at exactly `value`.

        Keys are de-duplicated and only the newest `MAX_CURSOR_KEYS` kept (dlt-hub/dlt#2580: an
        unbounded list grew one state row past 100 MB). Losing older keys costs a re-read of those
        records, which the idempotent upserts absorb; it never loses a record.

        Returns:
            The state as stored, after bounding.
        """
        keys = list(dict.fromkeys(keys_at_value))[-MAX_CURSOR_KEYS:]
        upsert(
            self._conn,
            s.cursors,
            [
                {
                    "source": source,
                    "stream": stream,
                    "value": value,
                    "keys_at_value": keys,
                    "updated_at": self._clock(),
                }
            ],
            keys=("source", "stream"),
        )
        return CursorState(value=value, keys_at_value=tuple(keys))

    def upsert_tickets(self, tickets: Iterable[Ticket]) -> int:
        """Mirror tickets; a deleted ticket is kept as a tombstone, never left looking open.

        An update applies only when its ``updated_at`` is not older than the stored one, so a page
        replayed by the closed-bound cursor cannot roll a ticket back. For a deletion, fields the
        vendor leaves empty keep their stored values (Zendesk's deleted tickets are sparse).

        Returns:
            Number of tickets written.
        """
        t = s.tickets
        live_columns = [c.name for c in t.columns if c.name != "id"]
        written = 0
        for batch in batched(tickets, UPSERT_BATCH):
            live = [_ticket_row(x) for x in batch if not x.deleted]
            gone = [_ticket_row(x) for x in batch if x.deleted]
            written += upsert(
                self._conn,
                t,
                live,
                keys=("id",),
                update=live_columns,
                only_if=_newer_ticket,
            )
            written += self._tombstone_tickets(gone)
        return written

    def _tombstone_tickets(self, rows: list[dict[str, Any]]) -> int:
        if not rows:
            return 0
        unique = list({row["id"]: row for row in rows}.values())
        self._conn.execute(_tombstone_statement(self._conn.dialect.name), unique)
        return len(unique)

    def upsert_organizations(self, organizations: Iterable[SupportOrganization]) -> int:
        """Mirror support organizations; a deleted one stays as a tombstone so it links to nothing."""
        rows = (
            {
                "id": o.id,
                "name": o.name,
                "external_id": o.external_id,
                "domains": list(o.domains),
                "updated_at": o.updated_at,
                "deleted": o.deleted,
            }
            for o in organizations
        )
        return upsert(self._conn, s.organizations, rows, keys=("id",), update=_ORGANIZATION_UPDATE)

    def upsert_ratings(self, ratings: Iterable[Rating]) -> int:
        """Mirror survey answers (NPS/CSAT), keyed by vendor id or a derived key; see `rating_key`."""
        rows = (
            {
                "key": rating_key(r),
                "id": r.id,
                "account_key": r.account_key,
                "kind": r.kind.value,
                "score": r.score,
                "at": r.at,
            }
            for r in ratings
        )
        return upsert(self._conn, s.ratings, rows, keys=("key",))

    def upsert_usage_days(self, days: Iterable[UsageDay]) -> int:
        """Mirror per-account daily usage; a re-aggregated day replaces the earlier figures."""
        rows = (
            {
                "account_key": d.account_key,
                "day": d.day,
                "active_users": d.active_users,
                "logins": d.logins,
                "feature_counts": dict(d.feature_counts),
            }
            for d in days
        )
        return upsert(self._conn, s.usage_days, rows, keys=("account_key", "day"))

    def upsert_payments(self, payments: Iterable[Payment]) -> int:
        """Mirror invoices and their payment dates; see `payment_key` for how one is identified."""
        rows = (
            {
                "account_key": p.account_key,
                "payment_key": payment_key(p),
                "invoice_id": p.invoice_id,
                "due_date": p.due_date,
                "paid_date": p.paid_date,
                "amount": p.amount,
            }
            for p in payments
        )
        return upsert(self._conn, s.payments, rows, keys=("account_key", "payment_key"))

    def record_health(self, run_id: int, results: Iterable[HealthResult], day: date | None = None) -> int:
        """Store each account's health for `day` (default: each result's `computed_at`).

        One row per account and day: a later run the same day replaces it, so the trend compares
        day with day rather than run with run.
        """
        rows = (
            {
                "account": r.account,
                "day": day if day is not None else r.computed_at,
                "score": r.score,
                "band": r.band.value,
                "computed_band": r.computed_band.value,
                "contributions": _contribution_rows(r),
                "missing": list(r.missing),
                "coverage": r.coverage,
                "rules_version": r.rules_version,
                "run_id": run_id,
            }
            for r in results
        )
        return upsert(self._conn, s.health_history, rows, keys=("account", "day"))

    def record_outcomes(self, records: Iterable[OutcomeRecord]) -> int:
        """Store contract verdicts, one per (account, contract end); a later verdict replaces the earlier."""
        rows = (
            {
                "account": r.account,
                "contract_end": r.contract_end,
                "outcome": r.outcome.value,
                "reason": r.reason,
                "new_contract_end": r.new_contract_end,
                "arr": r.arr,
                "recorded_at": r.recorded_at,
                "decided_on": r.decided_on,
                "deal_key": r.deal_key,
            }
            for r in records
        )
        return upsert(self._conn, s.contract_outcomes, rows, keys=("account", "contract_end"))

    def record_snapshots(self, run_id: int, day: date, rows: Iterable[AccountSnapshot]) -> int:
        """Store what `run_id` saw of each account's contract (ARR, licenses, dates) on `day`."""
        values = (
            {
                "run_id": run_id,
                "account": r.account,
                "day": day,
                "arr": r.arr,
                "licenses": r.licenses,
                "band": r.band.value if r.band is not None else None,
                "score": r.score,
                "contract_start": r.contract_start,
                "contract_end": r.contract_end,
                "owner_id": r.owner_id,
                "segment": r.segment,
                "name": r.name,
                "owner_name": r.owner_name,
                "reasons": list(r.reasons) or None,
                "signals": [dict(x) for x in r.signals] or None,
                "value_day": r.value_day,
            }
            for r in rows
        )
        return upsert(self._conn, s.account_snapshots, values, keys=("run_id", "account"))
