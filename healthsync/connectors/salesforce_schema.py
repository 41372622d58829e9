"""Provisioning in Salesforce: custom fields through the Tooling API, picklist values of standard sets.

- A field is `POST tooling/sobjects/CustomField` with `FullName` `Object.Name__c` and its metadata
  (https://developer.salesforce.com/docs/atlas.en-us.api_tooling.meta/api_tooling/tooling_api_objects_customfield.htm).
  Task and Event fields are defined on `Activity`, as Salesforce requires. Keys are Text External IDs
  marked Unique, so upserts and lookups by them are safe.
- The renewal stages and the `Renewal` type are values of the standard value sets OpportunityStage
  and OpportunityType (https://developer.salesforce.com/docs/atlas.en-us.api_tooling.meta/api_tooling/tooling_api_objects_standardvalueset.htm):
  read the set, append the missing values, write the whole list back (a PATCH replaces the list, and
  a value left out would be deactivated).
- New fields need field-level security for the integration user in a real org (a permission set
  granting read/edit); `healthsync check` reports a field the user cannot write.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from healthsync.connectors.salesforce_api import SalesforceApi
from healthsync.errors import VendorError
from healthsync.mappings.provision import Change
from healthsync.mappings.schema import FieldNeed
from healthsync.model import RenewalStage

__all__ = ["apply_changes", "field_metadata"]

_VALUE_SETS = {("Opportunity", "StageName"): "OpportunityStage", ("Opportunity", "Type"): "OpportunityType"}

_STAGE_FORECAST = {
    RenewalStage.PREPARATION.value: (10, "Pipeline"),
    RenewalStage.INITIATION.value: (25, "Pipeline"),
    RenewalStage.NEGOTIATION.value: (50, "BestCase"),
    RenewalStage.APPROVAL.value: (75, "Forecast"),
}
"""Probability and forecast category of each open renewal stage, as a renewal desk would set them."""


def field_metadata(need: FieldNeed) -> dict[str, Any]:
    """The Tooling `CustomField.Metadata` for a field healthsync needs."""
    label = need.label[:40]
    kind = need.kind
    if kind == "number":
        return {"type": "Number", "label": label, "precision": 18, "scale": 2}
    if kind == "integer":
        return {"type": "Number", "label": label, "precision": 18, "scale": 0}
    if kind == "date":
        return {"type": "Date", "label": label}
    if kind == "datetime":
        return {"type": "DateTime", "label": label}
    if kind == "longtext":
        return {"type": "LongTextArea", "label": label, "length": 32768, "visibleLines": 5}
    if kind == "enum":
        values = [{"fullName": v, "label": v, "default": False} for v in need.options]
        return {
            "type": "Picklist",
            "label": label,
            "valueSet": {"valueSetDefinition": {"sorted": False, "value": values}},
        }
    if kind == "key":
        return {
            "type": "Text",
            "label": label,
            "length": 255,
            "externalId": True,
            "unique": True,
            "caseSensitive": False,
        }
    return {"type": "Text", "label": label, "length": 255}


def _full_name(obj: str, name: str) -> str:
    return f"{'Activity' if obj in ('Task', 'Event') else obj}.{name}"


def _create_field(api: SalesforceApi, change: Change) -> str:
    assert change.field is not None
    body = {"FullName": _full_name(change.object, change.name), "Metadata": field_metadata(change.field)}
    api.rest(
        "tooling.customfield.create",
        "tooling/sobjects/CustomField",
        method="POST",
        body=body,
        idempotent=False,  # a second create is refused (DUPLICATE_DEVELOPER_NAME), never doubled
        kind="write",
    )
    return change.describe()


def _value(name: str, closed: bool, won: bool) -> dict[str, Any]:
    value: dict[str, Any] = {"valueName": name, "label": name, "default": False}
    if closed:
        value.update(
            closed=True,
            won=won,
            probability=100 if won else 0,
            forecastCategory="Closed" if won else "Omitted",
        )
    elif name in _STAGE_FORECAST:
        probability, category = _STAGE_FORECAST[name]
        value.update(closed=False, won=False, probability=probability, forecastCategory=category)
    return value


def _add_values(api: SalesforceApi, change: Change) -> str:
    set_name = _VALUE_SETS.get((change.object, change.name))
    if set_name is None:
        raise VendorError(
            f"healthsync cannot add values to {change.object}.{change.name}: add "
            f"{', '.join(change.values)} in Setup",
            vendor="salesforce",
        )
    path = f"tooling/sobjects/StandardValueSet/{set_name}"
    current = api.rest("tooling.standardvalueset.read", path, idempotent=True, kind="read")
    metadata = dict(current["Metadata"])
    values = [dict(v) for v in metadata.get("standardValue") or []]
    known = {str(v.get("valueName") or v.get("fullName")): v for v in values}
    picklist = change.picklist
    closed = set(picklist.closed) if picklist else set()
    won = set(picklist.won) if picklist else set()
    for name in change.values:
        if name in known:
            known[name]["isActive"] = None  # listed again: active
        else:
            values.append(_value(name, name in closed, name in won))
    metadata["standardValue"] = values
    api.rest(
        "tooling.standardvalueset.update",
        path,
        method="PATCH",
        body={"Metadata": metadata},
        idempotent=True,  # the whole list, replaced: a replay writes the same list
        kind="write",
    )
    return change.describe()


def apply_changes(api: SalesforceApi, changes: Sequence[Change]) -> list[str]:
    """Make `changes` in the org, one Tooling call each (there is no batch create for fields)."""
    done: list[str] = []
    for change in changes:
        if change.kind == "create_field":
            done.append(_create_field(api, change))
        elif change.kind == "add_values":
            done.append(_add_values(api, change))
    return done
