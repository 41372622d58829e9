"""HubSpot sandbox contract: properties, pipelines, owners, associations, auth, errors and rate limits.

Driven through the unmodified hubspot-api-client; raw responses are validated against HubSpot's specs.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import timedelta
from typing import Any

import pytest
import requests
from hubspot import HubSpot
from hubspot.crm.companies import ApiException, PublicObjectSearchRequest, SimplePublicObjectInput
from hubspot.crm.objects import BatchInputSimplePublicObjectBatchInputForCreate
from hubspot.crm.pipelines import PipelineInput
from hubspot.crm.properties import ApiException as PropertiesApiException
from hubspot.crm.properties import BatchInputPropertyCreate, PropertyCreate, PropertyGroupCreate
from specs import assert_matches_spec
from urllib3.util.retry import Retry

from healthsync.sandbox import Sandbox
from healthsync.sandbox.dataset import Dataset, Delta
from healthsync.sandbox.hubspot import HubSpotApp
from healthsync.sandbox.limits import SlidingWindow

COMPANY_BASE = 10_000_000_000


def without_nulls(body: Any) -> Any:
    """The body minus `null` property values (HubSpot sends them; its spec types values as strings)."""
    if isinstance(body, dict):
        return {k: without_nulls(v) for k, v in body.items() if not (v is None and k != "archivedAt")}
    if isinstance(body, list):
        return [without_nulls(item) for item in body]
    return body


def check(spec: str, response: requests.Response) -> Any:
    """Validate a raw response against `hubspot/<spec>` and return its JSON."""
    body = response.json() if response.content else None
    path = requests.utils.urlparse(response.request.url).path
    assert_matches_spec(
        f"hubspot/{spec}", response.request.method, path, response.status_code, without_nulls(body)
    )
    return body


def sdk(sandbox: Sandbox, retry: Retry | None = None) -> HubSpot:
    info = sandbox.info()["hubspot"]
    return HubSpot(access_token=info["access_token"], host=info["host"], retry=retry)


@pytest.fixture
def box(small_dataset: Dataset):
    with Sandbox(dataset=small_dataset, apps=[HubSpotApp], generate=False) as sandbox:
        yield sandbox


@pytest.fixture
def client(box: Sandbox) -> HubSpot:
    return sdk(box)


@pytest.fixture
def http(box: Sandbox):
    with requests.Session() as session:
        session.headers["Authorization"] = f"Bearer {box.info()['hubspot']['access_token']}"
        yield session


def error_of(exc: pytest.ExceptionInfo[Any]) -> dict[str, Any]:
    return json.loads(exc.value.body)


# --- properties and groups ------------------------------------------------------------------------


def test_property_groups_and_properties_create_and_read_back(
    box: Sandbox, client: HubSpot, http: requests.Session
) -> None:
    props = client.crm.properties
    group = props.groups_api.create(
        "companies", PropertyGroupCreate(name="csm", label="CSM", display_order=3)
    )
    assert group.name == "csm"
    assert "csm" in {g.name for g in props.groups_api.get_all("companies").results}
    created = props.core_api.create(
        "companies",
        PropertyCreate(
            name="csm_tier",
            label="CSM tier",
            type="enumeration",
            field_type="select",
            group_name="csm",
            options=[
                {"label": "Gold", "value": "gold", "hidden": False},
                {"label": "Silver", "value": "silver", "hidden": False},
            ],
        ),
    )
    assert created.created_at is not None
    assert props.core_api.get_by_name("companies", "csm_tier").options[0].value == "gold"
    # Usable at once: written, then found by search.
    client.crm.companies.basic_api.update(
        str(COMPANY_BASE), SimplePublicObjectInput(properties={"csm_tier": "gold"})
    )
    found = client.crm.companies.search_api.do_search(
        PublicObjectSearchRequest(
            filter_groups=[{"filters": [{"propertyName": "csm_tier", "operator": "EQ", "value": "gold"}]}]
        )
    )
    assert [c.id for c in found.results] == [str(COMPANY_BASE)]
    with pytest.raises(PropertiesApiException) as exc:  # every SDK package has its own ApiException
        props.core_api.create(
            "companies",
            PropertyCreate(name="csm_tier", label="x", type="string", field_type="text", group_name="csm"),
        )
    assert exc.value.status == 409
    assert error_of(exc)["category"] == "OBJECT_ALREADY_EXISTS"
    base = f"{box.url}/crm/v3/properties/companies"
    bad_pair = http.post(
        base, json={"name": "x1", "label": "X", "type": "number", "fieldType": "select", "groupName": "csm"}
    )
    assert bad_pair.status_code == 400
    assert "fieldType" in check("crm-properties-v3.json", bad_pair)["message"]
    check("crm-properties-v3.json", http.get(base))
    check("crm-properties-v3.json", http.get(f"{base}/customer_key"))
    check("crm-properties-v3.json", http.get(f"{base}/groups"))
    check("crm-properties-v3.json", http.post(f"{base}/groups", json={"name": "csm", "label": "again"}))
    check("crm-properties-v3.json", http.get(f"{base}/nope"))
    assert http.get(f"{base}/nope").status_code == 404


def test_property_batch_create_and_read_with_a_unique_property_for_upserts(
    box: Sandbox, client: HubSpot, http: requests.Session
) -> None:
    result = client.crm.properties.batch_api.create(
        "tasks",
        BatchInputPropertyCreate(
            inputs=[
                PropertyCreate(
                    name="ext_ref",
                    label="Ext ref",
                    type="string",
                    field_type="text",
                    group_name="taskinformation",
                    has_unique_value=True,
                ),
                PropertyCreate(
                    name="bad", label="Bad", type="bool", field_type="text", group_name="taskinformation"
                ),
            ]
        ),
    )
    assert type(result).__name__ == "BatchResponsePropertyWithErrors"
    assert [p.name for p in result.results] == ["ext_ref"]
    read = http.post(
        f"{box.url}/crm/v3/properties/tasks/batch/read",
        json={
            "inputs": [{"name": "ext_ref"}, {"name": "ghost"}],
            "archived": False,
            "dataSensitivity": "non_sensitive",
        },
    )
    assert read.status_code == 207
    check("crm-properties-v3.json", read)
    body = {
        "inputs": [
            {
                "idProperty": "ext_ref",
                "id": "T-1",
                "properties": {"hs_timestamp": "2026-11-05T10:00:00Z", "hs_task_subject": "Call"},
            }
        ]
    }
    first = http.post(f"{box.url}/crm/v3/objects/tasks/batch/upsert", json=body).json()
    second = http.post(f"{box.url}/crm/v3/objects/tasks/batch/upsert", json=body).json()
    assert (first["results"][0]["new"], second["results"][0]["new"]) == (True, False)
    assert first["results"][0]["properties"]["hs_timestamp"] == "2026-11-05T10:00:00.000Z"


def test_provisioned_catalogue_matches_the_shared_naming(client: HubSpot) -> None:
    companies = {p.name: p for p in client.crm.properties.core_api.get_all("companies").results}
    assert companies["customer_key"].has_unique_value is True
    assert companies["customer_key"].group_name == "healthsync"
    assert [o.value for o in companies["healthsync_band"].options] == ["green", "yellow", "red"]
    assert (companies["healthsync_last_synced"].type, companies["contract_end_date"].type) == (
        "datetime",
        "date",
    )
    tasks = {p.name: p for p in client.crm.properties.core_api.get_all("tasks").results}
    assert tasks["healthsync_task_key"].has_unique_value is True
    deals = {p.name: p for p in client.crm.properties.core_api.get_all("deals").results}
    assert deals["healthsync_renewal_key"].has_unique_value is True


# --- pipelines ------------------------------------------------------------------------------------


def test_pipelines_read_create_and_deal_stages_by_id(
    box: Sandbox, client: HubSpot, http: requests.Session
) -> None:
    api = client.crm.pipelines.pipelines_api
    pipelines = {p.label: p for p in api.get_all("deals").results}
    renewals = pipelines["Renewals"]
    assert [s.label for s in renewals.stages] == [
        "Preparation",
        "Initiation",
        "Negotiation",
        "Approval",
        "Closed won",
        "Closed lost",
    ]
    assert [s.metadata["probability"] for s in renewals.stages][-2:] == ["1.0", "0.0"]
    assert pipelines["Sales Pipeline"].id == "default"
    made = api.create(
        "deals",
        PipelineInput(
            label="Upsell",
            display_order=2,
            stages=[{"label": "Open", "displayOrder": 0, "metadata": {"probability": "0.3"}}],
        ),
    )
    assert isinstance(made.id, str)
    assert api.get_by_id("deals", made.id).stages[0].label == "Open"
    missing = http.post(
        f"{box.url}/crm/v3/pipelines/deals",
        json={
            "label": "P2",
            "displayOrder": 3,
            "stages": [{"label": "A", "displayOrder": 0, "metadata": {}}],
        },
    )
    assert missing.status_code == 400
    assert "probability" in check("crm-pipelines-v3.json", missing)["message"]
    check("crm-pipelines-v3.json", http.get(f"{box.url}/crm/v3/pipelines/deals"))
    check("crm-pipelines-v3.json", http.get(f"{box.url}/crm/v3/pipelines/deals/{renewals.id}/stages"))
    check(
        "crm-pipelines-v3.json",
        http.post(
            f"{box.url}/crm/v3/pipelines/deals/{made.id}/stages",
            json={"label": "Won", "displayOrder": 1, "metadata": {"probability": "1.0"}},
        ),
    )
    stage = renewals.stages[0].id
    ok = http.post(
        f"{box.url}/crm/v3/objects/deals",
        json={"properties": {"dealname": "Renewal", "pipeline": renewals.id, "dealstage": stage}},
    )
    assert ok.status_code == 201
    by_label = http.post(
        f"{box.url}/crm/v3/objects/0-3",
        json={"properties": {"dealname": "R", "pipeline": renewals.id, "dealstage": "Preparation"}},
    )
    assert by_label.status_code == 400
    assert "INVALID_OPTION" in check("crm-deals-v3.json", by_label)["message"]
    check("crm-deals-v3.json", http.get(f"{box.url}/crm/v3/objects/0-3/{ok.json()['id']}"))


# --- owners and schemas -------------------------------------------------------------------------


@pytest.mark.undersized_pages(reason="pages 2 owners by 1 to check `paging.next.after` on the owners API")
def test_owners_with_and_without_trailing_slash(
    box: Sandbox, client: HubSpot, http: requests.Session
) -> None:
    owners = client.crm.owners.owners_api.get_page(limit=1)
    assert owners.results[0].email == "dana.reyes@vendor.example"
    assert owners.results[0].type == "PERSON"
    assert (
        client.crm.owners.owners_api.get_page(after=owners.paging.next.after).results[0].last_name == "Okafor"
    )
    assert (
        client.crm.owners.owners_api.get_page(email="sam.okafor@vendor.example").results[0].user_id == 1296001
    )
    one = client.crm.owners.owners_api.get_by_id(int(owners.results[0].id))
    assert one.first_name == "Dana"
    for path in ("/crm/v3/owners", "/crm/v3/owners/"):
        assert len(check("crm-owners-v3.json", http.get(f"{box.url}{path}"))["results"]) == 2
    check("crm-owners-v3.json", http.get(f"{box.url}/crm/v3/owners/{one.id}"))
    check("crm-owners-v3.json", http.get(f"{box.url}/crm/v3/owners/1"))
    assert http.get(f"{box.url}/crm/v3/schemas").json() == {"results": []}
    assert client.crm.schemas.core_api.get_all().results == []


# --- associations ---------------------------------------------------------------------------------


def test_create_with_associations_and_v4_reads(box: Sandbox, client: HubSpot, http: requests.Session) -> None:
    company = str(COMPANY_BASE + 1)
    tasks = client.crm.objects.batch_api.create(
        "tasks",
        BatchInputSimplePublicObjectBatchInputForCreate(
            inputs=[
                {
                    "properties": {
                        "hs_timestamp": "1793955600000",
                        "hs_task_subject": "Renewal call",
                        "healthsync_task_key": "k1",
                    },
                    "associations": [
                        {
                            "to": {"id": company},
                            "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 192}],
                        }
                    ],
                }
            ]
        ),
    )
    task = tasks.results[0].id
    deal = http.post(
        f"{box.url}/crm/v3/objects/deals",
        json={
            "properties": {"dealname": "Renewal"},
            "associations": [
                {
                    "to": {"id": company},
                    "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 341}],
                }
            ],
        },
    ).json()["id"]
    listed = client.crm.associations.v4.basic_api.get_page("companies", company, "tasks")
    assert [(r.to_object_id, r.association_types[0].type_id) for r in listed.results] == [(task, 191)]
    check(
        "crm-associations-v4.json",
        http.get(f"{box.url}/crm/v4/objects/companies/{company}/associations/deals"),
    )
    read = client.crm.companies.basic_api.get_by_id(company, associations=["deals", "tasks"])
    assert read.associations["deals"].results[0].id == deal
    other = str(COMPANY_BASE + 2)
    made = http.put(f"{box.url}/crm/v4/objects/tasks/{task}/associations/default/companies/{other}")
    assert (
        check("crm-associations-v4.json", made)["results"][0]["associationSpec"]["associationTypeId"] == 192
    )
    assert (
        client.crm.associations.v4.basic_api.create_default("deals", deal, "companies", other).status
        == "COMPLETE"
    )
    links = requests.get(f"{box.url}/_sandbox/state/hubspot/associations", timeout=5).json()
    assert {
        "fromObjectType": "tasks",
        "fromObjectId": task,
        "toObjectType": "companies",
        "toObjectId": other,
        "associationTypeId": 192,
        "associationCategory": "HUBSPOT_DEFINED",
    } in links
    wrong = http.post(
        f"{box.url}/crm/v3/objects/tasks",
        json={
            "properties": {"hs_timestamp": "1793955600000"},
            "associations": [
                {
                    "to": {"id": "1"},
                    "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 192}],
                }
            ],
        },
    )
    assert wrong.status_code == 400
    check("crm-tasks-v3.json", wrong)
    batch = http.post(
        f"{box.url}/crm/v4/associations/companies/tasks/batch/read",
        json={"inputs": [{"id": company}, {"id": "1"}]},
    )
    assert batch.status_code == 207
    check("crm-associations-v4.json", batch)


# --- auth, errors, limits ------------------------------------------------------------------------


def test_bad_or_missing_token_is_hubspots_401(box: Sandbox) -> None:
    with pytest.raises(ApiException) as exc:
        HubSpot(access_token="pat-na1-wrong", host=box.url).crm.companies.basic_api.get_page()
    assert exc.value.status == 401
    body = error_of(exc)
    assert (body["status"], body["category"]) == ("error", "INVALID_AUTHENTICATION")
    check("crm-companies-v3.json", requests.get(f"{box.url}/crm/v3/objects/companies", timeout=5))


def test_injected_faults_answer_hubspot_shaped_errors(box: Sandbox, http: requests.Session) -> None:
    rules = {
        "rules": [
            {"path_prefix": "/crm", "status": 503, "count": 1},
            {"path_prefix": "/crm", "status": 429, "count": 1},
        ]
    }
    requests.post(f"{box.url}/_sandbox/faults", json=rules, timeout=5)
    unavailable = http.get(f"{box.url}/crm/v3/objects/companies")
    assert unavailable.status_code == 503
    assert check("crm-companies-v3.json", unavailable)["category"] == "INTERNAL_ERROR"
    limited = http.get(f"{box.url}/crm/v3/objects/companies")
    assert limited.status_code == 429
    assert check("crm-companies-v3.json", limited)["policyName"] == "TEN_SECONDLY_ROLLING"
    assert limited.headers["Retry-After"] == "10"
    assert http.get(f"{box.url}/crm/v3/objects/companies").status_code == 200


@pytest.fixture
def limited(small_dataset: Dataset):
    with Sandbox(dataset=small_dataset, apps=[HubSpotApp], generate=False, rate_limits=True) as sandbox:
        yield sandbox


def test_ten_secondly_limit_then_recovery(limited: Sandbox) -> None:
    app = limited.app("hubspot")
    now = [0.0]
    app.limits.window = SlidingWindow(100, 10, clock=lambda: now[0])  # type: ignore[attr-defined]
    # urllib3's default Retry would honour Retry-After and retry the GET by itself; see the 429 as is.
    client = sdk(limited, Retry(total=0))
    for _ in range(100):
        client.crm.companies.basic_api.get_page(limit=100)
    with pytest.raises(ApiException) as exc:
        client.crm.companies.basic_api.get_page(limit=100)
    assert exc.value.status == 429
    body = error_of(exc)
    assert body["message"] == "You have reached your ten_secondly_rolling limit."
    assert (body["errorType"], body["policyName"], body["category"]) == (
        "RATE_LIMIT",
        "TEN_SECONDLY_ROLLING",
        "RATE_LIMITS",
    )
    assert exc.value.headers["Retry-After"] == "10"
    now[0] = 10.5
    page = client.crm.companies.basic_api.get_page_with_http_info(limit=100)
    assert page[1] == 200
    assert page[2]["X-HubSpot-RateLimit-Max"] == "100"
    assert page[2]["X-HubSpot-RateLimit-Remaining"] == "99"
    assert page[2]["X-HubSpot-RateLimit-Interval-Milliseconds"] == "10000"
    assert requests.get(f"{limited.url}/_sandbox/stats", timeout=5).json()["hubspot"]["throttled"] == 1


def test_search_secondly_limit_and_professional_tier(limited: Sandbox) -> None:
    client = sdk(limited)
    for _ in range(5):
        client.crm.companies.search_api.do_search(PublicObjectSearchRequest(limit=200))
    with pytest.raises(ApiException) as exc:
        client.crm.companies.search_api.do_search(PublicObjectSearchRequest(limit=200))
    assert exc.value.status == 429
    assert error_of(exc)["message"] == "You have reached your secondly limit."
    app = limited.app("hubspot")
    app.tier = "professional"  # type: ignore[attr-defined]
    headers = client.crm.companies.basic_api.get_page_with_http_info(limit=100)[2]
    assert headers["X-HubSpot-RateLimit-Max"] == "190"
    assert headers["X-HubSpot-RateLimit-Daily"] == "650000"


def test_daily_quota_exhaustion(box: Sandbox, client: HubSpot) -> None:
    requests.post(f"{box.url}/_sandbox/faults", json={"exhaust_quota": ["hubspot"]}, timeout=5)
    with pytest.raises(ApiException) as exc:
        client.crm.companies.basic_api.get_page()
    assert exc.value.status == 429
    assert error_of(exc)["policyName"] == "DAILY"
    assert "Retry-After" not in exc.value.headers  # no transparent wait until midnight
    box.clock.advance(1)  # a new day resets the cap
    assert client.crm.companies.basic_api.get_page().results


# --- data evolution -------------------------------------------------------------------------------


def test_apply_updates_contracts_and_adds_companies(
    box: Sandbox, small_dataset: Dataset, client: HubSpot
) -> None:
    renewed = dataclasses.replace(
        small_dataset.customers[0],
        arr=99000.0,
        contract_end=small_dataset.customers[0].contract_end + timedelta(days=365),
    )
    newcomer = dataclasses.replace(small_dataset.customers[1], index=6, key="C000006", name="Newcomer Inc")
    now = (box.clock.now() + timedelta(days=7)).replace(microsecond=0)
    box.app("hubspot").apply(Delta(now=now, new_customers=[newcomer], changed_customers=[renewed]))
    acme = client.crm.companies.basic_api.get_by_id(
        str(COMPANY_BASE), properties=["arr", "contract_end_date"]
    )
    assert acme.properties["arr"] == "99000"
    assert acme.properties["contract_end_date"] == "2028-01-01"
    assert acme.updated_at == now
    assert (
        client.crm.companies.basic_api.get_by_id(str(COMPANY_BASE + 6)).properties["name"] == "Newcomer Inc"
    )
