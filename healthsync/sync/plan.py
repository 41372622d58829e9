"""The plan: every write a run intends, each with its reason (DESIGN.md sections 1 and 7).

Pure: from each account's assessment (features, health, stage, signals), the live CRM values and
what earlier runs already did, decide what to write. Nothing here calls a vendor, so `plan` and
`sync --dry-run` show exactly what `sync` would do.

- Fields: the desired values of the mapped outputs, converted to the CRM's form and back, compared
  with the live values read this run; only differences are written. `last_synced` rides along with
  a real change and never causes a write on its own, so an unchanged re-sync writes nothing.
- Tasks: one per signal whose key has no task yet (the outbox remembers every task made).
- Renewal deals: one per upcoming contract end, keyed by account and end date; the stage follows
  the calendar forward only, and a deal a person closed or moved to a stage of their own is left
  alone.

A run plans its accounts in chunks (`Planner`): each chunk's plan goes to the writer in full
batches and only what callers read is kept (`PlanView`, where field writes are held compactly and
made, reasons and all, when read).
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, overload

from healthsync.connectors.base import CrmDeal
from healthsync.mappings import FieldMapping
from healthsync.mappings.transforms import from_crm, to_crm
from healthsync.model import (
    Account,
    DealUpsert,
    Features,
    FieldWrite,
    HealthResult,
    Plan,
    RenewalStage,
    Signal,
    TaskUpsert,
)
from healthsync.scoring.renewal import OPEN_STAGES, stage_order
from healthsync.sync.outcomes import deal_key

__all__ = [
    "BATCH_LIMITS",
    "REASONS_MAX_CHARS",
    "Assessment",
    "CallEstimate",
    "FieldEntry",
    "PlanPart",
    "PlanView",
    "Planner",
    "build_plan",
    "deal_key",
    "desired_outputs",
    "estimate_calls",
    "estimate_counts",
    "reasons_text",
    "top_reasons",
]

REASONS_MAX_CHARS = 255
"""The reasons field is a short text: Salesforce text fields hold 255 characters."""

DEFAULT_PIPELINE = "Renewals"


@dataclass(frozen=True, slots=True)
class Assessment:
    """Everything the engine concluded about one account this run."""

    account: Account
    key: str
    features: Features
    result: HealthResult
    stage: RenewalStage | None
    signals: tuple[Signal, ...] = ()


def _signed(points: float) -> str:
    text = f"{points:+.1f}".rstrip("0").rstrip(".")
    return text.replace("-", "\u2212")


def top_reasons(result: HealthResult, limit: int = 3) -> list[str]:
    """The top reasons behind a score, biggest effect first, as a CSM reads them in a list view.

    A CSM override comes first, because it is what decides the band she sees.
    """
    parts: list[str] = []
    if result.override is not None and result.band is not result.computed_band:
        o = result.override
        parts.append(f"{result.band} set by {o.author} until {o.expires.isoformat()}")
    ranked = sorted(
        (c for c in result.contributions if c.points),
        key=lambda c: (-abs(c.points), c.rule_id),
    )
    parts += [f"{_signed(c.points)} {c.reason}" for c in ranked[:limit]]
    if result.missing:
        parts.append(f"no data: {', '.join(sorted(result.missing))}")
    return parts


def reasons_text(result: HealthResult, limit: int = 3) -> str:
    """`top_reasons` as the one short text field the CRM shows, cut to the field's length."""
    text = "; ".join(top_reasons(result, limit))
    return text if len(text) <= REASONS_MAX_CHARS else text[: REASONS_MAX_CHARS - 1] + "\u2026"


def desired_outputs(assessment: Assessment, now: datetime) -> dict[str, Any]:
    """The canonical value of every output for one account (the mapping decides which are written)."""
    result, features = assessment.result, assessment.features
    trend = result.trend
    return {
        "score": round(result.score, 1),
        "band": result.band.value,
        "trend": round(trend.delta, 1) if trend is not None and trend.delta is not None else None,
        "trend_direction": trend.direction.value if trend is not None and trend.direction else None,
        "reasons": reasons_text(result),
        "renewal_stage": assessment.stage.value if assessment.stage is not None else None,
        "days_to_renewal": features.days_to_contract_end,
        "last_synced": now,
    }


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        try:
            return math.isclose(float(a), float(b), abs_tol=1e-6)
        except (TypeError, ValueError):
            return False
    return bool(a == b)


FieldEntry = tuple[Any, ...]
"""One account's changed outputs, flat to stay small: (record id, live `last_synced`, then output
name, live value and CRM value for each changed output). `Planner.field_writes` makes the
`FieldWrite`s, with their reasons, from it."""


