"""Describe payloads: `sobjects` (describeGlobal), `sobjects/{type}` and `sobjects/{type}/describe`.

Key names and value types follow the Partner WSDL's `DescribeGlobalResult`,
`DescribeGlobalSObjectResult`, `DescribeSObjectResult`, `Field` and `PicklistEntry`, which the REST
API serialises as JSON (https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_sobject_describe.htm).

`createable`/`updateable`/`deletable` are the API user's, so they follow `Permissions` (object
permissions and field-level security). `picklistValues` lists active values only: a value removed
from a standard value set is deactivated, not deleted, and no longer offered.
"""

from __future__ import annotations

from typing import Any

from healthsync.sandbox.salesforce.permissions import Permissions
from healthsync.sandbox.salesforce.schema import NUMBER_TYPES, STRING_TYPES, FieldDef, ObjectDef, Schema

__all__ = ["basic_info", "describe_field", "describe_global", "describe_object", "object_summary"]

# describeGlobal's maxBatchSize: the most records one create/update call takes.
MAX_BATCH_SIZE = 200


def _byte_length(f: FieldDef) -> int:
    if f.type in STRING_TYPES or f.type in {"id", "reference"}:
        return f.length * 3
    return 0


_FULL_ACCESS = Permissions()


def describe_field(
    f: FieldDef, obj: ObjectDef | None = None, permissions: Permissions | None = None
) -> dict[str, Any]:
    """One entry of `fields[]`, as the API user (`permissions` on `obj`) sees it."""
    perms = permissions or _FULL_ACCESS
    createable = f.createable if obj is None else perms.field_createable(obj, f)
    updateable = f.updateable if obj is None else perms.field_updateable(obj, f)
    sortable = f.type != "textarea" or f.length <= 255
    return {
        "aggregatable": sortable,
        "aiPredictionField": False,
        "autoNumber": False,
        "byteLength": _byte_length(f),
        "calculated": f.calculated,
        "calculatedFormula": None,
        "cascadeDelete": False,
        "caseSensitive": f.case_sensitive,
        "compoundFieldName": None,
        "controllerName": None,
        "createable": createable,
        "custom": f.custom,
        "defaultValue": f.default_value,
        "defaultValueFormula": None,
        "defaultedOnCreate": f.defaulted_on_create,
        "dependentPicklist": False,
        "deprecatedAndHidden": False,
        "digits": f.digits,
        "displayLocationInDecimal": False,
        "encrypted": False,
        "externalId": f.external_id,
        "extraTypeInfo": "plaintextarea" if f.type == "textarea" and not f.html_formatted else None,
        "filterable": sortable,
        "filteredLookupInfo": None,
        "formulaTreatNullNumberAsZero": False,
        "groupable": sortable and f.type not in NUMBER_TYPES and f.type != "datetime",
        "highScaleNumber": False,
        "htmlFormatted": f.html_formatted,
        "idLookup": f.id_lookup,
        "inlineHelpText": None,
        "label": f.label,
        "length": f.length,
        "mask": None,
        "maskType": None,
        "name": f.name,
        "nameField": f.name_field,
        "namePointing": len(f.reference_to) > 1,
        "nillable": f.nillable,
        "permissionable": f.nillable and f.custom,
        "picklistValues": [
            {
                "active": p.active,
                "defaultValue": p.default,
                "label": p.label,
                "validFor": None,
                "value": p.value,
            }
            for p in f.picklist
            if p.active
        ],
        "polymorphicForeignKey": len(f.reference_to) > 1,
        "precision": f.precision,
        "queryByDistance": False,
        "referenceTargetField": None,
        "referenceTo": list(f.reference_to),
        "relationshipName": f.relationship_name,
        "relationshipOrder": None,
        "restrictedDelete": False,
        "restrictedPicklist": f.restricted_picklist,
        "scale": f.scale,
        "searchPrefilterable": f.type == "reference",
        "soapType": f.soap_type,
        "sortable": sortable,
        "type": f.type,
        "unique": f.unique,
        "updateable": updateable,
        "writeRequiresMasterRead": False,
    }


def _urls(obj: ObjectDef, version: str) -> dict[str, str]:
    base = f"/services/data/v{version}/sobjects/{obj.name}"
    return {
        "compactLayouts": f"{base}/describe/compactLayouts",
        "rowTemplate": f"{base}/{{ID}}",
        "defaultValues": f"{base}/defaultValues?recordTypeId&fields",
        "describe": f"{base}/describe",
        "sobject": base,
    }


def object_summary(obj: ObjectDef, version: str, permissions: Permissions | None = None) -> dict[str, Any]:
    """The describeGlobal entry for one sObject (also `objectDescribe` of the basic-info resource)."""
    perms = permissions or _FULL_ACCESS
    return {
        "activateable": False,
        "associateEntityType": None,
        "associateParentEntity": None,
        "createable": perms.createable(obj),
        "custom": False,
        "customSetting": False,
        "deepCloneable": False,
        "deletable": perms.deletable(obj),
        "deprecatedAndHidden": False,
        "feedEnabled": obj.name != "User",
        "hasSubtypes": False,
        "idEnabled": True,
        "isInterface": False,
        "isSubtype": False,
        "keyPrefix": obj.key_prefix,
        "label": obj.label,
        "labelPlural": obj.label_plural,
        "layoutable": True,
        "mergeable": obj.name in {"Account", "Contact"},
        "mruEnabled": True,
        "name": obj.name,
        "queryable": True,
        "replicateable": True,
        "retrieveable": True,
        "searchable": True,
        "triggerable": True,
        "undeletable": obj.has_is_deleted,
        "updateable": perms.updateable(obj),
        "urls": _urls(obj, version),
    }


def describe_global(schema: Schema, version: str, permissions: Permissions | None = None) -> dict[str, Any]:
    """`GET /sobjects`: every sObject of the org."""
    return {
        "encoding": "UTF-8",
        "maxBatchSize": MAX_BATCH_SIZE,
        "sobjects": [object_summary(obj, version, permissions) for obj in schema],
    }


def describe_object(obj: ObjectDef, version: str, permissions: Permissions | None = None) -> dict[str, Any]:
    """`GET /sobjects/{type}/describe`: the object with every field."""
    out = object_summary(obj, version, permissions)
    out.pop("urls")
    out.update(
        {
            "actionOverrides": [],
            "childRelationships": [],
            "compactLayoutable": True,
            "fields": [describe_field(f, obj, permissions) for f in obj.fields.values()],
            "implementedBy": None,
            "implementsInterfaces": None,
            "namedLayoutInfos": [],
            "networkScopeFieldName": None,
            "recordTypeInfos": [
                {
                    "active": True,
                    "available": True,
                    "defaultRecordTypeMapping": True,
                    "developerName": "Master",
                    "master": True,
                    "name": "Master",
                    "recordTypeId": "012000000000000AAA",
                    "urls": {"layout": f"{_urls(obj, version)['describe']}/layouts/012000000000000AAA"},
                }
            ],
            "searchLayoutable": True,
            "supportedScopes": [{"label": "All " + obj.label_plural.lower(), "name": "everything"}],
            "urlDetail": None,
            "urlEdit": None,
            "urlNew": None,
            "urls": _urls(obj, version),
        }
    )
    return dict(sorted(out.items()))


def basic_info(obj: ObjectDef, version: str, permissions: Permissions | None = None) -> dict[str, Any]:
    """`GET /sobjects/{type}`: the object summary and recently viewed items (none here)."""
    return {"objectDescribe": object_summary(obj, version, permissions), "recentItems": []}
