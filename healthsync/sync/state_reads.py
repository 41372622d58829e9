"""Read side of the state store: mirrors back as model objects, health history, snapshots, outcomes.

`StateStore` inherits these from `StateReads`; they only need a way to open a read connection.
Lookups by many keys (accounts, organisations) run one query per `IN_CHUNK` keys, so the
parameter count stays under SQLite's limit however large the portfolio.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from datetime import date, datetime
from typing import Any

from sqlalchemy import Row, Select, func, or_, select

from healthsync.model import (
    Band,
    ContractOutcome,
    Payment,
    Rating,
    RatingKind,
    SupportOrganization,
    Ticket,
    UsageDay,
)
from healthsync.sync import state_schema as s
from healthsync.sync.state_base import StoreBase
from healthsync.sync.state_records import HealthRecord, HistoryPoint, OutcomeRecord, SnapshotRow

__all__ = ["CLOSED_TICKET_STATUSES", "IN_CHUNK", "StateReads", "chunked_keys"]

IN_CHUNK = 900
"""Keys per ``IN (…)`` list: below SQLite's 999-parameter limit of older builds, with room to spare."""

CLOSED_TICKET_STATUSES = ("solved", "closed", "deleted")
"""Statuses that need no one to act; the same set as `healthsync.model.Ticket.is_open`."""


def _ticket(row: Row[Any]) -> Ticket:
    return Ticket(
        id=row.id,
        organization_id=row.organization_id,
        priority=row.priority,
        status=row.status,
        is_critical=bool(row.is_critical),
        created_at=row.created_at,
        updated_at=row.updated_at,
        solved_at=row.solved_at,
        deleted=bool(row.deleted),
    )


def _rating(row: Row[Any]) -> Rating:
    return Rating(
        account_key=row.account_key, kind=RatingKind(row.kind), score=row.score, at=row.at, id=row.id
    )


def _usage(row: Row[Any]) -> UsageDay:
    return UsageDay(
        account_key=row.account_key,
        day=row.day,
        active_users=row.active_users,
        logins=row.logins,
        feature_counts=dict(row.feature_counts or {}),
    )


def _payment(row: Row[Any]) -> Payment:
    return Payment(
        account_key=row.account_key,
        due_date=row.due_date,
        paid_date=row.paid_date,
        invoice_id=row.invoice_id,
        amount=row.amount,
    )


def _snapshot(row: Row[Any]) -> SnapshotRow:
    return SnapshotRow(
        run_id=row.run_id,
        day=row.day,
        account=row.account,
        arr=row.arr,
        licenses=row.licenses,
        band=Band(row.band) if row.band is not None else None,
        score=row.score,
        contract_start=row.contract_start,
        contract_end=row.contract_end,
        owner_id=row.owner_id,
        segment=row.segment,
        name=row.name,
        owner_name=row.owner_name,
        reasons=tuple(row.reasons or ()),
        signals=tuple(row.signals or ()),
        value_day=row.value_day,
    )


def _outcome(row: Row[Any]) -> OutcomeRecord:
    return OutcomeRecord(
        account=row.account,
        contract_end=row.contract_end,
        outcome=ContractOutcome(row.outcome),
        reason=row.reason,
        new_contract_end=row.new_contract_end,
        arr=row.arr,
        recorded_at=row.recorded_at,
        decided_on=row.decided_on,
        deal_key=row.deal_key,
    )


def chunked_keys(keys: Iterable[str]) -> Iterator[list[str]]:
    """Distinct keys in sorted order, `IN_CHUNK` at a time; sorted so chunked results stay ordered."""
    ordered = sorted(set(keys))
    for start in range(0, len(ordered), IN_CHUNK):
        yield ordered[start : start + IN_CHUNK]


