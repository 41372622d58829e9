"""The property catalogue: HubSpot's standard properties per object plus healthsync's custom ones.

Standard properties always exist; the `healthsync` group and its properties (the shared naming in
the sandbox brief) exist only when the sandbox starts provisioned, so `healthsync fields apply` can
be tested against a bare portal. Definitions serialise to the `Property` schema of
https://developers.hubspot.com/docs/api-reference/crm-properties-v3/core/get-crm-v3-properties-objectType .
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from healthsync.sandbox.hubspot.values import iso

__all__ = [
    "FIELD_TYPES",
    "PropertyDef",
    "PropertyGroup",
    "custom_groups",
    "custom_properties",
    "standard_groups",
    "standard_properties",
]

# Valid (type, fieldType) pairs: https://developers.hubspot.com/docs/api/crm/properties
# ("Property type and fieldType values"); the spec's PropertyCreate enums add html/phonenumber/file.
FIELD_TYPES: dict[str, set[str]] = {
    "string": {"text", "textarea", "html", "file", "phonenumber"},
    "number": {"number", "calculation_equation"},
    "date": {"date"},
    "datetime": {"date"},
    "enumeration": {"select", "radio", "checkbox", "booleancheckbox", "calculation_equation"},
    "bool": {"booleancheckbox", "calculation_equation"},
    "phone_number": {"phonenumber"},
}


@dataclass
class PropertyGroup:
    """A property group (`PropertyGroup` schema)."""

    name: str
    label: str
    display_order: int = -1
    archived: bool = False

    def to_json(self) -> dict[str, Any]:
        """The group as the API returns it."""
        return {
            "name": self.name,
            "label": self.label,
            "displayOrder": self.display_order,
            "archived": self.archived,
        }


@dataclass
class PropertyDef:
    """One property definition; `options` are dicts in the spec's `Option` shape."""

    name: str
    label: str
    type: str
    field_type: str
    group_name: str
    description: str = ""
    options: list[dict[str, Any]] = field(default_factory=list)
    has_unique_value: bool = False
    hidden: bool = False
    display_order: int = -1
    form_field: bool = False
    hubspot_defined: bool = True
    read_only_value: bool = False
    calculated: bool = False
    external_options: bool = False
    referenced_object_type: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    archived: bool = False
    archived_at: datetime | None = None

    @property
    def option_values(self) -> list[str]:
        """The internal values a write may use (empty: any value)."""
        return [str(o["value"]) for o in self.options]

    def to_json(self) -> dict[str, Any]:
        """The definition as `GET /crm/v3/properties/{objectType}/{name}` returns it."""
        out: dict[str, Any] = {
            "name": self.name,
            "label": self.label,
            "type": self.type,
            "fieldType": self.field_type,
            "description": self.description,
            "groupName": self.group_name,
            "options": [dict(o) for o in self.options],
            "displayOrder": self.display_order,
            "calculated": self.calculated,
            "externalOptions": self.external_options,
            "hasUniqueValue": self.has_unique_value,
            "hidden": self.hidden,
            "formField": self.form_field,
            "archived": self.archived,
            "modificationMetadata": {
                "archivable": not self.hubspot_defined,
                "readOnlyDefinition": self.hubspot_defined,
                "readOnlyValue": self.read_only_value,
            },
        }
        if self.hubspot_defined:
            out["hubspotDefined"] = True
        if self.referenced_object_type:
            out["referencedObjectType"] = self.referenced_object_type
        if self.created_at is not None:
            out["createdAt"] = iso(self.created_at)
        if self.updated_at is not None:
            out["updatedAt"] = iso(self.updated_at)
        if self.archived_at is not None:
            out["archivedAt"] = iso(self.archived_at)
        return out


def _options(*pairs: tuple[str, str]) -> list[dict[str, Any]]:
    return [
        {"label": label, "value": value, "displayOrder": i, "hidden": False, "description": ""}
        for i, (value, label) in enumerate(pairs)
    ]


def _std(name: str, label: str, kind: str, field_type: str, group: str, **kw: Any) -> PropertyDef:
    return PropertyDef(name, label, kind, field_type, group, **kw)


def _stamps(
    group: str, *, created: str = "createdate", modified: str = "hs_lastmodifieddate"
) -> list[PropertyDef]:
    return [
        _std(created, "Create Date", "datetime", "date", group),
        _std(
            modified, "Last Modified Date", "datetime", "date", group, read_only_value=True, calculated=True
        ),
        _std("hs_object_id", "Record ID", "number", "number", group, read_only_value=True),
    ]


def _owner(group: str) -> PropertyDef:
    return _std(
        "hubspot_owner_id",
        "Owner",
        "enumeration",
        "select",
        group,
        external_options=True,
        referenced_object_type="OWNER",
    )


def standard_groups(object_type: str) -> list[PropertyGroup]:
    """The built-in groups of an object type."""
    single = {"companies": "company", "deals": "deal", "tasks": "task", "contacts": "contact"}[object_type]
    return [PropertyGroup(f"{single}information", f"{single.capitalize()} information", 0)]


