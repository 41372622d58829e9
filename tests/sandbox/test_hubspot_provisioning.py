"""What `healthsync fields apply` and `healthsync check` need from the HubSpot sandbox (issue #7).

Provisioning a bare portal (property group, properties with options and unique values, the renewal
pipeline and a missing stage, an option added to an existing enumeration), HubSpot's refusals on the
way (409 for a taken name, the unique-property cap, deal stages without a probability), and private
app scopes: a restricted token's 403 MISSING_SCOPES and the token-introspection endpoint. Driven
through the unmodified hubspot-api-client where it has the call, raw responses spec-checked.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from hubspot import HubSpot
from hubspot.crm.companies import ApiException as CompaniesApiException
from hubspot.crm.companies import SimplePublicObjectInput
from hubspot.crm.pipelines import PipelineInput, PipelineStageInput
from hubspot.crm.properties import ApiException as PropertiesApiException
from hubspot.crm.properties import (
    BatchInputPropertyCreate,
    OptionInput,
    PropertyCreate,
    PropertyGroupCreate,
    PropertyUpdate,
)
from specs import assert_matches_spec

from healthsync.sandbox import Sandbox
from healthsync.sandbox.dataset import Dataset
from healthsync.sandbox.hubspot import HubSpotApp
from healthsync.sandbox.hubspot.auth import DEFAULT_SCOPES
from healthsync.sandbox.hubspot.catalog import custom_groups, custom_properties
from healthsync.sandbox.hubspot.properties import MAX_UNIQUE_PROPERTIES

COMPANY = "10000000000"
TOKEN_INFO = "/oauth/v2/private-apps/get/access-token-info"
CUSTOM_OBJECTS = ("companies", "deals", "tasks", "contacts")


def without_nulls(body: Any) -> Any:
    """The body minus `null` values (HubSpot sends them; its spec types values as strings)."""
    if isinstance(body, dict):
        return {k: without_nulls(v) for k, v in body.items() if v is not None}
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


def sdk(sandbox: Sandbox, token: str | None = None) -> HubSpot:
    info = sandbox.info()["hubspot"]
    return HubSpot(access_token=token or info["access_token"], host=info["host"])


def session(sandbox: Sandbox, token: str | None = None) -> requests.Session:
    http = requests.Session()
    http.headers["Authorization"] = f"Bearer {token or sandbox.info()['hubspot']['access_token']}"
    return http


def hubspot(sandbox: Sandbox) -> HubSpotApp:
    app = sandbox.app("hubspot")
    assert isinstance(app, HubSpotApp)
    return app


@pytest.fixture
def bare(small_dataset: Dataset) -> Iterator[Sandbox]:
    """A portal with only HubSpot's standard schema: what `fields apply` starts from."""
    with Sandbox(dataset=small_dataset, apps=[HubSpotApp], generate=False, provisioned=False) as sandbox:
        yield sandbox


@pytest.fixture
def box(small_dataset: Dataset) -> Iterator[Sandbox]:
    """A provisioned portal (healthsync's group, properties and Renewals pipeline in place)."""
    with Sandbox(dataset=small_dataset, apps=[HubSpotApp], generate=False) as sandbox:
        yield sandbox


@pytest.fixture
def http(bare: Sandbox) -> Iterator[requests.Session]:
    with session(bare) as s:
        yield s


def error_of(exc: pytest.ExceptionInfo[Any]) -> dict[str, Any]:
    return json.loads(exc.value.body)


# --- provisioned vs bare --------------------------------------------------------------------------


def test_bare_portal_lacks_every_healthsync_definition_and_a_provisioned_one_has_them(
    bare: Sandbox, box: Sandbox
) -> None:
    for object_type in CUSTOM_OBJECTS:
        ours = {p.name for p in custom_properties(object_type, bare.clock.now())}
        our_groups = {g.name for g in custom_groups(object_type)}
        bare_props = {p.name for p in sdk(bare).crm.properties.core_api.get_all(object_type).results}
        bare_groups = {g.name for g in sdk(bare).crm.properties.groups_api.get_all(object_type).results}
        assert not ours & bare_props, object_type
        assert not our_groups & bare_groups, object_type
        full_props = {p.name for p in sdk(box).crm.properties.core_api.get_all(object_type).results}
        full_groups = {g.name for g in sdk(box).crm.properties.groups_api.get_all(object_type).results}
        assert ours <= full_props, object_type
        assert our_groups <= full_groups, object_type
    assert [p.label for p in sdk(bare).crm.pipelines.pipelines_api.get_all("deals").results] == [
        "Sales Pipeline"
    ]
    assert {p.label for p in sdk(box).crm.pipelines.pipelines_api.get_all("deals").results} == {
        "Sales Pipeline",
        "Renewals",
    }


