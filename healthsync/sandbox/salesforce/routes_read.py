"""Read-side REST resources: discovery, limits, describe, SOQL query/queryAll and single records.

Resources and shapes: REST API Developer Guide, "Reference"
(https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_list.htm):
Versions, Resources by Version, Limits, Describe Global, sObject Basic Information / Describe /
Rows / Rows by External ID, Query and QueryAll; Tooling `query` over `CustomField` and
`StandardValueSet`.

Tooling objects with `FullName`/`Metadata` fields answer those only for a single row: more rows is 400
MALFORMED_QUERY "When retrieving results with Metadata or FullName fields, the query qualifications
must specify no more than one row for retrieval. Result size: N"
(https://developer.salesforce.com/docs/atlas.en-us.api_tooling.meta/api_tooling/tooling_api_objects_standardvalueset.htm:
"Query this field only if the query result contains no more than one record").
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

from healthsync.sandbox.salesforce.describe import basic_info, describe_global, describe_object
from healthsync.sandbox.salesforce.errors import fail, not_found
from healthsync.sandbox.salesforce.ids import normalize_id
from healthsync.sandbox.salesforce.org import MIN_VERSION, Org, Page
from healthsync.sandbox.salesforce.query import Plan
from healthsync.sandbox.salesforce.schema import FieldDef, ObjectDef
from healthsync.sandbox.salesforce.values import JsonParseError, coerce
from healthsync.sandbox.wire import Handler, Request, Response, json_response

__all__ = ["LATEST_VERSION", "read_routes", "render_row"]

_SINGLE_ROW_FIELDS = frozenset({"FullName", "Metadata"})

LATEST_VERSION = 62
_SEASONS = ("Summer", "Winter", "Spring")


def _label(version: int) -> str:
    season = _SEASONS[(version - 46) % 3]
    year = 19 + (version - 46) // 3 if season == "Summer" else 20 + (version - 47) // 3
    return f"{season} '{year:02d}"


def render_row(
    obj: ObjectDef, row: dict[str, Any], version: str, fields: list[FieldDef] | None = None
) -> dict[str, Any]:
    """A stored record as `GET sobjects/{type}/{id}` returns it: attributes, then fields."""
    out: dict[str, Any] = {
        "attributes": {
            "type": obj.name,
            "url": f"/services/data/v{version}/sobjects/{obj.name}/{row[obj.url_field]}",
        }
    }
    for definition in fields or list(obj.fields.values()):
        out[definition.name] = row.get(definition.name)
    return out


def _fields_param(obj: ObjectDef, request: Request) -> list[FieldDef] | None:
    raw = request.arg("fields")
    if not raw:
        return None
    out = []
    for name in raw.split(","):
        definition = obj.field(name.strip())
        if definition is None:
            fail(400, "INVALID_FIELD", f"No such column '{name.strip()}' on entity '{obj.name}'.")
        out.append(definition)
    return out


def external_key(org: Org, obj: ObjectDef, field_name: str) -> FieldDef:
    """The field an external-id URL names; 404 as Salesforce answers for a non-external-id field."""
    definition = obj.field(field_name)
    if definition is None or not (definition.external_id or definition.id_lookup) or definition.type == "id":
        fail(
            404, "NOT_FOUND", f"Provided external ID field does not exist or is not accessible: {field_name}"
        )
    return definition


def read_routes(org: Org) -> list[tuple[str, str, Handler]]:
    """(method, path template, handler) for every read resource, most specific first."""
    prefix = "/services/data/{version}"

    def versions(request: Request) -> Response:
        return json_response(
            [
                {"label": _label(v), "url": f"/services/data/v{v}.0", "version": f"{v}.0"}
                for v in range(int(MIN_VERSION), LATEST_VERSION + 1)
            ]
        )

    def resources(request: Request) -> Response:
        base = f"/services/data/v{org.version(request)}"
        names = ("tooling", "metadata", "limits", "sobjects", "query", "queryAll", "composite", "search",
                 "recent", "tabs", "theme")  # fmt: skip
        return json_response({name: f"{base}/{name}" for name in names})

    def limits(request: Request) -> Response:
        org.version(request)
        used = org.quota.used
        return json_response(
            {
                "DailyApiRequests": {"Max": org.quota.limit, "Remaining": max(0, org.quota.limit - used)},
                "DailyAsyncApexExecutions": {"Max": 250000, "Remaining": 250000},
                "DailyBulkApiBatches": {"Max": 15000, "Remaining": 15000},
                "DailyBulkV2QueryJobs": {"Max": 10000, "Remaining": 10000},
                "DataStorageMB": {
                    "Max": 1024,
                    "Remaining": 1024 - sum(org.store.count(n) for n in org.schema.names()) // 500,
                },
                "FileStorageMB": {"Max": 1024, "Remaining": 1024},
                "SingleEmail": {"Max": 5000, "Remaining": 5000},
            }
        )

    def global_describe(request: Request) -> Response:
        return json_response(describe_global(org.schema, org.version(request), org.permissions))

    def describe(request: Request) -> Response:
        version = org.version(request)
        with org.schema.lock:
            return json_response(
                describe_object(org.sobject(request.params["sobject"]), version, org.permissions)
            )

    def basic(request: Request) -> Response:
        version = org.version(request)
        return json_response(basic_info(org.sobject(request.params["sobject"]), version, org.permissions))

    def record(request: Request) -> Response:
        version = org.version(request)
        obj = org.sobject(request.params["sobject"])
        record_id = normalize_id(request.params["record_id"])
        row = org.store.get(obj.name, record_id) if record_id else None
        if row is None:
            not_found()
        if row.get("IsDeleted"):
            fail(404, "ENTITY_IS_DELETED", "entity is deleted")
        return json_response(render_row(obj, row, version, _fields_param(obj, request)))

    def by_external_id(request: Request) -> Response:
        version = org.version(request)
        obj = org.sobject(request.params["sobject"])
        key = external_key(org, obj, request.params["field"])
        try:
            value = coerce(key, unquote(request.params["value"]))
        except (JsonParseError, ValueError):
            not_found()
        ids = sorted(org.store.lookup(obj, key, value))
        if not ids:
            not_found()
        if len(ids) > 1:
            # More than one match: 300 with the candidates' URLs (sObject Rows by External ID).
            return json_response([f"/services/data/v{version}/sobjects/{obj.name}/{i}" for i in ids], 300)
        row = org.store.get(obj.name, ids[0])
        assert row is not None
        return json_response(render_row(obj, row, version, _fields_param(obj, request)))

    def respond(page: Page, plan: Plan | None = None) -> Response:
        if page.segment.endswith("/tooling"):
            # Tooling query results also name the entity and carry SOAP-style size/locator keys.
            body = page.as_dict()
            entity = plan.object.name if plan is not None else page.cursor.object_name
            body = {"size": len(body["records"]), **body, "queryLocator": None, "entityTypeName": entity}
            return json_response(body)
        return Response(200, org.as_bytes(page), {"Content-Type": "application/json;charset=UTF-8"})

    def query(include_deleted: bool, base: str = "") -> Callable[[Request], Response]:
        def handler(request: Request) -> Response:
            org.version(request)
            plan = org.plan(request, include_deleted=include_deleted, tooling=bool(base))
            if base and _SINGLE_ROW_FIELDS & set(plan.selected) and len(plan.rows) > 1:
                fail(
                    400,
                    "MALFORMED_QUERY",
                    "When retrieving results with Metadata or FullName fields, the query qualifications "
                    f"must specify no more than one row for retrieval. Result size: {len(plan.rows)}",
                )
            page = org.first_page(plan, request, base)
            request.page = page.served()
            return respond(page, plan)

        return handler

    def query_more(base: str = "") -> Callable[[Request], Response]:
        def handler(request: Request) -> Response:
            org.version(request)
            page = org.next_page(request, base)
            request.page = page.served()
            return respond(page)

        return handler

    return [
        ("GET", "/services/data", versions),
        ("GET", prefix, resources),
        ("GET", f"{prefix}/limits", limits),
        ("GET", f"{prefix}/sobjects", global_describe),
        ("GET", f"{prefix}/sobjects/{{sobject}}/describe", describe),
        ("GET", f"{prefix}/sobjects/{{sobject}}", basic),
        ("GET", f"{prefix}/sobjects/{{sobject}}/{{record_id}}", record),
        ("GET", f"{prefix}/sobjects/{{sobject}}/{{field}}/{{value}}", by_external_id),
        ("GET", f"{prefix}/query", query(False)),
        ("GET", f"{prefix}/query/{{locator}}", query_more()),
        ("GET", f"{prefix}/queryAll", query(True)),
        ("GET", f"{prefix}/queryAll/{{locator}}", query_more()),
        ("GET", f"{prefix}/tooling/query", query(False, "/tooling")),
        ("GET", f"{prefix}/tooling/query/{{locator}}", query_more("/tooling")),
    ]
