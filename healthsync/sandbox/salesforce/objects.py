"""The standard sObjects healthsync touches (Account, Contact, Opportunity, Task, User).

Field lists follow the Object Reference (https://developer.salesforce.com/docs/atlas.en-us.object_reference.meta/object_reference/)
trimmed to what a CRM integration reads or writes; picklists carry Salesforce's default values.
A provisioned org also has healthsync's custom fields and the renewal picklist values (sandbox
brief, "Shared naming"); an unprovisioned one has only the standard schema, as a fresh org would.

Task custom fields are defined on `Activity`, the shared parent of Task and Event: a field created
as `Activity.X__c` appears on every activity object the org has (here: Task; the sandbox has no
Event). `ACTIVITY_OBJECTS` names them.
"""

from __future__ import annotations

from dataclasses import replace

from healthsync.sandbox.salesforce.custom_fields import HEALTHSYNC_FIELDS, field_from_metadata
from healthsync.sandbox.salesforce.ids import KEY_PREFIXES
from healthsync.sandbox.salesforce.schema import FieldDef, ObjectDef, Picklist, Schema

__all__ = ["ACTIVITY_OBJECTS", "RENEWAL_STAGES", "activity_objects", "build_schema"]

ACTIVITY_OBJECTS = ("Task", "Event")
"""The objects an `Activity.X__c` custom field lands on (those the org has)."""

# Opportunity stages of a new org (OpportunityStage defaults: probability %, forecast category,
# closed, won) and the renewal stages healthsync adds. Forecast categories are the Metadata API's
# ForecastCategories values (Omitted, Pipeline, BestCase, Forecast, Closed).
STANDARD_STAGES = (
    Picklist("Prospecting", "Prospecting", probability=10, forecast_category="Pipeline"),
    Picklist("Qualification", "Qualification", probability=10, forecast_category="Pipeline"),
    Picklist("Needs Analysis", "Needs Analysis", probability=20, forecast_category="Pipeline"),
    Picklist("Value Proposition", "Value Proposition", probability=50, forecast_category="Pipeline"),
    Picklist("Id. Decision Makers", "Id. Decision Makers", probability=60, forecast_category="Pipeline"),
    Picklist("Perception Analysis", "Perception Analysis", probability=70, forecast_category="Pipeline"),
    Picklist("Proposal/Price Quote", "Proposal/Price Quote", probability=75, forecast_category="Pipeline"),
    Picklist("Negotiation/Review", "Negotiation/Review", probability=90, forecast_category="Pipeline"),
    Picklist("Closed Won", "Closed Won", closed=True, won=True, probability=100, forecast_category="Closed"),
    Picklist(
        "Closed Lost", "Closed Lost", closed=True, won=False, probability=0, forecast_category="Omitted"
    ),
)
RENEWAL_STAGES = ("Preparation", "Initiation", "Negotiation", "Approval")
_RENEWAL_STAGE_VALUES = (
    Picklist("Preparation", "Preparation", probability=10, forecast_category="Pipeline"),
    Picklist("Initiation", "Initiation", probability=25, forecast_category="Pipeline"),
    Picklist("Negotiation", "Negotiation", probability=50, forecast_category="BestCase"),
    Picklist("Approval", "Approval", probability=75, forecast_category="Forecast"),
)
# `Type='Renewal'` is not a default Opportunity type (vendor-facts.md §6).
OPPORTUNITY_TYPES = (
    "Existing Customer - Upgrade",
    "Existing Customer - Replacement",
    "Existing Customer - Downgrade",
    "New Customer",
)
INDUSTRIES = (
    "Agriculture", "Apparel", "Banking", "Biotechnology", "Chemicals", "Communications", "Construction",
    "Consulting", "Education", "Electronics", "Energy", "Engineering", "Entertainment", "Environmental",
    "Finance", "Food & Beverage", "Government", "Healthcare", "Hospitality", "Insurance", "Machinery",
    "Manufacturing", "Media", "Not For Profit", "Recreation", "Retail", "Shipping", "Technology",
    "Telecommunications", "Transportation", "Utilities", "Other",
)  # fmt: skip
TASK_STATUSES = ("Not Started", "In Progress", "Completed", "Waiting on someone else", "Deferred")
_CLOSED_TASK_STATUSES = {"Completed"}


def _values(values: tuple[str, ...], default: str | None = None) -> tuple[Picklist, ...]:
    return tuple(Picklist(v, v, v == default) for v in values)


def _stages(open_closed: tuple[Picklist, ...]) -> tuple[Picklist, ...]:
    """Stage entries with explicit closed/won flags (open stages: both false)."""
    return tuple(replace(p, closed=bool(p.closed), won=bool(p.won)) for p in open_closed)


