"""Write-side REST resources: single records and sObject Collections (Tooling: `routes_tooling.py`).

- sObject Collections create/update/upsert/delete/retrieve: at most 200 records a call, else 400
  EXCEEDED_ID_LIMIT ("record limit reached. cannot submit more than 200 records into this call");
  results in input order; HTTP 200 even when records fail
  (https://developer.salesforce.com/docs/platform/api-rest/guide/resources-composite-sobjects-collections-create.html,
  .../resources-composite-sobjects-collections-update.html,
  .../resources-composite-sobjects-collections-upsert.html).
- Single records: POST → 201 SaveResult, PATCH/DELETE → 204, upsert by external id → 201 created /
  200 updated with `created` (API v46.0+; https://developer.salesforce.com/docs/platform/api-rest/guide/dome-upsert.html).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

from healthsync.sandbox.salesforce.errors import RecordError, fail
from healthsync.sandbox.salesforce.ids import normalize_id
from healthsync.sandbox.salesforce.org import Org
from healthsync.sandbox.salesforce.routes_read import external_key, render_row
from healthsync.sandbox.salesforce.schema import ObjectDef
from healthsync.sandbox.salesforce.values import JsonParseError, coerce
from healthsync.sandbox.wire import BatchServed, Handler, Request, Response, json_response

__all__ = ["write_routes"]

# sObject Collections: "The list can contain up to 200 objects."
MAX_COLLECTION = 200
# Collections retrieve by GET: ids travel in the URL; Salesforce takes up to 2,000 by POST.
MAX_RETRIEVE = 2000

Result = dict[str, Any]


def _too_many(count: int, limit: int = MAX_COLLECTION) -> None:
    if count > limit:
        fail(
            400,
            "EXCEEDED_ID_LIMIT",
            f"record limit reached. cannot submit more than {limit} records into this call",
        )


def _flag(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() == "true")


def _record_error(exc: RecordError, status: int = 400) -> None:
    if exc.status_code == "ENTITY_IS_DELETED":
        status = 404
    fail(status, exc.status_code, exc.message, exc.fields)


def write_routes(org: Org) -> list[tuple[str, str, Handler, str]]:
    """(method, path template, handler, kind) for every write resource, most specific first."""
    prefix = "/services/data/{version}"
    writer = org.writer

    def collection_body(request: Request) -> tuple[list[dict[str, Any]], bool]:
        body = org.body(request)
        records = body.get("records") if isinstance(body, dict) else None
        if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
            fail(400, "JSON_PARSER_ERROR", 'Cannot deserialize the request body: expected {"records": [...]}')
        request.batch = BatchServed(len(records), MAX_COLLECTION)  # the page-size audit
        _too_many(len(records))
        return records, _flag(body.get("allOrNone", False))

    def typed(record: dict[str, Any]) -> ObjectDef:
        kind = (
            (record.get("attributes") or {}).get("type")
            if isinstance(record.get("attributes"), dict)
            else None
        )
        if not kind:
            fail(400, "INVALID_TYPE", "Must send a concrete entity type.")
        obj = org.schema.get(str(kind))
        if obj is None:
            fail(400, "INVALID_TYPE", f"sObject type '{kind}' is not supported.")
        return obj

    def run(operations: list[Callable[[], Result]], all_or_none: bool, upsert: bool = False) -> Response:
        try:
            return json_response(writer.run_batch(operations, all_or_none, upsert=upsert))
        except JsonParseError as exc:
            fail(400, "JSON_PARSER_ERROR", str(exc))

    def create_many(request: Request) -> Response:
        org.version(request)
        records, all_or_none = collection_body(request)
        types = [typed(r) for r in records]

        def op(obj: ObjectDef, record: dict[str, Any]) -> Callable[[], Result]:
            return lambda: {"id": writer.create(obj, record), "success": True, "errors": []}

        return run([op(o, r) for o, r in zip(types, records, strict=True)], all_or_none)

    def update_many(request: Request) -> Response:
        org.version(request)
        records, all_or_none = collection_body(request)
        types = [typed(r) for r in records]

        def op(obj: ObjectDef, record: dict[str, Any]) -> Callable[[], Result]:
            def apply() -> Result:
                raw = next((v for k, v in record.items() if k.casefold() == "id"), None)
                if not raw:
                    raise RecordError("MISSING_ARGUMENT", "Id not specified in an update call", ["Id"])
                record_id = normalize_id(str(raw))
                if record_id is None or not record_id.startswith(obj.key_prefix):
                    raise RecordError(
                        "MALFORMED_ID", f"{obj.label} ID: id value of incorrect type: {raw}", ["Id"]
                    )
                writer.update(obj, record_id, record)
                return {"id": record_id, "success": True, "errors": []}

            return apply

        return run([op(o, r) for o, r in zip(types, records, strict=True)], all_or_none)

    def upsert_many(request: Request) -> Response:
        org.version(request)
        obj = org.sobject(request.params["sobject"])
        key = obj.field(request.params["field"])
        if key is None or not key.external_id:
            fail(
                400,
                "INVALID_FIELD",
                f"Field name provided, {request.params['field']} does not match an External ID, "
                f"Salesforce Id, or indexed field for {obj.name}",
            )
        records, all_or_none = collection_body(request)
        for record in records:
            if "attributes" in record and typed(record) is not obj:
                fail(400, "INVALID_TYPE", "All records in an upsert call must be of the type in the URL.")
        keys = []
        for record in records:
            raw = next((v for k, v in record.items() if k.casefold() == key.name.casefold()), None)
            try:
                keys.append(coerce(key, raw))
            except (RecordError, JsonParseError):
                keys.append(None)
        repeated = writer.duplicates([k if not isinstance(k, str) else k.casefold() for k in keys])

        def op(record: dict[str, Any], value: Any) -> Callable[[], Result]:
            def apply() -> Result:
                folded = value.casefold() if isinstance(value, str) else value
                if folded in repeated:
                    raise RecordError(
                        "DUPLICATE_EXTERNAL_ID", f"Duplicate external id specified: {value}", [key.name]
                    )
                record_id, created = writer.upsert(obj, key, record)
                return {"id": record_id, "success": True, "errors": [], "created": created}

            return apply

        return run([op(r, k) for r, k in zip(records, keys, strict=True)], all_or_none, upsert=True)

    def delete_many(request: Request) -> Response:
        org.version(request)
        ids = [i for i in (request.arg("ids") or "").split(",") if i]
        request.batch = BatchServed(len(ids), MAX_COLLECTION)
        _too_many(len(ids))

        def op(raw: str) -> Callable[[], Result]:
            def apply() -> Result:
                record_id = normalize_id(raw)
                obj = org.schema.by_prefix(record_id[:3]) if record_id else None
                if record_id is None or obj is None:
                    raise RecordError("MALFORMED_ID", f"malformed id {raw}")
                writer.delete(obj, record_id)
                return {"id": record_id, "success": True, "errors": []}

            return apply

        results = writer.run_batch([op(i) for i in ids], _flag(request.arg("allOrNone")))
        for raw, result in zip(ids, results, strict=True):
            result.setdefault("id", normalize_id(raw))
        return json_response(results)

    def retrieve(request: Request) -> Response:
        version = org.version(request)
        obj = org.sobject(request.params["sobject"])
        body = org.body(request) if request.method == "POST" else None
        if isinstance(body, dict):
            ids, names = body.get("ids") or [], body.get("fields") or []
        else:
            ids = [i for i in (request.arg("ids") or "").split(",") if i]
            names = [n for n in (request.arg("fields") or "").split(",") if n]
        if not ids or not names:
            fail(400, "MALFORMED_QUERY", "Both ids and fields must be specified")
        request.batch = BatchServed(len(ids), MAX_RETRIEVE)
        _too_many(len(ids), MAX_RETRIEVE)
        fields = []
        for name in names:
            definition = obj.field(str(name).strip())
            if definition is None:
                fail(400, "INVALID_FIELD", f"No such column '{name}' on entity '{obj.name}'.")
            fields.append(definition)
        out: list[dict[str, Any] | None] = []
        for raw in ids:
            record_id = normalize_id(str(raw))
            row = org.store.get(obj.name, record_id) if record_id else None
            out.append(render_row(obj, row, version, fields) if row and not row.get("IsDeleted") else None)
        return json_response(out)

    def create_one(request: Request) -> Response:
        org.version(request)
        obj = org.sobject(request.params["sobject"])
        body = org.body(request)
        if not isinstance(body, dict):
            fail(400, "JSON_PARSER_ERROR", "Cannot deserialize instance of sObject from the request body")
        try:
            with org.store.lock:
                record_id = writer.create(obj, body)
        except RecordError as exc:
            _record_error(exc)
        except JsonParseError as exc:
            fail(400, "JSON_PARSER_ERROR", str(exc))
        return json_response({"id": record_id, "success": True, "errors": []}, 201)

    def update_one(request: Request) -> Response:
        org.version(request)
        obj = org.sobject(request.params["sobject"])
        record_id = normalize_id(request.params["record_id"])
        body = org.body(request)
        if record_id is None or not isinstance(body, dict):
            fail(400, "MALFORMED_ID" if record_id is None else "JSON_PARSER_ERROR", "Bad id or body")
        try:
            with org.store.lock:
                writer.update(obj, record_id, body)
        except RecordError as exc:
            _record_error(exc)
        except JsonParseError as exc:
            fail(400, "JSON_PARSER_ERROR", str(exc))
        return Response(status=204)

    def delete_one(request: Request) -> Response:
        org.version(request)
        obj = org.sobject(request.params["sobject"])
        record_id = normalize_id(request.params["record_id"])
        if record_id is None or org.store.get(obj.name, record_id) is None:
            fail(404, "NOT_FOUND", "The requested resource does not exist")
        try:
            with org.store.lock:
                writer.delete(obj, record_id)
        except RecordError as exc:
            _record_error(exc)
        return Response(status=204)

    def upsert_one(request: Request) -> Response:
        org.version(request)
        obj = org.sobject(request.params["sobject"])
        key = external_key(org, obj, request.params["field"])
        body = org.body(request)
        if not isinstance(body, dict):
            fail(400, "JSON_PARSER_ERROR", "Cannot deserialize instance of sObject from the request body")
        record = {**body, key.name: unquote(request.params["value"])}
        try:
            with org.store.lock:
                record_id, created = writer.upsert(obj, key, record)
        except RecordError as exc:
            if exc.status_code == "DUPLICATE_EXTERNAL_ID":
                found = sorted(org.store.lookup(obj, key, coerce(key, record[key.name])))
                return json_response(
                    [f"/services/data/{request.params['version']}/sobjects/{obj.name}/{i}" for i in found],
                    300,
                )
            _record_error(exc)
        except JsonParseError as exc:
            fail(400, "JSON_PARSER_ERROR", str(exc))
        return json_response(
            {"id": record_id, "success": True, "errors": [], "created": created}, 201 if created else 200
        )

    return [
        ("POST", f"{prefix}/composite/sobjects", create_many, "write"),
        ("PATCH", f"{prefix}/composite/sobjects", update_many, "write"),
        ("DELETE", f"{prefix}/composite/sobjects", delete_many, "write"),
        ("PATCH", f"{prefix}/composite/sobjects/{{sobject}}/{{field}}", upsert_many, "write"),
        # Salesforce's Postman collection sends update and delete with the type in the path too.
        ("PATCH", f"{prefix}/composite/sobjects/{{sobject}}", update_many, "write"),
        ("DELETE", f"{prefix}/composite/sobjects/{{sobject}}", delete_many, "write"),
        ("GET", f"{prefix}/composite/sobjects/{{sobject}}", retrieve, "read"),
        ("POST", f"{prefix}/composite/sobjects/{{sobject}}", retrieve, "read"),
        ("POST", f"{prefix}/sobjects/{{sobject}}", create_one, "write"),
        ("PATCH", f"{prefix}/sobjects/{{sobject}}/{{field}}/{{value}}", upsert_one, "write"),
        ("PATCH", f"{prefix}/sobjects/{{sobject}}/{{record_id}}", update_one, "write"),
        ("DELETE", f"{prefix}/sobjects/{{sobject}}/{{record_id}}", delete_one, "write"),
    ]
