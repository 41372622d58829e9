"""What `healthsync fields apply` would create, decided from the mapping and the live schema.

Pure: `plan_changes` compares what the mapping needs (`mappings.schema`) with what the CRM has and
lists the changes that close the gap: a HubSpot property group, fields (keys unique), missing
enumeration options, the renewal pipeline and its stages, Salesforce picklist values. It never
plans a deletion or a retype: a field that exists with another type, or a key field that is not
unique, is a conflict for a person and is reported instead. Applying a plan is the connectors'
job (`SchemaWriter`); applying it twice changes nothing the second time, since the second plan is
empty.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

from healthsync.mappings.model import FieldMapping
from healthsync.mappings.schema import (
    FieldNeed,
    PicklistNeed,
    PipelineNeed,
    SchemaNeeds,
    is_custom,
    required_schema,
)
from healthsync.mappings.validate import LiveSchema, SchemaProblem, check_live_schema

__all__ = ["Change", "ChangeKind", "ProvisioningPlan", "SchemaWriter", "plan_changes"]

ChangeKind = Literal[
    "create_group", "create_field", "add_options", "add_values", "create_pipeline", "add_stages"
]


@dataclass(frozen=True)
class Change:
    """One thing to create in the CRM.

    Attributes:
        kind: what to do.
        object: the CRM object it belongs to.
        name: the field, group, picklist or pipeline.
        values: options, picklist values or stage labels to add (for create_* of enums: all options).
        field: the field to create (create_field, add_options).
        picklist: the standard picklist to extend (add_values).
        pipeline: the pipeline to create or extend (create_pipeline, add_stages).
    """

    kind: ChangeKind
    object: str
    name: str
    values: tuple[str, ...] = ()
    field: FieldNeed | None = None
    picklist: PicklistNeed | None = None
    pipeline: PipelineNeed | None = None

    def describe(self) -> str:
        """One line a RevOps person reads in `fields apply` output."""
        listed = f": {', '.join(self.values)}" if self.values else ""
        if self.kind == "create_field" and self.field is not None:
            unique = " (unique)" if self.field.unique else ""
            return f"create field {self.object}.{self.name} ({self.field.kind}{unique}){listed}"
        return {
            "create_group": f"create property group {self.name} on {self.object}",
            "add_options": f"add options to {self.object}.{self.name}{listed}",
            "add_values": f"add picklist values to {self.object}.{self.name}{listed}",
            "create_pipeline": f"create {self.object} pipeline '{self.name}' with stages{listed}",
            "add_stages": f"add stages to pipeline '{self.name}'{listed}",
        }.get(self.kind, f"{self.kind} {self.object}.{self.name}{listed}")


@dataclass(frozen=True)
class ProvisioningPlan:
    """The changes to make, and the conflicts left for a person."""

    changes: tuple[Change, ...]
    conflicts: tuple[SchemaProblem, ...]

    @property
    def is_empty(self) -> bool:
        """Nothing to create: a second `fields apply` lands here."""
        return not self.changes


class SchemaWriter(Protocol):
    """A connector that can read its CRM's schema and create fields, values and pipelines."""

    def live_schema(self, objects: tuple[str, ...]) -> LiveSchema:
        """The live schema of `objects` (and pipelines on HubSpot)."""

    def apply_changes(self, changes: tuple[Change, ...]) -> list[str]:
        """Make the changes, in batches where the vendor allows; returns one line per change done."""


def plan_changes(
    mapping: FieldMapping, live: LiveSchema, needs: SchemaNeeds | None = None
) -> ProvisioningPlan:
    """The changes that make `live` satisfy `mapping`, and the conflicts no change may fix."""
    needs = needs or required_schema(mapping)
    problems = check_live_schema(mapping, live, needs)
    conflicts = tuple(p for p in problems if not p.fixable)
    changes: list[Change] = []
    if needs.group and needs.crm == "hubspot":
        for obj in needs.objects:
            schema = live.objects.get(obj)
            creates = schema is not None and any(
                f.object == obj and schema.get(f.name) is None and is_custom(needs.crm, f.name)
                for f in needs.fields
            )
            if creates and needs.group not in live.groups.get(obj, ()):
                changes.append(Change("create_group", obj, needs.group))
    for need in needs.fields:
        schema = live.objects.get(need.object)
        if schema is None:
            continue
        found = schema.get(need.name)
        if found is None:
            if is_custom(needs.crm, need.name):
                changes.append(Change("create_field", need.object, need.name, need.options, field=need))
        elif need.kind == "enum" and need.writable:
            missing = tuple(o for o in need.options if o not in found.options)
            if missing and found.type == "enumeration":  # HubSpot; Salesforce's is a conflict
                changes.append(Change("add_options", need.object, need.name, missing, field=need))
    for picklist in needs.picklists:
        schema = live.objects.get(picklist.object)
        found = schema.get(picklist.field) if schema is not None else None
        if found is None:
            continue
        missing = tuple(v for v in picklist.values if v not in found.options)
        if missing:
            changes.append(Change("add_values", picklist.object, picklist.field, missing, picklist=picklist))
    if needs.pipeline is not None and live.pipelines is not None:
        wanted = needs.pipeline
        stages = next(
            (s for label, s in live.pipelines.items() if label.casefold() == wanted.label.casefold()), None
        )
        if stages is None:
            changes.append(
                Change("create_pipeline", wanted.object, wanted.label, wanted.stages, pipeline=wanted)
            )
        else:
            labels = {label.casefold() for label in stages}
            absent = tuple(s for s in wanted.stages if s.casefold() not in labels)
            if absent:
                changes.append(Change("add_stages", wanted.object, wanted.label, absent, pipeline=wanted))
    return ProvisioningPlan(tuple(changes), conflicts)
