"""`GET /api/v2/search` and `/search/count`: the subset of Zendesk's query language clients use.

https://developer.zendesk.com/api-reference/ticketing/ticket-management/search/ : a query of
`type:ticket|organization|user`, `field:value` terms (also `>`, `<`, `>=`, `<=` on dates, status and
priority, a trailing `*` for prefixes, a leading `-` to negate, quotes for spaces) and free words;
offset pages of at most 100 results; at most 1,000 results per query (a page beyond that is 422,
while `count` still reports the full number); `sort_by` updated_at|created_at|priority|status|
ticket_type with `sort_order` asc|desc (default desc; relevance — here id order — without sort_by).
Cursor parameters (`page[size]`) are refused as Zendesk refuses them on search.
"""

from __future__ import annotations

import re
import shlex
from collections import ChainMap
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from typing import Any

from healthsync.sandbox.wire import PageServed, Request, Response, json_response
from healthsync.sandbox.zendesk import errors
from healthsync.sandbox.zendesk.paging import page_url, with_url
from healthsync.sandbox.zendesk.records import parse_iso
from healthsync.sandbox.zendesk.store import ZendeskStore

__all__ = ["Search"]

PER_PAGE_MAX = 100
RESULTS_MAX = 1000
"""The Search API "returns up to 1,000 results per query, with a maximum of 100 results per page"."""

Record = Mapping[str, Any]
"""What query terms test: a stored record over its collection's shared fields."""
_TERM = re.compile(r"^(?P<neg>-?)(?P<field>[a-z_]+)(?P<op>>=|<=|:|>|<)(?P<value>.+)$")
_STATUS_ORDER = ["new", "open", "pending", "hold", "solved", "closed"]
_PRIORITY_ORDER = ["low", "normal", "high", "urgent"]
_TYPES = {"ticket": "tickets", "organization": "organizations", "user": "users"}
_FIELD_ALIASES = {
    "created": "created_at",
    "updated": "updated_at",
    "ticket_type": "type",
    "organization": "organization_id",
    "requester": "requester_id",
    "assignee": "assignee_id",
    "submitter": "submitter_id",
    "group": "group_id",
    "tags": "tags",
    "tag": "tags",
}
_TEXT_FIELDS = ("name", "subject", "description", "email", "details", "notes")


class Search:
    """Search over the store's tickets, organizations and users."""

    def __init__(self, store: ZendeskStore) -> None:
        self.store = store

    def search(self, request: Request) -> Response:
        """`GET /api/v2/search?query=...`."""
        if any(k.startswith("page[") for k in request.query):
            raise errors.invalid_attribute("page", "must be an integer", "api/v2/search/index")
        page, per_page = (
            _int_arg(request, "page", 1),
            min(PER_PAGE_MAX, _int_arg(request, "per_page", PER_PAGE_MAX)),
        )
        if page < 1 or per_page < 1:
            raise errors.invalid_attribute("page", "must be an integer", "api/v2/search/index")
        if page * per_page > RESULTS_MAX:
            raise errors.search_limit()
        matches = self._matches(request)
        collections = self.store.collections()
        start = (page - 1) * per_page
        results = [
            {**with_url(request, collections[resource], r), "result_type": _singular(resource)}
            for resource, r in matches[start : start + per_page]
        ]
        carried = {k: v[0] for k, v in request.query.items() if k not in {"page", "per_page"} and v}
        # "More" stops at the 1,000-result cap: past it no page size could have read further.
        more = start + per_page < min(len(matches), RESULTS_MAX)
        request.page = PageServed(per_page, PER_PAGE_MAX, len(results), more)
        return json_response(
            {
                "results": results,
                "facets": None,
                "next_page": page_url(request, {**carried, "page": str(page + 1), "per_page": str(per_page)})
                if start + per_page < len(matches)
                else None,
                "previous_page": page_url(
                    request, {**carried, "page": str(page - 1), "per_page": str(per_page)}
                )
                if page > 1
                else None,
                "count": len(matches),
            }
        )

    def count(self, request: Request) -> Response:
        """`GET /api/v2/search/count?query=...`."""
        return json_response({"count": len(self._matches(request))})

    def _matches(self, request: Request) -> list[tuple[str, dict[str, Any]]]:
        query = request.arg("query")
        if not query:
            raise errors.bad_request("query parameter is required", "InvalidParameter")
        types, tests = _parse(query)
        collections = self.store.collections()
        with self.store.lock:
            found = [
                (resource, record)
                for resource in types
                for record in collections[resource].by_id()
                if record.get("status") != "deleted"
                and all(test(ChainMap(record, collections[resource].template)) for test in tests)
            ]
        sort_by = request.arg("sort_by")
        if sort_by:
            descending = (request.arg("sort_order") or "desc").lower() != "asc"
            field = {"ticket_type": "type"}.get(sort_by, sort_by)
            found.sort(key=lambda pair: _sort_key(pair[1].get(field), field), reverse=descending)
        return found