# --- properties -----------------------------------------------------------------------------------


def test_group_then_properties_in_one_batch_then_read_back(bare: Sandbox, http: requests.Session) -> None:
    api = sdk(bare).crm.properties
    base = f"{bare.url}/crm/v3/properties/companies"
    group = http.post(
        f"{base}/groups", json={"name": "healthsync", "label": "Healthsync", "displayOrder": 10}
    )
    assert group.status_code == 201
    assert check("crm-properties-v3.json", group) == {
        "name": "healthsync",
        "label": "Healthsync",
        "displayOrder": 10,
        "archived": False,
    }
    again = http.post(f"{base}/groups", json={"name": "healthsync", "label": "Again"})
    assert again.status_code == 409
    assert check("crm-properties-v3.json", again)["category"] == "OBJECT_ALREADY_EXISTS"
    created = http.post(
        f"{base}/batch/create",
        json={
            "inputs": [
                {
                    "name": "customer_key",
                    "label": "Customer key",
                    "type": "string",
                    "fieldType": "text",
                    "groupName": "healthsync",
                    "hasUniqueValue": True,
                },
                {
                    "name": "healthsync_band",
                    "label": "Health band",
                    "type": "enumeration",
                    "fieldType": "select",
                    "groupName": "healthsync",
                    "options": [
                        {"label": "Green", "value": "green", "displayOrder": 0, "hidden": False},
                        {"label": "Yellow", "value": "yellow", "displayOrder": 1, "hidden": False},
                        {"label": "Red", "value": "red", "displayOrder": 2, "hidden": False},
                    ],
                },
                {
                    "name": "healthsync_score",
                    "label": "Health score",
                    "type": "number",
                    "fieldType": "number",
                    "groupName": "healthsync",
                },
            ]
        },
    )
    assert created.status_code == 201
    body = check("crm-properties-v3.json", created)
    assert body["status"] == "COMPLETE"
    assert [p["name"] for p in body["results"]] == ["customer_key", "healthsync_band", "healthsync_score"]
    band = api.core_api.get_by_name("companies", "healthsync_band")
    assert (band.type, band.field_type, band.group_name) == ("enumeration", "select", "healthsync")
    assert [o.value for o in band.options] == ["green", "yellow", "red"]
    assert band.modification_metadata.archivable is True
    assert api.core_api.get_by_name("companies", "customer_key").has_unique_value is True
    listed = check("crm-properties-v3.json", http.get(base))
    assert {"customer_key", "healthsync_band", "healthsync_score"} <= {p["name"] for p in listed["results"]}
    check("crm-properties-v3.json", http.get(f"{base}/healthsync_band"))
    check("crm-properties-v3.json", http.get(f"{base}/groups/healthsync"))
    # The same batch again: every input fails alone with the 409 of its taken name (207).
    repeat = http.post(f"{base}/batch/create", json=json.loads(created.request.body))
    assert repeat.status_code == 207
    errors = check("crm-properties-v3.json", repeat)["errors"]
    assert [(e["category"], e["context"]["name"]) for e in errors] == [
        ("OBJECT_ALREADY_EXISTS", ["customer_key"]),
        ("OBJECT_ALREADY_EXISTS", ["healthsync_band"]),
        ("OBJECT_ALREADY_EXISTS", ["healthsync_score"]),
    ]