def _field_entry(assessment: Assessment, mapping: FieldMapping, now: datetime) -> FieldEntry | None:
    """The outputs whose CRM value differs from the live one (None: nothing to write)."""
    account = assessment.account
    live_outputs = account.live_outputs
    changed: list[Any] = []
    for name, value in desired_outputs(assessment, now).items():
        crm_field = mapping.output_field(name)
        if not crm_field or name == "last_synced":
            continue
        transform = mapping.transform(name)
        wire = to_crm(transform, value, mapping.enums)
        wanted = from_crm(transform, wire, mapping.enums)  # what reading our write back would give
        live = live_outputs.get(name)
        if _same(wanted, live):
            continue
        changed += (name, live, wire)
    if not changed:
        return None
    return (account.crm_id, live_outputs.get("last_synced"), *changed)


def _task_body(signal: Signal, assessment: Assessment) -> str:
    result = assessment.result
    lines = [signal.reason, "", f"Health score {round(result.score, 1):g} ({result.band})"]
    trend = result.trend
    if trend is not None and trend.delta is not None:
        lines[-1] += f", {_signed(round(trend.delta, 1))} over {trend.window_days} days"
    top = reasons_text(result)
    if top:
        lines.append(f"Why: {top}")
    lines.append(f"Created by healthsync (key {signal.key}).")
    return "\n".join(lines)


def _tasks(
    assessment: Assessment, as_of: date, known: Mapping[str, Any], dues: dict[int, date] | None = None
) -> list[TaskUpsert]:
    """New tasks for the assessment's signals; `dues` shares one due `date` per day among them."""
    dues = {} if dues is None else dues
    return [
        TaskUpsert(
            key=signal.key,
            account_id=assessment.account.crm_id,
            subject=signal.subject,
            body=_task_body(signal, assessment),
            due=dues.setdefault(signal.due_in_days, as_of + timedelta(days=signal.due_in_days)),
            owner_id=assessment.account.owner_id,
            priority=signal.priority,
            reason=signal.code,
        )
        for signal in assessment.signals
        if signal.key not in known
    ]


def _deal(assessment: Assessment, live_deals: Mapping[str, CrmDeal], pipeline: str) -> DealUpsert | None:
    account, stage = assessment.account, assessment.stage
    end = account.contract_end
    if stage is None or stage not in OPEN_STAGES or end is None:
        return None
    key = deal_key(assessment.key, end)
    amount = round(account.arr, 2) if account.arr is not None else None
    live = live_deals.get(key)
    reason = f"contract ends {end.isoformat()}: {stage.value}"
    if live is not None and not live.deleted:
        if live.is_closed or live.stage is None:
            return None  # a person closed it or moved it to a stage of their own: theirs now
        if stage_order(stage) < stage_order(live.stage):
            stage = live.stage  # never backward: keep the later stage, update the rest
        unchanged = (
            stage is live.stage
            and live.close_date == end
            and (amount is None or (live.amount is not None and _same(amount, live.amount)))
        )
        if unchanged:
            return None
        reason = (
            f"contract ends {end.isoformat()}: {live.stage.value} \u2192 {stage.value}"
            if stage is not live.stage
            else f"contract ends {end.isoformat()}: amount or close date changed"
        )
    return DealUpsert(
        key=key,
        account_id=account.crm_id,
        name=f"{account.name} renewal {end.isoformat()}",
        pipeline=pipeline,
        stage=stage,
        amount=amount,
        close_date=end,
        owner_id=account.owner_id,
        reason=reason,
    )


@dataclass
class PlanPart:
    """The plan of some accounts: their changed fields (compact, see `FieldEntry`), tasks and deals."""

    fields: list[FieldEntry] = field(default_factory=list)
    tasks: list[TaskUpsert] = field(default_factory=list)
    deals: list[DealUpsert] = field(default_factory=list)


