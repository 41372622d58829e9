"""Cursor and offset pagination for Zendesk list endpoints, and the absolute URLs they hand back.

https://developer.zendesk.com/api-reference/introduction/pagination/ : a `page[size]` parameter
selects cursor pagination (`meta.has_more/after_cursor/before_cursor`, `links.next/prev`);
without it the endpoint pages by offset (`page`, `per_page`, `next_page`, `previous_page`, `count`).
Next-page URLs are absolute and point back at the server the client called, because SDKs follow
them verbatim (zenpy reads `links.next` whenever `meta.has_more` is true).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Iterable
from itertools import islice
from typing import Any
from urllib.parse import quote

from healthsync.sandbox.wire import PageServed, Request, Response, json_response
from healthsync.sandbox.zendesk import errors
from healthsync.sandbox.zendesk.store import Collection

__all__ = ["decode_cursor", "encode_cursor", "page_list", "page_url", "with_url"]

CURSOR_PAGE_MAX = 100
"""`page[size]`: "Most endpoints limit this to a maximum of 100" (pagination reference above)."""
CURSOR_PAGE_DEFAULT = 100
OFFSET_PER_PAGE_MAX = 100
"""`per_page` for offset pagination: 100 at most; larger values are served as 100."""
OFFSET_RECORDS_MAX = 10_000
"""Offset pagination past the first 10,000 records (100 pages) answers 400:
https://developer.zendesk.com/api-reference/introduction/rate-limits/#offset-pagination-limits"""

Record = dict[str, Any]


def with_url(request: Request, collection: Collection, record: Record) -> Record:
    """The record as served, with its API `url` built on the base URL the client used."""
    return collection.render(record, request.base_url)


def encode_cursor(*parts: object) -> str:
    """An opaque, URL-safe cursor (Zendesk's look like base64 of `1576613539.0||467|`)."""
    text = "||".join(str(p) for p in parts) + "|"
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_cursor(token: str, parts: int, parameter: str) -> list[int]:
    """The integers a cursor holds; a 400 (InvalidValue) when the cursor is not one of ours."""
    try:
        text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        values = [int(float(v)) for v in text.rstrip("|").split("||")]
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise errors.bad_request(f"Invalid {parameter}: {token}") from None
    if len(values) != parts:
        raise errors.bad_request(f"Invalid {parameter}: {token}")
    return values


def page_url(request: Request, params: dict[str, str], path: str | None = None) -> str:
    """Absolute URL of `path` (default: this request's) with `params`, brackets literal as Zendesk's."""
    query = "&".join(f"{k}={quote(v, safe='')}" for k, v in params.items())
    return f"{request.base_url}{path or request.path}" + (f"?{query}" if query else "")


def _carried(request: Request, drop: Iterable[str]) -> dict[str, str]:
    """The request's own query parameters minus paging ones, so filters survive onto the next page."""
    dropped = set(drop)
    return {k: v[0] for k, v in request.query.items() if k not in dropped and v}


def _int(request: Request, name: str, default: int, attribute: str, endpoint: str) -> int:
    raw = request.arg(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise errors.invalid_attribute(attribute, "must be an integer", endpoint) from None


def page_list(
    request: Request,
    collection: Collection,
    resource: str,
    keep: Callable[[Record], bool] | None = None,
) -> Response:
    """One page of `collection` in id order: by cursor when a `page[...]` parameter is given, else offset."""
    endpoint = f"api/v2/{resource}/index"
    if any(k.startswith("page[") for k in request.query):
        return _cursor_page(request, collection, resource, keep, endpoint)
    return _offset_page(request, collection, resource, keep, endpoint)


def _cursor_page(
    request: Request,
    collection: Collection,
    resource: str,
    keep: Callable[[Record], bool] | None,
    endpoint: str,
) -> Response:
    size = _int(request, "page[size]", CURSOR_PAGE_DEFAULT, "page.size", endpoint)
    if not 1 <= size <= CURSOR_PAGE_MAX:
        raise errors.invalid_attribute(
            "page.size", f"must be an integer from 1 to {CURSOR_PAGE_MAX}", endpoint
        )
    after, before = request.arg("page[after]"), request.arg("page[before]")
    if before:
        (before_id,) = decode_cursor(before, 1, "page[before]")
        found = list(islice(collection.by_id(before=before_id, keep=keep), size + 1))
        has_more = len(found) > size
        found = list(reversed(found[:size]))
    else:
        after_id = decode_cursor(after, 1, "page[after]")[0] if after else None
        found = list(islice(collection.by_id(after_id, keep=keep), size + 1))
        has_more = len(found) > size
        found = found[:size]
    request.page = PageServed(size, CURSOR_PAGE_MAX, len(found), has_more)
    after_cursor = encode_cursor(found[-1]["id"]) if found else None
    before_cursor = encode_cursor(found[0]["id"]) if found else None
    carried = _carried(request, ("page[size]", "page[after]", "page[before]"))
    size_param = {"page[size]": str(size)}
    return json_response(
        {
            resource: [with_url(request, collection, r) for r in found],
            "meta": {"has_more": has_more, "after_cursor": after_cursor, "before_cursor": before_cursor},
            "links": {
                "next": page_url(request, {**carried, **size_param, "page[after]": after_cursor})
                if after_cursor
                else None,
                "prev": page_url(request, {**carried, **size_param, "page[before]": before_cursor})
                if before_cursor
                else None,
            },
        }
    )


def _offset_page(
    request: Request,
    collection: Collection,
    resource: str,
    keep: Callable[[Record], bool] | None,
    endpoint: str,
) -> Response:
    page = max(1, _int(request, "page", 1, "page", endpoint))
    per_page = min(
        OFFSET_PER_PAGE_MAX, max(1, _int(request, "per_page", OFFSET_PER_PAGE_MAX, "per_page", endpoint))
    )
    if page * per_page > OFFSET_RECORDS_MAX:
        raise errors.offset_too_deep()
    matching = list(collection.by_id(keep=keep))
    start = (page - 1) * per_page
    found = matching[start : start + per_page]
    carried = _carried(request, ("page", "per_page"))
    more = start + per_page < len(matching)
    request.page = PageServed(per_page, OFFSET_PER_PAGE_MAX, len(found), more)
    return json_response(
        {
            resource: [with_url(request, collection, r) for r in found],
            "next_page": page_url(request, {**carried, "page": str(page + 1), "per_page": str(per_page)})
            if more
            else None,
            "previous_page": page_url(request, {**carried, "page": str(page - 1), "per_page": str(per_page)})
            if page > 1
            else None,
            "count": len(matching),
        }
    )