def _read_only(name: str, kind: str, **kw: object) -> FieldDef:
    values: dict[str, object] = {
        "createable": False,
        "updateable": False,
        "nillable": False,
        "defaulted_on_create": True,
    }
    values.update(kw)
    return FieldDef(name, kind, **values)  # type: ignore[arg-type]


def _system_fields(with_owner: bool, with_deleted: bool) -> list[FieldDef]:
    out = [_read_only("Id", "id", length=18, id_lookup=True, label="Record ID")]
    if with_deleted:
        out.append(_read_only("IsDeleted", "boolean", label="Deleted"))
    if with_owner:
        out.append(
            FieldDef(
                "OwnerId",
                "reference",
                label="Owner ID",
                length=18,
                nillable=False,
                defaulted_on_create=True,
                reference_to=("User",),
                relationship_name="Owner",
            )
        )
    out += [
        _read_only("CreatedDate", "datetime", label="Created Date"),
        _read_only(
            "CreatedById", "reference", length=18, reference_to=("User",), relationship_name="CreatedBy"
        ),
        _read_only("LastModifiedDate", "datetime", label="Last Modified Date"),
        _read_only(
            "LastModifiedById",
            "reference",
            length=18,
            reference_to=("User",),
            relationship_name="LastModifiedBy",
        ),
        _read_only("SystemModstamp", "datetime", label="System Modstamp"),
    ]
    return out


def _account() -> ObjectDef:
    obj = ObjectDef("Account", "Account", "Accounts", KEY_PREFIXES["Account"])
    fields = [
        FieldDef("Name", "string", label="Account Name", length=255, nillable=False, name_field=True),
        FieldDef(
            "Type",
            "picklist",
            label="Account Type",
            length=255,
            picklist=_values(
                (
                    "Prospect",
                    "Customer - Direct",
                    "Customer - Channel",
                    "Channel Partner / Reseller",
                    "Installation Partner",
                    "Technology Partner",
                    "Other",
                )
            ),
        ),
        FieldDef(
            "ParentId",
            "reference",
            label="Parent Account ID",
            length=18,
            reference_to=("Account",),
            relationship_name="Parent",
        ),
        FieldDef("Website", "url", length=255),
        FieldDef("Industry", "picklist", length=255, picklist=_values(INDUSTRIES)),
        FieldDef("AnnualRevenue", "currency", label="Annual Revenue", precision=18, scale=0),
        FieldDef("NumberOfEmployees", "int", label="Employees", digits=8),
        FieldDef("Phone", "phone", label="Account Phone", length=40),
        FieldDef("BillingCity", "string", label="Billing City", length=40),
        FieldDef("BillingCountry", "string", label="Billing Country", length=80),
        FieldDef("Description", "textarea", label="Account Description", length=32000),
    ]
    return _with_system_fields(obj, fields)


def _contact() -> ObjectDef:
    obj = ObjectDef("Contact", "Contact", "Contacts", KEY_PREFIXES["Contact"])
    fields = [
        FieldDef(
            "AccountId",
            "reference",
            label="Account ID",
            length=18,
            reference_to=("Account",),
            relationship_name="Account",
        ),
        FieldDef("LastName", "string", label="Last Name", length=80, nillable=False),
        FieldDef("FirstName", "string", label="First Name", length=40),
        _read_only("Name", "string", label="Full Name", length=121, name_field=True, calculated=True),
        FieldDef("Email", "email", length=80, id_lookup=True),
        FieldDef("Phone", "phone", label="Business Phone", length=40),
        FieldDef("Title", "string", length=128),
        FieldDef("Description", "textarea", label="Contact Description", length=32000),
    ]
    return _with_system_fields(obj, fields)


def _opportunity(provisioned: bool) -> ObjectDef:
    obj = ObjectDef("Opportunity", "Opportunity", "Opportunities", KEY_PREFIXES["Opportunity"])
    stages = _stages(STANDARD_STAGES + (_RENEWAL_STAGE_VALUES if provisioned else ()))
    types = OPPORTUNITY_TYPES + (("Renewal",) if provisioned else ())
    fields = [
        FieldDef(
            "AccountId",
            "reference",
            label="Account ID",
            length=18,
            reference_to=("Account",),
            relationship_name="Account",
        ),
        FieldDef("Name", "string", label="Name", length=120, nillable=False, name_field=True),
        FieldDef("Description", "textarea", length=32000),
        FieldDef(
            "StageName",
            "picklist",
            label="Stage",
            length=255,
            nillable=False,
            picklist=stages,
            restricted_picklist=True,
        ),
        FieldDef("Amount", "currency", precision=18, scale=2),
        FieldDef("Probability", "percent", label="Probability (%)", precision=3, scale=0),
        FieldDef("CloseDate", "date", label="Close Date", nillable=False),
        FieldDef(
            "Type",
            "picklist",
            label="Opportunity Type",
            length=255,
            picklist=_values(types),
            restricted_picklist=True,
        ),
        FieldDef("NextStep", "string", label="Next Step", length=255),
        _read_only("IsClosed", "boolean", label="Closed", calculated=True),
        _read_only("IsWon", "boolean", label="Won", calculated=True),
    ]
    return _with_system_fields(obj, fields)


