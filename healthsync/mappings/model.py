"""Field mappings: where each input comes from and where each output goes, in one CRM (DESIGN.md 6).

Built-in defaults ship as TOML beside this module (`salesforce.toml`, `hubspot.toml`); a RevOps user
file overrides any key and inherits the rest (tables merge key by key, values and lists replace).
Mistakes are reported with the file and line where the key was written: the user file when the
key came from it, else the built-in file. Validation against the live CRM schema is a second step
(`healthsync check`); this module checks the file itself.

Transforms are names from a registry, never code: `date`, `datetime`, `number`, `integer`,
`percent`, `text`, `enum:<name>` (a value map under `[enums.<name>]`).
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError

from healthsync.errors import ConfigProblem, MappingError
from healthsync.tomlsource import KeyPath, TomlDocument, dotted, load_toml, parse_toml

__all__ = [
    "DEFAULT_TRANSFORMS",
    "INPUTS",
    "OUTPUTS",
    "TRANSFORMS",
    "AccountMap",
    "DealMap",
    "FieldMapping",
    "TaskMap",
    "load_mapping",
]

CrmName = Literal["salesforce", "hubspot"]

INPUTS: dict[str, str] = {
    "name": "account name",
    "domain": "website or e-mail domain (matching to Zendesk by domain)",
    "owner": "account owner (receives tasks)",
    "modified": "last-modified stamp (incremental reads)",
    "customer_key": "your own account key (Zendesk external_id, usage database key)",
    "contract_start": "current contract start date",
    "contract_end": "current contract end date (renewal stage, renewal deal close date)",
    "arr": "annual recurring revenue (renewal deal amount)",
    "licenses": "seats bought",
    "segment": "segment selecting per-segment rules",
    "lifecycle_stage": "lifecycle stage",
    "zendesk_org_id": "Zendesk organization id kept in the CRM",
    "nps": "last NPS answer, when kept in the CRM",
    "payments_on_time": "payments on time in 6 months, when kept in the CRM",
    "override_band": "CSM override of the band",
    "override_expires": "expiry date of the override",
    "override_author": "who set the override",
}
"""Canonical inputs a mapping may name (plus `extra.<name>` for custom rule inputs)."""

OUTPUTS: dict[str, str] = {
    "score": "health score 0-100",
    "band": "health band",
    "trend": "score change over 7 days",
    "trend_direction": "up, down or flat",
    "reasons": "top reasons, short text",
    "renewal_stage": "renewal stage",
    "days_to_renewal": "days to contract end",
    "last_synced": "when healthsync last wrote the account",
}
"""Canonical outputs healthsync writes; mapping one to "" turns that output off."""

TRANSFORMS = ("date", "datetime", "number", "integer", "percent", "text")
"""Transform names besides `enum:<name>`."""

DEFAULT_TRANSFORMS: dict[str, str] = {
    "contract_start": "date",
    "contract_end": "date",
    "override_expires": "date",
    "modified": "datetime",
    "arr": "number",
    "licenses": "integer",
    "nps": "integer",
    "score": "number",
    "trend": "number",
    "days_to_renewal": "integer",
    "last_synced": "datetime",
    "reasons": "text",
}
"""How a value reads and writes when the mapping names no transform for it. One table for both CRMs,
so the reader and the planner convert alike and an unchanged value compares equal (no write)."""

_RENEWAL_STAGES = ("Preparation", "Initiation", "Negotiation", "Approval", "Renewed", "Churned")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class AccountMap(_Strict):
    """Which CRM object holds customers, and the input/output fields on it."""

    object: str
    property_group: str | None = None
    inputs: dict[str, str] = Field(default_factory=dict)
    outputs: dict[str, str] = Field(default_factory=dict)
    transforms: dict[str, str] = Field(default_factory=dict)


class TaskMap(_Strict):
    """How tasks are created: object, dedup key field, status and priority values."""

    object: str
    key_field: str
    status: str
    priorities: dict[Literal["high", "medium", "low"], str]
    record_type: str | None = None
    queue: str | None = None


class DealMap(_Strict):
    """Renewal deals: object, external-id key field, pipeline and stage names."""

    object: str
    key_field: str
    stages: dict[str, str]
    closed_stages: list[str]
    pipeline: str | None = None
    type: str | None = None
    loss_reason_field: str | None = None


class FieldMapping(_Strict):
    """A complete, file-checked mapping for one CRM."""

    version: int = 1
    crm: CrmName
    sources: tuple[str, ...] = ()
    account: AccountMap
    tasks: TaskMap
    deals: DealMap
    enums: dict[str, dict[str, str]] = Field(default_factory=dict)

    def input_field(self, name: str) -> str | None:
        """The CRM field of canonical input `name`, or None when not mapped."""
        return self.account.inputs.get(name) or None

    def output_field(self, name: str) -> str | None:
        """The CRM field of canonical output `name`, or None when turned off."""
        return self.account.outputs.get(name) or None

    def transform(self, name: str) -> str | None:
        """The transform of input or output `name`: the mapping's own, else the built-in default."""
        return self.account.transforms.get(name) or DEFAULT_TRANSFORMS.get(name)

    def problem(self, path: KeyPath, message: str, fix: str | None = None) -> ConfigProblem:
        """A problem located at the file and line where `path` was written (user file, else built-in)."""
        if self._where is None:
            source = self.sources[-1] if self.sources else "mapping"
            return ConfigProblem(source=source, key=dotted(path), message=message, fix=fix)
        return self._where(path).problem(path, message, fix)

    _where: Callable[[KeyPath], TomlDocument] | None = PrivateAttr(None)