class Planner:
    """Plans a run's accounts, all at once or chunk by chunk (the same writes either way).

    Args:
        mapping: where outputs go and how values convert.
        as_of: the day assessed (due dates count from it).
        now: the run's instant (the `last_synced` stamp).
        live_deals: renewal deals as they stand in the CRM, by key.
    """

    def __init__(
        self, mapping: FieldMapping, *, as_of: date, now: datetime, live_deals: Mapping[str, CrmDeal]
    ) -> None:
        self.mapping, self.as_of, self.now, self.live_deals = mapping, as_of, now, live_deals
        self.pipeline = mapping.deals.pipeline or DEFAULT_PIPELINE
        self._synced_field = mapping.output_field("last_synced")
        self._synced_wire: Any = None
        self._stamped = False
        self._dues: dict[int, date] = {}  # one due date object per day, shared by the tasks due then

    def plan(self, assessments: Iterable[Assessment], known_tasks: Mapping[str, Any]) -> PlanPart:
        """The writes `assessments` need; `known_tasks`: task keys that already have a task (outbox
        entries, or found in the CRM), whose signals make no new task."""
        part = PlanPart()
        tasks: dict[str, TaskUpsert] = {}
        for assessment in assessments:
            if assessment.account.deleted:
                continue
            entry = _field_entry(assessment, self.mapping, self.now)
            if entry is not None:
                part.fields.append(entry)
            for task in _tasks(assessment, self.as_of, known_tasks, self._dues):
                tasks.setdefault(task.key, task)
            deal = _deal(assessment, self.live_deals, self.pipeline)
            if deal is not None:
                part.deals.append(deal)
        part.tasks = list(tasks.values())
        return part

    def writes_in(self, entry: FieldEntry) -> int:
        """How many `FieldWrite`s `entry` makes."""
        return (len(entry) - 2) // 3 + (1 if self._synced_field else 0)

    def field_writes(self, entries: Iterable[FieldEntry]) -> list[FieldWrite]:
        """The `FieldWrite`s of `entries`, in order: each changed output with its reason, then the
        `last_synced` stamp that rides along."""
        mapping = self.mapping
        obj, enums = mapping.account.object, mapping.enums
        out: list[FieldWrite] = []
        for entry in entries:
            record_id = entry[0]
            for at in range(2, len(entry), 3):
                name, live, wire = entry[at : at + 3]
                wanted = from_crm(mapping.transform(name), wire, enums)
                crm_field = mapping.output_field(name)
                assert crm_field is not None  # only mapped outputs are in an entry
                reason = f"{name}: {live!r} \u2192 {wanted!r}"
                out.append(FieldWrite(obj, record_id, crm_field, live, wire, reason))
            if self._synced_field:
                reason = "last_synced: stamped with the values above"
                out.append(FieldWrite(obj, record_id, self._synced_field, entry[1], self._stamp(), reason))
        return out

    def _stamp(self) -> Any:
        if not self._stamped:
            self._synced_wire = to_crm(self.mapping.transform("last_synced"), self.now, self.mapping.enums)
            self._stamped = True
        return self._synced_wire


def build_plan(
    assessments: Iterable[Assessment],
    mapping: FieldMapping,
    *,
    as_of: date,
    now: datetime,
    known_tasks: Mapping[str, Any],
    live_deals: Mapping[str, CrmDeal],
) -> Plan:
    """Every write needed to bring the CRM to the assessed state.

    Args:
        assessments: one per live CRM account.
        mapping: where outputs go and how values convert.
        as_of: the day assessed (due dates count from it).
        now: the run's instant (the `last_synced` stamp).
        known_tasks: task keys that already have a task (outbox entries marked done, or found in
            the CRM); their signals make no new task.
        live_deals: renewal deals as they stand in the CRM, by key.
    """
    planner = Planner(mapping, as_of=as_of, now=now, live_deals=live_deals)
    part = planner.plan(assessments, known_tasks)
    return Plan(tuple(planner.field_writes(part.fields)), tuple(part.tasks), tuple(part.deals))


class _FieldWrites(Sequence[FieldWrite]):
    """The field writes of kept `FieldEntry`s, made when read (a kept plan holds no reason texts)."""

    def __init__(self, planner: Planner | None, entries: list[FieldEntry], ends: list[int]) -> None:
        self._planner, self._entries, self._ends = planner, entries, ends
        self._cached: tuple[int, list[FieldWrite]] = (-1, [])

    def __len__(self) -> int:
        return self._ends[-1] if self._ends else 0

    def __iter__(self) -> Iterator[FieldWrite]:
        if self._planner is not None:
            for entry in self._entries:
                yield from self._planner.field_writes((entry,))

    def _entry_writes(self, at: int) -> list[FieldWrite]:
        if self._cached[0] != at:
            assert self._planner is not None  # entries exist only with their planner
            self._cached = (at, self._planner.field_writes((self._entries[at],)))
        return self._cached[1]

    @overload
    def __getitem__(self, index: int) -> FieldWrite: ...

    @overload
    def __getitem__(self, index: slice) -> tuple[FieldWrite, ...]: ...

    def __getitem__(self, index: int | slice) -> FieldWrite | tuple[FieldWrite, ...]:
        if isinstance(index, slice):
            return tuple(self[i] for i in range(len(self))[index])
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError("field write index out of range")
        at = bisect_right(self._ends, index)
        start = self._ends[at - 1] if at else 0
        return self._entry_writes(at)[index - start]


