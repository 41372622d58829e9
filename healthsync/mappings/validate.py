"""A mapping checked against the live CRM schema, before anything is written (DESIGN.md section 6).

Each problem names the mapping file and line, the mapping key, the CRM object and field, and the
fix. Problems `fields apply` can fix (a missing field, option, stage or pipeline) say so; the
others (a field of another type, a field healthsync may not write, a key that is not unique) need a
person, because healthsync never retypes or deletes what RevOps made.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from healthsync.connectors.base import FieldSchema, ObjectSchema
from healthsync.errors import ConfigProblem, MappingError
from healthsync.mappings.model import FieldMapping
from healthsync.mappings.schema import ACCEPTED_TYPES, FieldNeed, SchemaNeeds, is_custom, required_schema

__all__ = ["APPLY_FIX", "LiveSchema", "SchemaProblem", "check_live_schema", "raise_for"]

APPLY_FIX = "run `healthsync fields apply` to create it"

ProblemKind = Literal[
    "missing_object",
    "missing_field",
    "wrong_type",
    "not_writable",
    "missing_option",
    "not_unique",
    "missing_value",
    "missing_pipeline",
    "missing_stage",
]


@dataclass(frozen=True)
class LiveSchema:
    """What the CRM has, read once per run.

    Attributes:
        objects: object name → its fields (an object missing here does not exist).
        pipelines: HubSpot deal pipelines, label → {stage label: stage id}; None for Salesforce.
        groups: HubSpot property groups per object.
    """

    objects: Mapping[str, ObjectSchema] = field(default_factory=dict)
    pipelines: Mapping[str, Mapping[str, str]] | None = None
    groups: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """HubSpot property group names per object (empty for Salesforce)."""


@dataclass(frozen=True)
class SchemaProblem:
    """One mismatch between a mapping and the live CRM."""

    kind: ProblemKind
    problem: ConfigProblem
    fixable: bool
    """`healthsync fields apply` creates what is missing here."""

    def __str__(self) -> str:
        return str(self.problem)


def _type_words(crm: str, need: FieldNeed) -> str:
    accepted = sorted(ACCEPTED_TYPES[crm].get(need.kind, ()))
    return " or ".join(accepted) if accepted else "any type"


def _check_field(mapping: FieldMapping, need: FieldNeed, live: FieldSchema | None) -> list[SchemaProblem]:
    crm = mapping.crm
    where = f"{need.object}.{need.name}"
    out: list[SchemaProblem] = []

    def add(kind: ProblemKind, message: str, fix: str, fixable: bool) -> None:
        out.append(SchemaProblem(kind, mapping.problem(need.path, message, fix), fixable))

    if live is None:
        if is_custom(crm, need.name):
            add("missing_field", f"{crm} field {where} does not exist", APPLY_FIX, True)
        else:
            add(
                "missing_field",
                f"{crm} field {where} does not exist and is not one healthsync can create",
                "map this key to an existing field",
                False,
            )
        return out
    accepted = ACCEPTED_TYPES[crm].get(need.kind)
    if accepted is not None and live.type not in accepted:
        add(
            "wrong_type",
            f"{crm} field {where} is of type {live.type}; this key needs {_type_words(crm, need)}",
            "map the key to a field of that type, or change the field's type in the CRM "
            "(healthsync never retypes a field)",
            False,
        )
        return out
    if need.writable and not live.writable:
        add(
            "not_writable",
            f"{crm} field {where} is read-only for healthsync's user",
            "give the integration user edit access to the field (field-level security / property "
            "permissions), or map the key to a writable field",
            False,
        )
    if need.unique and not (live.unique or live.external_id):
        add(
            "not_unique",
            f"{crm} field {where} is not unique; healthsync finds its records by it, so it must be "
            + ("an External ID marked Unique" if crm == "salesforce" else "a property with hasUniqueValue"),
            "make the field unique in the CRM, or map the key to a unique field",
            False,
        )
    missing = [o for o in need.options if o not in live.options]
    if missing and need.kind == "enum" and need.writable:  # options of read fields are theirs to pick
        if crm == "hubspot":
            fix, fixable = (
                "run `healthsync fields apply` to add them, or map [enums] values to existing options",
                True,
            )
        else:  # a Salesforce picklist healthsync did not create stays RevOps' to edit
            fix, fixable = (
                "add them to the picklist in Setup, or map [enums] values to existing options",
                False,
            )
        message = f"{crm} field {where} lacks the option(s) {', '.join(missing)}"
        out.append(
            SchemaProblem(
                "missing_option",
                mapping.problem(_option_path(mapping, need, missing[0]), message, fix),
                fixable,
            )
        )
    return out


def _option_path(mapping: FieldMapping, need: FieldNeed, value: str) -> tuple[str | int, ...]:
    """Where a missing option was written: the `[enums.<map>]` entry giving it, else the field's key."""
    name = str(need.path[-1])
    transform = mapping.transform(name) or ""
    if transform.startswith("enum:"):
        table = transform[5:]
        canonical = next((k for k, v in mapping.enums.get(table, {}).items() if v == value), None)
        if canonical is not None:
            return ("enums", table, canonical)
    return need.path


