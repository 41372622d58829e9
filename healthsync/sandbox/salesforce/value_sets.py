"""Tooling API `StandardValueSet`: the value lists of standard picklists, read and replaced over REST.

Salesforce keeps the values of a standard picklist (Opportunity Stage, Opportunity Type, ...) in a
standard value set named by the Metadata API (`OpportunityStage`, `OpportunityType`; "StandardValueSet
Names and Standard Picklist Fields"). The Tooling API exposes it from API 39.0 as the `StandardValueSet`
object with Query, GET, POST and PATCH; its `Metadata` holds `sorted` and `standardValue[]`
(https://developer.salesforce.com/docs/atlas.en-us.api_tooling.meta/api_tooling/tooling_api_objects_standardvalueset.htm).

What the sandbox reproduces, and where each piece comes from:

- `FullName` and `Metadata` may be selected only when the query returns at most one row; otherwise 400
  MALFORMED_QUERY "When retrieving results with Metadata or FullName fields, the query qualifications
  must specify no more than one row for retrieval. Result size: N" (the Tooling object page says
  "Query this field only if the query result contains no more than one record"; the message is the
  one orgs answer, quoted in many public Tooling clients). Enforced in `routes_read.py`.
- Every row has the same `Id`, `000000000000000AAA` (observed on real orgs and recorded in
  forcedotcom/source-deploy-retrieve); a row is named by its `DurableId`, the set's name, which is
  also what `attributes.url` ends with (`.../tooling/sobjects/StandardValueSet/OpportunityStage`, as
  in public samples of the query response). GET and PATCH take the `DurableId`; the shared `Id` is
  accepted by PATCH only when the body's `FullName` says which set is meant.
- `Metadata.standardValue[]` entries are the Metadata API's `StandardValue` (which extends
  `CustomValue`: label, default, color, description, isActive; plus closed, won, probability,
  forecastCategory, allowEmail, converted, cssExposed, groupingString, highPriority, reverseRole,
  reviewed; https://developer.salesforce.com/docs/atlas.en-us.api_meta.meta/api_meta/meta_customvalue.htm).
  In the Tooling API's JSON a value's name is `valueName` (not `fullName`), every key is present
  (null when unset) and `urls` is null; a PATCH may name a value by `valueName` or `fullName`.
- PATCH replaces the whole list. "If picklist values are missing from a component definition, they
  get deactivated when deployed", for standard fields too (CustomValue page above): a value left out,
  in use or not, becomes inactive. Records keep it; describe no longer lists it; a write with it is
  refused as INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST. It stays in `standardValue` with
  `isActive: false`, and listing it again reactivates it. The list must hold at least one value
  ("When you deploy a StandardValueSet, this array must contain at least one picklist value",
  https://developer.salesforce.com/docs/atlas.en-us.api_meta.meta/api_meta/meta_standardvalueset.htm).
- Not documented, refused here with FIELD_INTEGRITY_EXCEPTION and a message saying why: a value
  named twice, two defaults, `won` without `closed`, a probability outside 0-100, a forecast category
  that is not a ForecastCategories value, a `FullName` other than the set's own.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace
from typing import Any

from healthsync.sandbox.salesforce.schema import FieldDef, Picklist, Schema
from healthsync.sandbox.salesforce.store import Store

__all__ = [
    "FORECAST_CATEGORIES",
    "SHARED_ID",
    "STANDARD_VALUE_SETS",
    "ToolingRecords",
    "ValueSetError",
    "ValueSets",
    "metadata_of",
    "parse_metadata",
]

STANDARD_VALUE_SETS: dict[str, tuple[str, str]] = {
    "AccountType": ("Account", "Type"),
    "Industry": ("Account", "Industry"),
    "OpportunityStage": ("Opportunity", "StageName"),
    "OpportunityType": ("Opportunity", "Type"),
    "TaskPriority": ("Task", "Priority"),
    "TaskStatus": ("Task", "Status"),
}
"""Standard value set name → the (object, field) whose picklist it is (Metadata API names)."""

SHARED_ID = "000000000000000AAA"
"""The `Id` every StandardValueSet row reports."""

FORECAST_CATEGORIES = frozenset({"Omitted", "Pipeline", "BestCase", "Forecast", "Closed"})
"""Metadata API `ForecastCategories` values (a stage's `forecastCategory`)."""

_MAX_VALUES = 1000  # a picklist holds at most 1,000 values, active and inactive (Salesforce Help)


class ValueSetError(ValueError):
    """A `Metadata` Salesforce would not save (answered as 400 FIELD_INTEGRITY_EXCEPTION)."""


def _standard_value(p: Picklist) -> dict[str, Any]:
    """One `standardValue` entry in the Tooling API's JSON (every key, null when unset)."""
    return {
        "allowEmail": None,
        "closed": p.closed,
        "color": None,
        "converted": None,
        "cssExposed": None,
        "default": p.default,
        "description": None,
        "forecastCategory": p.forecast_category,
        "groupingString": None,
        "highPriority": p.high_priority,
        "isActive": None if p.active else False,
        "label": p.label or p.value,
        "probability": p.probability,
        "reverseRole": None,
        "reviewed": None,
        "urls": None,
        "valueName": p.value,
        "won": p.won,
    }


def metadata_of(definition: FieldDef, sorted_: bool) -> dict[str, Any]:
    """The `Metadata` of the value set behind `definition`: active values first, then inactive ones."""
    entries = [p for p in definition.picklist if p.active] + [p for p in definition.picklist if not p.active]
    return {
        "groupingStringEnum": None,
        "sorted": sorted_,
        "standardValue": [_standard_value(p) for p in entries],
        "urls": None,
    }


def _flag(item: dict[str, Any], key: str, name: str) -> bool | None:
    value = item.get(key)
    if value is None or isinstance(value, bool):
        return value
    raise ValueSetError(f"{name}: {key} must be true, false or null, not {value!r}")


def _entry(item: Any, index: int) -> Picklist:
    if not isinstance(item, dict):
        raise ValueSetError(f"standardValue[{index}] must be an object")
    name = item.get("valueName") or item.get("fullName")
    if not isinstance(name, str) or not name.strip():
        raise ValueSetError(f"standardValue[{index}] needs a valueName (or fullName)")
    label = item.get("label")
    if label is not None and not isinstance(label, str):
        raise ValueSetError(f"{name}: label must be a string")
    probability = item.get("probability")
    if probability is not None:
        if isinstance(probability, bool) or not isinstance(probability, int | float):
            raise ValueSetError(f"{name}: probability must be a whole number from 0 to 100")
        if probability != int(probability) or not 0 <= probability <= 100:
            raise ValueSetError(f"{name}: probability must be a whole number from 0 to 100")
        probability = int(probability)
    forecast = item.get("forecastCategory")
    if forecast is not None and forecast not in FORECAST_CATEGORIES:
        raise ValueSetError(
            f"{name}: forecastCategory {forecast!r} is not one of {', '.join(sorted(FORECAST_CATEGORIES))}"
        )
    closed, won = _flag(item, "closed", name), _flag(item, "won", name)
    if won and not closed:
        raise ValueSetError(f"{name}: a won value must also be closed")
    active = _flag(item, "isActive", name)
    return Picklist(
        value=name,
        label=label or name,
        default=bool(_flag(item, "default", name)),
        active=active is not False,
        closed=closed,
        won=won,
        probability=probability,
        forecast_category=forecast,
        high_priority=_flag(item, "highPriority", name),
    )


def parse_metadata(metadata: Any, current: FieldDef, *, stages: bool) -> tuple[tuple[Picklist, ...], bool]:
    """The picklist (and `sorted`) a PATCH's `Metadata` gives `current`; ValueSetError if invalid.

    Values of `current` the new list leaves out stay, inactive. With `stages`, open values get
    explicit `closed: false, won: false` so Opportunity `IsClosed`/`IsWon` read false, not null.
    """
    if not isinstance(metadata, dict):
        raise ValueSetError("Metadata must be an object with standardValue")
    values = metadata.get("standardValue")
    if not isinstance(values, list) or not values:
        raise ValueSetError("standardValue must list at least one picklist value")
    sorted_ = metadata.get("sorted", False)
    if not isinstance(sorted_, bool):
        raise ValueSetError("sorted must be true or false")
    entries = [_entry(item, i) for i, item in enumerate(values)]
    if stages:
        entries = [replace(e, closed=bool(e.closed), won=bool(e.won)) for e in entries]
    seen: set[str] = set()
    for entry in entries:
        if entry.value.casefold() in seen:
            raise ValueSetError(f"duplicate value: {entry.value}")
        seen.add(entry.value.casefold())
    if sum(e.default for e in entries) > 1:
        raise ValueSetError("only one value can be the default")
    active = [e for e in entries if e.active]
    if not active:
        raise ValueSetError("standardValue must list at least one active picklist value")
    if sorted_:
        active.sort(key=lambda e: (e.label or e.value).casefold())
    dropped = [
        replace(p, active=False, default=False) for p in current.picklist if p.value.casefold() not in seen
    ]
    out = (*active, *[e for e in entries if not e.active], *dropped)
    if len(out) > _MAX_VALUES:
        raise ValueSetError(f"a picklist can hold at most {_MAX_VALUES} values, active and inactive")
    return out, sorted_


@dataclass
class _Set:
    name: str
    object_name: str
    field_name: str
    sorted: bool = False
    row: dict[str, Any] | None = None


class ValueSets:
    """The org's standard value sets, kept in step with the picklists of its schema.

    The picklist on the schema's `FieldDef` is the single truth (describe, writes and derived fields
    read it); the Tooling rows are rendered from it and re-rendered when a PATCH changes it.
    """

    def __init__(self, schema: Schema) -> None:
        self.schema = schema
        self.version = 0
        """Bumped by every change, so cached Tooling query results know when they are stale."""
        self._lock = threading.RLock()
        self._sets = {
            name: _Set(name, object_name, field_name)
            for name, (object_name, field_name) in STANDARD_VALUE_SETS.items()
            if (obj := schema.get(object_name)) is not None and obj.field(field_name) is not None
        }

    def names(self) -> list[str]:
        """The value sets this org has, by name."""
        return sorted(self._sets)

    def resolve(self, key: str, full_name: Any = None) -> str | None:
        """The set a `tooling/sobjects/StandardValueSet/{key}` URL names, or None.

        `key` is the DurableId (the set's name, any case); the shared Id needs `full_name` to say which.
        """
        by_name = {name.casefold(): name for name in self._sets}
        if key == SHARED_ID or key == SHARED_ID[:15]:
            return by_name.get(full_name.casefold()) if isinstance(full_name, str) else None
        return by_name.get(key.casefold())

    def field(self, name: str) -> FieldDef:
        """The picklist field behind set `name`."""
        entry = self._sets[name]
        obj = self.schema.get(entry.object_name)
        assert obj is not None
        definition = obj.field(entry.field_name)
        assert definition is not None
        return definition

    def row(self, name: str) -> dict[str, Any]:
        """The Tooling record of set `name` (the same dict until the set changes)."""
        with self._lock:
            entry = self._sets[name]
            if entry.row is None:
                entry.row = {
                    "Id": SHARED_ID,
                    "DurableId": name,
                    "FullName": name,
                    "MasterLabel": name,
                    "NamespacePrefix": None,
                    "Metadata": metadata_of(self.field(name), entry.sorted),
                }
            return entry.row

    def rows(self) -> list[dict[str, Any]]:
        """Every set's record, by name."""
        return [self.row(name) for name in self.names()]

    def update(self, name: str, metadata: Any) -> None:
        """Replace set `name`'s values with `metadata` (a PATCH); ValueSetError when it is invalid."""
        with self.schema.lock, self._lock:
            definition = self.field(name)
            picklist, sorted_ = parse_metadata(metadata, definition, stages=name == "OpportunityStage")
            definition.picklist = picklist
            if definition.default_value is not None or any(p.default for p in picklist):
                # A create without the field takes the set's default (Task Status: "Not Started").
                default = next((p.value for p in picklist if p.default and p.active), None)
                kept = definition.default_value in definition.picklist_values()
                definition.default_value = default or (definition.default_value if kept else None)
            entry = self._sets[name]
            entry.sorted = sorted_
            entry.row = None
            self.version += 1


class ToolingRecords:
    """What Tooling SOQL reads: stored rows (`CustomField`) plus the value sets' rows."""

    def __init__(self, store: Store, value_sets: ValueSets) -> None:
        self.store = store
        self.value_sets = value_sets

    @property
    def version(self) -> int:
        """Changes whenever a stored row or a value set does (both counters only grow)."""
        return self.store.version + self.value_sets.version

    def records(self, object_name: str) -> list[dict[str, Any]]:
        """Every record of a Tooling object."""
        if object_name == "StandardValueSet":
            return self.value_sets.rows()
        return self.store.records(object_name)

    def get(self, object_name: str, record_id: str) -> dict[str, Any] | None:
        """One stored record by Id (value sets share one Id, so they are never looked up by it)."""
        return None if object_name == "StandardValueSet" else self.store.get(object_name, record_id)
