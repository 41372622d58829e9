"""How `sync`, `plan`, `explain` and `status` look: progress, tables and their JSON shapes.

Progress goes to stderr, so `sync --json > run.json` stays a clean JSON file: bars on a terminal
(rich), one plain line per finished stage otherwise (cron mail, CI logs, `journalctl`).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from datetime import datetime
from typing import IO, Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from healthsync.check import CheckReport
from healthsync.fields import FieldsResult
from healthsync.sync.engine import Reporter, SyncResult
from healthsync.sync.explain import Explanation
from healthsync.sync.state_records import DeadLetter, RunRecord

__all__ = [
    "LineReporter",
    "RichReporter",
    "plan_to_json",
    "print_check",
    "print_explanation",
    "print_fields",
    "print_plan",
    "print_status",
    "print_sync_result",
    "reporter_for",
    "status_to_json",
]

ARROWS = {"up": "\u2191", "down": "\u2193", "flat": "\u2192", None: " "}


class LineReporter(Reporter):
    """One plain line per finished stage, for pipes and log files."""

    def __init__(self, stream: IO[str] | None = None) -> None:
        self.stream = stream or sys.stderr

    def done(self, name: str, summary: str) -> None:
        stamp = datetime.now().strftime("%H:%M:%S")
        print(f"{stamp} {name}: {summary}", file=self.stream, flush=True)


class RichReporter(Reporter):
    """A progress bar per stage on a terminal."""

    def __init__(self, console: Console) -> None:
        self.progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=False,
        )
        self.tasks: dict[str, TaskID] = {}

    def __enter__(self) -> RichReporter:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def stage(self, name: str, total: int | None = None) -> None:
        self.tasks[name] = self.progress.add_task(name, total=total)

    def advance(self, name: str, n: int) -> None:
        stage = {"fields": "write", "tasks": "write", "deals": "write"}.get(name, name)
        task = self.tasks.get(stage)
        if task is None and self.tasks:
            task = self.tasks[next(reversed(self.tasks))]  # sub-streams count towards the open stage
        if task is not None:
            self.progress.advance(task, n)

    def done(self, name: str, summary: str) -> None:
        task = self.tasks.get(name)
        if task is not None:
            total = self.progress.tasks[task].completed or 1
            self.progress.update(task, description=f"{name}: {summary}", total=total, completed=total)


def reporter_for(console: Console, quiet: bool = False) -> Reporter:
    """Bars on a terminal, lines otherwise, nothing when `quiet`."""
    if quiet:
        return Reporter()
    if console.is_terminal:
        return RichReporter(console)
    return LineReporter()


def print_sync_result(console: Console, result: SyncResult) -> None:
    """The run in a few lines a CS admin reads at a glance."""
    mode = "dry run" if result.dry_run else "run"
    console.print(
        f"[bold]{mode} {result.run_id}[/]: {result.status} (as of {result.as_of}, {result.duration_s:.1f} s)"
    )
    a = result.accounts
    console.print(
        f"accounts: {a.get('crm', 0)} in the CRM, {a.get('matched', 0)} matched to support or usage data, "
        f"{a.get('scored', 0)} scored"
    )
    w, p = result.writes, result.planned
    if result.dry_run:
        console.print(
            f"planned: {p['fields']} accounts to update, {p['tasks']} tasks, {p['deals']} renewal deals"
        )
    else:
        console.print(
            f"written: {w['fields']} accounts updated, {w['tasks']} tasks created, {w['deals']} renewal deals"
        )
    calls = ", ".join(f"{v} {c['read']} read / {c['write']} write" for v, c in result.api_calls.items())
    console.print(f"API calls: {calls or 'none'}")
    for error in result.errors[:10]:
        console.print(f"[red]error[/]: {error.get('message')}", highlight=False)
    if len(result.errors) > 10:
        console.print(f"… and {len(result.errors) - 10} more (healthsync status)")


def plan_to_json(result: SyncResult) -> dict[str, Any]:
    """Every planned write with its reason, and the call estimate (`plan --json`)."""
    plan, estimate = result.plan, result.estimate
    return {
        "as_of": result.as_of.isoformat(),
        "fields": [
            {
                "object": w.object,
                "record_id": w.record_id,
                "field": w.field,
                "old": w.old,
                "new": w.new,
                "reason": w.reason,
            }
            for w in plan.field_writes
        ],
        "tasks": [
            {
                "key": t.key,
                "account_id": t.account_id,
                "subject": t.subject,
                "due": t.due.isoformat(),
                "owner_id": t.owner_id,
                "priority": t.priority.value,
                "reason": t.reason,
            }
            for t in plan.task_upserts
        ],
        "deals": [
            {
                "key": d.key,
                "account_id": d.account_id,
                "name": d.name,
                "pipeline": d.pipeline,
                "stage": d.stage.value,
                "amount": d.amount,
                "close_date": d.close_date.isoformat(),
                "reason": d.reason,
            }
            for d in plan.deal_upserts
        ],
        "api_calls_estimate": {
            "fields": estimate.fields if estimate else 0,
            "tasks": estimate.tasks if estimate else 0,
            "deals": estimate.deals if estimate else 0,
            **(estimate.extra if estimate else {}),
            "total": estimate.total if estimate else 0,
        },
    }


def print_plan(console: Console, result: SyncResult, limit: int = 50) -> None:
    """The plan as tables, longest lists cut at `limit` rows (the JSON has everything)."""
    names = result.names or {a.account.crm_id: a.account.name for a in result.assessments}
    plan = result.plan
    if plan.is_empty:
        console.print("Nothing to write: the CRM already holds every value, task and renewal deal.")
    if plan.field_writes:
        table = Table(title=f"Field updates ({len(plan.field_writes)} values)")
        for column in ("account", "field", "now", "new"):
            table.add_column(column)
        for w in plan.field_writes[:limit]:
            table.add_row(names.get(w.record_id, w.record_id), w.field, _short(w.old), _short(w.new))
        console.print(table)
    if plan.task_upserts:
        table = Table(title=f"Tasks to create ({len(plan.task_upserts)})")
        for column in ("account", "subject", "due", "priority"):
            table.add_column(column)
        for t in plan.task_upserts[:limit]:
            table.add_row(
                names.get(t.account_id, t.account_id), t.subject, t.due.isoformat(), t.priority.value
            )
        console.print(table)
    if plan.deal_upserts:
        table = Table(title=f"Renewal deals ({len(plan.deal_upserts)})")
        for column in ("account", "stage", "amount", "close date", "why"):
            table.add_column(column)
        for d in plan.deal_upserts[:limit]:
            amount = f"{d.amount:,.0f}" if d.amount is not None else ""
            table.add_row(
                names.get(d.account_id, d.account_id),
                d.stage.value,
                amount,
                d.close_date.isoformat(),
                d.reason,
            )
        console.print(table)
    if result.estimate is not None:
        e = result.estimate
        extra = "".join(f", {n} {k}" for k, n in e.extra.items())
        batches = f"{e.fields} field batches, {e.tasks} task batches, {e.deals} deal batches{extra}"
        console.print(f"API calls to write it: {e.total} ({batches})")


def _short(value: Any, width: int = 60) -> str:
    text = "" if value is None else str(value)
    return text if len(text) <= width else text[: width - 1] + "\u2026"


def print_explanation(console: Console, ex: Explanation) -> None:
    """An account's score, rule by rule, with trend, renewal stage and tasks."""
    h, snap, trend = ex.health, ex.snapshot, ex.trend
    band = h.band.value
    colour = {"green": "green", "yellow": "yellow", "red": "red"}[band]
    arrow = ARROWS[trend.direction.value if trend.direction else None]
    delta = (
        f" ({trend.delta:+.1f} vs {trend.previous_day})"
        if trend.delta is not None
        else " (no score a week ago)"
    )
    console.print(f"[bold]{snap.name}[/] ({snap.account}), as of {h.day}")
    console.print(f"Health: [bold {colour}]{h.score:g} {band}[/] {arrow}{delta}")
    if h.band is not h.computed_band:
        console.print(f"  band set by a CSM override; the rules alone give {h.computed_band.value}")
    table = Table(title="Why")
    table.add_column("points", justify="right")
    table.add_column("reason")
    table.add_column("rule")
    for c in sorted(h.contributions, key=lambda c: -abs(float(c.get("points") or 0))):
        table.add_row(f"{float(c.get('points') or 0):+g}", str(c.get("reason")), str(c.get("rule_id")))
    console.print(table)
    if h.missing:
        console.print(f"No data for: {', '.join(h.missing)} (these rules scored nothing)")
    if snap.contract_end is not None:
        stage = ex.stage.value if ex.stage else "not yet in a renewal window"
        arr = f", ARR {snap.arr:,.0f}" if snap.arr is not None else ""
        console.print(f"Renewal: contract ends {snap.contract_end} ({ex.days_to_renewal} days): {stage}{arr}")
    if ex.tasks:
        table = Table(title="Tasks healthsync created")
        for column in ("subject", "due", "priority", "status"):
            table.add_column(column)
        for t in ex.tasks:
            table.add_row(
                str(t.payload.get("subject")),
                str(t.payload.get("due")),
                str(t.payload.get("priority")),
                t.status.value,
            )
        console.print(table)


