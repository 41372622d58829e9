"""Tooling API sObject resources: `CustomField` create and `StandardValueSet` read and replace.

`POST /services/data/vXX.X/tooling/sobjects/CustomField` with `{"FullName": "Account.X__c",
"Metadata": {...}}` answers 201 `{"id": "00N...", "success": true, "errors": [], "warnings": [],
"infos": []}` (https://developer.salesforce.com/docs/atlas.en-us.api_tooling.meta/api_tooling/tooling_api_objects_customfield.htm).
Task and Event custom fields belong to their shared parent: the FullName is `Activity.X__c` and the
field appears on Task (and Event, where the org has it); its `CustomField` row has `TableEnumOrId =
'Activity'`. `Task.X__c` or `Event.X__c` is refused as Salesforce refuses it, on the CustomField's
restricted `TableEnumOrId` picklist (labelled "Entity Enumeration Or ID"): 400
INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST "Entity Enumeration Or ID: bad value for restricted picklist
field: Task". The message is what orgs answer for a Task field (quoted in public deployment logs,
e.g. https://github.com/benedwards44/fieldcreator/issues/2 for the Activity rule); the error code is
the one that message belongs to in every other API response, since no doc page shows the Tooling body.

`GET .../tooling/sobjects/StandardValueSet/{DurableId}` and `PATCH` with `{"Metadata": {...}}` (204):
see `value_sets.py` for the shape and the rules.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from healthsync.sandbox.salesforce.custom_fields import MetadataError, field_from_metadata
from healthsync.sandbox.salesforce.errors import fail, not_found
from healthsync.sandbox.salesforce.ids import KEY_PREFIXES, SERIES_API, make_id
from healthsync.sandbox.salesforce.objects import ACTIVITY_OBJECTS, activity_objects
from healthsync.sandbox.salesforce.org import Org
from healthsync.sandbox.salesforce.query import format_datetime
from healthsync.sandbox.salesforce.value_sets import ValueSetError
from healthsync.sandbox.wire import Handler, Request, Response, json_response

__all__ = ["add_custom_field_row", "tooling_routes"]

ACTIVITY = "Activity"


def tooling_routes(org: Org) -> list[tuple[str, str, Handler, str]]:
    """(method, path template, handler, kind) for the Tooling sObject resources."""
    prefix = "/services/data/{version}/tooling/sobjects"

    def create(request: Request) -> Response:
        org.version(request)
        if request.params["sobject"] != "CustomField":
            not_found()
        body = org.body(request)
        full_name = body.get("FullName") if isinstance(body, dict) else None
        metadata = body.get("Metadata") if isinstance(body, dict) else None
        if not isinstance(full_name, str) or full_name.count(".") != 1 or not isinstance(metadata, dict):
            fail(400, "FIELD_INTEGRITY_EXCEPTION", "FullName must be Object.Field__c and Metadata an object")
        object_name, field_name = full_name.split(".")
        with org.schema.lock, org.store.lock:
            if object_name.casefold() == ACTIVITY.casefold():
                object_name, targets = ACTIVITY, activity_objects(org.schema)
            elif object_name.casefold() in {n.casefold() for n in ACTIVITY_OBJECTS}:
                fail(
                    400,
                    "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                    f"Entity Enumeration Or ID: bad value for restricted picklist field: {object_name}",
                    ["TableEnumOrId"],
                )
            else:
                obj = org.schema.get(object_name)
                if obj is None:
                    fail(400, "FIELD_INTEGRITY_EXCEPTION", f"Cannot find entity: {object_name}")
                object_name, targets = obj.name, [obj]
            if any(obj.field(field_name) is not None for obj in targets):
                fail(
                    400,
                    "DUPLICATE_DEVELOPER_NAME",
                    f"There is already a field named {field_name} on {object_name}.",
                )
            try:
                definition = field_from_metadata(field_name, metadata)
            except MetadataError as exc:
                fail(400, "FIELD_INTEGRITY_EXCEPTION", str(exc))
            for obj in targets:
                own = replace(definition)
                obj.add(own)
                org.store.ensure_index(obj, own)
            record_id = add_custom_field_row(org, object_name, definition.name)
        return json_response(
            {"id": record_id, "success": True, "errors": [], "warnings": [], "infos": []}, 201
        )

    def value_set(request: Request, full_name: Any = None) -> str:
        if request.params["sobject"] != "StandardValueSet":
            not_found()
        name = org.value_sets.resolve(request.params["record_id"], full_name)
        if name is None:
            not_found()
        return name

    def get(request: Request) -> Response:
        version = org.version(request)
        name = value_set(request)
        row = org.value_sets.row(name)
        url = f"/services/data/v{version}/tooling/sobjects/StandardValueSet/{row['DurableId']}"
        return json_response({"attributes": {"type": "StandardValueSet", "url": url}, **row})

    def patch(request: Request) -> Response:
        org.version(request)
        body = org.body(request)
        if not isinstance(body, dict):
            fail(
                400,
                "JSON_PARSER_ERROR",
                "Cannot deserialize instance of StandardValueSet from the request body",
            )
        name = value_set(request, body.get("FullName"))
        full_name = body.get("FullName")
        if full_name is not None and (
            not isinstance(full_name, str) or full_name.casefold() != name.casefold()
        ):
            fail(
                400,
                "FIELD_INTEGRITY_EXCEPTION",
                f"FullName {full_name!r} does not name {name}; it cannot change",
            )
        if "Metadata" not in body:
            return Response(status=204)  # nothing to change
        try:
            with org.schema.lock, org.store.lock:  # the order create() takes them in
                org.value_sets.update(name, body["Metadata"])
        except ValueSetError as exc:
            fail(400, "FIELD_INTEGRITY_EXCEPTION", f"{name}: {exc}")
        return Response(status=204)

    return [
        ("POST", f"{prefix}/{{sobject}}", create, "write"),
        ("GET", f"{prefix}/{{sobject}}/{{record_id}}", get, "read"),
        ("PATCH", f"{prefix}/{{sobject}}/{{record_id}}", patch, "write"),
    ]


def add_custom_field_row(org: Org, object_name: str, field_name: str) -> str:
    """Record a custom field in the Tooling API's `CustomField` table (what `tooling/query` reads)."""
    tooling = org.tooling_schema.get("CustomField")
    assert tooling is not None
    stamp = format_datetime(org.ctx.clock.now())
    record_id = make_id(KEY_PREFIXES["CustomField"], org.tooling_store.count("CustomField"), SERIES_API)
    org.tooling_store.put(
        "CustomField",
        {
            "Id": record_id,
            "DeveloperName": field_name.removesuffix("__c"),
            "TableEnumOrId": object_name,
            "NamespacePrefix": None,
            "ManageableState": "unmanaged",
            "CreatedDate": stamp,
            "LastModifiedDate": stamp,
        },
    )
    return record_id
