"""CRM objects: list, read, create, update, archive and search one record type.

Paths and shapes follow the objects guides, e.g. https://developers.hubspot.com/docs/api/crm/companies :
`GET /crm/v3/objects/{type}` pages with `after` (at most 100 per page), `archived=true` lists only
archived records, a delete archives. Batch endpoints live in `batch.py`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from healthsync.sandbox.hubspot.associations import associations_view, resolve_input_associations
from healthsync.sandbox.hubspot.errors import OBJECT_NOT_FOUND, VALIDATION_ERROR, api_error
from healthsync.sandbox.hubspot.search import MAX_PAGE as MAX_SEARCH_PAGE
from healthsync.sandbox.hubspot.search import parse_search, run_search
from healthsync.sandbox.hubspot.state import HubSpotState
from healthsync.sandbox.hubspot.store import ObjectType, Record, resolve_type
from healthsync.sandbox.hubspot.views import parse_bool, public_object, requested_properties
from healthsync.sandbox.hubspot.writes import check_values, conflict_error, find_conflict, invalid_error
from healthsync.sandbox.wire import PageServed, Request, Response, Router, json_response

__all__ = ["MAX_LIST_PAGE", "ObjectRoutes", "lookup", "not_found", "read_body", "unique_property"]

# "limit: The maximum number of results to display per page" — 100 at most
# (https://developers.hubspot.com/docs/api/crm/companies ; the SDK's PAGE_MAX_SIZE is 100 too).
MAX_LIST_PAGE = 100
DEFAULT_LIST_PAGE = 10


def unique_property(state: HubSpotState, object_type: ObjectType, name: str) -> str:
    """`name` if it is a `hasUniqueValue` property, else HubSpot's 400 for updates/upserts by it.

    The message is the one HubSpot answers (quoted in segmentio/action-destinations#3957).
    """
    if name == "hs_object_id" or name not in state.objects[object_type.name].unique_names:
        raise api_error(
            400,
            VALIDATION_ERROR,
            f"Unable to perform update/upsert by non-unique {object_type.type_id} property {name}"
            f" in portal ID {state.portal_id}",
        )
    return name


def lookup(
    state: HubSpotState,
    object_type: ObjectType,
    raw_id: str,
    id_property: str | None,
    *,
    archived: bool = False,
) -> Record | None:
    """A record by id, or by the value of a unique property when `id_property` names one."""
    store = state.objects[object_type.name]
    if id_property and id_property != "hs_object_id":
        record = store.find_unique(unique_property(state, object_type, id_property), raw_id)
        return record if record is not None and record.archived == archived else None
    return store.get(raw_id, archived=archived)


class ObjectRoutes:
    """Basic (single-record) and search endpoints for every object type."""

    def __init__(self, state: HubSpotState, vendor: str) -> None:
        self.state = state
        self.vendor = vendor
        self._fragments: dict[str, dict[int, tuple[int, tuple[Any, ...], bytes]]] = {}

    def register(self, router: Router) -> None:
        """Search first: `/search` must not be taken for an object id."""
        base = "/crm/v3/objects/{objectType}"
        router.add(self.vendor, "POST", base + "/search", self.search, "read")
        router.add(self.vendor, "GET", base, self.list)
        router.add(self.vendor, "POST", base, self.create)
        router.add(self.vendor, "GET", base + "/{objectId}", self.get)
        router.add(self.vendor, "PATCH", base + "/{objectId}", self.update)
        router.add(self.vendor, "DELETE", base + "/{objectId}", self.archive)

    def known(self, object_type: ObjectType) -> set[str]:
        """Names of live properties (reads silently skip unknown names)."""
        return set(self.state.live_properties(object_type))

    def reader(self, object_type: ObjectType, request: Request) -> Callable[[Record], dict[str, Any]]:
        """Renders records for one read, honouring its `properties` and `associations` parameters."""
        requested = requested_properties(request.query.get("properties"))
        assoc = requested_properties(request.query.get("associations"))
        known = self.known(object_type)

        def render(record: Record) -> dict[str, Any]:
            associations = associations_view(self.state, object_type, record.id, assoc) if assoc else None
            return public_object(record, object_type, requested, known, associations=associations)

        return render

    def written(self, record: Record, object_type: ObjectType) -> dict[str, Any]:
        """A record as write endpoints answer it: every property with a value."""
        return public_object(record, object_type, None, (), all_properties=True)

    def list(self, request: Request) -> Response:
        """One page of records in id order; `paging.next.after` is the next record's id."""
        object_type = resolve_type(request.params["objectType"])
        limit = _int_arg(request, "limit", DEFAULT_LIST_PAGE)
        if limit < 1 or limit > MAX_LIST_PAGE:
            raise api_error(
                400, VALIDATION_ERROR, f"limit must be between 1 and {MAX_LIST_PAGE} (got {limit})"
            )
        start = _int_arg(request, "after", 0)
        archived = parse_bool(request, "archived")
        page: list[bytes] = []
        next_id: int | None = None
        with self.state.lock:
            render = self._cached_reader(object_type, request)
            for record in self.state.objects[object_type.name].ids_from(start):
                if record.archived != archived:
                    continue
                if len(page) == limit:
                    next_id = record.id
                    break
                page.append(render(record))
        request.page = PageServed(limit, MAX_LIST_PAGE, len(page), next_id is not None)
        body = b'{"results":[' + b",".join(page) + b"]"
        if next_id is not None:
            query = [(k, v) for k, vs in request.query.items() if k != "after" for v in vs]
            link = f"{request.base_url}{request.path}?{urlencode([*query, ('after', str(next_id))])}"
            paging = {"next": {"after": str(next_id), "link": link}}
            body += b',"paging":' + json.dumps(paging, separators=(",", ":")).encode()
        return Response(200, body + b"}", {"Content-Type": "application/json;charset=UTF-8"})

    def _cached_reader(self, object_type: ObjectType, request: Request) -> Callable[[Record], bytes]:
        """Like `reader`, but to JSON bytes, reusing a record's rendering while it is unchanged.

        List pages are read far more often than records change; the cache key is the record's
        revision plus what shapes the rendering (requested properties, the live property set).
        """
        render = self.reader(object_type, request)
        if request.query.get("associations"):  # associations change apart from the record
            return lambda record: json.dumps(render(record), separators=(",", ":"), default=str).encode()
        known = frozenset(self.known(object_type))
        shape = (tuple(request.query.get("properties") or ()), len(known), hash(known))
        cache = self._fragments.setdefault(object_type.name, {})

        def to_bytes(record: Record) -> bytes:
            entry = cache.get(record.id)
            if entry is not None and entry[0] == record.revision and entry[1] == shape:
                return entry[2]
            data = json.dumps(render(record), separators=(",", ":"), default=str).encode()
            cache[record.id] = (record.revision, shape, data)
            return data

        return to_bytes

    def get(self, request: Request) -> Response:
        """One record by id (or unique `idProperty` value); 404 when absent or archived."""
        object_type = resolve_type(request.params["objectType"])
        raw_id = request.params["objectId"]
        with self.state.lock:
            record = lookup(
                self.state,
                object_type,
                raw_id,
                request.arg("idProperty"),
                archived=parse_bool(request, "archived"),
            )
            if record is None:
                raise not_found(object_type, raw_id)
            return json_response(self.reader(object_type, request)(record))

    def create(self, request: Request) -> Response:
        """Create one record with its associations; 201 `SimplePublicObject`."""
        object_type = resolve_type(request.params["objectType"])
        body = read_body(request)
        with self.state.lock:
            values, problems = check_values(self.state, object_type, body.get("properties"), existing=None)
            links = resolve_input_associations(self.state, object_type, body.get("associations"))
            if problems:
                raise invalid_error(problems)
            conflict = find_conflict(self.state, object_type, values, None)
            if conflict is not None:
                raise conflict_error(object_type, conflict)
            record = self.state.objects[object_type.name].insert(values, self.state.now())
            for to_type, to_id, type_id, category in links:
                self.state.associations.add(object_type.name, record.id, to_type, to_id, type_id, category)
            return json_response(self.written(record, object_type), 201)

    def update(self, request: Request) -> Response:
        """Update one record's properties; 404 unknown id, 400 bad values, 409 unique clash."""
        object_type = resolve_type(request.params["objectType"])
        raw_id = request.params["objectId"]
        body = read_body(request)
        with self.state.lock:
            record = lookup(self.state, object_type, raw_id, request.arg("idProperty"))
            if record is None:
                raise not_found(object_type, raw_id)
            values, problems = check_values(self.state, object_type, body.get("properties"), existing=record)
            if problems:
                raise invalid_error(problems)
            conflict = find_conflict(self.state, object_type, values, record.id)
            if conflict is not None:
                raise conflict_error(object_type, conflict)
            self.state.objects[object_type.name].write(record, values, self.state.now())
            return json_response(self.written(record, object_type))

    def archive(self, request: Request) -> Response:
        """Archive (move to the recycle bin); 204 whether or not the id existed, as HubSpot answers."""
        object_type = resolve_type(request.params["objectType"])
        with self.state.lock:
            record = self.state.objects[object_type.name].get(request.params["objectId"])
            if record is not None:
                self.state.objects[object_type.name].archive(record, self.state.now())
        return Response(status=204)

    def search(self, request: Request) -> Response:
        """Filtered, sorted, paged search with `total`; see `search.py` for the limits."""
        object_type = resolve_type(request.params["objectType"])
        with self.state.lock:
            query = parse_search(request.json(), self.state.live_properties(object_type))
            page, total = run_search(self.state, object_type, query)
            known = self.known(object_type)
            results = [public_object(r, object_type, query.properties, known) for r in page]
        body: dict[str, Any] = {"total": total, "results": results}
        following = query.offset + len(page)
        if query.limit:  # `limit: 0` asks for the total only: a count, not a page
            request.page = PageServed(query.limit, MAX_SEARCH_PAGE, len(page), following < total)
        if page and following < total:
            body["paging"] = {"next": {"after": str(following)}}
        return json_response(body)


def read_body(request: Request) -> dict[str, Any]:
    """The JSON object body, or HubSpot's 400 for anything else."""
    try:
        body = request.json()
    except ValueError:
        raise api_error(400, VALIDATION_ERROR, "Invalid input JSON: the body is not valid JSON") from None
    if not isinstance(body, dict):
        raise api_error(400, VALIDATION_ERROR, "Invalid input JSON: expected an object")
    return body


def _int_arg(request: Request, name: str, default: int) -> int:
    raw = request.arg(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise api_error(400, VALIDATION_ERROR, f"{name} must be an integer, got {raw!r}") from None


def not_found(object_type: ObjectType, raw_id: str) -> Exception:
    """HubSpot's 404 for a record id that does not exist."""
    return api_error(
        404,
        OBJECT_NOT_FOUND,
        f"Object not found.  objectId are usually numeric. ({object_type.upper} {raw_id})",
        context={"id": [raw_id]},
    )
