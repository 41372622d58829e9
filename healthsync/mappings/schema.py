"""The CRM schema a mapping needs: every field, its kind, options and uniqueness (DESIGN.md section 6).

`required_schema(mapping)` turns a mapping into the list of fields, picklist values and pipeline
stages that must exist in the CRM for a sync to read and write what the mapping says. Validation
(`mappings.validate`) compares it with the live schema; provisioning (`mappings.provision`) creates
what is missing. Both name the mapping key each requirement comes from, so a problem points at the
line RevOps has to change.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from healthsync.mappings.model import FieldMapping
from healthsync.model import RenewalStage
from healthsync.tomlsource import KeyPath

__all__ = [
    "ACCEPTED_TYPES",
    "FieldKind",
    "FieldNeed",
    "PicklistNeed",
    "PipelineNeed",
    "SchemaNeeds",
    "is_custom",
    "required_schema",
]

FieldKind = Literal["number", "integer", "text", "longtext", "enum", "date", "datetime", "key", "any"]
"""What a field must hold. `key` is a unique text (External ID on Salesforce, `hasUniqueValue` on
HubSpot); `any` is an input read as text (names, owners, segments), whatever its type."""

ACCEPTED_TYPES: dict[str, dict[FieldKind, frozenset[str]]] = {
    "salesforce": {
        "number": frozenset({"double", "currency", "percent", "int", "long"}),
        "integer": frozenset({"double", "int", "long"}),
        "text": frozenset({"string", "textarea"}),
        "longtext": frozenset({"textarea", "string"}),
        "enum": frozenset({"picklist"}),
        "date": frozenset({"date", "datetime"}),
        "datetime": frozenset({"datetime"}),
        "key": frozenset({"string"}),
    },
    "hubspot": {
        "number": frozenset({"number"}),
        "integer": frozenset({"number"}),
        "text": frozenset({"string"}),
        "longtext": frozenset({"string"}),
        "enum": frozenset({"enumeration"}),
        "date": frozenset({"date", "datetime"}),
        "datetime": frozenset({"datetime", "date"}),
        "key": frozenset({"string"}),
    },
}
"""The live field types each kind accepts (Salesforce describe `type`; HubSpot property `type`)."""

_OUTPUT_KINDS: dict[str, FieldKind] = {
    "score": "number",
    "band": "enum",
    "trend": "number",
    "trend_direction": "enum",
    "reasons": "text",
    "renewal_stage": "enum",
    "days_to_renewal": "integer",
    "last_synced": "datetime",
}

_INPUT_KINDS: dict[str, FieldKind] = {
    "contract_start": "date",
    "contract_end": "date",
    "arr": "number",
    "licenses": "integer",
    "nps": "integer",
    "override_band": "enum",
    "override_expires": "date",
}

_LABELS = {
    "score": "Health score",
    "band": "Health band",
    "trend": "Health trend (7 days)",
    "trend_direction": "Health trend direction",
    "reasons": "Health reasons",
    "renewal_stage": "Renewal stage",
    "days_to_renewal": "Days to renewal",
    "last_synced": "Health last synced",
    "customer_key": "Customer key",
    "contract_start": "Contract start",
    "contract_end": "Contract end",
    "arr": "ARR",
    "licenses": "Licenses",
    "segment": "Segment",
    "override_band": "Health override",
    "override_expires": "Health override expires",
    "override_author": "Health override by",
    "zendesk_org_id": "Zendesk organization id",
    "nps": "Last NPS",
}

_STANDARD_HUBSPOT = frozenset(
    {"name", "domain", "website", "hubspot_owner_id", "hs_lastmodifieddate", "lastmodifieddate",
     "annualrevenue", "industry", "lifecyclestage", "dealname", "dealstage", "pipeline", "amount",
     "closedate", "closed_lost_reason", "hs_object_id", "createdate", "numberofemployees"}
)  # fmt: skip
"""HubSpot's default properties healthsync may map to: they exist in every portal and are never created."""


def is_custom(crm: str, name: str) -> bool:
    """Whether `fields apply` may create field `name` (Salesforce custom fields end in `__c`)."""
    if crm == "salesforce":
        return name.endswith("__c")
    return not name.startswith("hs_") and name not in _STANDARD_HUBSPOT


@dataclass(frozen=True)
class FieldNeed:
    """One field the mapping uses.

    Attributes:
        object: the CRM object (`Account`, `Task`, `companies`, `deals` ...).
        name: the CRM field name.
        kind: what it must hold.
        path: the mapping key that names it.
        label: a label for a field created by `fields apply`.
        writable: healthsync writes it (outputs, task and deal fields), so it must be writable.
        options: values an enumeration must offer (checked for written fields; used when creating).
        unique: a key: External ID / unique value.
        group: HubSpot property group for a created property.
    """

    object: str
    name: str
    kind: FieldKind
    path: KeyPath
    label: str
    writable: bool = False
    options: tuple[str, ...] = ()
    unique: bool = False
    group: str | None = None