def _task() -> ObjectDef:
    obj = ObjectDef("Task", "Task", "Tasks", KEY_PREFIXES["Task"])
    fields = [
        FieldDef(
            "WhoId",
            "reference",
            label="Name ID",
            length=18,
            reference_to=("Contact",),
            relationship_name="Who",
        ),
        FieldDef(
            "WhatId",
            "reference",
            label="Related To ID",
            length=18,
            reference_to=("Account", "Opportunity"),
            relationship_name="What",
        ),
        FieldDef(
            "Subject",
            "combobox",
            length=255,
            picklist=_values(("Call", "Send Letter", "Send Quote", "Other")),
        ),
        FieldDef("ActivityDate", "date", label="Due Date Only"),
        FieldDef(
            "Status",
            "picklist",
            length=255,
            nillable=False,
            defaulted_on_create=True,
            picklist=tuple(
                replace(p, closed=p.value in _CLOSED_TASK_STATUSES)
                for p in _values(TASK_STATUSES, "Not Started")
            ),
            restricted_picklist=True,
            default_value="Not Started",
        ),
        FieldDef(
            "Priority",
            "picklist",
            length=40,
            nillable=False,
            defaulted_on_create=True,
            picklist=_values(("High", "Normal", "Low"), "Normal"),
            restricted_picklist=True,
            default_value="Normal",
        ),
        FieldDef("Description", "textarea", label="Comments", length=32000),
        _read_only("IsClosed", "boolean", label="Closed", calculated=True),
        _read_only(
            "AccountId",
            "reference",
            label="Account ID",
            length=18,
            nillable=True,
            reference_to=("Account",),
            relationship_name="Account",
        ),
    ]
    return _with_system_fields(obj, fields)


def _user() -> ObjectDef:
    # Users are read-only here: creating one needs a profile, licence and locale settings that
    # healthsync never sets, so the sandbox refuses writes (entity type cannot be inserted/updated).
    obj = ObjectDef("User", "User", "Users", KEY_PREFIXES["User"], createable=False, updateable=False,
                    deletable=False, has_is_deleted=False)  # fmt: skip
    fields = [
        FieldDef("Username", "string", length=80, nillable=False, unique=True, id_lookup=True),
        FieldDef("LastName", "string", label="Last Name", length=80, nillable=False),
        FieldDef("FirstName", "string", label="First Name", length=40),
        _read_only("Name", "string", label="Full Name", length=121, name_field=True, calculated=True),
        FieldDef("Email", "email", length=128, nillable=False),
        FieldDef("Alias", "string", length=8, nillable=False),
        FieldDef(
            "IsActive",
            "boolean",
            label="Active",
            nillable=False,
            defaulted_on_create=True,
            default_value=True,
        ),
    ]
    for f in _system_fields(False, False)[:1] + fields + _system_fields(False, False)[1:]:
        obj.add(f)
    return obj


def build_schema(provisioned: bool) -> Schema:
    """The org's schema: standard objects, plus healthsync's custom fields when provisioned."""
    schema = Schema([_account(), _contact(), _opportunity(provisioned), _task(), _user()])
    if provisioned:
        for full_name, metadata in HEALTHSYNC_FIELDS:
            object_name, field_name = full_name.split(".", 1)
            definition = field_from_metadata(field_name, metadata)
            targets = activity_objects(schema) if object_name == "Activity" else [schema.get(object_name)]
            for obj in targets:
                assert obj is not None
                obj.add(replace(definition))
    return schema


def activity_objects(schema: Schema) -> list[ObjectDef]:
    """Task, Event: the objects of `schema` that share Activity's custom fields."""
    return [obj for name in ACTIVITY_OBJECTS if (obj := schema.get(name)) is not None]


def _with_system_fields(obj: ObjectDef, fields: list[FieldDef]) -> ObjectDef:
    """Add `fields` between the leading system fields (Id, IsDeleted, Name...) and the audit ones."""
    system = _system_fields(True, True)
    for f in system[:3] + fields + system[3:]:
        obj.add(f)
    return obj