def status_to_json(
    runs: Sequence[RunRecord], letters: Sequence[DeadLetter], cursors: dict[str, str]
) -> dict[str, Any]:
    """Recent runs, open dead letters and cursors (`status --json`)."""
    return {
        "runs": [
            {
                "id": r.id,
                "started_at": r.started_at.isoformat(),
                "ended_at": r.ended_at.isoformat() if r.ended_at else None,
                "duration_s": round((r.ended_at - r.started_at).total_seconds(), 3) if r.ended_at else None,
                "status": r.status.value,
                "dry_run": r.dry_run,
                "counts": dict(r.counts),
                "api_calls": {v: sum(e.values()) for v, e in dict(r.api_calls).items()},
                "errors": list(r.errors),
            }
            for r in runs
        ],
        "dead_letters": [
            {
                "vendor": d.vendor,
                "object": d.object,
                "record": d.record_key,
                "operation": d.operation,
                "error": d.error,
                "attempts": d.attempts,
                "first_seen": d.first_seen.isoformat(),
                "last_seen": d.last_seen.isoformat(),
            }
            for d in letters
        ],
        "cursors": cursors,
    }


def print_status(console: Console, data: dict[str, Any]) -> None:
    """`status` as tables."""
    table = Table(title="Recent runs")
    for column in ("run", "started", "duration", "status", "accounts", "written", "API calls", "errors"):
        table.add_column(column)
    for r in data["runs"]:
        counts = r["counts"]
        writes = counts.get("writes", {})
        written = f"{writes.get('fields', 0)} f / {writes.get('tasks', 0)} t / {writes.get('deals', 0)} d"
        duration = f"{r['duration_s']:.1f} s" if r["duration_s"] is not None else "running"
        status = r["status"] + (" (dry run)" if r["dry_run"] else "")
        calls = ", ".join(f"{v} {n}" for v, n in r["api_calls"].items())
        table.add_row(
            str(r["id"]),
            r["started_at"][:19],
            duration,
            status,
            str(counts.get("accounts", {}).get("crm", "")),
            written,
            calls,
            str(len(r["errors"])),
        )
    console.print(table)
    letters = data["dead_letters"]
    if letters:
        table = Table(title=f"Dead letters waiting for retry ({len(letters)})")
        for column in ("vendor", "object", "record", "attempts", "error"):
            table.add_column(column)
        for d in letters[:50]:
            table.add_row(d["vendor"], d["object"], d["record"], str(d["attempts"]), _short(d["error"], 80))
        console.print(table)
    else:
        console.print("No dead letters.")
    upcoming = data.get("next_run")
    if upcoming:
        console.print(f"Next scheduled run: {upcoming['job']} at {upcoming['at']}")
    else:
        console.print("No scheduled runs ([[schedule]] in the config).")
    if data["cursors"]:
        console.print("Cursors: " + ", ".join(f"{k} at {_short(v, 40)}" for k, v in data["cursors"].items()))


