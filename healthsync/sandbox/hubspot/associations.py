"""Associations: in create inputs, in v3 reads (`?associations=`), and the v4 endpoints.

v4 paths follow https://developers.hubspot.com/docs/api/crm/associations/v4 :
`PUT /crm/v4/objects/{fromType}/{fromId}/associations/default/{toType}/{toId}` (no body),
`PUT .../associations/{toType}/{toId}` with `[{associationCategory, associationTypeId}]`,
`GET .../associations/{toType}` and `POST /crm/v4/associations/{fromType}/{toType}/batch/read`.
Type ids are HubSpot's HUBSPOT_DEFINED ones (`store.ASSOCIATION_TYPES`); custom labels are not modelled.
"""

from __future__ import annotations

from typing import Any

from healthsync.sandbox.hubspot.errors import OBJECT_NOT_FOUND, VALIDATION_ERROR, api_error, standard_error
from healthsync.sandbox.hubspot.state import HubSpotState
from healthsync.sandbox.hubspot.store import ASSOCIATION_TYPES, OBJECT_TYPES, ObjectType, resolve_type
from healthsync.sandbox.hubspot.views import batch_envelope
from healthsync.sandbox.wire import BatchServed, PageServed, Request, Response, Router, json_response

__all__ = ["AssociationRoutes", "Link", "associations_view", "resolve_input_associations"]

MAX_LIST_PAGE = 500
"""v4 association list `limit`: its default, and the page size the audit holds clients to."""
MAX_BATCH_READ = 1000
"""v4 association batch read inputs
(https://developers.hubspot.com/changelog/bug-fix-batch-read-limit-for-hubspot-associations-api )."""

MAX_BATCH_CREATE = 2000
"""Inputs per v4 batch association create (HubSpot's documented limit for the v4 batch association
endpoints; e.g. https://docs.workato.com/en/connectors/hubspot/actions/associate-records-batch.html)."""

Link = tuple[str, int, int, str]
"""(to type, to id, association type id, category) of one association to write."""

_CATEGORIES = {"HUBSPOT_DEFINED", "USER_DEFINED", "INTEGRATOR_DEFINED", "WORK"}


def _type_for(from_type: ObjectType, type_id: int) -> str | None:
    for (source, target), kinds in ASSOCIATION_TYPES.items():
        if source == from_type.name and any(tid == type_id for tid, _ in kinds):
            return target
    return None


def resolve_input_associations(state: HubSpotState, from_type: ObjectType, raw: Any) -> list[Link]:
    """Validate the `associations` of a create input before anything is written (400 otherwise)."""
    links: list[Link] = []
    for item in raw or []:
        target_id = str(((item or {}).get("to") or {}).get("id", ""))
        for spec in (item or {}).get("types") or []:
            category = str(spec.get("associationCategory", ""))
            try:
                type_id = int(spec.get("associationTypeId"))
            except (TypeError, ValueError):
                type_id = -1
            to_name = _type_for(from_type, type_id) if category in _CATEGORIES else None
            if to_name is None:
                raise api_error(
                    400,
                    VALIDATION_ERROR,
                    f"{category} association type {spec.get('associationTypeId')} is not valid from"
                    f" {from_type.name}",
                )
            if state.objects[to_name].get(target_id) is None:
                raise api_error(
                    400,
                    VALIDATION_ERROR,
                    f"Could not create association: {OBJECT_TYPES[to_name].upper} {target_id} does not exist",
                    context={"id": [target_id]},
                )
            links.append((to_name, int(target_id), type_id, category))
    return links


def associations_view(
    state: HubSpotState, from_type: ObjectType, record_id: int, to_names: list[str]
) -> dict[str, Any]:
    """The v3 `associations` map of a read: `{"companies": {"results": [{"id", "type"}]}}`."""
    out: dict[str, Any] = {}
    for raw in to_names:
        to_type = resolve_type(raw)
        names = dict(ASSOCIATION_TYPES.get((from_type.name, to_type.name), []))
        results = [
            {"id": str(target), "type": names.get(type_id, f"{from_type.singular}_to_{to_type.singular}")}
            for target, specs in sorted(
                state.associations.targets(from_type.name, record_id, to_type.name).items()
            )
            for type_id, _category in sorted(specs)
        ]
        if results:
            out[to_type.name] = {"results": results}
    return out


def _labelled(targets: dict[int, set[tuple[int, str]]]) -> list[dict[str, Any]]:
    return [
        {
            "toObjectId": str(target),
            "associationTypes": [{"category": cat, "typeId": tid} for tid, cat in sorted(specs)],
        }
        for target, specs in sorted(targets.items())
    ]


