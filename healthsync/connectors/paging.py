"""Paginators: read a page, say what the next request needs, and know when to stop.

One small object per vendor paging scheme, tested with plain dicts and no HTTP. Each stops on the
vendor's own end signal (Salesforce `done`, HubSpot without `paging.next.after`, Zendesk
`end_of_stream` / `meta.has_more`), never on "the page came back empty" alone, and raises
`PaginationError` when a token repeats — an API that keeps handing out the same cursor would
otherwise loop forever (dlt-hub/dlt#3358, dlt-hub/dlt#2816).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from healthsync.errors import PaginationError

__all__ = [
    "HubSpotAfterPaginator",
    "Paginator",
    "SalesforceQueryPaginator",
    "ZendeskCursorPaginator",
    "ZendeskExportPaginator",
    "ZendeskTimeExportPaginator",
]


def _shape_error(vendor: str, what: str, page: Any) -> PaginationError:
    keys = sorted(page) if isinstance(page, Mapping) else type(page).__name__
    return PaginationError(f"page in an unexpected shape: {what} (got keys {keys})", vendor=vendor)


@dataclass
class Paginator:
    """Base: tracks tokens seen so a repeated one is caught; subclasses read their vendor's page."""

    vendor: str = ""
    done: bool = False
    token: str | None = None
    _seen: set[str] = field(default_factory=set, repr=False)

    def read(self, page: Mapping[str, Any]) -> None:  # pragma: no cover - abstract
        """Take in one page's body and update `token` / `done`."""
        raise NotImplementedError

    def _advance(self, token: str | None) -> None:
        if token is None:
            self.done = True
            return
        if token in self._seen:
            raise PaginationError(f"cursor {token[:40]!r} repeated: the API is looping", vendor=self.vendor)
        self._seen.add(token)
        self.token = token


@dataclass
class SalesforceQueryPaginator(Paginator):
    """SOQL query pages: follow `nextRecordsUrl` until `done` is true.

    https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_query.htm
    """

    vendor: str = "salesforce"

    def read(self, page: Mapping[str, Any]) -> None:
        """Take `done` and `nextRecordsUrl` from a query response."""
        if not isinstance(page, Mapping) or "done" not in page or not isinstance(page.get("records"), list):
            raise _shape_error(self.vendor, "a query result needs `done` and `records`", page)
        if page["done"]:
            self._advance(None)
            return
        url = page.get("nextRecordsUrl")
        if not isinstance(url, str) or not url:
            raise _shape_error(self.vendor, "`done` is false but there is no `nextRecordsUrl`", page)
        self._advance(url)

    def next_url(self) -> str:
        """The relative URL of the next page."""
        if self.token is None or self.done:
            raise PaginationError("no next page", vendor=self.vendor)
        return self.token


@dataclass
class HubSpotAfterPaginator(Paginator):
    """HubSpot list and search pages: pass `after` from `paging.next.after` until it is absent.

    https://developers.hubspot.com/docs/api/crm/understanding-the-crm (paging)
    """

    vendor: str = "hubspot"

    def read(self, page: Mapping[str, Any]) -> None:
        """Take `paging.next.after` from a list or search response."""
        if not isinstance(page, Mapping) or not isinstance(page.get("results"), list):
            raise _shape_error(self.vendor, "a list needs `results`", page)
        paging = page.get("paging") or {}
        after = ((paging.get("next") or {}) if isinstance(paging, Mapping) else {}).get("after")
        self._advance(str(after) if after not in (None, "") else None)

    def next_params(self) -> dict[str, str]:
        """Parameters to add to the next request (`after`), empty before the first page."""
        return {"after": self.token} if self.token is not None else {}


@dataclass
class ZendeskExportPaginator(Paginator):
    """Zendesk incremental cursor export: follow `after_cursor` until `end_of_stream`.

    Unlike the others, the last cursor is kept after the end: it is where the next run resumes
    (https://developer.zendesk.com/api-reference/ticketing/ticket-management/incremental_exports/).
    """

    vendor: str = "zendesk"
    resume_cursor: str | None = None

    def read(self, page: Mapping[str, Any]) -> None:
        """Take `after_cursor` and `end_of_stream` from an export page."""
        if not isinstance(page, Mapping) or "end_of_stream" not in page:
            raise _shape_error(self.vendor, "an export page needs `end_of_stream`", page)
        cursor = page.get("after_cursor")
        if cursor:
            self.resume_cursor = str(cursor)
        if page["end_of_stream"]:
            self.done = True
            return
        if not cursor:
            raise _shape_error(self.vendor, "`end_of_stream` is false but there is no `after_cursor`", page)
        self._advance(str(cursor))

    def next_params(self) -> dict[str, str]:
        """`cursor=` for the next page."""
        return {"cursor": self.token} if self.token is not None else {}


@dataclass
class ZendeskTimeExportPaginator(Paginator):
    """Zendesk time-based incremental export: next `start_time` is the page's `end_time`.

    Used for organizations, which only have a time-based export. Stops on `end_of_stream`; an
    `end_time` that repeats means the export is not moving and raises `PaginationError`.
    https://developer.zendesk.com/api-reference/ticketing/ticket-management/incremental_exports/#time-based-incremental-exports
    """

    vendor: str = "zendesk"

    def begin(self, start_time: int) -> None:
        """The first request's `start_time`."""
        self._advance(str(start_time))

    def read(self, page: Mapping[str, Any]) -> None:
        """Take `end_of_stream` and `end_time` from an export page."""
        if not isinstance(page, Mapping) or "end_of_stream" not in page:
            raise _shape_error(self.vendor, "a time-based export page needs `end_of_stream`", page)
        if page["end_of_stream"]:
            self._advance(None)
            return
        end_time = page.get("end_time")
        if isinstance(end_time, bool) or not isinstance(end_time, int | float):
            what = "`end_of_stream` is false but there is no numeric `end_time`"
            raise _shape_error(self.vendor, what, page)
        self._advance(str(int(end_time)))

    def next_params(self) -> dict[str, str]:
        """`start_time=` for the next page."""
        if self.token is None or self.done:
            raise PaginationError("no next page", vendor=self.vendor)
        return {"start_time": self.token}


@dataclass
class ZendeskCursorPaginator(Paginator):
    """Zendesk cursor-based pagination of lists: `meta.has_more` and `meta.after_cursor`.

    https://developer.zendesk.com/api-reference/introduction/pagination/
    """

    vendor: str = "zendesk"

    def read(self, page: Mapping[str, Any]) -> None:
        """Take `meta.has_more` / `meta.after_cursor` from a list page."""
        meta = page.get("meta") if isinstance(page, Mapping) else None
        if not isinstance(meta, Mapping) or "has_more" not in meta:
            raise _shape_error(self.vendor, "a cursor page needs `meta.has_more`", page)
        if not meta["has_more"]:
            self._advance(None)
            return
        cursor = meta.get("after_cursor")
        if not cursor:
            raise _shape_error(self.vendor, "`has_more` is true but there is no `after_cursor`", page)
        self._advance(str(cursor))

    def next_params(self) -> dict[str, str]:
        """`page[after]=` for the next page."""
        return {"page[after]": self.token} if self.token is not None else {}