def print_check(console: Console, report: CheckReport) -> None:
    """The checklist: ✓ or ✗ per item, each ✗ with its problems and its fix."""
    marks = {True: "[green]\u2713[/]", False: "[red]\u2717[/]", None: "[dim]-[/]"}
    for item in report.items:
        console.print(marks[item.ok], end=" ")
        console.print(f"{item.name}: {item.detail}", highlight=False, markup=False)
        for problem in item.problems:
            console.print(f"    {problem}", highlight=False, markup=False)
        if item.ok is False and item.fix:
            console.print(f"    fix: {item.fix}", highlight=False, markup=False)
    console.print("all checks passed" if report.ok else "some checks failed", highlight=False)


def print_fields(console: Console, result: FieldsResult) -> None:
    """What `fields apply` created (or would), and what it left for a person."""
    if not result.planned:
        console.print(
            f"Nothing to create: {result.crm} already has every field, value and pipeline the mapping needs."
        )
    elif result.dry_run:
        console.print(
            f"Would make {len(result.planned)} change(s) in {result.crm} (dry run, nothing written):"
        )
        for change in result.planned:
            console.print(f"  + {change.describe()}", markup=False, highlight=False)
    else:
        console.print(f"Made {len(result.done)} change(s) in {result.crm}:")
        for line in result.done:
            console.print(f"  + {line}", markup=False, highlight=False)
    for problem in result.conflicts:
        console.print(f"  ! left alone: {problem}", markup=False, highlight=False)
    for problem in result.remaining:
        console.print(f"  ! still missing: {problem}", markup=False, highlight=False)
