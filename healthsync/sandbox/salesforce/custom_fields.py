"""Custom fields: Tooling API `CustomField` metadata → schema fields, and healthsync's own set.

`POST /services/data/vXX.X/tooling/sobjects/CustomField` takes `{"FullName": "Account.X__c",
"Metadata": {type, label, length, precision, scale, externalId, unique, valueSet...}}`
(https://developer.salesforce.com/docs/atlas.en-us.api_tooling.meta/api_tooling/tooling_api_objects_customfield.htm).
The provisioned sandbox is built through the very same function, so a provisioned org and an org
where `healthsync fields apply` ran look identical to describe and to writes.
"""

from __future__ import annotations

from typing import Any

from healthsync.sandbox.names import CHURN_REASONS
from healthsync.sandbox.salesforce.schema import FieldDef, Picklist

__all__ = ["HEALTHSYNC_FIELDS", "MetadataError", "field_from_metadata"]


class MetadataError(ValueError):
    """The CustomField metadata is not something Salesforce would accept (FIELD_INTEGRITY_EXCEPTION)."""


# Metadata `type` → describe type. Number fields describe as `double` whatever their scale.
_TYPES = {
    "Text": "string",
    "TextArea": "textarea",
    "LongTextArea": "textarea",
    "Html": "textarea",
    "Number": "double",
    "Currency": "currency",
    "Percent": "percent",
    "Date": "date",
    "DateTime": "datetime",
    "Checkbox": "boolean",
    "Picklist": "picklist",
    "Email": "email",
    "Url": "url",
    "Phone": "phone",
}
# Salesforce's caps on custom field sizes (Custom Field Types, Salesforce Help).
_MAX_TEXT = 255
_MAX_LONG_TEXT = 131072
_MAX_PRECISION = 18


def _int(metadata: dict[str, Any], key: str, default: int) -> int:
    value = metadata.get(key)
    if value is None:  # absent, or null as the Tooling API's full Metadata shape sends it
        value = default
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise MetadataError(f"{key}: value not of required type: {value}")
    try:
        return int(value)
    except ValueError:
        raise MetadataError(f"{key}: value not of required type: {value}") from None


def _picklist(metadata: dict[str, Any]) -> tuple[tuple[Picklist, ...], bool]:
    value_set = metadata.get("valueSet") or {}
    definition = value_set.get("valueSetDefinition") or {}
    values = definition.get("value") or []
    if not values:
        raise MetadataError("Picklist fields need valueSet.valueSetDefinition.value")
    entries = []
    for item in values:
        name = item.get("fullName") if isinstance(item, dict) else None
        if not isinstance(name, str) or not name:
            raise MetadataError("every picklist value needs a fullName")
        entries.append(Picklist(name, item.get("label") or name, bool(item.get("default"))))
    return tuple(entries), bool(value_set.get("restricted", False))


def field_from_metadata(name: str, metadata: dict[str, Any]) -> FieldDef:
    """The schema field a CustomField create makes; MetadataError when the metadata is invalid."""
    if not name.endswith("__c") or not name[:-3].replace("_", "a").isalnum() or "__" in name[:-3]:
        raise MetadataError(f"Invalid field name: {name}")
    kind = metadata.get("type")
    if kind not in _TYPES:
        raise MetadataError(f"Invalid or unsupported field type: {kind}")
    label = metadata.get("label")
    if not isinstance(label, str) or not label:
        raise MetadataError("Required field is missing: label")
    out = FieldDef(
        name=name,
        type=_TYPES[kind],
        label=label,
        custom=True,
        external_id=bool(metadata.get("externalId", False)),
        unique=bool(metadata.get("unique", False)),
        case_sensitive=bool(metadata.get("caseSensitive", False)),
        nillable=not bool(metadata.get("required", False)),
    )
    if kind == "Text":
        out.length = _int(metadata, "length", 0)
        if not 1 <= out.length <= _MAX_TEXT:
            raise MetadataError(f"Length must be between 1 and {_MAX_TEXT}")
    elif kind == "TextArea":
        out.length = _MAX_TEXT
    elif kind in {"LongTextArea", "Html"}:
        out.length = _int(metadata, "length", 32768)
        out.html_formatted = kind == "Html"
        if not 256 <= out.length <= _MAX_LONG_TEXT:
            raise MetadataError(f"Length must be between 256 and {_MAX_LONG_TEXT}")
    elif kind in {"Number", "Currency", "Percent"}:
        out.precision = _int(metadata, "precision", 18)
        out.scale = _int(metadata, "scale", 0 if kind == "Number" else 2)
        if not 1 <= out.precision <= _MAX_PRECISION or not 0 <= out.scale <= out.precision:
            raise MetadataError("precision must be 1-18 and scale between 0 and precision")
    elif kind == "Checkbox":
        out.nillable = False
        out.defaulted_on_create = True
        out.default_value = str(metadata.get("defaultValue", "false")).lower() == "true"
    elif kind == "Picklist":
        out.picklist, out.restricted_picklist = _picklist(metadata)
    elif kind == "Email":
        out.length = 80
    elif kind == "Url":
        out.length = 255
    elif kind == "Phone":
        out.length = 40
    if out.external_id and out.type not in {"string", "email", "double"}:
        raise MetadataError("Only Text, Number and Email fields can be External IDs")
    out.id_lookup = out.external_id
    return out


