"""CRM search: `POST /crm/v3/objects/{objectType}/search`.

Limits enforced (https://developers.hubspot.com/docs/api/crm/search#limitations ):
- at most 200 results per page, and 10,000 results per query: paging to or past the 10,000th result
  answers 400 (also https://docs.aws.amazon.com/glue/latest/dg/hubspot-connector-limitations.html );
- filterGroups are ORed, the filters inside a group ANDed; at most 5 groups, 6 filters per group and
  18 filters in all (the current search guide). The Aug 2024 changelog "Breaking Change: Expanded
  Filtering Capabilities and Error Messaging in HubSpot's Search API" (developers.hubspot.com/changelog)
  allowed 5/10/25; the stricter set is enforced so that clients stay inside both;
- one sort rule; archived records never appear; new writes may lag behind the index.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from healthsync.sandbox.hubspot.catalog import PropertyDef
from healthsync.sandbox.hubspot.errors import VALIDATION_ERROR, api_error
from healthsync.sandbox.hubspot.state import HubSpotState
from healthsync.sandbox.hubspot.store import ObjectType, Record
from healthsync.sandbox.hubspot.values import comparable

__all__ = [
    "MAX_FILTERS",
    "MAX_GROUPS",
    "MAX_PAGE",
    "MAX_RESULTS",
    "SearchQuery",
    "parse_search",
    "run_search",
]

MAX_PAGE = 200
MAX_RESULTS = 10_000
MAX_GROUPS = 5
MAX_FILTERS_PER_GROUP = 6
MAX_FILTERS = 18
DEFAULT_PAGE = 10

_OPERATORS = {
    "EQ",
    "NEQ",
    "LT",
    "LTE",
    "GT",
    "GTE",
    "BETWEEN",
    "IN",
    "NOT_IN",
    "HAS_PROPERTY",
    "NOT_HAS_PROPERTY",
    "CONTAINS_TOKEN",
    "NOT_CONTAINS_TOKEN",
}
# Properties the free-text `query` looks in (the "default searchable properties" table of the guide).
_QUERY_FIELDS = {
    "companies": ("name", "domain", "website", "phone"),
    "deals": ("dealname",),
    "tasks": ("hs_task_subject", "hs_task_body"),
    "contacts": ("firstname", "lastname", "email", "phone", "company"),
}


@dataclass(frozen=True)
class Filter:
    """One filter; values already in comparable form."""

    name: str
    kind: str
    operator: str
    value: Any
    high: Any
    values: tuple[Any, ...]
    raw: str


@dataclass(frozen=True)
class SearchQuery:
    """A validated search request."""

    groups: list[list[Filter]]
    sort: tuple[str, bool] | None
    """(property, descending)."""
    limit: int
    offset: int
    properties: list[str] | None
    query: str | None


def _bad(message: str) -> Exception:
    return api_error(400, VALIDATION_ERROR, message)


def _int(value: Any, what: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise _bad(f"{what} must be an integer, got {value!r}") from None


def parse_search(body: Any, props: dict[str, PropertyDef]) -> SearchQuery:
    """Validate a search body against HubSpot's limits; 400 VALIDATION_ERROR otherwise."""
    if body is None:
        body = {}
    if not isinstance(body, dict):
        raise _bad("Invalid input JSON: the search body must be an object")
    limit = _int(body.get("limit") if body.get("limit") is not None else DEFAULT_PAGE, "limit")
    if limit < 0 or limit > MAX_PAGE:
        raise _bad(f"limit must be between 0 and {MAX_PAGE} (got {limit})")
    offset = _int(body.get("after") if body.get("after") not in (None, "") else 0, "after")
    if offset >= MAX_RESULTS:
        raise _bad(
            f"Paging through search results is limited to the first {MAX_RESULTS} results; after={offset}"
            " is past that limit. Narrow the query (for example with a filter on hs_object_id or a date)."
        )
    groups_in = body.get("filterGroups") or []
    if len(groups_in) > MAX_GROUPS:
        raise _bad(f"Too many filter groups ({len(groups_in)}); the maximum is {MAX_GROUPS}")
    groups: list[list[Filter]] = []
    total = 0
    for group in groups_in:
        filters_in = (group or {}).get("filters") or []
        if len(filters_in) > MAX_FILTERS_PER_GROUP:
            raise _bad(
                f"Too many filters in a group ({len(filters_in)}); the maximum is {MAX_FILTERS_PER_GROUP}"
            )
        total += len(filters_in)
        groups.append([_filter(f, props) for f in filters_in])
    if total > MAX_FILTERS:
        raise _bad(f"Too many filters ({total}); the maximum across all filter groups is {MAX_FILTERS}")
    sorts = body.get("sorts") or []
    if len(sorts) > 1:
        raise _bad("Only one sort is supported per search request")
    sort = _sort(sorts[0], props) if sorts else None
    properties = body.get("properties") or None
    query = body.get("query") or None
    return SearchQuery(groups, sort, limit, offset, list(properties) if properties else None, query)