def test_a_taken_name_is_hubspots_409_and_the_existing_definition_is_untouched(bare: Sandbox) -> None:
    props = sdk(bare).crm.properties
    with pytest.raises(PropertiesApiException) as exc:
        props.core_api.create(
            "companies",
            PropertyCreate(
                name="name",
                label="Other",
                type="number",
                field_type="number",
                group_name="companyinformation",
            ),
        )
    assert exc.value.status == 409
    body = error_of(exc)
    assert (body["status"], body["category"]) == ("error", "OBJECT_ALREADY_EXISTS")
    assert "name" in body["message"]
    assert props.core_api.get_by_name("companies", "name").type == "string"


def test_enumerations_need_options_and_a_valid_type_pair(http: requests.Session, bare: Sandbox) -> None:
    base = f"{bare.url}/crm/v3/properties/companies"
    common = {"label": "Tier", "groupName": "companyinformation"}
    no_options = http.post(
        base, json={"name": "tier", "type": "enumeration", "fieldType": "select", **common}
    )
    assert no_options.status_code == 400
    assert "option" in check("crm-properties-v3.json", no_options)["message"]
    bad_pair = http.post(base, json={"name": "tier", "type": "enumeration", "fieldType": "text", **common})
    assert bad_pair.status_code == 400
    assert check("crm-properties-v3.json", bad_pair)["category"] == "VALIDATION_ERROR"
    no_group = http.post(
        base,
        json={"name": "tier", "label": "Tier", "type": "string", "fieldType": "text", "groupName": "nope"},
    )
    assert no_group.status_code == 400
    assert "group" in check("crm-properties-v3.json", no_group)["message"]


def test_a_new_unique_property_is_enforced_on_every_write(bare: Sandbox, http: requests.Session) -> None:
    client = sdk(bare)
    client.crm.properties.core_api.create(
        "companies",
        PropertyCreate(
            name="customer_key",
            label="Customer key",
            type="string",
            field_type="text",
            group_name="companyinformation",
            has_unique_value=True,
        ),
    )
    companies = client.crm.companies.basic_api
    companies.update(COMPANY, SimplePublicObjectInput(properties={"customer_key": "C1"}))
    with pytest.raises(CompaniesApiException) as exc:
        companies.update("10000000001", SimplePublicObjectInput(properties={"customer_key": "C1"}))
    assert exc.value.status == 409
    assert error_of(exc)["category"] == "CONFLICT"
    assert f"Existing ID: {COMPANY}" in error_of(exc)["message"]
    duplicate = http.post(
        f"{bare.url}/crm/v3/objects/companies/batch/create",
        json={"inputs": [{"properties": {"name": "A", "customer_key": "C2"}}] * 2},
    )
    assert duplicate.status_code == 400
    check("crm-companies-v3.json", duplicate)
    # The key works as an upsert id at once.
    upsert = http.post(
        f"{bare.url}/crm/v3/objects/companies/batch/upsert",
        json={"inputs": [{"idProperty": "customer_key", "id": "C1", "properties": {"industry": "Tools"}}]},
    )
    assert upsert.status_code == 200
    assert check("crm-companies-v3.json", upsert)["results"][0]["id"] == COMPANY


def test_at_most_ten_unique_properties_per_object(bare: Sandbox, http: requests.Session) -> None:
    base = f"{bare.url}/crm/v3/properties/deals"

    def unique(i: int) -> dict[str, Any]:
        return {
            "name": f"key_{i}",
            "label": f"Key {i}",
            "type": "string",
            "fieldType": "text",
            "groupName": "dealinformation",
            "hasUniqueValue": True,
        }

    batch = http.post(
        f"{base}/batch/create", json={"inputs": [unique(i) for i in range(MAX_UNIQUE_PROPERTIES + 1)]}
    )
    assert batch.status_code == 207
    body = check("crm-properties-v3.json", batch)
    assert len(body["results"]) == MAX_UNIQUE_PROPERTIES
    assert [e["context"]["name"] for e in body["errors"]] == [[f"key_{MAX_UNIQUE_PROPERTIES}"]]
    one_more = http.post(base, json=unique(99))
    assert one_more.status_code == 400
    assert f"at most {MAX_UNIQUE_PROPERTIES}" in check("crm-properties-v3.json", one_more)["message"]
    plain = http.post(base, json={**unique(99), "hasUniqueValue": False})
    assert plain.status_code == 201  # the cap is on unique properties only


