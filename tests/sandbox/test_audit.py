"""The page-size audit: each vendor app records the page size in effect and whether records remained.

`tests/conftest.py` fails any test that leaves an undersized read behind; this module checks that
the recording it relies on is right, per vendor and paging style, on the six-customer dataset.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from healthsync.sandbox import Sandbox
from healthsync.sandbox.dataset import Dataset
from healthsync.sandbox.stats import PageRead, undersized_mark, undersized_since

pytestmark = pytest.mark.undersized_pages(reason="reads small pages on purpose to check the audit sees them")


@pytest.fixture
def box(small_dataset: Dataset) -> Iterator[Sandbox]:
    with Sandbox(dataset=small_dataset, generate=False, start=small_dataset.now) as sandbox:
        yield sandbox


def _hubspot(box: Sandbox) -> requests.Session:
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {box.info()['hubspot']['access_token']}"
    return session


def _zendesk(box: Sandbox) -> requests.Session:
    creds = box.info()["zendesk"]
    session = requests.Session()
    session.auth = (f"{creds['email']}/token", creds["token"])
    return session


def _salesforce(box: Sandbox) -> requests.Session:
    info = box.info()["salesforce"]
    session = requests.Session()
    session.verify = info["ca_bundle"]
    session.trust_env = False
    session.headers["Authorization"] = f"Bearer {info['access_token']}"
    return session


def test_hubspot_list_search_and_batches_are_recorded(box: Sandbox) -> None:
    mark = undersized_mark()
    with _hubspot(box) as http:
        companies = f"{box.url}/crm/v3/objects/companies"
        http.get(companies, params={"limit": 2}).raise_for_status()  # 5 companies: 3 remain
        http.get(companies).raise_for_status()  # the default page of 10 holds all 5: fine
        http.get(companies, params={"limit": 100}).raise_for_status()
        http.post(f"{companies}/search", json={"limit": 200}).raise_for_status()
        http.post(f"{companies}/search", json={"limit": 0}).raise_for_status()  # a count, not a page
        inputs = [{"id": "10000000000"}, {"id": "10000000001"}, {"id": "1"}]
        assert http.post(f"{companies}/batch/read", json={"inputs": inputs}).status_code == 207
    list_endpoint = "GET /crm/v3/objects/{objectType}"
    search = "POST /crm/v3/objects/{objectType}/search"
    assert box.stats.reads("hubspot") == [
        PageRead("hubspot", list_endpoint, 2, 100, 2, True),
        PageRead("hubspot", list_endpoint, 10, 100, 5, False),
        PageRead("hubspot", list_endpoint, 100, 100, 5, False),
        PageRead("hubspot", search, 200, 200, 5, False),
    ]
    [batch] = box.stats.batches("hubspot")
    assert (batch.endpoint, batch.kind, batch.inputs, batch.maximum) == (
        "POST /crm/v3/objects/{objectType}/batch/read",
        "read",
        3,
        100,
    )
    undersized = [PageRead("hubspot", list_endpoint, 2, 100, 2, True)]
    assert box.stats.undersized() == undersized
    assert undersized_since(mark) == undersized


def test_salesforce_query_pages_and_collections_are_recorded(box: Sandbox) -> None:
    info = box.info()["salesforce"]
    base = f"{info['instance_url']}/services/data/v{info['api_version']}"
    with _salesforce(box) as http:
        http.get(f"{base}/query/", params={"q": "SELECT Id FROM Account"}).raise_for_status()
        http.get(
            f"{base}/query/",
            params={"q": "SELECT Id FROM Account"},
            headers={"Sforce-Query-Options": "batchSize=10"},  # clamped to the minimum, 200
        ).raise_for_status()
        http.get(f"{base}/query/", params={"q": "SELECT COUNT() FROM Account"}).raise_for_status()
        ids = [r["Id"] for r in box.app("salesforce").state("Account")[:2]]
        body = {"allOrNone": False, "records": [{"attributes": {"type": "Account"}, "id": i} for i in ids]}
        http.patch(f"{base}/composite/sobjects", json=body).raise_for_status()
    query = "GET /services/data/{version}/query"
    assert box.stats.reads("salesforce") == [
        PageRead("salesforce", query, 2000, 2000, 5, False),
        PageRead("salesforce", query, 200, 2000, 5, False),  # small, but nothing remained
    ]
    assert [(b.endpoint, b.inputs, b.maximum) for b in box.stats.batches("salesforce")] == [
        ("PATCH /services/data/{version}/composite/sobjects", 2, 200)
    ]
    assert box.stats.undersized() == []


def test_zendesk_cursor_offset_and_export_pages_are_recorded(box: Sandbox) -> None:
    url = box.info()["zendesk"]["url"]
    with _zendesk(box) as http:
        http.get(f"{url}/api/v2/organizations.json", params={"page[size]": 2}).raise_for_status()
        http.get(f"{url}/api/v2/users.json", params={"per_page": 500}).raise_for_status()  # served as 100
        export = {"start_time": 0, "per_page": 1000}
        http.get(f"{url}/api/v2/incremental/tickets/cursor.json", params=export).raise_for_status()
        http.get(f"{url}/api/v2/tickets/show_many.json", params={"ids": "1,2,3"}).raise_for_status()
    organizations = PageRead("zendesk", "GET /api/v2/organizations.json", 2, 100, 2, True)
    assert box.stats.reads("zendesk") == [
        organizations,
        PageRead("zendesk", "GET /api/v2/users.json", 100, 100, 7, False),  # 5 users, an agent, the admin
        PageRead("zendesk", "GET /api/v2/incremental/tickets/cursor.json", 1000, 1000, 6, False),
    ]
    assert [(b.inputs, b.maximum) for b in box.stats.batches("zendesk")] == [(3, 100)]
    assert box.stats.undersized() == [organizations]


def test_the_control_endpoint_reports_and_a_reset_keeps_the_evidence(box: Sandbox) -> None:
    with _hubspot(box) as http:
        http.get(f"{box.url}/crm/v3/objects/companies", params={"limit": 1}).raise_for_status()
    audit = requests.get(f"{box.url}/_sandbox/audit", timeout=5).json()
    entry = {
        "vendor": "hubspot",
        "endpoint": "GET /crm/v3/objects/{objectType}",
        "size": 1,
        "maximum": 100,
        "returned": 1,
        "more": True,
    }
    assert audit == {"reads": [entry], "batches": [], "undersized": [entry]}
    requests.post(f"{box.url}/_sandbox/stats/reset", timeout=5).raise_for_status()
    audit = requests.get(f"{box.url}/_sandbox/audit", timeout=5).json()
    assert audit == {"reads": [], "batches": [], "undersized": [entry]}
