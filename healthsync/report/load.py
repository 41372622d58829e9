"""Load a `History` from the state store: the only part of the report that reads the database."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
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


def _snapshot(row: SnapshotRow, texts: dict[str, str]) -> Snapshot:
    signals = tuple(n for n in (_signal(x) for x in row.signals) if n is not None)
    owner, name, segment = row.owner_name or row.owner_id, row.name, row.segment
    return Snapshot(
        account=texts.setdefault(row.account, row.account),
        day=row.day,
        arr=row.arr,
        licenses=row.licenses,
        band=row.band,
        score=row.score,
        contract_start=row.contract_start,
        contract_end=row.contract_end,
        owner=texts.setdefault(owner, owner) if owner is not None else None,
        name=texts.setdefault(name, name) if name is not None else None,
        segment=texts.setdefault(segment, segment) if segment is not None else None,
        reasons=tuple(str(r) for r in row.reasons),
        signals=signals,
        value_day=row.value_day,
    )


def _snapshots(rows: Iterable[SnapshotRow]) -> tuple[Snapshot, ...]:
    """The window's snapshots; reasons and signals are kept on each account's latest one only (the
    views read them there), and repeated texts (ids, names, owners) are shared, not copied per sync."""
    texts: dict[str, str] = {}
    out: list[Snapshot] = []
    for row in rows:
        if out and out[-1].account == row.account and (out[-1].reasons or out[-1].signals):
            out[-1] = replace(out[-1], reasons=(), signals=())
        out.append(_snapshot(row, texts))
    return tuple(out)


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
    account; `bench/report_bench.py` measures it); outcomes are few and loaded whole, so churn by
    quarter covers all recorded history.
    """
    snapshots = _snapshots(store.snapshot_window(since, as_of))
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
