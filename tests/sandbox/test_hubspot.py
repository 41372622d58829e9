"""HubSpot sandbox contract: records, paging, batches and search through the unmodified hubspot-api-client.

hubspot-api-client talks urllib3 directly, so these tests drive a real sandbox on a free port and check
raw responses (fetched with `requests`) against HubSpot's published OpenAPI specs.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from helpers import sandboxes
from helpers.data import companies, crm_dataset
from hubspot import HubSpot
from hubspot.crm.companies import (
    ApiException,
    BatchInputSimplePublicObjectBatchInput,
    BatchInputSimplePublicObjectBatchInputForCreate,
    BatchInputSimplePublicObjectBatchInputUpsert,
    BatchReadInputSimplePublicObjectId,
    PublicObjectSearchRequest,
    SimplePublicObjectInput,
    SimplePublicObjectInputForCreate,
)
from specs import assert_matches_spec

from healthsync.sandbox import Sandbox
from healthsync.sandbox.dataset import Dataset
from healthsync.sandbox.hubspot import HubSpotApp

COMPANY_BASE = 10_000_000_000
COMPANIES_SPEC = "hubspot/crm-companies-v3.json"
OBJECTS_SPEC = "hubspot/crm-objects-v3.json"


def many_customers(count: int, workdir: Path) -> Dataset:
    """A dataset of `count` CRM companies (`helpers.data.companies`), cheap enough for the 10,000-result cap."""
    return crm_dataset(workdir, companies(count))


def spec_view(body: Any) -> Any:
    """The body without `null` property values: HubSpot sends them, its spec types values as strings."""
    if isinstance(body, dict):
        return {
            k: (
                {pk: pv for pk, pv in v.items() if pv is not None}
                if k == "properties" and isinstance(v, dict)
                else spec_view(v)
            )
            for k, v in body.items()
        }
    if isinstance(body, list):
        return [spec_view(item) for item in body]
    return body


def check(spec: str, response: requests.Response, path: str | None = None) -> Any:
    """Validate a raw response against the vendor spec and return its JSON."""
    body = response.json() if response.content else None
    template = path or requests.utils.urlparse(response.request.url).path
    assert_matches_spec(spec, response.request.method, template, response.status_code, spec_view(body))
    return body


@pytest.fixture
def box(small_dataset: Dataset):
    with Sandbox(dataset=small_dataset, apps=[HubSpotApp], generate=False) as sandbox:
        yield sandbox


def sdk(sandbox: Sandbox) -> HubSpot:
    info = sandbox.info()["hubspot"]
    return HubSpot(access_token=info["access_token"], host=info["host"])


@pytest.fixture
def client(box: Sandbox) -> HubSpot:
    return sdk(box)


@pytest.fixture
def http(box: Sandbox):
    with requests.Session() as session:
        session.headers["Authorization"] = f"Bearer {box.info()['hubspot']['access_token']}"
        yield session


def stats(sandbox: Sandbox) -> dict[str, Any]:
    return requests.get(f"{sandbox.url}/_sandbox/stats", timeout=5).json().get("hubspot", {})


def state(sandbox: Sandbox, name: str) -> list[dict[str, Any]]:
    return sandboxes.state(sandbox, "hubspot", name)


def api_error_body(exc: pytest.ExceptionInfo[ApiException]) -> dict[str, Any]:
    return json.loads(exc.value.body)


# --- seed and state ----------------------------------------------------------------------------


def test_seed_projects_crm_customers_with_derived_ids(box: Sandbox) -> None:
    companies = state(box, "companies")
    assert [c["id"] for c in companies] == [
        str(COMPANY_BASE + i) for i in range(5)
    ]  # index 5 is support-only
    acme = companies[0]["properties"]
    assert acme["name"] == "Acme Corp"
    assert acme["customer_key"] == "C000000"
    assert acme["contract_start_date"] == "2026-01-01"
    assert acme["annualrevenue"] == "12000"
    assert acme["hubspot_owner_id"] == state(box, "owners")[0]["id"]
    info = box.info()["hubspot"]
    assert info == {"host": box.url, "access_token": info["access_token"]}
    assert set(requests.get(f"{box.url}/_sandbox/state/hubspot", timeout=5).json()["objects"]) >= {
        "companies",
        "deals",
        "tasks",
        "owners",
        "properties",
        "pipelines",
        "associations",
    }


def test_unprovisioned_portal_has_only_standard_properties(small_dataset: Dataset) -> None:
    with Sandbox(dataset=small_dataset, apps=[HubSpotApp], generate=False, provisioned=False) as sandbox:
        client = sdk(sandbox)
        names = {p.name for p in client.crm.properties.core_api.get_all("companies").results}
        assert "name" in names
        assert "customer_key" not in names
        assert [p.label for p in client.crm.pipelines.pipelines_api.get_all("deals").results] == [
            "Sales Pipeline"
        ]
        with pytest.raises(ApiException) as exc:
            client.crm.companies.basic_api.update(
                str(COMPANY_BASE), SimplePublicObjectInput(properties={"healthsync_score": "71"})
            )
        assert exc.value.status == 400
        body = api_error_body(exc)
        assert body["category"] == "VALIDATION_ERROR"
        assert '"error":"PROPERTY_DOESNT_EXIST","name":"healthsync_score"' in body["message"]


# --- list, read, archive -------------------------------------------------------------------------


def test_list_pages_to_the_end_at_100_per_call(tmp_path: Path) -> None:
    with Sandbox(dataset=many_customers(450, tmp_path), apps=[HubSpotApp], generate=False) as sandbox:
        companies = sdk(sandbox).crm.companies.get_all(properties=["name", "customer_key"])
        assert len(companies) == 450
        assert len({c.id for c in companies}) == 450
        assert companies[-1].properties["customer_key"] == "C000449"
        assert stats(sandbox)["by_endpoint"]["GET /crm/v3/objects/{objectType}"] == 5
        with requests.Session() as http:
            http.headers["Authorization"] = f"Bearer {sandbox.info()['hubspot']['access_token']}"
            first = http.get(f"{sandbox.url}/crm/v3/objects/companies", params={"limit": 100})
            body = check(COMPANIES_SPEC, first)
            assert body["paging"]["next"]["after"] == str(COMPANY_BASE + 100)
            following = http.get(body["paging"]["next"]["link"])
            assert following.json()["results"][0]["id"] == str(COMPANY_BASE + 100)
            too_many = http.get(f"{sandbox.url}/crm/v3/objects/companies", params={"limit": 101})
            assert check(COMPANIES_SPEC, too_many)["category"] == "VALIDATION_ERROR"
            assert too_many.status_code == 400


def test_properties_repeat_or_comma_join_and_unset_ones_are_null(
    box: Sandbox, http: requests.Session
) -> None:
    url = f"{box.url}/crm/v3/objects/companies"
    repeated = http.get(url, params=[("properties", "name"), ("properties", "phone"), ("archived", "False")])
    joined = http.get(url, params={"properties": "name,phone"})
    assert repeated.json() == joined.json()
    props = check(COMPANIES_SPEC, repeated)["results"][0]["properties"]
    assert props == {
        "name": "Acme Corp",
        "phone": None,
        "createdate": props["createdate"],
        "hs_lastmodifieddate": props["hs_lastmodifieddate"],
        "hs_object_id": str(COMPANY_BASE),
    }
    default = http.get(url).json()["results"][0]["properties"]
    assert set(default) == {"name", "domain", "createdate", "hs_lastmodifieddate", "hs_object_id"}


def test_archive_hides_records_except_from_archived_reads(
    box: Sandbox, client: HubSpot, http: requests.Session
) -> None:
    target = str(COMPANY_BASE + 2)
    client.crm.companies.basic_api.archive(target)
    live = {c.id for c in client.crm.companies.get_all()}
    assert target not in live
    assert len(live) == 4
    archived = client.crm.companies.basic_api.get_page(archived=True)
    assert [c.id for c in archived.results] == [target]
    assert archived.results[0].archived is True
    with pytest.raises(ApiException) as exc:
        client.crm.companies.basic_api.get_by_id(target)
    assert exc.value.status == 404
    check(COMPANIES_SPEC, http.get(f"{box.url}/crm/v3/objects/companies/{target}"))
    assert client.crm.companies.basic_api.get_by_id(target, archived=True).archived_at is not None
    search = client.crm.companies.search_api.do_search(PublicObjectSearchRequest(limit=100))
    assert target not in {c.id for c in search.results}


def test_single_record_crud_and_the_modified_stamp(
    box: Sandbox, client: HubSpot, http: requests.Session
) -> None:
    created = client.crm.companies.basic_api.create(
        SimplePublicObjectInputForCreate(properties={"name": "Newco", "customer_key": "C900000", "arr": 5000})
    )
    assert created.properties["arr"] == "5000"
    by_key = client.crm.companies.basic_api.get_by_id(
        "C900000", id_property="customer_key", properties=["name"]
    )
    assert by_key.id == created.id
    before = created.properties["hs_lastmodifieddate"]
    box.clock.advance(3)  # the business clock alone (`/_sandbox/advance` also evolves the data)
    patched = client.crm.companies.basic_api.update(
        created.id, SimplePublicObjectInput(properties={"healthsync_band": "red"})
    )
    assert patched.properties["hs_lastmodifieddate"] > before
    assert patched.updated_at - created.updated_at >= timedelta(days=3)
    response = http.patch(
        f"{box.url}/crm/v3/objects/companies/{created.id}", json={"properties": {"healthsync_band": "purple"}}
    )
    body = check(COMPANIES_SPEC, response)
    assert response.status_code == 400
    assert '"error":"INVALID_OPTION","name":"healthsync_band"' in body["message"]
    clash = http.post(f"{box.url}/crm/v3/objects/companies", json={"properties": {"customer_key": "C000001"}})
    assert clash.status_code == 409
    assert check(COMPANIES_SPEC, clash)["category"] == "CONFLICT"
    assert f"Existing ID: {COMPANY_BASE + 1}" in clash.json()["message"]
    check(
        COMPANIES_SPEC,
        http.post(f"{box.url}/crm/v3/objects/companies", json={"properties": {"name": "Spec"}}),
    )


# --- batches --------------------------------------------------------------------------------------


def test_batch_read_answers_207_for_missing_ids(
    box: Sandbox, client: HubSpot, http: requests.Session
) -> None:
    wanted = [str(COMPANY_BASE), "999", str(COMPANY_BASE + 1)]
    result = client.crm.companies.batch_api.read(
        BatchReadInputSimplePublicObjectId(
            inputs=[{"id": i} for i in wanted], properties=["name"], properties_with_history=[]
        )
    )
    assert type(result).__name__ == "BatchResponseSimplePublicObjectWithErrors"
    assert sorted(r.id for r in result.results) == [str(COMPANY_BASE), str(COMPANY_BASE + 1)]
    assert result.num_errors == 1
    assert result.errors[0].category == "OBJECT_NOT_FOUND"
    assert result.errors[0].context == {"ids": ["999"]}
    raw = http.post(
        f"{box.url}/crm/v3/objects/companies/batch/read",
        params={"archived": "false"},
        json={
            "idProperty": "customer_key",
            "inputs": [{"id": "C000003"}, {"id": "C404"}],
            "properties": ["name"],
        },
    )
    assert raw.status_code == 207
    body = check(COMPANIES_SPEC, raw)
    assert [r["properties"]["name"] for r in body["results"]] == ["Umbrella Health"]
    assert body["status"] == "COMPLETE"


def test_batch_update_applies_what_it_can_and_reports_the_rest(
    box: Sandbox, client: HubSpot, http: requests.Session
) -> None:
    inputs = [
        {"id": str(COMPANY_BASE), "properties": {"healthsync_score": "71.5", "healthsync_band": "green"}},
        {"id": "424242", "properties": {"healthsync_score": "10"}},
        {"id": str(COMPANY_BASE + 1), "properties": {"no_such_field": "x"}},
        {"id": str(COMPANY_BASE + 2), "properties": {"healthsync_band": "purple"}},
        {"id": str(COMPANY_BASE + 3), "properties": {"healthsync_score": "high"}},
    ]
    result = client.crm.companies.batch_api.update(BatchInputSimplePublicObjectBatchInput(inputs=inputs))
    assert type(result).__name__ == "BatchResponseSimplePublicObjectWithErrors"
    assert result.num_errors == 4
    assert [r.id for r in result.results] == [str(COMPANY_BASE)]
    by_context = {tuple(e.context["ids"]): e for e in result.errors}
    assert by_context[("424242",)].category == "OBJECT_NOT_FOUND"
    assert "PROPERTY_DOESNT_EXIST" in by_context[(str(COMPANY_BASE + 1),)].message
    assert "INVALID_OPTION" in by_context[(str(COMPANY_BASE + 2),)].message
    assert "INVALID_LONG" in by_context[(str(COMPANY_BASE + 3),)].message
    stored = {c["id"]: c["properties"] for c in state(box, "companies")}
    assert stored[str(COMPANY_BASE)]["healthsync_score"] == "71.5"
    assert "healthsync_band" not in stored[str(COMPANY_BASE + 2)]
    raw = http.post(f"{box.url}/crm/v3/objects/companies/batch/update", json={"inputs": inputs})
    assert raw.status_code == 207
    check(COMPANIES_SPEC, raw)
    ok = http.post(f"{box.url}/crm/v3/objects/companies/batch/update", json={"inputs": inputs[:1]})
    assert ok.status_code == 200
    check(COMPANIES_SPEC, ok)


def test_batch_upsert_by_unique_property_never_duplicates(
    box: Sandbox, client: HubSpot, http: requests.Session
) -> None:
    def upsert(score: str) -> Any:
        return client.crm.companies.batch_api.upsert(
            BatchInputSimplePublicObjectBatchInputUpsert(
                inputs=[
                    {
                        "idProperty": "customer_key",
                        "id": "C777777",
                        "properties": {"name": "Upserted", "healthsync_score": score},
                    },
                    {
                        "idProperty": "customer_key",
                        "id": "C000004",
                        "properties": {"healthsync_score": score},
                    },
                ]
            )
        )

    first = upsert("50")
    assert [r.new for r in first.results] == [True, False]
    assert first.results[1].id == str(COMPANY_BASE + 4)
    second = upsert("60")
    assert [r.new for r in second.results] == [False, False]
    assert second.results[0].id == first.results[0].id
    assert second.results[0].properties["healthsync_score"] == "60"
    companies = state(box, "companies")
    assert sum(1 for c in companies if c["properties"].get("customer_key") == "C777777") == 1
    assert len(companies) == 6
    body = {
        "inputs": [{"idProperty": "customer_key", "id": "C000004", "properties": {"healthsync_score": "61"}}]
    }
    check(COMPANIES_SPEC, http.post(f"{box.url}/crm/v3/objects/companies/batch/upsert", json=body))
    by_name = http.post(
        f"{box.url}/crm/v3/objects/companies/batch/upsert",
        json={"inputs": [{"idProperty": "name", "id": "Acme Corp", "properties": {}}]},
    )
    assert by_name.status_code == 400
    assert check(COMPANIES_SPEC, by_name)["message"].startswith(
        "Unable to perform update/upsert by non-unique 0-2 property name"
    )


@pytest.mark.parametrize("operation", ["read", "create", "update", "upsert", "archive"])
def test_101_inputs_is_a_400(box: Sandbox, client: HubSpot, http: requests.Session, operation: str) -> None:
    inputs = [
        {"id": str(COMPANY_BASE + i), "idProperty": "customer_key", "properties": {}} for i in range(101)
    ]
    response = http.post(f"{box.url}/crm/v3/objects/companies/batch/{operation}", json={"inputs": inputs})
    assert response.status_code == 400
    body = check(COMPANIES_SPEC, response)
    assert body["category"] == "VALIDATION_ERROR"
    assert "maximum number of inputs supported in a batch request is 100" in body["message"]
    assert response.headers["X-HubSpot-RateLimit-Max"] == "100"


def test_101_inputs_raise_api_exception_in_the_sdk(client: HubSpot) -> None:
    with pytest.raises(ApiException) as exc:
        client.crm.companies.batch_api.create(
            BatchInputSimplePublicObjectBatchInputForCreate(
                inputs=[{"properties": {"name": f"n{i}"}, "associations": []} for i in range(101)]
            )
        )
    assert exc.value.status == 400
    assert api_error_body(exc)["category"] == "VALIDATION_ERROR"


def test_batch_create_is_all_or_nothing(box: Sandbox, http: requests.Session) -> None:
    inputs = [
        {"properties": {"name": "A", "customer_key": "K1"}},
        {"properties": {"name": "B", "customer_key": "K1"}},
    ]
    duplicate = http.post(f"{box.url}/crm/v3/objects/companies/batch/create", json={"inputs": inputs})
    assert duplicate.status_code == 400
    bad = http.post(
        f"{box.url}/crm/v3/objects/companies/batch/create", json={"inputs": [{"properties": {"nope": "1"}}]}
    )
    assert "PROPERTY_DOESNT_EXIST" in check(COMPANIES_SPEC, bad)["message"]
    assert len(state(box, "companies")) == 5
    created = http.post(f"{box.url}/crm/v3/objects/companies/batch/create", json={"inputs": inputs[:1]})
    assert created.status_code == 201
    assert check(COMPANIES_SPEC, created)["results"][0]["properties"]["customer_key"] == "K1"


# --- search ---------------------------------------------------------------------------------------


def search(client: HubSpot, **body: Any) -> Any:
    return client.crm.companies.search_api.do_search(PublicObjectSearchRequest(**body))


@pytest.mark.undersized_pages(
    reason="pages a 4-result search by 2 to check `after` and the last page's paging"
)
def test_search_filters_sorts_and_pages(box: Sandbox, client: HubSpot, http: requests.Session) -> None:
    found = search(
        client,
        filter_groups=[{"filters": [{"propertyName": "arr", "operator": "GTE", "value": "24000"}]}],
        sorts=[{"propertyName": "arr", "direction": "DESCENDING"}],
        properties=["name", "arr"],
        limit=2,
    )
    assert found.total == 4
    assert [c.properties["arr"] for c in found.results] == ["60000", "48000"]
    rest = search(
        client,
        filter_groups=[{"filters": [{"propertyName": "arr", "operator": "GTE", "value": "24000"}]}],
        sorts=["-arr"],
        limit=2,
        after=found.paging.next.after,
    )
    assert [c.id for c in rest.results] == [str(COMPANY_BASE + 2), str(COMPANY_BASE + 1)]
    assert rest.paging is None
    # OR of ANDs, IN, BETWEEN and dates as epoch milliseconds or ISO.
    end = int(datetime(2027, 2, 15, tzinfo=UTC).timestamp() * 1000)
    either = search(
        client,
        filter_groups=[
            {"filters": [{"propertyName": "segment", "operator": "IN", "values": ["Enterprise"]}]},
            {
                "filters": [
                    {
                        "propertyName": "contract_end_date",
                        "operator": "BETWEEN",
                        "value": "2027-01-15",
                        "highValue": str(end),
                    },
                    {"propertyName": "healthsync_score", "operator": "NOT_HAS_PROPERTY"},
                ]
            },
        ],
        sorts=[{"propertyName": "hs_object_id", "direction": "ASCENDING"}],
    )
    assert [c.id for c in either.results] == [str(COMPANY_BASE + i) for i in (0, 1, 3)]
    token = search(
        client,
        filter_groups=[
            {"filters": [{"propertyName": "name", "operator": "CONTAINS_TOKEN", "value": "glob*"}]}
        ],
    )
    assert [c.properties["name"] for c in token.results] == ["Globex Corporation"]
    raw = http.post(
        f"{box.url}/crm/v3/objects/companies/search",
        json={"filterGroups": [], "limit": 2, "properties": ["name"]},
    )
    body = check(COMPANIES_SPEC, raw)
    assert body["total"] == 5
    assert body["paging"]["next"]["after"] == "2"
    assert "X-HubSpot-RateLimit-Max" not in raw.headers  # search answers carry no rate-limit headers
    assert stats(box)["read"] >= 5


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"limit": 201}, "limit"),
        (
            {"filterGroups": [{"filters": [{"propertyName": "name", "operator": "HAS_PROPERTY"}]}] * 6},
            "filter groups",
        ),
        (
            {"filterGroups": [{"filters": [{"propertyName": "name", "operator": "HAS_PROPERTY"}] * 7}]},
            "filters in a group",
        ),
        (
            {"filterGroups": [{"filters": [{"propertyName": "name", "operator": "HAS_PROPERTY"}] * 4}] * 5},
            "Too many filters",
        ),
        (
            {"filterGroups": [{"filters": [{"propertyName": "name", "operator": "LIKE", "value": "x"}]}]},
            "operator",
        ),
        ({"sorts": ["name", "domain"]}, "one sort"),
    ],
)
def test_search_limits_are_400s(
    box: Sandbox, http: requests.Session, body: dict[str, Any], fragment: str
) -> None:
    response = http.post(f"{box.url}/crm/v3/objects/companies/search", json=body)
    assert response.status_code == 400
    assert fragment in check(COMPANIES_SPEC, response)["message"]


def test_search_stops_at_10000_results(tmp_path: Path) -> None:
    with Sandbox(dataset=many_customers(10_050, tmp_path), apps=[HubSpotApp], generate=False) as sandbox:
        client = sdk(sandbox)
        seen: list[str] = []
        after: str | None = None
        while after != "10000":  # HubSpot still offers the next cursor at the cap; following it fails
            page = search(client, limit=200, after=after, sorts=["hs_object_id"], properties=["name"])
            assert page.total == 10_050
            seen += [c.id for c in page.results]
            after = page.paging.next.after
        with pytest.raises(ApiException) as exc:
            search(client, limit=200, after=after, sorts=["hs_object_id"])
        assert len(seen) == 10_000
        assert len(set(seen)) == 10_000
        assert exc.value.status == 400
        assert "10000" in api_error_body(exc)["message"]
        assert stats(sandbox)["by_endpoint"]["POST /crm/v3/objects/{objectType}/search"] == 51


def test_search_index_lag_hides_fresh_writes(box: Sandbox, client: HubSpot) -> None:
    box.app("hubspot").search_lag_seconds = 3600  # type: ignore[attr-defined]
    client.crm.companies.basic_api.create(SimplePublicObjectInputForCreate(properties={"name": "Fresh"}))
    assert search(client, query="fresh").total == 0
    box.app("hubspot").search_lag_seconds = 0  # type: ignore[attr-defined]
    assert search(client, query="fresh").total == 1
