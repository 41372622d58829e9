"""Batch endpoints: `POST /crm/v3/objects/{type}/batch/{read|create|update|upsert|archive}`.

- At most 100 inputs per call ("Batch operations are limited to 100 records at a time",
  https://developers.hubspot.com/docs/api/crm/contacts ; 50 when reading property histories). More is a
  400 VALIDATION_ERROR whose wording follows the documented history-limit message.
- Partial failure answers 207 with `numErrors` and `errors[]` beside the results that worked
  (https://developers.hubspot.com/docs/api/error-handling#multi-status-errors ): `read` for ids that do
  not exist (vendor-facts §21) and `update` for unknown ids, unknown properties, bad values and unique
  clashes. `create` and `upsert` validate the whole batch first and reject it with one 400 (or a 409
  for a unique clash), which is what integrations report seeing from HubSpot for invalid values.
- `upsert` matches on `idProperty`, which must be a `hasUniqueValue` property, and reports `new` per
  result (https://developers.hubspot.com/docs/api/crm/companies#upsert-companies ).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from healthsync.sandbox.hubspot.associations import Link, resolve_input_associations
from healthsync.sandbox.hubspot.errors import (
    OBJECT_NOT_FOUND,
    VALIDATION_ERROR,
    api_error,
    property_values_error,
    standard_error,
)
from healthsync.sandbox.hubspot.objects import ObjectRoutes, lookup, read_body, unique_property
from healthsync.sandbox.hubspot.store import ObjectType, resolve_type
from healthsync.sandbox.hubspot.views import batch_envelope, parse_bool, public_object
from healthsync.sandbox.hubspot.writes import check_values, conflict_error, find_conflict, invalid_error
from healthsync.sandbox.wire import BatchServed, Request, Response, Router, json_response

__all__ = ["MAX_BATCH", "MAX_HISTORY_BATCH", "BatchRoutes"]

MAX_BATCH = 100
MAX_HISTORY_BATCH = 50


def _inputs(
    request: Request, body: dict[str, Any], limit: int = MAX_BATCH, what: str = ""
) -> list[dict[str, Any]]:
    inputs = body.get("inputs")
    if not isinstance(inputs, list):
        raise api_error(400, VALIDATION_ERROR, "Invalid input JSON: `inputs` must be a list")
    request.batch = BatchServed(len(inputs), limit)  # the page-size audit, refused batches too
    if len(inputs) > limit:
        raise api_error(
            400,
            VALIDATION_ERROR,
            f"The maximum number of inputs supported in a batch request{what} is {limit}."
            " Please reduce the number of items and try again",
        )
    return [i if isinstance(i, dict) else {} for i in inputs]


def _no_duplicates(ids: list[str]) -> None:
    counts = Counter(ids)
    dupes = sorted(i for i, n in counts.items() if n > 1)
    if dupes:
        raise api_error(
            400, VALIDATION_ERROR, f"Duplicate IDs found in batch input: {dupes}. IDs must be unique"
        )


class BatchRoutes:
    """The five batch endpoints, sharing record views with `ObjectRoutes`."""

    def __init__(self, objects: ObjectRoutes) -> None:
        self.objects = objects
        self.state = objects.state

    def register(self, router: Router) -> None:
        """Batch reads count as reads although they are POSTs."""
        base = "/crm/v3/objects/{objectType}/batch/"
        vendor = self.objects.vendor
        router.add(vendor, "POST", base + "read", self.read, "read")
        router.add(vendor, "POST", base + "create", self.create)
        router.add(vendor, "POST", base + "update", self.update)
        router.add(vendor, "POST", base + "upsert", self.upsert)
        router.add(vendor, "POST", base + "archive", self.archive)

    def read(self, request: Request) -> Response:
        """Records by id or unique property; 207 lists the ids that were not found."""
        started = self.state.now()
        object_type = resolve_type(request.params["objectType"])
        body = read_body(request)
        history = body.get("propertiesWithHistory") or []
        limit, what = (MAX_HISTORY_BATCH, " for property histories") if history else (MAX_BATCH, "")
        inputs = _inputs(request, body, limit, what)
        archived = parse_bool(request, "archived")
        id_property = body.get("idProperty") or None
        requested = body.get("properties") or None
        results, missing = [], []
        with self.state.lock:
            known = self.objects.known(object_type)
            seen: set[int] = set()
            for item in inputs:
                raw_id = str(item.get("id", ""))
                record = lookup(self.state, object_type, raw_id, id_property, archived=archived)
                if record is None:
                    missing.append(raw_id)
                elif record.id not in seen:
                    seen.add(record.id)
                    results.append(public_object(record, object_type, requested, known))
        errors = [_missing_error(object_type, missing)] if missing else []
        return json_response(
            batch_envelope(results, started, self.state.now(), errors), 207 if errors else 200
        )

    def create(self, request: Request) -> Response:
        """Create up to 100 records with their associations, all or nothing; 201."""
        started = self.state.now()
        object_type = resolve_type(request.params["objectType"])
        inputs = _inputs(request, read_body(request))
        with self.state.lock:
            prepared: list[tuple[dict[str, str | None], list[Link]]] = []
            problems_all = []
            for item in inputs:
                values, problems = check_values(
                    self.state, object_type, item.get("properties"), existing=None
                )
                problems_all += problems
                prepared.append(
                    (values, resolve_input_associations(self.state, object_type, item.get("associations")))
                )
            if problems_all:
                raise invalid_error(problems_all)
            self._check_unique([v for v, _ in prepared], object_type)
            store = self.state.objects[object_type.name]
            results = []
            for values, links in prepared:
                record = store.insert(values, self.state.now())
                for to_type, to_id, type_id, category in links:
                    self.state.associations.add(
                        object_type.name, record.id, to_type, to_id, type_id, category
                    )
                results.append(self.objects.written(record, object_type))
        return json_response(batch_envelope(results, started, self.state.now()), 201)

    def _check_unique(self, batch: list[dict[str, str | None]], object_type: ObjectType) -> None:
        claimed: dict[tuple[str, str], int] = {}
        store = self.state.objects[object_type.name]
        for position, values in enumerate(batch):
            conflict = find_conflict(self.state, object_type, values, None)
            if conflict is not None:
                raise conflict_error(object_type, conflict)
            for name in store.unique_names:
                value = values.get(name)
                if value is not None and claimed.setdefault((name, value), position) != position:
                    raise api_error(
                        400,
                        VALIDATION_ERROR,
                        f'Duplicate values for unique property {name} in batch input: "{value}"',
                    )

    def update(self, request: Request) -> Response:
        """Update up to 100 records; what fails is reported per input (207), the rest is applied."""
        started = self.state.now()
        object_type = resolve_type(request.params["objectType"])
        inputs = _inputs(request, read_body(request))
        _no_duplicates([str(i.get("id", "")) for i in inputs])
        results, errors, missing = [], [], []
        with self.state.lock:
            store = self.state.objects[object_type.name]
            for item in inputs:
                raw_id = str(item.get("id", ""))
                record = lookup(self.state, object_type, raw_id, item.get("idProperty"))
                if record is None:
                    missing.append(raw_id)
                    continue
                context = {"ids": [raw_id]}
                if item.get("objectWriteTraceId"):
                    context["objectWriteTraceId"] = [str(item["objectWriteTraceId"])]
                values, problems = check_values(
                    self.state, object_type, item.get("properties"), existing=record
                )
                if problems:
                    errors.append(
                        standard_error(
                            400, VALIDATION_ERROR, property_values_error(problems), context=context
                        )
                    )
                    continue
                conflict = find_conflict(self.state, object_type, values, record.id)
                if conflict is not None:
                    body = conflict_error(object_type, conflict).payload
                    errors.append(standard_error(409, "CONFLICT", body["message"], context=context))
                    continue
                store.write(record, values, self.state.now())
                results.append(self.objects.written(record, object_type))
        if missing:
            errors.insert(0, _missing_error(object_type, missing))
        return json_response(
            batch_envelope(results, started, self.state.now(), errors), 207 if errors else 200
        )

    def upsert(self, request: Request) -> Response:
        """Create or update by a unique `idProperty`; a repeated key updates and never duplicates."""
        started = self.state.now()
        object_type = resolve_type(request.params["objectType"])
        inputs = _inputs(request, read_body(request))
        with self.state.lock:
            plans = []
            problems_all = []
            for item in inputs:
                name = item.get("idProperty")
                if not name:
                    raise api_error(400, VALIDATION_ERROR, "idProperty is required for each upsert input")
                unique_property(self.state, object_type, str(name))
                key = str(item.get("id", ""))
                record = lookup(self.state, object_type, key, str(name))
                raw = dict(item.get("properties") or {})
                raw.setdefault(str(name), key)
                values, problems = check_values(self.state, object_type, raw, existing=record)
                problems_all += problems
                plans.append((record, values))
            _no_duplicates([f"{i.get('idProperty')}={i.get('id')}" for i in inputs])
            if problems_all:
                raise invalid_error(problems_all)
            for record, values in plans:
                conflict = find_conflict(self.state, object_type, values, record.id if record else None)
                if conflict is not None:
                    raise conflict_error(object_type, conflict)
            store = self.state.objects[object_type.name]
            results = []
            for record, values in plans:
                created = record is None
                if record is None:
                    record = store.insert(values, self.state.now())
                else:
                    store.write(record, values, self.state.now())
                results.append({**self.objects.written(record, object_type), "new": created})
        return json_response(batch_envelope(results, started, self.state.now()))

    def archive(self, request: Request) -> Response:
        """Archive up to 100 records by id; 204 (unknown ids are ignored)."""
        object_type = resolve_type(request.params["objectType"])
        inputs = _inputs(request, read_body(request))
        with self.state.lock:
            store = self.state.objects[object_type.name]
            for item in inputs:
                record = store.get(str(item.get("id", "")))
                if record is not None:
                    store.archive(record, self.state.now())
        return Response(status=204)


def _missing_error(object_type: ObjectType, missing: list[str]) -> dict[str, Any]:
    """The 207 error entry HubSpot gives for ids a batch named that do not exist (vendor-facts §21)."""
    return standard_error(
        404,
        OBJECT_NOT_FOUND,
        f"Could not get some {object_type.upper} objects, they may be deleted or not exist."
        " Check that ids are valid.",
        context={"ids": missing},
    )