def _text(label: str, length: int, *, key: bool = False) -> dict[str, Any]:
    meta: dict[str, Any] = {"type": "Text", "label": label, "length": length}
    if key:
        meta.update(externalId=True, unique=True, caseSensitive=False)
    return meta


def _number(label: str, precision: int, scale: int, kind: str = "Number") -> dict[str, Any]:
    return {"type": kind, "label": label, "precision": precision, "scale": scale}


def _pick(label: str, *values: str) -> dict[str, Any]:
    return {
        "type": "Picklist",
        "label": label,
        "valueSet": {
            "restricted": True,
            "valueSetDefinition": {"sorted": False, "value": [{"fullName": v, "label": v} for v in values]},
        },
    }


_BANDS = ("Green", "Yellow", "Red")

# The fields DESIGN/sandbox brief name for a provisioned org (what `healthsync fields apply` makes).
HEALTHSYNC_FIELDS: list[tuple[str, dict[str, Any]]] = [
    ("Account.Customer_Key__c", _text("Customer Key", 20, key=True)),
    ("Account.Contract_Start__c", {"type": "Date", "label": "Contract Start"}),
    ("Account.Contract_End__c", {"type": "Date", "label": "Contract End"}),
    ("Account.ARR__c", _number("ARR", 18, 2, "Currency")),
    ("Account.Licenses__c", _number("Licenses", 18, 0)),
    ("Account.Segment__c", _pick("Segment", "SMB", "Mid-Market", "Enterprise")),
    ("Account.Health_Override__c", _pick("Health Override", *_BANDS)),
    ("Account.Health_Override_Expires__c", {"type": "Date", "label": "Health Override Expires"}),
    ("Account.Health_Override_By__c", _text("Health Override By", 80)),
    ("Account.Health_Score__c", _number("Health Score", 5, 1)),
    ("Account.Health_Band__c", _pick("Health Band", *_BANDS)),
    ("Account.Health_Trend__c", _number("Health Trend", 5, 1)),
    ("Account.Health_Trend_Direction__c", _pick("Health Trend Direction", "Up", "Down", "Flat")),
    ("Account.Health_Reasons__c", {"type": "LongTextArea", "label": "Health Reasons", "length": 32768}),
    (
        "Account.Renewal_Stage__c",
        _pick("Renewal Stage", "Preparation", "Initiation", "Negotiation", "Approval", "Renewed", "Churned"),
    ),
    ("Account.Days_To_Renewal__c", _number("Days To Renewal", 6, 0)),
    ("Account.Health_Last_Synced__c", {"type": "DateTime", "label": "Health Last Synced"}),
    # Task fields are Activity fields (Task.X__c is refused; routes_tooling.py).
    ("Activity.Healthsync_Key__c", _text("Healthsync Key", 255, key=True)),
    ("Opportunity.Healthsync_Renewal_Key__c", _text("Healthsync Renewal Key", 255, key=True)),
    (
        "Opportunity.Loss_Reason__c",
        _pick("Loss Reason", *CHURN_REASONS),  # the reasons the generator's churned customers give
    ),
]
