"""Load a `History` from the state store: the only part of the report that reads the database."""

from __future__ import annotations

from datetime import date

from healthsync.report.history import AccountStart, History, NpsAnswer, Outcome, SignalNote, Snapshot
from healthsync.sync.state import StateStore
from healthsync.sync.state_records import OutcomeRecord, SnapshotRow

__all__ = ["load_history"]


def _signal(raw: object) -> SignalNote | None:
    if not isinstance(raw, dict):
        return None
    return SignalNote(
        kind=str(raw.get("kind") or ""),
        code=str(raw.get("code") or ""),
        subject=str(raw.get("subject") or ""),
        reason=str(raw.get("reason") or ""),
    )


def _snapshot(row: SnapshotRow) -> Snapshot:
    signals = tuple(n for n in (_signal(x) for x in row.signals) if n is not None)
    return Snapshot(
        account=row.account,
        day=row.day,
        arr=row.arr,
        licenses=row.licenses,
        band=row.band,
        score=row.score,
        contract_start=row.contract_start,
        contract_end=row.contract_end,
        owner=row.owner_name or row.owner_id,
        name=row.name,
        segment=row.segment,
        reasons=tuple(str(r) for r in row.reasons),
        signals=signals,
        value_day=row.value_day,
    )


def _outcome(row: OutcomeRecord) -> Outcome:
    return Outcome(
        account=row.account,
        contract_end=row.contract_end,
        outcome=row.outcome,
        day=row.decided_on or row.recorded_at.date(),
        reason=row.reason,
        arr=row.arr,
        new_contract_end=row.new_contract_end,
    )


def load_history(store: StateStore, *, as_of: date, since: date, crm: str | None = None) -> History:
    """Everything the report needs for the window (`since`, `as_of`]; see `History`.

    Memory grows with accounts x syncs in the window (a month of weekly syncs is about five rows per
    account); outcomes are few and loaded whole, so churn by quarter covers all recorded history.
    """
    snapshots = tuple(_snapshot(r) for r in store.snapshot_window(since, as_of))
    starts = {
        r.account: AccountStart(r.account, r.first_seen, r.first_contract_start, r.value_day)
        for r in store.account_starts(as_of)
    }
    nps = tuple(NpsAnswer(r.account, r.at.date(), r.score) for r in store.nps_answers(since, as_of))
    outcomes = tuple(_outcome(r) for r in store.outcomes_decided(as_of))
    return History(
        as_of=as_of,
        since=since,
        snapshots=snapshots,
        outcomes=outcomes,
        nps=nps,
        starts=starts,
        first_day=store.first_snapshot_day(),
        crm=crm,
    )
