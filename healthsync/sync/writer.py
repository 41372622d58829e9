"""Write a plan into the CRM: batched, idempotent, and crash-safe (DESIGN.md section 7).

- Field updates go out grouped per record at the vendor's batch size; a refused record becomes a
  dead letter and is tried again next run (the plan still differs from the CRM there).
- Tasks are written ahead into the outbox (PENDING) in one transaction *before* the create calls,
  then marked SENT with their CRM id. A crash between the two leaves PENDING rows; the next run's
  `reconcile_tasks` looks their keys up in the CRM, marks the found ones CONFIRMED and sends the rest
  again, so a task is never lost and never doubled.
- Renewal deals are upserts by external id, so a replay is harmless by construction. Where the CRM
  links a deal to its account with a request of its own (HubSpot), every planned deal's link is
  written ahead into the outbox (kind `deal_link`, PENDING) before the upserts, and the whole run's
  links go out in one batched pass after them (2,000 pairs a call rather than one call per upsert
  batch). A link that lands is CONFIRMED; a refused one is FAILED and a dead letter ("deal saved but
  not linked"). The next run links whatever an earlier run left PENDING or FAILED (a crash between
  upsert and link, a stop, a refusal) even when the deal itself needs no write any more: the plan
  only upserts deals that changed, so without the outbox such a deal would stay unlinked.
- Where a task is a plain create (HubSpot), the outbox must know every keyed task the CRM holds, or
  a lost, replaced or restored state database would create tasks again. So before creating, the
  writer asks the CRM for the keyed tasks created since the newest creation stamp it has recorded
  (cursor `<vendor>/tasks_created`, by the CRM's clock; all of them on a first run) and adopts
  them into the outbox as CONFIRMED. In a healthy run that is one search call, and the creates
  need no key reads; were the search to fail, every key is read before its create, as before.
  What this cannot see is a task another writer creates with the same key in the seconds the
  search index lags behind, that is, a second healthsync writing the same portal at the same time.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from healthsync.connectors.base import CrmWriter, DealLink, FieldUpdate, WriteOutcome
from healthsync.errors import QuotaExhausted, VendorError
from healthsync.model import DealUpsert, Plan, TaskPriority, TaskUpsert
from healthsync.sync.plan import BATCH_LIMITS, group_updates
from healthsync.sync.state import StateStore
from healthsync.sync.state_records import OutboxStatus

__all__ = ["DEAL_LINK", "PlanWriter", "WriteReport", "link_key", "task_from_payload", "task_payload"]

Progress = Callable[[str, int], None]

DEAL_LINK = "deal_link"
"""Outbox kind of a renewal deal's link to its account, where the CRM makes it apart (HubSpot)."""
DEAL_OBJECT = "renewal_deal"
"""Dead-letter object of a refused renewal deal (or of one saved but not linked)."""
TASKS_CREATED = "tasks_created"
"""Cursor stream (source: the vendor) of the newest task creation stamp the outbox accounts for."""

log = logging.getLogger(__name__)


def _newest(stamps: Iterable[str | None], start: str | None = None) -> str | None:
    """The latest of ISO 8601 instants the CRM reported (None where there are none)."""
    best, best_at = start, _instant(start)
    for stamp in stamps:
        at = _instant(stamp)
        if at is not None and (best_at is None or at > best_at):
            best, best_at = stamp, at
    return best


def _instant(stamp: str | None) -> datetime | None:
    if not stamp:
        return None
    try:
        return datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return None