def test_patch_adds_an_enumeration_option_without_retyping(box: Sandbox) -> None:
    client = sdk(box)
    core = client.crm.properties.core_api
    companies = client.crm.companies.basic_api
    with pytest.raises(CompaniesApiException) as exc:
        companies.update(COMPANY, SimplePublicObjectInput(properties={"healthsync_band": "grey"}))
    assert exc.value.status == 400
    assert '"error":"INVALID_OPTION","name":"healthsync_band"' in error_of(exc)["message"]
    before = core.get_by_name("companies", "healthsync_band")
    options = [
        OptionInput(label=o.label, value=o.value, display_order=o.display_order, hidden=o.hidden)
        for o in before.options
    ]
    options.append(OptionInput(label="Grey", value="grey", display_order=len(options), hidden=False))
    after = core.update("companies", "healthsync_band", PropertyUpdate(options=options))
    assert [o.value for o in after.options] == ["green", "yellow", "red", "grey"]
    assert (after.type, after.field_type, after.group_name) == (before.type, before.field_type, "healthsync")
    assert after.updated_at >= before.updated_at
    companies.update(COMPANY, SimplePublicObjectInput(properties={"healthsync_band": "grey"}))
    assert (
        companies.get_by_id(COMPANY, properties=["healthsync_band"]).properties["healthsync_band"] == "grey"
    )
    with session(box) as http:
        raw = http.patch(
            f"{box.url}/crm/v3/properties/companies/healthsync_band",
            json={"options": [{"label": o.label, "value": o.value, "hidden": False} for o in after.options]},
        )
        assert raw.status_code == 200
        check("crm-properties-v3.json", raw)
        standard = http.patch(f"{box.url}/crm/v3/properties/companies/industry", json={"label": "Sector"})
        assert standard.status_code == 400  # HubSpot's own definitions are read only
        check("crm-properties-v3.json", standard)
        missing = http.patch(f"{box.url}/crm/v3/properties/companies/nope", json={"label": "x"})
        assert missing.status_code == 404
        check("crm-properties-v3.json", missing)


# --- pipelines ------------------------------------------------------------------------------------

RENEWAL_STAGES = [
    ("Preparation", "0.2"),
    ("Initiation", "0.4"),
    ("Negotiation", "0.6"),
    ("Closed won", "1.0"),
    ("Closed lost", "0.0"),
]


