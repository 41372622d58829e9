"""Explain one account's health from what the last sync recorded, without calling the CRM.

A CSM asks "why is Acme red?": the answer is the score the last run wrote, every rule's
contribution to it, the trend against the week before, the renewal stage and the tasks healthsync
created for the account. All of it is in the state store, so `explain` is instant and free.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from healthsync.config import Config
from healthsync.errors import ConfigError
from healthsync.model import RenewalStage, Trend
from healthsync.scoring.renewal import renewal_stage
from healthsync.scoring.trend import compute_trend
from healthsync.sync.state import StateStore
from healthsync.sync.state_records import HealthRecord, OutboxEntry, SnapshotRow

__all__ = ["Explanation", "explain_account"]


@dataclass(frozen=True)
class Explanation:
    """Everything `explain` shows for one account."""

    snapshot: SnapshotRow
    health: HealthRecord
    trend: Trend
    stage: RenewalStage | None
    days_to_renewal: int | None
    tasks: tuple[OutboxEntry, ...] = field(default_factory=tuple)

    def to_json(self) -> dict[str, Any]:
        """The explanation as one JSON object (`explain --json`)."""
        h, snap, trend = self.health, self.snapshot, self.trend
        return {
            "account": snap.account,
            "name": snap.name,
            "as_of": h.day.isoformat(),
            "score": h.score,
            "band": h.band.value,
            "computed_band": h.computed_band.value,
            "contributions": [dict(c) for c in h.contributions],
            "missing": list(h.missing),
            "coverage": h.coverage,
            "rules_version": h.rules_version,
            "trend": {
                "delta": trend.delta,
                "direction": trend.direction.value if trend.direction else None,
                "previous_score": trend.previous_score,
                "previous_day": trend.previous_day.isoformat() if trend.previous_day else None,
            },
            "renewal": {
                "stage": self.stage.value if self.stage else None,
                "contract_end": snap.contract_end.isoformat() if snap.contract_end else None,
                "days_to_renewal": self.days_to_renewal,
                "arr": snap.arr,
            },
            "owner_id": snap.owner_id,
            "tasks": [
                {
                    "key": t.key,
                    "subject": t.payload.get("subject"),
                    "due": t.payload.get("due"),
                    "priority": t.payload.get("priority"),
                    "status": t.status.value,
                    "crm_id": t.crm_id,
                }
                for t in self.tasks
            ],
        }


def explain_account(store: StateStore, config: Config, query: str) -> Explanation:
    """The explanation of the account whose CRM id or name is `query`.

    Raises:
        ConfigError: no recorded account matches, or several do (the message lists them).
    """
    found = store.find_accounts(query)
    if not found:
        raise ConfigError(
            f"no account matching {query!r} in the last sync's records; give a CRM id or part of "
            "the account name (run `healthsync sync` first if no sync has run yet)"
        )
    if len(found) > 1:
        listed = "; ".join(f"{r.name} ({r.account})" for r in found[:10])
        raise ConfigError(f"{query!r} matches several accounts: {listed}. Give the CRM id or the full name.")
    snap = found[0]
    health = store.latest_health(snap.account)
    if health is None:
        raise ConfigError(f"account {snap.name} ({snap.account}) has no recorded score yet")
    settings = config.scoring.trend
    window = settings.window_days + settings.tolerance_days + 1
    history = store.history_many([snap.account], since=health.day - timedelta(days=window))[snap.account]
    trend = compute_trend(
        [(p.day, p.score) for p in history if p.day < health.day],
        health.day,
        health.score,
        window_days=settings.window_days,
        tolerance_days=settings.tolerance_days,
        flat_within=settings.flat_within,
    )
    days = (snap.contract_end - health.day).days if snap.contract_end is not None else None
    return Explanation(
        snapshot=snap,
        health=health,
        trend=trend,
        stage=renewal_stage(days),
        days_to_renewal=days,
        tasks=tuple(t for t in store.outbox_for_account(snap.account) if t.kind == "task"),
    )