def standard_properties(object_type: str) -> list[PropertyDef]:
    """HubSpot's default properties that healthsync and generic clients touch, per object type."""
    if object_type == "companies":
        g = "companyinformation"
        return [
            _std("name", "Company name", "string", "text", g),
            _std("domain", "Company Domain Name", "string", "text", g),
            _std("website", "Website URL", "string", "text", g),
            _std("industry", "Industry", "string", "text", g),
            _std("description", "Description", "string", "textarea", g),
            _std("phone", "Phone Number", "string", "phonenumber", g),
            _std("city", "City", "string", "text", g),
            _std("country", "Country/Region", "string", "text", g),
            _owner(g),
            _std("annualrevenue", "Annual Revenue", "number", "number", g),
            _std("numberofemployees", "Number of Employees", "number", "number", g),
            *_stamps(g),
        ]
    if object_type == "deals":
        g = "dealinformation"
        return [
            _std("dealname", "Deal Name", "string", "text", g),
            _std("amount", "Amount", "number", "number", g),
            _std("closedate", "Close Date", "datetime", "date", g),
            # Options come from the pipelines; checked against them on write.
            _std("pipeline", "Pipeline", "enumeration", "select", g, external_options=True),
            _std("dealstage", "Deal Stage", "enumeration", "radio", g, external_options=True),
            _std(
                "dealtype",
                "Deal Type",
                "enumeration",
                "radio",
                g,
                options=_options(("newbusiness", "New Business"), ("existingbusiness", "Existing Business")),
            ),
            _std("closed_lost_reason", "Closed Lost Reason", "string", "textarea", g),
            _std("description", "Deal Description", "string", "textarea", g),
            _owner(g),
            *_stamps(g),
        ]
    if object_type == "tasks":
        g = "taskinformation"
        # https://developers.hubspot.com/docs/api/crm/tasks : task properties and their values.
        return [
            _std("hs_timestamp", "Due date", "datetime", "date", g),
            _std("hs_task_subject", "Task Title", "string", "text", g),
            _std("hs_task_body", "Task notes", "string", "html", g),
            _std(
                "hs_task_status",
                "Task Status",
                "enumeration",
                "select",
                g,
                options=_options(
                    ("NOT_STARTED", "Not started"),
                    ("IN_PROGRESS", "In progress"),
                    ("WAITING", "Waiting"),
                    ("COMPLETED", "Completed"),
                    ("DEFERRED", "Deferred"),
                ),
            ),
            _std(
                "hs_task_priority",
                "Priority",
                "enumeration",
                "select",
                g,
                options=_options(("NONE", "None"), ("LOW", "Low"), ("MEDIUM", "Medium"), ("HIGH", "High")),
            ),
            _std(
                "hs_task_type",
                "Task Type",
                "enumeration",
                "select",
                g,
                options=_options(("EMAIL", "Email"), ("CALL", "Call"), ("TODO", "To-do")),
            ),
            _owner(g),
            *_stamps(g, created="hs_createdate"),
        ]
    g = "contactinformation"
    return [
        _std("email", "Email", "string", "text", g, has_unique_value=False),
        _std("firstname", "First Name", "string", "text", g),
        _std("lastname", "Last Name", "string", "text", g),
        _std("phone", "Phone Number", "string", "phonenumber", g),
        _std("company", "Company Name", "string", "text", g),
        _owner(g),
        *_stamps(g, modified="lastmodifieddate"),
    ]


_BANDS = _options(("green", "Green"), ("yellow", "Yellow"), ("red", "Red"))
_RENEWAL = _options(
    ("preparation", "Preparation"),
    ("initiation", "Initiation"),
    ("negotiation", "Negotiation"),
    ("approval", "Approval"),
    ("renewed", "Renewed"),
    ("churned", "Churned"),
)


def custom_groups(object_type: str) -> list[PropertyGroup]:
    """The `healthsync` group, where every custom property lives."""
    if object_type not in {"companies", "deals", "tasks"}:
        return []
    return [PropertyGroup("healthsync", "Healthsync", 10)]


def custom_properties(object_type: str, created: datetime) -> list[PropertyDef]:
    """healthsync's provisioned properties (sandbox brief, "Shared naming", HubSpot)."""

    def prop(name: str, label: str, kind: str, field_type: str, **kw: Any) -> PropertyDef:
        return PropertyDef(
            name,
            label,
            kind,
            field_type,
            "healthsync",
            hubspot_defined=False,
            form_field=False,
            created_at=created,
            updated_at=created,
            **kw,
        )

    if object_type == "companies":
        return [
            prop("customer_key", "Customer key", "string", "text", has_unique_value=True),
            prop("contract_start_date", "Contract start", "date", "date"),
            prop("contract_end_date", "Contract end", "date", "date"),
            prop("arr", "ARR", "number", "number"),
            prop("licenses", "Licenses", "number", "number"),
            prop(
                "segment",
                "Segment",
                "enumeration",
                "select",
                options=_options(("SMB", "SMB"), ("Mid-Market", "Mid-Market"), ("Enterprise", "Enterprise")),
            ),
            prop("healthsync_override_band", "Health override", "enumeration", "select", options=_BANDS),
            prop("healthsync_override_expires", "Health override expires", "date", "date"),
            prop("healthsync_override_by", "Health override by", "string", "text"),
            prop("healthsync_score", "Health score", "number", "number"),
            prop("healthsync_band", "Health band", "enumeration", "select", options=_BANDS),
            prop("healthsync_trend", "Health trend", "number", "number"),
            prop(
                "healthsync_trend_direction",
                "Health trend direction",
                "enumeration",
                "select",
                options=_options(("up", "Up"), ("down", "Down"), ("flat", "Flat")),
            ),
            prop("healthsync_reasons", "Health reasons", "string", "textarea"),
            prop("healthsync_renewal_stage", "Renewal stage", "enumeration", "select", options=_RENEWAL),
            prop("healthsync_days_to_renewal", "Days to renewal", "number", "number"),
            prop("healthsync_last_synced", "Health last synced", "datetime", "date"),
        ]
    if object_type == "tasks":
        return [prop("healthsync_task_key", "Healthsync task key", "string", "text", has_unique_value=True)]
    if object_type == "deals":
        return [
            prop("healthsync_renewal_key", "Healthsync renewal key", "string", "text", has_unique_value=True)
        ]
    return []