def check_live_schema(
    mapping: FieldMapping, live: LiveSchema, needs: SchemaNeeds | None = None
) -> list[SchemaProblem]:
    """Every way `live` falls short of what `mapping` needs; empty when a sync can run."""
    needs = needs or required_schema(mapping)
    problems: list[SchemaProblem] = []
    for obj in needs.objects:
        if obj not in live.objects:
            path = ("account", "object") if obj == mapping.account.object else ("tasks", "object")
            if obj == mapping.deals.object:
                path = ("deals", "object")
            problems.append(
                SchemaProblem(
                    "missing_object",
                    mapping.problem(
                        path,
                        f"{mapping.crm} object {obj} does not exist or is not visible to healthsync's user",
                        "check the object name, and that the integration user may read it",
                    ),
                    False,
                )
            )
    for need in needs.fields:
        schema = live.objects.get(need.object)
        if schema is None:
            continue
        problems += _check_field(mapping, need, schema.get(need.name))
    for picklist in needs.picklists:
        schema = live.objects.get(picklist.object)
        found = schema.get(picklist.field) if schema is not None else None
        if found is None:
            continue
        missing = [v for v in picklist.values if v not in found.options]
        if missing:
            problems.append(
                SchemaProblem(
                    "missing_value",
                    mapping.problem(
                        picklist.path,
                        f"{mapping.crm} picklist {picklist.object}.{picklist.field} lacks "
                        f"{', '.join(missing)}",
                        "run `healthsync fields apply` to add the values",
                    ),
                    True,
                )
            )
    if needs.pipeline is not None and live.pipelines is not None:
        wanted = needs.pipeline
        stages = next(
            (s for label, s in live.pipelines.items() if label.casefold() == wanted.label.casefold()), None
        )
        if stages is None:
            problems.append(
                SchemaProblem(
                    "missing_pipeline",
                    mapping.problem(
                        wanted.path,
                        f"hubspot deal pipeline '{wanted.label}' does not exist",
                        "run `healthsync fields apply` to create it with its stages, or name an existing "
                        "pipeline in deals.pipeline",
                    ),
                    True,
                )
            )
        else:
            labels = {label.casefold() for label in stages}
            missing = [s for s in wanted.stages if s.casefold() not in labels]
            if missing:
                problems.append(
                    SchemaProblem(
                        "missing_stage",
                        mapping.problem(
                            ("deals", "stages"),
                            f"hubspot deal pipeline '{wanted.label}' lacks the stage(s) {', '.join(missing)}",
                            "run `healthsync fields apply` to add them, or map the stages to existing ones",
                        ),
                        True,
                    )
                )
    return problems


def raise_for(mapping: FieldMapping, problems: list[SchemaProblem]) -> None:
    """Refuse to sync on any problem: a `MappingError` listing each one with its fix."""
    if problems:
        raise MappingError(
            f"the {mapping.crm} mapping does not match the live CRM schema; nothing was written",
            [p.problem for p in problems],
        )
