"""Paginators fed plain dicts: end signals, last pages that still carry a cursor, loops, bad shapes."""

from __future__ import annotations

import pytest

from healthsync.connectors.paging import (
    HubSpotAfterPaginator,
    SalesforceQueryPaginator,
    ZendeskCursorPaginator,
    ZendeskExportPaginator,
    ZendeskTimeExportPaginator,
)
from healthsync.errors import PaginationError


def test_salesforce_follows_next_records_url_until_done() -> None:
    p = SalesforceQueryPaginator()
    p.read({"done": False, "records": [{}] * 2000, "nextRecordsUrl": "/services/data/v62.0/query/01gX-2000"})
    assert not p.done
    assert p.next_url() == "/services/data/v62.0/query/01gX-2000"
    p.read({"done": True, "records": [{}], "nextRecordsUrl": "/services/data/v62.0/query/01gX-4000"})
    assert p.done  # `done` wins even when a URL is still there


def test_salesforce_loop_and_shape_errors() -> None:
    p = SalesforceQueryPaginator()
    page = {"done": False, "records": [], "nextRecordsUrl": "/q/1"}
    p.read(page)
    with pytest.raises(PaginationError, match="repeated"):
        p.read(page)
    with pytest.raises(PaginationError, match="nextRecordsUrl"):
        SalesforceQueryPaginator().read({"done": False, "records": []})
    with pytest.raises(PaginationError, match="unexpected shape"):
        SalesforceQueryPaginator().read([])  # type: ignore[arg-type]


def test_hubspot_after_until_absent() -> None:
    p = HubSpotAfterPaginator()
    assert p.next_params() == {}
    p.read({"results": [{}] * 100, "paging": {"next": {"after": "100", "link": "x"}}})
    assert p.next_params() == {"after": "100"}
    p.read({"results": [{}] * 7})
    assert p.done


def test_hubspot_empty_last_page_and_loops() -> None:
    p = HubSpotAfterPaginator()
    p.read({"results": [], "paging": {"next": {"after": ""}}})
    assert p.done
    p = HubSpotAfterPaginator()
    p.read({"results": [{}], "paging": {"next": {"after": "5"}}})
    with pytest.raises(PaginationError):
        p.read({"results": [{}], "paging": {"next": {"after": "5"}}})
    with pytest.raises(PaginationError, match="results"):
        HubSpotAfterPaginator().read({"status": "error"})


def test_zendesk_export_keeps_the_last_cursor_to_resume_from() -> None:
    p = ZendeskExportPaginator()
    p.read({"tickets": [{}] * 1000, "after_cursor": "c1", "end_of_stream": False})
    assert p.next_params() == {"cursor": "c1"}
    p.read({"tickets": [{}] * 3, "after_cursor": "c2", "end_of_stream": True})
    assert p.done
    assert p.resume_cursor == "c2"


def test_zendesk_export_errors() -> None:
    with pytest.raises(PaginationError, match="after_cursor"):
        ZendeskExportPaginator().read({"tickets": [], "end_of_stream": False})
    p = ZendeskExportPaginator()
    p.read({"tickets": [], "after_cursor": "same", "end_of_stream": False})
    with pytest.raises(PaginationError, match="repeated"):
        p.read({"tickets": [], "after_cursor": "same", "end_of_stream": False})


def test_zendesk_list_cursor() -> None:
    p = ZendeskCursorPaginator()
    p.read({"organizations": [{}] * 100, "meta": {"has_more": True, "after_cursor": "a"}, "links": {}})
    assert p.next_params() == {"page[after]": "a"}
    p.read({"organizations": [{}], "meta": {"has_more": False, "after_cursor": "b"}})
    assert p.done
    with pytest.raises(PaginationError, match="after_cursor"):
        ZendeskCursorPaginator().read({"meta": {"has_more": True}})


def test_zendesk_time_export_follows_end_time_until_end_of_stream() -> None:
    p = ZendeskTimeExportPaginator()
    p.begin(0)
    assert p.next_params() == {"start_time": "0"}
    p.read({"organizations": [{}] * 1000, "end_time": 1_700_000_000, "end_of_stream": False})
    assert p.next_params() == {"start_time": "1700000000"}
    p.read({"organizations": [{}] * 5, "end_time": 1_700_000_500, "end_of_stream": True})
    assert p.done
    with pytest.raises(PaginationError, match="no next page"):
        p.next_params()


def test_zendesk_time_export_errors_name_the_vendor() -> None:
    with pytest.raises(PaginationError, match="end_of_stream") as missing:
        ZendeskTimeExportPaginator().read({"organizations": []})
    assert missing.value.vendor == "zendesk"
    with pytest.raises(PaginationError, match="numeric `end_time`"):
        ZendeskTimeExportPaginator().read({"organizations": [], "end_time": True, "end_of_stream": False})
    stalled = ZendeskTimeExportPaginator()
    stalled.begin(0)
    stalled.read({"organizations": [{}], "end_time": 10, "end_of_stream": False})
    with pytest.raises(PaginationError, match="repeated"):
        stalled.read({"organizations": [{}], "end_time": 10, "end_of_stream": False})