def test_renewal_pipeline_with_stages_then_a_missing_stage(bare: Sandbox, http: requests.Session) -> None:
    api = sdk(bare).crm.pipelines
    created = api.pipelines_api.create(
        "deals",
        PipelineInput(
            label="Renewals",
            display_order=1,
            stages=[
                PipelineStageInput(label=label, display_order=i, metadata={"probability": p})
                for i, (label, p) in enumerate(RENEWAL_STAGES)
            ],
        ),
    )
    assert isinstance(created.id, str)
    assert created.id != "default"
    stages = {s.label: s for s in created.stages}
    assert [s.label for s in created.stages] == [label for label, _ in RENEWAL_STAGES]
    assert stages["Closed won"].metadata == {"probability": "1.0", "isClosed": "true"}
    assert stages["Closed lost"].metadata == {"probability": "0.0", "isClosed": "true"}
    assert stages["Preparation"].metadata == {"probability": "0.2", "isClosed": "false"}
    added = api.pipeline_stages_api.create(
        "deals",
        created.id,
        PipelineStageInput(label="Approval", display_order=3, metadata={"probability": "0.8"}),
    )
    assert (added.label, added.metadata["probability"], added.metadata["isClosed"]) == (
        "Approval",
        "0.8",
        "false",
    )
    assert "Approval" in {s.label for s in api.pipelines_api.get_by_id("deals", created.id).stages}
    base = f"{bare.url}/crm/v3/pipelines/deals"
    check("crm-pipelines-v3.json", http.get(base))
    check("crm-pipelines-v3.json", http.get(f"{base}/{created.id}"))
    check("crm-pipelines-v3.json", http.get(f"{base}/{created.id}/stages"))
    raw_stage = http.post(
        f"{base}/{created.id}/stages",
        json={"label": "On hold", "displayOrder": 9, "metadata": {"probability": "0.1"}},
    )
    assert raw_stage.status_code == 201
    check("crm-pipelines-v3.json", raw_stage)
    # A deal goes into the new stage by ids.
    deal = http.post(
        f"{bare.url}/crm/v3/objects/deals",
        json={"properties": {"dealname": "Renewal", "pipeline": created.id, "dealstage": added.id}},
    )
    assert deal.status_code == 201
    raw_pipeline = http.post(
        base,
        json={
            "label": "Expansion",
            "displayOrder": 2,
            "stages": [{"label": "Open", "displayOrder": 0, "metadata": {"probability": "0.5"}}],
        },
    )
    assert raw_pipeline.status_code == 201
    check("crm-pipelines-v3.json", raw_pipeline)


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (
            {"label": "P", "displayOrder": 1, "stages": [{"label": "A", "displayOrder": 0, "metadata": {}}]},
            "probability",
        ),
        (
            {"label": "P", "stages": [{"label": "A", "displayOrder": 0, "metadata": {"probability": "0.5"}}]},
            "displayOrder",
        ),
        (
            {"label": "P", "displayOrder": 1, "stages": [{"label": "A", "metadata": {"probability": "0.5"}}]},
            "displayOrder",
        ),
        ({"label": "P", "displayOrder": 1, "stages": [{"label": "A", "displayOrder": 0}]}, "metadata"),
        ({"label": "P", "displayOrder": 1, "stages": []}, "stage"),
        (
            {
                "label": "P",
                "displayOrder": 1,
                "stages": [{"label": "A", "displayOrder": 0, "metadata": {"probability": "0.25"}}],
            },
            "increments of 0.1",
        ),
        (
            {
                "label": "P",
                "displayOrder": 1,
                "stages": [{"label": "A", "displayOrder": 0, "metadata": {"probability": "1.5"}}],
            },
            "between 0.0 and 1.0",
        ),
        (
            {
                "label": "P",
                "displayOrder": 1,
                "stages": [
                    {"label": "A", "displayOrder": 0, "metadata": {"probability": "0.5"}},
                    {"label": "a", "displayOrder": 1, "metadata": {"probability": "0.6"}},
                ],
            },
            "unique",
        ),
    ],
    ids=[
        "no-probability",
        "no-pipeline-order",
        "no-stage-order",
        "no-metadata",
        "no-stages",
        "probability-step",
        "probability-range",
        "duplicate-label",
    ],
)
def test_invalid_pipeline_inputs_are_400s(
    bare: Sandbox, http: requests.Session, body: dict[str, Any], says: str
) -> None:
    response = http.post(f"{bare.url}/crm/v3/pipelines/deals", json=body)
    assert response.status_code == 400
    error = check("crm-pipelines-v3.json", response)
    assert error["category"] == "VALIDATION_ERROR"
    assert says in error["message"]
    assert [p["label"] for p in http.get(f"{bare.url}/crm/v3/pipelines/deals").json()["results"]] == [
        "Sales Pipeline"
    ]


def test_a_second_pipeline_of_the_same_label_and_a_stage_without_probability(
    box: Sandbox,
) -> None:
    with session(box) as http:
        base = f"{box.url}/crm/v3/pipelines/deals"
        renewals = next(p for p in http.get(base).json()["results"] if p["label"] == "Renewals")
        taken = http.post(
            base,
            json={
                "label": "renewals",
                "displayOrder": 5,
                "stages": [{"label": "A", "displayOrder": 0, "metadata": {"probability": "0.5"}}],
            },
        )
        assert taken.status_code == 409
        check("crm-pipelines-v3.json", taken)
        stage = http.post(
            f"{base}/{renewals['id']}/stages", json={"label": "Late", "displayOrder": 7, "metadata": {}}
        )
        assert stage.status_code == 400
        assert "probability" in check("crm-pipelines-v3.json", stage)["message"]
        exists = http.post(
            f"{base}/{renewals['id']}/stages",
            json={"label": "Approval", "displayOrder": 7, "metadata": {"probability": "0.8"}},
        )
        assert exists.status_code == 400
        check("crm-pipelines-v3.json", exists)