def _int_arg(request: Request, name: str, default: int) -> int:
    raw = request.arg(name)
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise errors.invalid_attribute(name, "must be an integer", "api/v2/search/index") from None


def _singular(resource: str) -> str:
    return next(k for k, v in _TYPES.items() if v == resource)


def _parse(query: str) -> tuple[list[str], list[Callable[[Record], bool]]]:
    try:
        tokens = shlex.split(query)
    except ValueError:
        tokens = query.split()
    types: list[str] = []
    tests: list[Callable[[Record], bool]] = []
    for token in tokens:
        term = _TERM.match(token)
        if term and term["field"] == "type" and term["value"].lower() in _TYPES:
            types.append(_TYPES[term["value"].lower()])
            continue
        if term:
            test = _term_test(term["field"], term["op"], term["value"])
            tests.append(_negated(test) if term["neg"] else test)
        else:
            tests.append(_free_text(token.lower()))
    return types or list(_TYPES.values()), tests


def _free_text(word: str) -> Callable[[Record], bool]:
    return lambda record: any(word in str(record.get(f) or "").lower() for f in _TEXT_FIELDS)


def _negated(test: Callable[[Record], bool]) -> Callable[[Record], bool]:
    return lambda record: not test(record)


def _term_test(field: str, op: str, value: str) -> Callable[[Record], bool]:
    name = _FIELD_ALIASES.get(field, field)
    if name in {"created_at", "updated_at"}:
        bound = _date_bound(value)
        if bound is None:
            return lambda r: False
        if op == ":" and len(value) == 10:  # a whole day
            return lambda r: bool(r.get(name)) and bound <= parse_iso(str(r[name])) < bound + 86_400
        return lambda r: _compare(parse_iso(str(r[name])) if r.get(name) else None, op, bound)
    if name in {"status", "priority"}:
        order = _STATUS_ORDER if name == "status" else _PRIORITY_ORDER
        rank = order.index(value.lower()) if value.lower() in order else None
        if op != ":":
            return lambda r: rank is not None and _compare(_rank(order, r.get(name)), op, rank)
    pattern = value.lower()

    def matches(record: Record) -> bool:
        actual = record.get(name)
        values = actual if isinstance(actual, list) else [actual]
        for item in values:
            text = "" if item is None else str(item).lower()
            if (pattern.endswith("*") and text.startswith(pattern[:-1])) or text == pattern:
                return True
        return False

    return matches


def _rank(order: list[str], value: Any) -> int | None:
    return order.index(value) if value in order else None


def _compare(actual: int | None, op: str, bound: int) -> bool:
    if actual is None:
        return False
    return {
        ":": actual == bound,
        ">": actual > bound,
        "<": actual < bound,
        ">=": actual >= bound,
        "<=": actual <= bound,
    }[op]


def _date_bound(value: str) -> int | None:
    """Unix seconds of `YYYY-MM-DD` (midnight UTC) or a full ISO-8601 timestamp; None otherwise."""
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp())
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        return int((moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp())
    except ValueError:
        return None


def _sort_key(value: Any, field: str) -> tuple[int, Any]:
    if field in {"status", "priority"}:
        rank = _rank(_STATUS_ORDER if field == "status" else _PRIORITY_ORDER, value)
        return (0, -1 if rank is None else rank)
    return (0 if value is not None else 1, value if value is not None else "")