def link_key(deal_key: str) -> str:
    """The outbox key of a deal's link (prefixed: outbox keys are shared with task keys)."""
    return f"link:{deal_key}"


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
        self._created_through: str | None = None

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
        # An adopted entry (no payload: `_adopt_tasks` died between its two writes) whose task is
        # gone was deleted by a person: it counts as made, like any task a person deletes.
        gone = [e.key for e in unsettled if e.key not in found and not e.payload]
        self.store.outbox_mark_many(
            [
                *((key, OutboxStatus.CONFIRMED, task.crm_id, None) for key, task in found.items()),
                *((key, OutboxStatus.CONFIRMED, None, None) for key in gone),
            ]
        )
        return [
            task_from_payload(e.key, dict(e.payload))
            for e in unsettled
            if e.key not in found and e.payload and e.attempts < self.max_attempts
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
        separate = self.crm.separate_deal_links
        if separate:
            self._links_ahead(deals)  # write-ahead: every link is in the outbox before any upsert
        saved: list[tuple[DealUpsert, WriteOutcome]] = []
        for chunk in _chunks(list(deals), self.limits["deals"]):
            self._check_stop()
            self._batches += 1
            outcomes = self.crm.upsert_deals(chunk, link=not separate)
            ok: list[str] = []
            for deal, outcome in zip(chunk, outcomes, strict=True):
                if outcome.ok:
                    report.deals += 1
                    ok.append(deal.key)
                    saved.append((deal, outcome))
                else:
                    self._refused(report, "deals", DEAL_OBJECT, outcome, {"stage": deal.stage.value})
            if not separate:  # linked by the upsert itself: done
                self.store.resolve_dead_letters_many(self.vendor, DEAL_OBJECT, ok)
            self._progress("deals", len(chunk))
        if separate:
            self._link_deals(saved, {d.key for d in deals}, report)

    def _links_ahead(self, deals: Sequence[DealUpsert]) -> None:
        """Put each deal's link in the outbox as PENDING (an existing entry is set back to PENDING)."""
        rows = {
            link_key(d.key): _OutboxRow(link_key(d.key), DEAL_LINK, d.account_id, {"deal": d.key})
            for d in deals
        }
        if not rows:
            return
        existing = self.store.outbox_lookup(rows)
        self.store.outbox_put_many((r for k, r in rows.items() if k not in existing), run_id=self.run_id)
        self.store.outbox_mark_many(
            (key, OutboxStatus.PENDING, None, None)
            for key, entry in existing.items()
            if entry.status is not OutboxStatus.PENDING
        )

    def _unsettled_links(self, planned: set[str]) -> list[DealLink]:
        """Links earlier runs left PENDING or FAILED, for deals this run does not upsert.

        A PENDING entry has no deal id (its run ended before the link pass; ids are recorded with
        the link's outcome), so its deal is looked up by key; one the CRM does not have needs no
        link, and its entry is settled. A link refused `max_attempts` times is left to a person
        (its dead letter stays open).
        """
        unsettled = [
            e
            for e in self.store.outbox_pending(kind=DEAL_LINK)
            if str(e.payload.get("deal")) not in planned and e.attempts < self.max_attempts
        ]
        lookup = [str(e.payload.get("deal")) for e in unsettled if not e.crm_id]
        found = self.crm.fetch_deals(lookup) if lookup else {}
        links: list[DealLink] = []
        settled: list[tuple[str, OutboxStatus, str | None, str | None]] = []
        for entry in unsettled:
            key = str(entry.payload.get("deal"))
            deal = found.get(key)
            crm_id = entry.crm_id or (deal.crm_id if deal is not None and not deal.deleted else None)
            if crm_id is None:
                settled.append((entry.key, OutboxStatus.CONFIRMED, None, None))
            else:
                links.append(DealLink(key, crm_id, entry.account, new=False))
        self.store.outbox_mark_many(settled)
        return links

    def _link_deals(
        self, saved: Sequence[tuple[DealUpsert, WriteOutcome]], planned: set[str], report: WriteReport
    ) -> None:
        """One link pass for the deals saved this run and the links earlier runs left unsettled."""
        fresh = [
            DealLink(d.key, str(o.crm_id), d.account_id, new=bool(o.created)) for d, o in saved if o.crm_id
        ]
        links = [*fresh, *self._unsettled_links(planned)]
        if not links:
            return
        self._check_stop()
        self._batches += 1
        stages = {d.key: d.stage.value for d, _ in saved}
        marks: list[tuple[str, OutboxStatus, str | None, str | None]] = []
        ok: list[str] = []
        for link, outcome in zip(links, self.crm.link_deals(links), strict=True):
            if outcome.ok:
                marks.append((link_key(link.key), OutboxStatus.CONFIRMED, link.crm_id, None))
                ok.append(link.key)
                continue
            marks.append((link_key(link.key), OutboxStatus.FAILED, link.crm_id, outcome.error))
            if link.key in stages:
                report.deals -= 1  # saved, but a deal without its company is not written yet
            payload = {"stage": stages[link.key]} if link.key in stages else {"account": link.account_id}
            self._refused(report, "deals", DEAL_OBJECT, outcome, payload)
        self.store.outbox_mark_many(marks)
        self.store.resolve_dead_letters_many(self.vendor, DEAL_OBJECT, ok)

    def _tasks(self, tasks: Sequence[TaskUpsert], report: WriteReport) -> None:
        if not tasks:
            return
        # Write-ahead: every task is in the outbox before any create call is made.
        self.store.outbox_put_many(
            (_OutboxRow(t.key, "task", t.account_id, task_payload(t)) for t in tasks), run_id=self.run_id
        )
        vouched, adopted = self._adopt_tasks()
        if adopted:  # a task the CRM already holds for a planned key is not created again
            ok = [t.key for t in tasks if t.key in adopted]
            self.store.resolve_dead_letters_many(self.vendor, "task", ok)
            tasks = [t for t in tasks if t.key not in adopted]
        for chunk in _chunks(list(tasks), self.limits["tasks"]):
            self._check_stop()
            self._batches += 1
            outcomes = self.crm.upsert_tasks(chunk, look_up=not vouched)
            marks: list[tuple[str, OutboxStatus, str | None, str | None]] = []
            ok = []
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
            if vouched:  # the outbox now accounts for every keyed task up to these creates
                self._tasks_created_through(o.created_at for o in outcomes if o.ok)
            self._progress("tasks", len(chunk))

    def _adopt_tasks(self) -> tuple[bool, dict[str, str]]:
        """Adopt the keyed tasks the CRM holds beyond the outbox's knowledge (see the module doc).

        Returns:
            Whether the outbox now knows every keyed task (so creates need no key reads), and the
            adopted tasks' CRM ids by key.
        """
        if self.crm.upserts_tasks:
            return True, {}
        cursor = self.store.get_cursor(self.vendor, TASKS_CREATED)
        since = cursor.value if cursor is not None and cursor.value else None
        found: dict[str, str] = {}
        stamps: list[str | None] = []
        try:
            for task in self.crm.keyed_tasks(since):
                if task.key:
                    found[task.key] = task.crm_id
                    stamps.append(task.created_at)
        except QuotaExhausted:
            raise
        except VendorError as exc:
            log.warning("could not list the CRM's keyed tasks (%s); reading each key before creating", exc)
            return False, {}
        if found:  # keys the outbox holds as made stay as they are; the rest are adopted
            made = {OutboxStatus.SENT, OutboxStatus.CONFIRMED}
            known = self.store.outbox_lookup(found)
            found = {k: v for k, v in found.items() if k not in known or known[k].status not in made}
            self.store.outbox_put_many(
                (_OutboxRow(key, "task", "", {}) for key in found if key not in known), run_id=self.run_id
            )
            self.store.outbox_mark_many(
                (key, OutboxStatus.CONFIRMED, crm_id, None) for key, crm_id in found.items()
            )
        self._created_through = since
        self._tasks_created_through(stamps)
        return True, found

    def _tasks_created_through(self, stamps: Iterable[str | None]) -> None:
        """Move the `tasks_created` cursor to the newest of `stamps` (never back)."""
        newest = _newest(stamps, self._created_through)
        if newest and newest != self._created_through:
            self.store.set_cursor(self.vendor, TASKS_CREATED, newest)
            self._created_through = newest


def _jsonable(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v if isinstance(v, (str, int, float, bool, type(None))) else str(v) for k, v in values.items()}