# --- private-app scopes ---------------------------------------------------------------------------


def token_info(sandbox: Sandbox, token: str, **headers: str) -> requests.Response:
    return requests.post(f"{sandbox.url}{TOKEN_INFO}", json={"tokenKey": token}, headers=headers, timeout=5)


def test_token_info_lists_the_default_scopes_without_an_authorization_header(bare: Sandbox) -> None:
    token = bare.info()["hubspot"]["access_token"]
    response = token_info(bare, token)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"userId", "hubId", "appId", "scopes"}
    assert all(isinstance(body[k], int) for k in ("userId", "hubId", "appId"))
    assert body["scopes"] == sorted(DEFAULT_SCOPES)
    assert {
        "crm.objects.companies.read",
        "crm.objects.companies.write",
        "crm.objects.deals.read",
        "crm.objects.deals.write",
        "crm.objects.contacts.read",  # tasks
        "crm.objects.contacts.write",
        "crm.objects.owners.read",
        "crm.schemas.companies.write",
        "crm.schemas.deals.write",
        "crm.schemas.tasks.write",
    } <= set(body["scopes"])
    with_header = token_info(bare, token, Authorization=f"Bearer {token}")
    assert with_header.json() == body
    unknown = token_info(bare, "pat-na1-00000000-0000-0000-0000-000000000000")
    assert unknown.status_code == 401
    assert unknown.json()["category"] == "INVALID_AUTHENTICATION"
    missing = requests.post(f"{bare.url}{TOKEN_INFO}", json={}, timeout=5)
    assert missing.status_code == 400
    assert missing.json()["category"] == "VALIDATION_ERROR"


def test_a_restricted_token_gets_hubspots_403_naming_the_scopes(
    bare: Sandbox, http: requests.Session
) -> None:
    app = hubspot(bare)
    granted = app.set_scopes(
        ["crm.objects.companies.read", "crm.schemas.companies.read", "crm.objects.deals.read"]
    )
    assert granted == ["crm.objects.companies.read", "crm.objects.deals.read", "crm.schemas.companies.read"]
    assert token_info(bare, app.token).json()["scopes"] == granted
    client = sdk(bare)
    assert client.crm.companies.basic_api.get_page(limit=100).results  # a covered read still works
    assert client.crm.properties.core_api.get_all("companies").results
    with pytest.raises(PropertiesApiException) as exc:
        client.crm.properties.core_api.create(
            "companies",
            PropertyCreate(
                name="x1", label="X", type="string", field_type="text", group_name="companyinformation"
            ),
        )
    assert exc.value.status == 403
    body = error_of(exc)
    assert body["category"] == "MISSING_SCOPES"
    assert body["message"].startswith("This app hasn't been granted all required scopes to make this call.")
    assert body["errors"] == [
        {
            "message": "One or more of the following scopes are required.",
            "context": {"requiredGranularScopes": ["crm.schemas.companies.write"]},
        }
    ]
    assert body["links"] == {"scopes": "https://developers.hubspot.com/scopes"}
    assert "X-HubSpot-RateLimit-Max" in exc.value.headers
    refusals = {
        ("PATCH", f"/crm/v3/objects/companies/{COMPANY}", "crm-companies-v3.json"): [
            "crm.objects.companies.write"
        ],
        ("POST", "/crm/v3/objects/tasks", "crm-tasks-v3.json"): ["crm.objects.contacts.write"],
        ("GET", "/crm/v3/objects/tasks", "crm-tasks-v3.json"): ["crm.objects.contacts.read"],
        ("GET", "/crm/v3/owners", "crm-owners-v3.json"): ["crm.objects.owners.read", "automation"],
        ("POST", "/crm/v3/pipelines/deals", "crm-pipelines-v3.json"): ["crm.schemas.deals.write"],
        ("POST", "/crm/v3/properties/companies/groups", "crm-properties-v3.json"): [
            "crm.schemas.companies.write"
        ],
        ("GET", "/crm/v3/properties/tasks", "crm-properties-v3.json"): [
            "crm.schemas.tasks.read",
            "crm.objects.tasks.read",
            "crm.objects.contacts.read",
            "crm.objects.contacts.write",
        ],
    }
    for (method, path, spec), scopes in refusals.items():
        response = http.request(method, f"{bare.url}{path}", json={} if method != "GET" else None)
        assert response.status_code == 403, path
        assert check(spec, response)["errors"][0]["context"]["requiredGranularScopes"] == scopes, path
    # Pipelines are readable with the object's read scope.
    assert http.get(f"{bare.url}/crm/v3/pipelines/deals").status_code == 200
    # A wrong token is still a 401, before any scope is looked at.
    wrong = requests.post(
        f"{bare.url}/crm/v3/properties/companies",
        json={},
        headers={"Authorization": "Bearer pat-na1-x"},
        timeout=5,
    )
    assert wrong.status_code == 401
    assert app.set_scopes(None) == sorted(DEFAULT_SCOPES)
    assert (
        http.post(
            f"{bare.url}/crm/v3/properties/companies/groups", json={"name": "g", "label": "G"}
        ).status_code
        == 201
    )


