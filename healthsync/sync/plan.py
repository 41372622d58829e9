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
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

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
    "build_plan",
    "deal_key",
    "desired_outputs",
    "estimate_calls",
    "reasons_text",
    "top_reasons",
]

REASONS_MAX_CHARS = 255
"""The reasons field is a short text: Salesforce text fields hold 255 characters."""

DEFAULT_PIPELINE = "Renewals"


@dataclass(frozen=True)
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


def _field_writes(assessment: Assessment, mapping: FieldMapping, now: datetime) -> list[FieldWrite]:
    account = assessment.account
    desired = desired_outputs(assessment, now)
    writes: list[FieldWrite] = []
    for name, value in desired.items():
        crm_field = mapping.output_field(name)
        if not crm_field or name == "last_synced":
            continue
        transform = mapping.transform(name)
        wire = to_crm(transform, value, mapping.enums)
        wanted = from_crm(transform, wire, mapping.enums)  # what reading our write back would give
        live = account.live_outputs.get(name)
        if _same(wanted, live):
            continue
        writes.append(
            FieldWrite(
                mapping.account.object,
                account.crm_id,
                crm_field,
                live,
                wire,
                f"{name}: {live!r} \u2192 {wanted!r}",
            )
        )
    synced = mapping.output_field("last_synced")
    if writes and synced:
        wire = to_crm(mapping.transform("last_synced"), now, mapping.enums)
        writes.append(
            FieldWrite(
                mapping.account.object,
                account.crm_id,
                synced,
                account.live_outputs.get("last_synced"),
                wire,
                "last_synced: stamped with the values above",
            )
        )
    return writes


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


def _tasks(assessment: Assessment, as_of: date, known: Mapping[str, Any]) -> list[TaskUpsert]:
    return [
        TaskUpsert(
            key=signal.key,
            account_id=assessment.account.crm_id,
            subject=signal.subject,
            body=_task_body(signal, assessment),
            due=as_of + timedelta(days=signal.due_in_days),
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
    pipeline = mapping.deals.pipeline or DEFAULT_PIPELINE
    fields: list[FieldWrite] = []
    tasks: dict[str, TaskUpsert] = {}
    deals: list[DealUpsert] = []
    for assessment in assessments:
        if assessment.account.deleted:
            continue
        fields += _field_writes(assessment, mapping, now)
        for task in _tasks(assessment, as_of, known_tasks):
            tasks.setdefault(task.key, task)
        deal = _deal(assessment, live_deals, pipeline)
        if deal is not None:
            deals.append(deal)
    return Plan(tuple(fields), tuple(tasks.values()), tuple(deals))


# --- API-call estimate ---------------------------------------------------------------------------

BATCH_LIMITS: dict[str, dict[str, int]] = {
    "salesforce": {"fields": 200, "tasks": 200, "deals": 200},  # composite/sobjects: 200 records a call
    "hubspot": {"fields": 100, "tasks": 100, "deals": 100},  # CRM v3 batch endpoints: 100 inputs a call
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

    HubSpot also reads existing task keys before creating (one batch read per 100) and links each
    new deal to its company (one call per new deal); those appear under `extra`.
    """
    limits = BATCH_LIMITS[crm]
    records = len({(w.object, w.record_id) for w in plan.field_writes})
    tasks, deals = len(plan.task_upserts), len(plan.deal_upserts)
    extra: dict[str, int] = {}
    if crm == "hubspot":
        if tasks:
            extra["task key reads"] = _calls(tasks, limits["tasks"])
        if deals - new_deals > 0:
            extra["deal link reads"] = _calls(deals - new_deals, limits["deals"])
        if new_deals:
            extra["deal links"] = new_deals
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