class AssociationRoutes:
    """The v4 association endpoints."""

    def __init__(self, state: HubSpotState, vendor: str) -> None:
        self.state = state
        self.vendor = vendor

    def register(self, router: Router) -> None:
        """Add the v4 routes (the default PUT first: it is the longer path)."""
        base = "/crm/v4/objects/{fromObjectType}/{fromObjectId}/associations"
        router.add(self.vendor, "PUT", base + "/default/{toObjectType}/{toObjectId}", self.put_default)
        router.add(self.vendor, "PUT", base + "/{toObjectType}/{toObjectId}", self.put_labelled)
        router.add(self.vendor, "DELETE", base + "/{toObjectType}/{toObjectId}", self.delete)
        router.add(self.vendor, "GET", base + "/{toObjectType}", self.list)
        router.add(
            self.vendor,
            "POST",
            "/crm/v4/associations/{fromObjectType}/{toObjectType}/batch/read",
            self.batch_read,
            "read",
        )
        router.add(
            self.vendor,
            "POST",
            "/crm/v4/associations/{fromObjectType}/{toObjectType}/batch/create",
            self.batch_create,
        )

    def _ends(self, request: Request) -> tuple[ObjectType, int, ObjectType, int]:
        p = request.params
        from_type, to_type = resolve_type(p["fromObjectType"]), resolve_type(p["toObjectType"])
        for object_type, raw_id in ((from_type, p["fromObjectId"]), (to_type, p["toObjectId"])):
            if self.state.objects[object_type.name].get(raw_id) is None:
                raise api_error(404, OBJECT_NOT_FOUND, f"No {object_type.singular} with id {raw_id} exists")
        return from_type, int(p["fromObjectId"]), to_type, int(p["toObjectId"])

    def put_default(self, request: Request) -> Response:
        """Create the default (unlabelled) association both ways; 200 with both directions."""
        started = self.state.now()
        with self.state.lock:
            from_type, from_id, to_type, to_id = self._ends(request)
            kinds = ASSOCIATION_TYPES.get((from_type.name, to_type.name))
            if not kinds:
                raise api_error(
                    400,
                    VALIDATION_ERROR,
                    f"There is no default association from {from_type.name} to {to_type.name}",
                )
            type_id = kinds[0][0]
            self.state.associations.add(
                from_type.name, from_id, to_type.name, to_id, type_id, "HUBSPOT_DEFINED"
            )
            back = self.state.associations.inverse(from_type.name, to_type.name, type_id)
        results = [
            {
                "from": {"id": str(a)},
                "to": {"id": str(b)},
                "associationSpec": {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": t},
            }
            for a, b, t in ((from_id, to_id, type_id), (to_id, from_id, back))
            if t is not None
        ]
        return json_response(batch_envelope(results, started, self.state.now()))

    def put_labelled(self, request: Request) -> Response:
        """Associate with the given type ids; 201 `LabelsBetweenObjectPair`."""
        body = request.json()
        if not isinstance(body, list) or not body:
            raise api_error(400, VALIDATION_ERROR, "Expected a non-empty list of association types")
        with self.state.lock:
            from_type, from_id, to_type, to_id = self._ends(request)
            allowed = {tid for tid, _ in ASSOCIATION_TYPES.get((from_type.name, to_type.name), [])}
            for spec in body:
                type_id = spec.get("associationTypeId") if isinstance(spec, dict) else None
                if type_id not in allowed:
                    raise api_error(400, VALIDATION_ERROR, f"Association type {type_id} is not valid here")
            for spec in body:
                self.state.associations.add(
                    from_type.name,
                    from_id,
                    to_type.name,
                    to_id,
                    int(spec["associationTypeId"]),
                    str(spec.get("associationCategory", "HUBSPOT_DEFINED")),
                )
        pair = {
            "fromObjectTypeId": from_type.type_id,
            "fromObjectId": str(from_id),
            "toObjectTypeId": to_type.type_id,
            "toObjectId": str(to_id),
            "labels": [],
        }
        return json_response(pair, 201)

    def delete(self, request: Request) -> Response:
        """Remove every association between the two records; 204."""
        with self.state.lock:
            from_type, from_id, to_type, to_id = self._ends(request)
            self.state.associations.remove(from_type.name, from_id, to_type.name, to_id)
        return Response(status=204)

    def list(self, request: Request) -> Response:
        """Associated records of one type, paged (limit default 500)."""
        p = request.params
        from_type, to_type = resolve_type(p["fromObjectType"]), resolve_type(p["toObjectType"])
        try:
            limit = int(request.arg("limit") or MAX_LIST_PAGE)
            offset = int(request.arg("after") or 0)
        except ValueError:
            raise api_error(400, VALIDATION_ERROR, "limit and after must be integers") from None
        with self.state.lock:
            if self.state.objects[from_type.name].get(p["fromObjectId"]) is None:
                raise api_error(
                    404, OBJECT_NOT_FOUND, f"No {from_type.singular} with id {p['fromObjectId']} exists"
                )
            items = _labelled(
                self.state.associations.targets(from_type.name, int(p["fromObjectId"]), to_type.name)
            )
        page = items[offset : offset + limit]
        request.page = PageServed(limit, MAX_LIST_PAGE, len(page), offset + limit < len(items))
        body: dict[str, Any] = {"results": page}
        if offset + limit < len(items):
            body["paging"] = {"next": {"after": str(offset + limit)}}
        return json_response(body)

    def batch_read(self, request: Request) -> Response:
        """Associations of many records at once; 207 lists the ids that do not exist."""
        started = self.state.now()
        p = request.params
        from_type, to_type = resolve_type(p["fromObjectType"]), resolve_type(p["toObjectType"])
        inputs = (request.json() or {}).get("inputs") or []
        request.batch = BatchServed(len(inputs), MAX_BATCH_READ)
        if len(inputs) > MAX_BATCH_READ:
            # https://developers.hubspot.com/changelog/bug-fix-batch-read-limit-for-hubspot-associations-api
            raise api_error(
                400,
                VALIDATION_ERROR,
                f"The maximum number of inputs supported in a batch request is {MAX_BATCH_READ}",
            )
        results, missing = [], []
        with self.state.lock:
            for item in inputs:
                raw_id = str((item or {}).get("id", ""))
                if self.state.objects[from_type.name].get(raw_id) is None:
                    missing.append(raw_id)
                    continue
                targets = self.state.associations.targets(from_type.name, int(raw_id), to_type.name)
                if targets:
                    results.append({"from": {"id": raw_id}, "to": _labelled(targets)})
        errors = (
            [
                standard_error(
                    404,
                    OBJECT_NOT_FOUND,
                    f"No {from_type.singular} objects with these ids",
                    context={"ids": missing},
                )
            ]
            if missing
            else []
        )
        return json_response(
            batch_envelope(results, started, self.state.now(), errors), 207 if errors else 200
        )

    def batch_create(self, request: Request) -> Response:
        """Associate many pairs with the given types; 201, or 207 listing the pairs that failed.

        `BatchResponseLabelsBetweenObjectPair[WithErrors]` of crm-associations-v4: one
        `LabelsBetweenObjectPair` per associated input. A pair whose record is missing, or whose type
        is not valid between the two object types, fails alone.
        """
        started = self.state.now()
        p = request.params
        from_type, to_type = resolve_type(p["fromObjectType"]), resolve_type(p["toObjectType"])
        inputs = (request.json() or {}).get("inputs")
        if not isinstance(inputs, list) or not inputs:
            raise api_error(400, VALIDATION_ERROR, "inputs must be a non-empty list")
        request.batch = BatchServed(len(inputs), MAX_BATCH_CREATE)
        if len(inputs) > MAX_BATCH_CREATE:
            raise api_error(
                400,
                VALIDATION_ERROR,
                f"The maximum number of inputs supported in a batch request is {MAX_BATCH_CREATE}",
            )
        allowed = {tid for tid, _ in ASSOCIATION_TYPES.get((from_type.name, to_type.name), [])}
        results: list[dict[str, Any]] = []
        errors: list[dict[str, Any]] = []
        with self.state.lock:
            for item in inputs:
                item = item if isinstance(item, dict) else {}
                from_id = str((item.get("from") or {}).get("id", ""))
                to_id = str((item.get("to") or {}).get("id", ""))
                raw_types = item.get("types")
                types: list[Any] = (
                    [t for t in raw_types if isinstance(t, dict)] if isinstance(raw_types, list) else []
                )
                missing = [
                    (t, i)
                    for t, i in ((from_type, from_id), (to_type, to_id))
                    if self.state.objects[t.name].get(i) is None
                ]
                if missing:
                    kind, raw = missing[0]
                    errors.append(
                        standard_error(
                            404,
                            OBJECT_NOT_FOUND,
                            f"No {kind.singular} with id {raw} exists",
                            context={"ids": [raw]},
                        )
                    )
                    continue
                bad = [t.get("associationTypeId") for t in types if t.get("associationTypeId") not in allowed]
                if not types or bad:
                    errors.append(
                        standard_error(
                            400,
                            VALIDATION_ERROR,
                            f"Association type {bad[0] if bad else None} is not valid from "
                            f"{from_type.name} to {to_type.name}",
                        )
                    )
                    continue
                for spec in types:
                    self.state.associations.add(
                        from_type.name,
                        int(from_id),
                        to_type.name,
                        int(to_id),
                        int(spec["associationTypeId"]),
                        str(spec.get("associationCategory", "HUBSPOT_DEFINED")),
                    )
                results.append(
                    {
                        "fromObjectTypeId": from_type.type_id,
                        "fromObjectId": from_id,
                        "toObjectTypeId": to_type.type_id,
                        "toObjectId": to_id,
                        "labels": [],
                    }
                )
        body = batch_envelope(results, started, self.state.now(), errors)
        return json_response(body, 207 if errors else 201)