class StateReads(StoreBase):
    """Readers over the mirrors and run results; mixed into `StateStore`."""

    def _rows_by_keys(self, keys: Iterable[str], query: Callable[[list[str]], Select[Any]]) -> list[Row[Any]]:
        rows: list[Row[Any]] = []
        with self._read() as conn:
            for chunk in chunked_keys(keys):
                rows.extend(conn.execute(query(chunk)))
        return rows

    # --- mirrors ---------------------------------------------------------------------------------

    def organizations(self) -> list[SupportOrganization]:
        """Every live mirrored support organization (tombstones left out)."""
        o = s.organizations
        with self._read() as conn:
            rows = conn.execute(select(o).where(o.c.deleted.is_(False)).order_by(o.c.id)).all()
        return [
            SupportOrganization(
                id=r.id,
                name=r.name,
                external_id=r.external_id,
                domains=tuple(r.domains or ()),
                updated_at=r.updated_at,
            )
            for r in rows
        ]

    def tickets_for(self, org_ids: Iterable[str], *, include_deleted: bool = False) -> list[Ticket]:
        """Mirrored tickets of these organisations, by organisation then creation time.

        Deleted tickets stay in the mirror as tombstones (so a late replay cannot resurrect them)
        but are left out unless asked for.
        """
        t = s.tickets

        def query(chunk: list[str]) -> Select[Any]:
            stmt = select(t).where(t.c.organization_id.in_(chunk))
            if not include_deleted:
                stmt = stmt.where(t.c.deleted.is_(False))
            return stmt.order_by(t.c.organization_id, t.c.created_at, t.c.id)

        return [_ticket(r) for r in self._rows_by_keys(org_ids, query)]

    def ticket_organizations(self, ticket_ids: Iterable[str]) -> dict[str, str]:
        """Organization id by mirrored ticket id (a rating's account); "" for a ticket that is deleted or
        has no organization, so the caller knows it counts for nobody without asking the vendor."""
        t = s.tickets

        def query(chunk: list[str]) -> Select[Any]:
            return select(t.c.id, t.c.organization_id, t.c.deleted).where(t.c.id.in_(chunk))

        return {
            str(r.id): "" if r.deleted or r.organization_id is None else str(r.organization_id)
            for r in self._rows_by_keys(ticket_ids, query)
        }

    def critical_tickets_open_at(self, at: datetime) -> list[Ticket]:
        """Critical tickets that were open at `at`: created by then and not solved by then.

        A ticket solved later counts as open at `at`, so a backfill (`--as-of`) sees what a CSM saw
        that day. Where the vendor gave no solve time, the last update stands in for it (solving is
        usually a ticket's last change).
        """
        t = s.tickets
        closed = list(CLOSED_TICKET_STATUSES)
        solved_by = func.coalesce(t.c.solved_at, t.c.updated_at)
        stmt = (
            select(t)
            .where(
                t.c.is_critical.is_(True),
                t.c.deleted.is_(False),
                t.c.created_at <= at,
                or_(t.c.status.not_in(closed), solved_by > at),
            )
            .order_by(t.c.organization_id, t.c.created_at, t.c.id)
        )
        with self._read() as conn:
            return [_ticket(r) for r in conn.execute(stmt)]

    def open_tickets(self) -> list[Ticket]:
        """Every mirrored ticket someone still has to act on (not solved, closed or deleted)."""
        t = s.tickets
        stmt = (
            select(t)
            .where(t.c.deleted.is_(False), t.c.status.not_in(CLOSED_TICKET_STATUSES))
            .order_by(t.c.organization_id, t.c.created_at, t.c.id)
        )
        with self._read() as conn:
            return [_ticket(r) for r in conn.execute(stmt)]

    def ratings_for(self, account_keys: Iterable[str], since: datetime | None = None) -> list[Rating]:
        """Survey answers of these accounts at or after `since`, oldest first per account."""
        t = s.ratings

        def query(chunk: list[str]) -> Select[Any]:
            stmt = select(t).where(t.c.account_key.in_(chunk))
            if since is not None:
                stmt = stmt.where(t.c.at >= since)
            return stmt.order_by(t.c.account_key, t.c.at, t.c.key)

        return [_rating(r) for r in self._rows_by_keys(account_keys, query)]

    def usage_for(self, account_keys: Iterable[str], start: date, end: date) -> list[UsageDay]:
        """Daily usage of these accounts from `start` to `end`, both inclusive, by account then day."""
        t = s.usage_days

        def query(chunk: list[str]) -> Select[Any]:
            return (
                select(t)
                .where(t.c.account_key.in_(chunk), t.c.day >= start, t.c.day <= end)
                .order_by(t.c.account_key, t.c.day)
            )

        return [_usage(r) for r in self._rows_by_keys(account_keys, query)]

    def payments_for(self, account_keys: Iterable[str], since: date | None = None) -> list[Payment]:
        """Invoices of these accounts due on or after `since`, by account then due date."""
        t = s.payments

        def query(chunk: list[str]) -> Select[Any]:
            stmt = select(t).where(t.c.account_key.in_(chunk))
            if since is not None:
                stmt = stmt.where(t.c.due_date >= since)
            return stmt.order_by(t.c.account_key, t.c.due_date, t.c.payment_key)

        return [_payment(r) for r in self._rows_by_keys(account_keys, query)]

    # --- health history --------------------------------------------------------------------------

    def history(self, account: str, since: date | None = None) -> list[HistoryPoint]:
        """One account's daily scores from `since` on, oldest first (what trend and charts need)."""
        return self.history_many([account], since).get(account, [])

    def history_many(
        self, accounts: Iterable[str], since: date | None = None
    ) -> dict[str, list[HistoryPoint]]:
        """Daily scores of many accounts at once, oldest first; every asked-for account is a key.

        One query per `IN_CHUNK` accounts rather than one per account, because the engine needs the
        history of the whole portfolio every run.
        """
        wanted = set(accounts)
        t = s.health_history

        def query(chunk: list[str]) -> Select[Any]:
            stmt = select(t.c.account, t.c.day, t.c.score, t.c.band).where(t.c.account.in_(chunk))
            if since is not None:
                stmt = stmt.where(t.c.day >= since)
            return stmt.order_by(t.c.account, t.c.day)

        out: dict[str, list[HistoryPoint]] = {a: [] for a in wanted}
        for row in self._rows_by_keys(wanted, query):
            out[row.account].append(HistoryPoint(row.day, float(row.score), Band(row.band)))
        return out

    def latest_health(self, account: str, on_or_before: date | None = None) -> HealthRecord | None:
        """The account's most recent recorded health (up to `on_or_before`), contributions included."""
        t = s.health_history
        stmt = select(t).where(t.c.account == account)
        if on_or_before is not None:
            stmt = stmt.where(t.c.day <= on_or_before)
        with self._read() as conn:
            row = conn.execute(stmt.order_by(t.c.day.desc()).limit(1)).first()
        if row is None:
            return None
        return HealthRecord(
            account=row.account,
            day=row.day,
            score=float(row.score),
            band=Band(row.band),
            computed_band=Band(row.computed_band),
            contributions=tuple(row.contributions or ()),
            missing=tuple(row.missing or ()),
            coverage=row.coverage,
            rules_version=row.rules_version,
            run_id=row.run_id,
        )

    def find_accounts(self, query: str, limit: int = 10) -> list[SnapshotRow]:
        """Accounts of the latest snapshots whose CRM id equals `query` or whose name contains it.

        An exact id or an exact name (case-insensitive) wins over partial name matches.
        """
        t = s.account_snapshots
        latest = select(func.max(t.c.run_id)).scalar_subquery()
        needle = query.strip().casefold()
        with self._read() as conn:
            rows = [_snapshot(r) for r in conn.execute(select(t).where(t.c.run_id == latest))]
        exact = [r for r in rows if r.account == query.strip() or (r.name or "").casefold() == needle]
        if exact:
            return exact[:limit]
        return sorted(
            (r for r in rows if needle and needle in (r.name or "").casefold()), key=lambda r: r.name or ""
        )[:limit]

    def previous_band(self, account: str, before_day: date) -> Band | None:
        """The band the account had on its last recorded day before `before_day`.

        "Band falls to red" is a signal only on the transition, so the engine compares with this.
        """
        t = s.health_history
        stmt = (
            select(t.c.band)
            .where(t.c.account == account, t.c.day < before_day)
            .order_by(t.c.day.desc())
            .limit(1)
        )
        with self._read() as conn:
            band = conn.execute(stmt).scalar_one_or_none()
        return Band(band) if band is not None else None

    # --- snapshots and outcomes ------------------------------------------------------------------

    def snapshots_for_run(self, run_id: int) -> list[SnapshotRow]:
        """Every account snapshot one run recorded, by account."""
        t = s.account_snapshots
        with self._read() as conn:
            rows = conn.execute(select(t).where(t.c.run_id == run_id).order_by(t.c.account))
            return [_snapshot(r) for r in rows]

    def snapshot_history(self, account: str, since: date | None = None) -> list[SnapshotRow]:
        """One account's snapshots from `since` on, oldest first (ARR and seats over time)."""
        t = s.account_snapshots
        stmt = select(t).where(t.c.account == account)
        if since is not None:
            stmt = stmt.where(t.c.day >= since)
        with self._read() as conn:
            return [_snapshot(r) for r in conn.execute(stmt.order_by(t.c.day, t.c.run_id))]

    def latest_snapshots(self, accounts: Iterable[str], before_day: date) -> dict[str, SnapshotRow]:
        """Each account's most recent snapshot taken before `before_day` (for seat growth).

        Accounts never snapshotted before that day are absent from the result.
        """
        t = s.account_snapshots

        def query(chunk: list[str]) -> Select[Any]:
            rank = (
                func.row_number()
                .over(partition_by=t.c.account, order_by=(t.c.day.desc(), t.c.run_id.desc()))
                .label("rank")
            )
            ranked = select(t, rank).where(t.c.account.in_(chunk), t.c.day < before_day).subquery()
            return select(ranked).where(ranked.c.rank == 1)

        return {r.account: _snapshot(r) for r in self._rows_by_keys(accounts, query)}

    def recent_contract_ends(self, since_day: date) -> set[tuple[str, date]]:
        """Every (account, contract end) a snapshot taken on or after `since_day` recorded.

        The engine looks for the renewal deals of these contracts to learn how each one ended, also
        after the CRM moved the account on to its next term.
        """
        t = s.account_snapshots
        stmt = (
            select(t.c.account, t.c.contract_end)
            .where(t.c.day >= since_day, t.c.contract_end.is_not(None))
            .distinct()
        )
        with self._read() as conn:
            return {(str(r.account), r.contract_end) for r in conn.execute(stmt)}

    def outcomes(self, since: date | None = None) -> list[OutcomeRecord]:
        """Recorded contract outcomes with a contract end on or after `since`, by end date."""
        t = s.contract_outcomes
        stmt = select(t)
        if since is not None:
            stmt = stmt.where(t.c.contract_end >= since)
        with self._read() as conn:
            return [_outcome(r) for r in conn.execute(stmt.order_by(t.c.contract_end, t.c.account))]