def _default_path(crm: CrmName) -> str:
    return str(Path(str(resources.files("healthsync.mappings").joinpath(f"{crm}.toml"))))


def _default_text(crm: CrmName) -> str:
    return resources.files("healthsync.mappings").joinpath(f"{crm}.toml").read_text(encoding="utf-8")


def _merge(base: dict[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def load_mapping(crm: CrmName, user_file: str | Path | None = None) -> FieldMapping:
    """The built-in mapping for `crm`, overridden key by key by `user_file`, checked.

    Raises:
        MappingError: one problem per mistake, each naming the file, line, key and fix.
    """
    default_doc = parse_toml(_default_text(crm), f"{_default_path(crm)} (built-in)")
    user_doc = load_toml(user_file) if user_file is not None else None
    data = _merge(default_doc.data, user_doc.data if user_doc else {})
    data["crm"] = crm
    data["sources"] = (default_doc.source, *((user_doc.source,) if user_doc else ()))

    def where(path: KeyPath) -> TomlDocument:
        # The user's file when it wrote this key itself (a table header above it is not enough).
        if user_doc is not None and _written(user_doc, path):
            return user_doc
        return default_doc

    problems: list[ConfigProblem] = []
    try:
        mapping = FieldMapping.model_validate(data)
    except ValidationError as exc:
        for error in exc.errors():
            path = tuple(p for p in error["loc"] if isinstance(p, str | int))
            message = "unknown key" if error["type"] == "extra_forbidden" else error["msg"]
            problems.append(where(path).problem(path, message))
        raise MappingError(f"invalid {crm} mapping", problems) from None
    problems += _check(mapping, where)
    if problems:
        raise MappingError(f"invalid {crm} mapping", problems)
    mapping._where = where
    return mapping


def _written(doc: TomlDocument, path: KeyPath) -> bool:
    """Whether `doc` holds the value at `path` (not merely a table on its way)."""
    node: Any = doc.data
    for part in path:
        in_table = isinstance(node, Mapping) and part in node
        in_list = isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)
        if not (in_table or in_list):
            return False
        node = node[part]
    return True


def _suggest(name: str, known: Any) -> str | None:
    close = difflib.get_close_matches(name, list(known), n=1)
    return f"did you mean '{close[0]}'?" if close else None


def _check(mapping: FieldMapping, where: Any) -> list[ConfigProblem]:
    problems: list[ConfigProblem] = []

    def add(path: KeyPath, message: str, fix: str | None = None) -> None:
        problems.append(where(path).problem(path, message, fix))

    for name in mapping.account.inputs:
        if name not in INPUTS and not name.startswith("extra."):
            add(
                ("account", "inputs", name),
                f"unknown input '{name}'",
                _suggest(name, INPUTS) or f"known inputs: {', '.join(INPUTS)}; custom ones are extra.<name>",
            )
    for name in mapping.account.outputs:
        if name not in OUTPUTS:
            add(
                ("account", "outputs", name),
                f"unknown output '{name}'",
                _suggest(name, OUTPUTS) or f"known outputs: {', '.join(OUTPUTS)}",
            )
    for name, transform in mapping.account.transforms.items():
        path = ("account", "transforms", name)
        if name not in INPUTS and name not in OUTPUTS and not name.startswith("extra."):
            add(path, f"transform for unknown field '{name}'", _suggest(name, {**INPUTS, **OUTPUTS}))
        kind, _, enum = transform.partition(":")
        if kind == "enum":
            if enum not in mapping.enums:
                add(path, f"enum map '{enum}' is not defined", f"add a table [enums.{enum}]")
        elif transform not in TRANSFORMS:
            add(
                path, f"unknown transform '{transform}'", f"use one of {', '.join(TRANSFORMS)} or enum:<name>"
            )
    for stage in _RENEWAL_STAGES:
        if stage not in mapping.deals.stages:
            add(("deals", "stages"), f"missing the CRM stage for {stage}", f'add {stage} = "<stage name>"')
    for stage in mapping.deals.stages:
        if stage not in _RENEWAL_STAGES:
            add(
                ("deals", "stages", stage),
                f"unknown renewal stage '{stage}'",
                _suggest(stage, _RENEWAL_STAGES),
            )
    for stage in ("Renewed", "Churned"):
        value = mapping.deals.stages.get(stage)
        if value is not None and value not in mapping.deals.closed_stages:
            add(("deals", "closed_stages"), f"the {stage} stage '{value}' must be one of closed_stages")
    if not mapping.account.inputs.get("name"):
        add(("account", "inputs", "name"), "the account name input is required")
    return problems


def describe_keys() -> dict[str, str]:
    """Every canonical key with what it means, for the README and `healthsync check`."""
    return {
        **{f"inputs.{k}": v for k, v in INPUTS.items()},
        **{f"outputs.{k}": v for k, v in OUTPUTS.items()},
    }