class PlanView:
    """A run's plan as callers read it (the attributes of `Plan`), kept compactly.

    Field writes are held as `FieldEntry`s and made when read, so a kept plan costs a fraction of
    the `FieldWrite`s and their reason texts; tasks and deals are held as they are.
    """

    def __init__(self, planner: Planner | None = None) -> None:
        self._planner = planner
        self._entries: list[FieldEntry] = []
        self._ends: list[int] = []
        self._tasks: list[TaskUpsert] = []
        self._deals: list[DealUpsert] = []

    def add(self, part: PlanPart) -> None:
        """Keep `part` (after what is kept already); needs the planner that made it."""
        if part.fields:
            assert self._planner is not None, "a PlanView keeps field entries only with their planner"
        total = self._ends[-1] if self._ends else 0
        for entry in part.fields:
            total += self._planner.writes_in(entry) if self._planner is not None else 0
            self._entries.append(entry)
            self._ends.append(total)
        self._tasks += part.tasks
        self._deals += part.deals

    @property
    def size(self) -> int:
        """Records kept: accounts with field writes, tasks and deals."""
        return len(self._entries) + len(self._tasks) + len(self._deals)

    @property
    def field_writes(self) -> Sequence[FieldWrite]:
        """Every field write, in plan order, each with its reason."""
        return _FieldWrites(self._planner, self._entries, self._ends)

    @property
    def task_upserts(self) -> tuple[TaskUpsert, ...]:
        """Every task to create, in plan order."""
        return tuple(self._tasks)

    @property
    def deal_upserts(self) -> tuple[DealUpsert, ...]:
        """Every renewal deal to upsert, in plan order."""
        return tuple(self._deals)

    @property
    def is_empty(self) -> bool:
        """True when the CRM already holds the desired state."""
        return not (self._entries or self._tasks or self._deals)

    def to_plan(self) -> Plan:
        """The same writes as a `Plan` (every `FieldWrite` made at once)."""
        return Plan(tuple(self.field_writes), self.task_upserts, self.deal_upserts)


# --- API-call estimate ---------------------------------------------------------------------------

BATCH_LIMITS: dict[str, dict[str, int]] = {
    "salesforce": {"fields": 200, "tasks": 200, "deals": 200},  # composite/sobjects: 200 records a call
    # CRM v3 batch endpoints: 100 inputs a call; v4 association batch read 1,000 deals and batch
    # create 2,000 pairs a call (connectors/hubspot_write.py).
    "hubspot": {"fields": 100, "tasks": 100, "deals": 100, "deal_link_reads": 1_000, "deal_links": 2_000},
}
"""Records per write call (DESIGN.md section 9; vendor-facts.md)."""


@dataclass(frozen=True)
class CallEstimate:
    """How many write calls a plan needs at the vendor's batch limits (the floor; retries add more)."""

    fields: int
    tasks: int
    deals: int
    extra: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        """All calls."""
        return self.fields + self.tasks + self.deals + sum(self.extra.values())


def _calls(count: int, size: int) -> int:
    return -(-count // size) if count else 0


def estimate_calls(plan: Plan, crm: str, new_deals: int = 0) -> CallEstimate:
    """The calls `plan` needs on `crm`, from the batch limits.

    HubSpot also lists the keyed tasks created since the state store's newest (one search call when
    the store knows them all, as it does after its first run; `writer.py`), reads the company links
    of existing deals it updates (one v4 read per 1,000) and links the new ones in one pass (one v4
    create per 2,000); those appear under `extra`.
    """
    records = len({(w.object, w.record_id) for w in plan.field_writes})
    return estimate_counts(
        crm, records=records, tasks=len(plan.task_upserts), deals=len(plan.deal_upserts), new_deals=new_deals
    )


def estimate_counts(crm: str, *, records: int, tasks: int, deals: int, new_deals: int = 0) -> CallEstimate:
    """`estimate_calls` from the counts alone: records with field writes, tasks and deals (of which
    `new_deals` are not in the CRM yet)."""
    limits = BATCH_LIMITS[crm]
    extra: dict[str, int] = {}
    if crm == "hubspot":
        if tasks:
            extra["task search"] = 1
        if deals - new_deals > 0:
            extra["deal link reads"] = _calls(deals - new_deals, limits["deal_link_reads"])
        if new_deals:
            extra["deal links"] = _calls(new_deals, limits["deal_links"])
    return CallEstimate(
        _calls(records, limits["fields"]),
        _calls(tasks, limits["tasks"]),
        _calls(deals, limits["deals"]),
        extra,
    )


def group_updates(writes: Sequence[FieldWrite]) -> list[tuple[str, str, dict[str, Any]]]:
    """Field writes grouped per record, in first-seen order: (object, record id, {field: value})."""
    grouped: dict[tuple[str, str], dict[str, Any]] = {}
    for write in writes:
        grouped.setdefault((write.object, write.record_id), {})[write.field] = write.new
    return [(obj, rid, values) for (obj, rid), values in grouped.items()]
