"""`healthsync fields apply`: create in the CRM what the mapping needs and the CRM lacks.

Reads the live schema, plans the changes (`mappings.provision`), makes them, and reads the schema
again to confirm. It never deletes or retypes: conflicts are reported for a person. Idempotent by
construction: a second run finds nothing missing and makes no write call.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from healthsync.config import Config
from healthsync.connectors.registry import crm_connector
from healthsync.http import Http
from healthsync.mappings.provision import Change, plan_changes
from healthsync.mappings.schema import required_schema
from healthsync.mappings.validate import SchemaProblem, check_live_schema

__all__ = ["FieldsResult", "apply_fields"]


@dataclass
class FieldsResult:
    """What `fields apply` planned, did, and left for a person."""

    crm: str
    dry_run: bool
    planned: list[Change] = field(default_factory=list)
    done: list[str] = field(default_factory=list)
    conflicts: list[SchemaProblem] = field(default_factory=list)
    remaining: list[SchemaProblem] = field(default_factory=list)
    api_calls: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """Nothing left that a sync would trip on."""
        return not self.conflicts and not self.remaining

    def to_json(self) -> dict[str, Any]:
        """`fields apply --json`."""
        return {
            "crm": self.crm,
            "dry_run": self.dry_run,
            "changes": [c.describe() for c in self.planned],
            "done": self.done,
            "conflicts": [str(p) for p in self.conflicts],
            "remaining": [str(p) for p in self.remaining],
            "api_calls": self.api_calls,
            "ok": self.ok,
        }


def apply_fields(config: Config, *, dry_run: bool = False, http: Http | None = None) -> FieldsResult:
    """Create the fields, options, picklist values, group and pipeline the mapping needs.

    Raises:
        ConfigError: the mapping file is invalid, or a credential is missing or refused.
    """
    http = http or Http(retry_budget=config.sync.retry_budget)
    crm = crm_connector(config, http)
    needs = required_schema(crm.mapping)
    live = crm.live_schema(needs.objects)
    plan = plan_changes(crm.mapping, live, needs)
    result = FieldsResult(config.crm.system, dry_run, list(plan.changes), conflicts=list(plan.conflicts))
    if not dry_run and plan.changes:
        result.done = crm.apply_changes(plan.changes)
        after = crm.live_schema(needs.objects)
        result.remaining = [p for p in check_live_schema(crm.mapping, after, needs) if p.fixable]
    result.api_calls = http.counter.totals()
    return result