@dataclass(frozen=True)
class PicklistNeed:
    """Values a standard picklist must offer (Salesforce Opportunity `StageName` and `Type`)."""

    object: str
    field: str
    values: tuple[str, ...]
    path: KeyPath
    closed: tuple[str, ...] = ()
    won: tuple[str, ...] = ()


@dataclass(frozen=True)
class PipelineNeed:
    """HubSpot's renewal pipeline: its label and stage labels in order; the closed ones last."""

    object: str
    label: str
    stages: tuple[str, ...]
    path: KeyPath
    won: str | None = None
    lost: str | None = None


@dataclass(frozen=True)
class SchemaNeeds:
    """Everything a mapping requires of the CRM."""

    crm: str
    fields: tuple[FieldNeed, ...] = ()
    picklists: tuple[PicklistNeed, ...] = ()
    pipeline: PipelineNeed | None = None
    group: str | None = None
    objects: tuple[str, ...] = field(default_factory=tuple)


def _enum_options(mapping: FieldMapping, name: str) -> tuple[str, ...]:
    transform = mapping.transform(name) or ""
    if transform.startswith("enum:"):
        return tuple(dict.fromkeys(mapping.enums.get(transform[5:], {}).values()))
    if name == "renewal_stage":
        return tuple(s.value for s in RenewalStage)
    return ()


def _kind(mapping: FieldMapping, name: str, default: FieldKind) -> FieldKind:
    """The kind a mapping's own transform implies, else the canonical default."""
    transform = mapping.account.transforms.get(name)
    if transform is None:
        return default
    if transform.startswith("enum:"):
        return "enum"
    return {
        "date": "date",
        "datetime": "datetime",
        "number": "number",
        "integer": "integer",
        "percent": "number",
        "text": "text",
    }.get(transform, default)  # type: ignore[return-value]


def required_schema(mapping: FieldMapping) -> SchemaNeeds:
    """The fields, picklist values and pipeline `mapping` needs in its CRM."""
    crm = mapping.crm
    account = mapping.account.object
    group = mapping.account.property_group if crm == "hubspot" else None
    needs: list[FieldNeed] = []
    for name, crm_field in mapping.account.inputs.items():
        if not crm_field:
            continue
        kind = _kind(mapping, name, _INPUT_KINDS.get(name, "any"))
        needs.append(
            FieldNeed(
                account,
                crm_field,
                kind,
                ("account", "inputs", name),
                _LABELS.get(name, name.replace("extra.", "").replace("_", " ").capitalize()),
                options=_enum_options(mapping, name) if kind == "enum" else (),
                group=group,
            )
        )
    for name, crm_field in mapping.account.outputs.items():
        if not crm_field:
            continue
        kind = _kind(mapping, name, _OUTPUT_KINDS.get(name, "text"))
        needs.append(
            FieldNeed(
                account,
                crm_field,
                kind,
                ("account", "outputs", name),
                _LABELS.get(name, name),
                writable=True,
                options=_enum_options(mapping, name) if kind == "enum" else (),
                group=group,
            )
        )
    tasks, deals = mapping.tasks, mapping.deals
    needs.append(
        FieldNeed(
            tasks.object,
            tasks.key_field,
            "key",
            ("tasks", "key_field"),
            "healthsync task key",
            True,
            (),
            True,
        )
    )
    needs.append(
        FieldNeed(
            deals.object,
            deals.key_field,
            "key",
            ("deals", "key_field"),
            "healthsync renewal key",
            True,
            (),
            True,
        )
    )
    stage_values = tuple(
        dict.fromkeys(deals.stages[s.value] for s in RenewalStage if s.value in deals.stages)
    )
    won = deals.stages.get(RenewalStage.RENEWED.value)
    lost = deals.stages.get(RenewalStage.CHURNED.value)
    picklists: list[PicklistNeed] = []
    pipeline = None
    if crm == "salesforce":
        picklists.append(
            PicklistNeed(
                deals.object,
                "StageName",
                stage_values,
                ("deals", "stages"),
                closed=tuple(v for v in stage_values if v in deals.closed_stages),
                won=(won,) if won else (),
            )
        )
        if deals.type:
            picklists.append(PicklistNeed(deals.object, "Type", (deals.type,), ("deals", "type")))
        if deals.loss_reason_field:
            needs.append(
                FieldNeed(
                    deals.object,
                    deals.loss_reason_field,
                    "enum",
                    ("deals", "loss_reason_field"),
                    "Loss reason",
                    options=LOSS_REASONS,
                )
            )
    else:
        pipeline = PipelineNeed(
            deals.object,
            deals.pipeline or "Renewals",
            stage_values,
            ("deals", "pipeline"),
            won=won,
            lost=lost,
        )
    objects = tuple(dict.fromkeys([account, tasks.object, deals.object]))
    return SchemaNeeds(crm, tuple(needs), tuple(picklists), pipeline, group, objects)


LOSS_REASONS = (
    "price",
    "missing feature",
    "integration",
    "support",
    "champion left",
    "budget",
    "competitor",
    "business closed",
    "other",
)
"""Picklist values of the Salesforce loss-reason field `fields apply` creates (issue #10's list)."""
