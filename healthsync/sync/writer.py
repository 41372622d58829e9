"""Write a plan into the CRM: batched, idempotent, and crash-safe (DESIGN.md section 7).

- Field updates go out grouped per record at the vendor's batch size; a refused record becomes a
  dead letter and is tried again next run (the plan still differs from the CRM there).
- Tasks are written ahead into the outbox (PENDING) in one transaction *before* the create calls,
  then marked SENT with their CRM id. A crash between the two leaves PENDING rows; the next run's
  `reconcile_tasks` looks their keys up in the CRM, marks the found ones CONFIRMED and sends the rest
  again, so a task is never lost and never doubled.
- Renewal deals are upserts by external id, so a replay is harmless by construction.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from healthsync.connectors.base import CrmWriter, FieldUpdate, WriteOutcome
from healthsync.errors import QuotaExhausted
from healthsync.model import DealUpsert, Plan, TaskPriority, TaskUpsert
from healthsync.sync.plan import BATCH_LIMITS, group_updates
from healthsync.sync.state import StateStore
from healthsync.sync.state_records import OutboxStatus

__all__ = ["PlanWriter", "WriteReport", "task_from_payload", "task_payload"]

Progress = Callable[[str, int], None]


def task_payload(task: TaskUpsert) -> dict[str, Any]:
    """A task as the outbox stores it (JSON): enough to send it again after a crash."""
    return {
        "account_id": task.account_id,
        "subject": task.subject,
        "body": task.body,
        "due": task.due.isoformat(),
        "owner_id": task.owner_id,
        "priority": task.priority.value,
        "reason": task.reason,
    }


def task_from_payload(key: str, payload: dict[str, Any]) -> TaskUpsert:
    """The inverse of `task_payload`."""
    return TaskUpsert(
        key=key,
        account_id=str(payload["account_id"]),
        subject=str(payload["subject"]),
        body=str(payload["body"]),
        due=date.fromisoformat(str(payload["due"])),
        owner_id=payload.get("owner_id"),
        priority=TaskPriority(payload["priority"]),
        reason=str(payload.get("reason") or ""),
    )


@dataclass(frozen=True)
class _OutboxRow:
    key: str
    kind: str
    account: str
    payload: dict[str, Any]


@dataclass
class WriteReport:
    """What a write pass did: records written per kind, refusals, and the errors to show."""

    fields: int = 0
    tasks: int = 0
    deals: int = 0
    failed: dict[str, int] = field(default_factory=lambda: {"fields": 0, "tasks": 0, "deals": 0})
    errors: list[dict[str, Any]] = field(default_factory=list)
    stopped: str | None = None
    """Why the pass stopped early (a quota), or None when it wrote everything it could."""


def _chunks(items: Sequence[Any], size: int) -> list[Sequence[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


class _Stopped(Exception):
    """Raised between batches when the run was asked to stop."""


class PlanWriter:
    """Carries out plans against one CRM, recording outcomes in the state store.

    Args:
        crm: the connector writing into the CRM.
        store: the state store (outbox and dead letters).
        vendor: `salesforce` or `hubspot` (batch sizes, dead-letter vendor).
        run_id: the run the writes belong to.
        max_attempts: a task refused this many times stops being sent again (it stays a dead letter).
        progress: called with (stage, records done).
    """

    def __init__(
        self,
        crm: CrmWriter,
        store: StateStore,
        *,
        vendor: str,
        run_id: int,
        max_attempts: int = 5,
        progress: Progress | None = None,
        stop: threading.Event | None = None,
    ) -> None:
        self.crm = crm
        self.store = store
        self.vendor = vendor
        self.run_id = run_id
        self.max_attempts = max_attempts
        self.limits = BATCH_LIMITS[vendor]
        self._progress = progress or (lambda stage, n: None)
        self._stop = stop
        self._batches = 0

    def _check_stop(self) -> None:
        if self._stop is not None and self._stop.is_set():
            raise _Stopped(f"stopped on request after {self._batches} write batches; the next run resumes")

    # --- outbox reconciliation -----------------------------------------------------------------

    def reconcile_tasks(self) -> list[TaskUpsert]:
        """Settle tasks an earlier run left unconfirmed; return those to send again.

        PENDING and FAILED entries are looked up in the CRM by key: found ones are CONFIRMED (the create
        reached the CRM before the crash); missing ones are sent again unless they have failed
        `max_attempts` times already.
        """
        unsettled = self.store.outbox_pending(kind="task")
        if not unsettled:
            return []
        found = self.crm.fetch_tasks([e.key for e in unsettled])
        self.store.outbox_mark_many(
            (key, OutboxStatus.CONFIRMED, task.crm_id, None) for key, task in found.items()
        )
        return [
            task_from_payload(e.key, dict(e.payload))
            for e in unsettled
            if e.key not in found and e.attempts < self.max_attempts
        ]

    # --- the write pass ------------------------------------------------------------------------

    def write(self, plan: Plan, resend: Sequence[TaskUpsert] = ()) -> WriteReport:
        """Write the plan's fields, then deals, then tasks (plus `resend`); stop cleanly on a quota."""
        report = WriteReport()
        try:
            self._fields(plan, report)
            self._deals(plan.deal_upserts, report)
            tasks = list({t.key: t for t in [*resend, *plan.task_upserts]}.values())
            self._tasks(tasks, report)
        except QuotaExhausted as exc:
            report.stopped = str(exc)
            report.errors.append({"kind": "quota", "vendor": exc.vendor, "message": str(exc)})
        except _Stopped as exc:
            report.stopped = str(exc)
            report.errors.append({"kind": "stopped", "message": str(exc)})
        return report

    def _refused(self, report: WriteReport, kind: str, obj: str, outcome: WriteOutcome, payload: Any) -> None:
        report.failed[kind] += 1
        error = outcome.error or "refused without a message"
        self.store.add_dead_letter(
            self.vendor, obj, outcome.key, kind, error, payload=payload, run_id=self.run_id
        )
        report.errors.append({"kind": kind, "object": obj, "record": outcome.key, "message": error})

    def _fields(self, plan: Plan, report: WriteReport) -> None:
        updates = [FieldUpdate(obj, rid, values) for obj, rid, values in group_updates(plan.field_writes)]
        for chunk in _chunks(updates, self.limits["fields"]):
            self._check_stop()
            self._batches += 1
            outcomes = self.crm.update_fields(chunk)
            done: dict[str, list[str]] = {}
            for update, outcome in zip(chunk, outcomes, strict=True):
                if outcome.ok:
                    report.fields += 1
                    done.setdefault(update.object, []).append(update.record_id)
                else:
                    self._refused(
                        report, "fields", update.object, outcome, {"values": _jsonable(update.values)}
                    )
            for obj, ids in done.items():
                self.store.resolve_dead_letters_many(self.vendor, obj, ids)
            self._progress("fields", len(chunk))

    def _deals(self, deals: Sequence[DealUpsert], report: WriteReport) -> None:
        for chunk in _chunks(list(deals), self.limits["deals"]):
            self._check_stop()
            self._batches += 1
            outcomes = self.crm.upsert_deals(chunk)
            ok: list[str] = []
            for deal, outcome in zip(chunk, outcomes, strict=True):
                if outcome.ok:
                    report.deals += 1
                    ok.append(deal.key)
                else:
                    self._refused(report, "deals", "renewal_deal", outcome, {"stage": deal.stage.value})
            self.store.resolve_dead_letters_many(self.vendor, "renewal_deal", ok)
            self._progress("deals", len(chunk))

    def _tasks(self, tasks: Sequence[TaskUpsert], report: WriteReport) -> None:
        if not tasks:
            return
        # Write-ahead: every task is in the outbox before any create call is made.
        self.store.outbox_put_many(
            (_OutboxRow(t.key, "task", t.account_id, task_payload(t)) for t in tasks), run_id=self.run_id
        )
        for chunk in _chunks(list(tasks), self.limits["tasks"]):
            self._check_stop()
            self._batches += 1
            outcomes = self.crm.upsert_tasks(chunk)
            marks: list[tuple[str, OutboxStatus, str | None, str | None]] = []
            ok: list[str] = []
            for task, outcome in zip(chunk, outcomes, strict=True):
                if outcome.ok:
                    report.tasks += 1 if outcome.created is not False else 0
                    marks.append((task.key, OutboxStatus.SENT, outcome.crm_id, None))
                    ok.append(task.key)
                else:
                    marks.append((task.key, OutboxStatus.FAILED, None, outcome.error))
                    self._refused(report, "tasks", "task", outcome, task_payload(task))
            self.store.outbox_mark_many(marks)
            self.store.resolve_dead_letters_many(self.vendor, "task", ok)
            self._progress("tasks", len(chunk))


def _jsonable(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v if isinstance(v, (str, int, float, bool, type(None))) else str(v) for k, v in values.items()}