def _filter(raw: Any, props: dict[str, PropertyDef]) -> Filter:
    if not isinstance(raw, dict) or not raw.get("propertyName"):
        raise _bad("Each filter needs a propertyName and an operator")
    name = str(raw["propertyName"])
    operator = str(raw.get("operator", "")).upper()
    if operator not in _OPERATORS:
        raise _bad(
            f"Unknown filter operator {raw.get('operator')!r}; use one of {', '.join(sorted(_OPERATORS))}"
        )
    prop = props.get(name)
    if prop is None:
        raise _bad(f"Unable to search on property {name}: the property does not exist")
    kind = prop.type
    value = raw.get("value")
    if value is None and operator not in {"IN", "NOT_IN", "HAS_PROPERTY", "NOT_HAS_PROPERTY"}:
        raise _bad(f"Filter on {name} with operator {operator} needs a value")
    high = raw.get("highValue")
    if operator == "BETWEEN" and high is None:
        raise _bad(f"Filter on {name} with operator BETWEEN needs a highValue")
    values = raw.get("values")
    if operator in {"IN", "NOT_IN"} and not isinstance(values, list):
        raise _bad(f"Filter on {name} with operator {operator} needs a values list")
    return Filter(
        name,
        kind,
        operator,
        comparable(kind, None if value is None else str(value)),
        comparable(kind, None if high is None else str(high)),
        tuple(comparable(kind, str(v)) for v in values or []),
        "" if value is None else str(value),
    )


def _sort(raw: Any, props: dict[str, PropertyDef]) -> tuple[str, bool]:
    # HubSpot's docs send objects {propertyName, direction}; the spec types sorts as strings, which
    # HubSpot also accepts as "name" or "-name" (vendor-facts §21).
    if isinstance(raw, dict):
        name = str(raw.get("propertyName", ""))
        descending = str(raw.get("direction", "ASCENDING")).upper() == "DESCENDING"
    else:
        text = str(raw)
        name, descending = text.lstrip("-"), text.startswith("-")
    if name not in props:
        raise _bad(f"Unable to sort on property {name}: the property does not exist")
    return name, descending


def _tokens(text: str) -> list[str]:
    return [t for t in re.split(r"[^\w@.]+", text.casefold()) if t]


def _matches(record: Record, flt: Filter) -> bool:
    raw = record.properties.get(flt.name)
    op = flt.operator
    if op == "HAS_PROPERTY":
        return raw is not None
    if op == "NOT_HAS_PROPERTY":
        return raw is None
    if op in {"CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"}:
        pattern = re.compile("^" + re.escape(flt.raw.casefold()).replace(r"\*", ".*") + "$")
        found = raw is not None and any(pattern.match(t) for t in [*_tokens(raw), raw.casefold()])
        return found if op == "CONTAINS_TOKEN" else not found
    value = comparable(flt.kind, raw)
    if op == "NEQ":
        return bool(value != flt.value)
    if op == "NOT_IN":
        return value not in flt.values
    if value is None:
        return False
    if op == "EQ":
        return bool(value == flt.value)
    if op == "IN":
        return value in flt.values
    try:
        if op == "LT":
            return bool(value < flt.value)
        if op == "LTE":
            return bool(value <= flt.value)
        if op == "GT":
            return bool(value > flt.value)
        if op == "GTE":
            return bool(value >= flt.value)
        return bool(flt.value <= value <= flt.high)
    except TypeError:
        return False  # a text value compared with a number: no match, as an index would answer


def _query_matches(record: Record, object_type: ObjectType, query: str) -> bool:
    words = _tokens(query)
    tokens = [
        t for name in _QUERY_FIELDS[object_type.name] for t in _tokens(record.properties.get(name) or "")
    ]
    return all(any(t.startswith(w) for t in tokens) for w in words)


def run_search(state: HubSpotState, object_type: ObjectType, q: SearchQuery) -> tuple[list[Record], int]:
    """One page of matches and the total number of matches (the caller holds the state lock)."""
    store = state.objects[object_type.name]
    horizon = state.now() - timedelta(seconds=state.search_lag_seconds) if state.search_lag_seconds else None
    matched = [
        record
        for record in store
        if not record.archived
        and (horizon is None or record.updated_at <= horizon)
        and (not q.groups or any(all(_matches(record, f) for f in group) for group in q.groups))
        and (q.query is None or _query_matches(record, object_type, q.query))
    ]
    if q.sort is not None:
        name, descending = q.sort
        kind = state.properties[object_type.name][name].type
        present = [r for r in matched if comparable(kind, r.properties.get(name)) is not None]
        absent = [r for r in matched if comparable(kind, r.properties.get(name)) is None]
        present.sort(key=lambda r: r.id)
        present.sort(key=lambda r: comparable(kind, r.properties.get(name)), reverse=descending)  # type: ignore[arg-type,return-value]
        matched = present + absent  # records without a value come last either way
    end = min(q.offset + q.limit, MAX_RESULTS)
    return matched[q.offset : end], len(matched)