def test_scopes_through_the_control_endpoints_and_a_second_token(bare: Sandbox) -> None:
    control = f"{bare.url}/_sandbox/scopes/hubspot"
    assert requests.get(control, timeout=5).json() == {"vendor": "hubspot", "scopes": sorted(DEFAULT_SCOPES)}
    restricted = requests.post(control, json={"scopes": ["crm.objects.companies.read"]}, timeout=5)
    assert restricted.json() == {"vendor": "hubspot", "scopes": ["crm.objects.companies.read"]}
    with session(bare) as http:
        assert http.get(f"{bare.url}/crm/v3/objects/deals?limit=100").status_code == 403
        assert http.get(f"{bare.url}/crm/v3/objects/companies?limit=100").status_code == 200
    issued = requests.post(f"{control}/tokens", json={"scopes": ["crm.objects.deals.read"]}, timeout=5).json()
    token = issued["access_token"]
    assert token.startswith("pat-na1-")
    assert token != bare.info()["hubspot"]["access_token"]
    assert issued["scopes"] == ["crm.objects.deals.read"]
    assert token_info(bare, token).json()["scopes"] == ["crm.objects.deals.read"]
    with session(bare, token) as other:
        assert other.get(f"{bare.url}/crm/v3/objects/deals?limit=100").status_code == 200
        assert other.get(f"{bare.url}/crm/v3/objects/companies?limit=100").status_code == 403
    widened = requests.post(
        control, json={"token": token, "scopes": ["crm.objects.companies.read"]}, timeout=5
    )
    assert widened.json()["scopes"] == ["crm.objects.companies.read"]
    assert requests.post(control, json={"scopes": None}, timeout=5).json()["scopes"] == sorted(DEFAULT_SCOPES)
    assert requests.post(control, json={}, timeout=5).status_code == 400
    assert requests.post(control, json={"scopes": "crm.objects.deals.read"}, timeout=5).status_code == 400
    assert requests.post(control, json={"token": "nope", "scopes": []}, timeout=5).status_code == 400
    assert requests.get(f"{bare.url}/_sandbox/scopes/zendesk", timeout=5).status_code == 404


def test_the_default_token_passes_every_call_a_sync_and_fields_apply_make(box: Sandbox) -> None:
    client = sdk(box)
    assert client.crm.companies.basic_api.get_page(limit=100).results
    assert client.crm.owners.owners_api.get_page(limit=500).results
    for object_type in ("companies", "deals", "tasks"):
        assert client.crm.properties.core_api.get_all(object_type).results
        assert client.crm.properties.groups_api.get_all(object_type).results
    assert client.crm.pipelines.pipelines_api.get_all("deals").results
    client.crm.properties.groups_api.create("deals", PropertyGroupCreate(name="extra", label="Extra"))
    client.crm.properties.batch_api.create(
        "tasks",
        BatchInputPropertyCreate(
            inputs=[
                PropertyCreate(
                    name="extra_key",
                    label="Extra",
                    type="string",
                    field_type="text",
                    group_name="taskinformation",
                )
            ]
        ),
    )
