"""Salesforce sandbox: auth, quota, faults, discovery, state, and fidelity to the vendor spec files."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
import requests
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import (
    SalesforceExpiredSession,
    SalesforceGeneralError,
    SalesforceMalformedRequest,
    SalesforceRefusedRequest,
    SalesforceResourceNotFound,
)
from test_salesforce_support import POSTMAN, app, http, salesforce, status_codes, wsdl_shape

from healthsync.sandbox.dataset import Delta
from healthsync.sandbox.salesforce.seed import account_id


@pytest.fixture
def org(small_dataset):
    with salesforce(small_dataset) as (box, sf):
        yield box, sf


def _faults(box, rules):
    requests.post(f"{box.url}/_sandbox/faults", json={"rules": rules}, timeout=10).raise_for_status()


def test_bad_or_missing_token_is_401_invalid_session_id(org):
    _box, sf = org
    body = [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]
    missing = sf.session.get(sf.base_url + "limits", timeout=10)
    assert (missing.status_code, missing.json()) == (401, body)
    other = Salesforce(instance_url=sf.base_url, session_id="wrong", version="62.0", session=sf.session)
    with pytest.raises(SalesforceExpiredSession) as caught:
        other.query("SELECT Id FROM Account")
    assert caught.value.content == body
    # The version list needs no session, as on Salesforce.
    versions = sf.session.get(f"https://{sf.sf_instance}/services/data/", timeout=10).json()
    assert {"label": "Winter '25", "url": "/services/data/v62.0", "version": "62.0"} in versions
    assert versions[0]["version"] == "46.0"


def test_quota_header_exhaustion_and_daily_reset(org):
    box, sf = org
    sf.query("SELECT Id FROM Account")
    assert sf.api_usage["api-usage"].total == 5_000_000
    used = sf.api_usage["api-usage"].used
    sf.describe()
    assert sf.api_usage["api-usage"].used == used + 1
    limits = sf.limits()["DailyApiRequests"]
    assert limits["Max"] == 5_000_000
    assert limits["Remaining"] == 5_000_000 - (used + 2)
    requests.post(f"{box.url}/_sandbox/faults", json={"exhaust_quota": ["salesforce"]}, timeout=10)
    with pytest.raises(SalesforceRefusedRequest) as caught:
        sf.query("SELECT Id FROM Account")
    assert caught.value.status == 403
    assert caught.value.content == [
        {"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}
    ]
    refused = http(sf, "GET", "limits")
    assert refused.headers["Sforce-Limit-Info"] == "api-usage=5000000/5000000"
    box.clock.advance(1)  # a new day, a new budget
    sf.query("SELECT Id FROM Account")
    assert sf.api_usage["api-usage"].used == 1


def test_realistic_limits_and_a_configurable_budget(small_dataset):
    with salesforce(small_dataset, rate_limits=True) as (box, sf):
        sf.query("SELECT Id FROM Account")
        assert sf.api_usage["api-usage"].total == 100_000
        app(box).daily_api_limit = 3
        sf.query("SELECT Id FROM Account")
        sf.query("SELECT Id FROM Account")
        with pytest.raises(SalesforceRefusedRequest):
            sf.query("SELECT Id FROM Account")


@pytest.mark.parametrize(
    ("status", "code", "exception"),
    [
        (503, "SERVER_UNAVAILABLE", SalesforceGeneralError),
        (500, "UNKNOWN_EXCEPTION", SalesforceGeneralError),
        (404, "NOT_FOUND", SalesforceResourceNotFound),
        (429, "REQUEST_LIMIT_EXCEEDED", SalesforceGeneralError),
    ],
    ids=["503", "500", "404", "429"],
)
def test_injected_faults_have_salesforce_bodies(org, status, code, exception):
    box, sf = org
    _faults(box, [{"path_prefix": "/services/data", "status": status, "count": 1, "retry_after": 2}])
    with pytest.raises(exception) as caught:
        sf.query("SELECT Id FROM Account")
    assert caught.value.status == status
    assert caught.value.content[0]["errorCode"] == code
    assert sf.query("SELECT Id FROM Account")["totalSize"] == 5  # simple-salesforce never retries; we do


def test_429_always_carries_retry_after_and_405_names_methods(org):
    box, sf = org
    _faults(box, [{"path_prefix": "/services/data", "status": 429, "count": 1}])
    throttled = http(sf, "GET", "limits")
    assert (throttled.status_code, throttled.headers["Retry-After"]) == (429, "1")
    wrong = http(sf, "PUT", "limits")
    assert wrong.status_code == 405
    assert wrong.json()[0]["errorCode"] == "METHOD_NOT_ALLOWED"
    assert http(sf, "GET", "sobjects/Widget__c/describe").json()[0]["errorCode"] == "NOT_FOUND"
    old = sf.session.get(
        f"https://{sf.sf_instance}/services/data/v45.0/limits",
        headers={"Authorization": f"Bearer {sf.session_id}"},
        timeout=10,
    )
    assert old.status_code == 404


def test_unexpected_handler_error_is_a_500_unknown_exception(org, monkeypatch):
    box, sf = org
    # Break the sandbox (not the SDK) to prove a crash answers as Salesforce's 500.
    monkeypatch.setattr(app(box).org, "plan", lambda *a, **k: 1 / 0)
    with pytest.raises(SalesforceGeneralError) as caught:
        sf.query("SELECT Id FROM Account")
    assert caught.value.content[0]["errorCode"] == "UNKNOWN_EXCEPTION"


def test_discovery_describe_global_and_resources(org):
    _, sf = org
    resources = http(sf, "GET", "").json()
    assert resources["query"] == "/services/data/v62.0/query"
    described = sf.describe()
    assert {"Account", "Contact", "Opportunity", "Task", "User"} <= {s["name"] for s in described["sobjects"]}
    wsdl_shape("DescribeGlobalResult", dict(described.items()), rest_extras=frozenset())
    basic = sf.Account.metadata()
    assert basic["objectDescribe"]["keyPrefix"] == "001"
    wsdl_shape("DescribeGlobalSObjectResult", basic["objectDescribe"], rest_extras=frozenset({"urls"}))


def test_describe_has_custom_fields_and_matches_the_wsdl(org):
    _, sf = org
    for name in ("Account", "Contact", "Opportunity", "Task", "User"):
        described = getattr(sf, name).describe()
        wsdl_shape("DescribeSObjectResult", described, rest_extras=frozenset({"urls"}))
    fields = {f["name"]: f for f in sf.Account.describe()["fields"]}
    key = fields["Customer_Key__c"]
    assert (key["type"], key["length"], key["externalId"], key["unique"], key["custom"]) == (
        "string",
        20,
        True,
        True,
        True,
    )
    assert [p["value"] for p in fields["Segment__c"]["picklistValues"]] == ["SMB", "Mid-Market", "Enterprise"]
    assert fields["Segment__c"]["restrictedPicklist"] is True
    assert (fields["Health_Score__c"]["precision"], fields["Health_Score__c"]["scale"]) == (5, 1)
    assert fields["Health_Reasons__c"]["length"] == 32768
    assert fields["Health_Last_Synced__c"]["type"] == "datetime"
    assert fields["OwnerId"]["referenceTo"] == ["User"]
    assert fields["SystemModstamp"]["updateable"] is False
    opportunity = {f["name"]: f for f in sf.Opportunity.describe()["fields"]}
    assert {"Preparation", "Initiation", "Negotiation", "Approval", "Closed Won"} <= {
        p["value"] for p in opportunity["StageName"]["picklistValues"]
    }
    assert "Renewal" in {p["value"] for p in opportunity["Type"]["picklistValues"]}
    assert opportunity["Healthsync_Renewal_Key__c"]["externalId"] is True
    task = {f["name"]: f for f in sf.Task.describe()["fields"]}
    assert task["Subject"]["nillable"] is True
    assert task["Healthsync_Key__c"]["externalId"] is True


def test_collection_results_match_the_wsdl_result_types(org):
    _, sf = org
    created = sf.restful(
        "composite/sobjects",
        method="POST",
        json={
            "records": [
                {"attributes": {"type": "Task"}, "Subject": "x"},
                {"attributes": {"type": "Task"}, "Status": "Nope"},
            ]
        },
    )
    for result in created:
        wsdl_shape("SaveResult", result)
    upserted = sf.restful(
        "composite/sobjects/Task/Healthsync_Key__c",
        method="PATCH",
        json={
            "records": [
                {"attributes": {"type": "Task"}, "Healthsync_Key__c": "k", "Subject": "y"},
                {"Subject": "no key"},
            ]
        },
    )
    for result in upserted:
        wsdl_shape("UpsertResult", result)
    codes = {e["statusCode"] for r in created + upserted for e in r["errors"]}
    assert codes <= status_codes()


def test_query_and_limits_shapes(org):
    _, sf = org
    page = sf.query("SELECT Id, Name, Owner.Name FROM Account LIMIT 2")
    assert list(page) == ["totalSize", "done", "records"]
    assert isinstance(page["totalSize"], int)
    assert isinstance(page["done"], bool)
    record = page["records"][0]
    assert list(record)[:1] == ["attributes"]
    assert set(record["attributes"]) == {"type", "url"}
    for value in sf.limits().values():
        assert set(value) >= {"Max", "Remaining"}
        assert all(isinstance(v, int) for v in value.values())


def test_every_postman_request_of_the_collection_is_served(org):
    """Replay the Salesforce Postman collection's requests (method + URL) against the sandbox."""
    if not POSTMAN.exists():
        pytest.skip(f"{POSTMAN} not found")
    _box, sf = org
    task = sf.Task.create({"Subject": "to delete", "Healthsync_Key__c": "pm-1"})["id"]
    fill = {
        "{{_endpoint}}": f"https://{sf.sf_instance}",
        "{{url}}": f"https://{sf.sf_instance}",
        "{{version}}": "62.0",
        "<SOBJECT_API_NAME>": "Account",
        "<RECORD_ID>": account_id(0),
        "<FIELD_NAME>": "Customer_Key__c",
        "<FIELD_VALUE>": "C000000",
    }
    bodies = {
        "composite__sobject_collections_create.json": {
            "records": [{"attributes": {"type": "Task"}, "Subject": "pm"}]
        },
        "composite__sobject_collections_update.json": {
            "records": [
                {"attributes": {"type": "Account"}, "id": account_id(0), "Website": "https://acme.example"}
            ]
        },
        "rest__sobject_create.json": {"Name": "Postman Co"},
        "rest__sobject_rows_update.json": {"Website": "https://acme.example"},
        "tooling__post_tooling_sobject.json": {
            "FullName": "Account.Postman__c",
            "Metadata": {"type": "Checkbox", "label": "Postman"},
        },
    }
    params = {
        "composite__sobject_collections_delete.json": {"ids": task, "allOrNone": "false"},
        "composite__sobject_collections_retrieve.json": {"ids": account_id(0), "fields": "Id,Name"},
        "tooling__tooling_query.json": {"q": "SELECT Id FROM CustomField"},
    }
    served = {}
    for path in sorted(POSTMAN.glob("*.json")):
        request = json.loads(path.read_text(encoding="utf-8"))
        url = request["url"]
        for placeholder, value in fill.items():
            url = url.replace(placeholder, value)
        if path.name in params:
            url = url.split("?")[0]
        if (
            path.name.startswith("tooling__") and "<" in url
        ) or path.name == "tooling__post_tooling_sobject.json":
            url = url.replace("sobjects/Account", "sobjects/CustomField")
        response = sf.session.request(
            request["method"],
            url,
            params=params.get(path.name),
            json=bodies.get(path.name),
            headers={"Authorization": f"Bearer {sf.session_id}"},
            timeout=10,
        )
        served[path.name] = response.status_code
    unserved = {name: status for name, status in served.items() if status >= 400}
    # The Tooling API describe is not part of the sandbox (healthsync only creates CustomFields).
    assert unserved == {"tooling__get_tooling_describe_sobject.json": 404}


def test_seed_apply_and_state(small_dataset, tmp_path):
    with salesforce(small_dataset) as (box, sf):
        accounts = requests.get(f"{box.url}/_sandbox/state/salesforce/Account", timeout=10).json()
        assert [a["Name"] for a in accounts] == [
            "Acme Corp",
            "Globex Corporation",
            "Initech LLC",
            "Umbrella Health",
            "Stark Industries",
        ]
        assert accounts[0]["Id"] == account_id(0)
        assert accounts[0]["Website"] == "https://acme.example"
        assert accounts[0]["Customer_Key__c"] == "C000000"
        users = requests.get(f"{box.url}/_sandbox/state/salesforce/User", timeout=10).json()
        assert {u["Email"] for u in users} >= {"dana.reyes@vendor.example", "sam.okafor@vendor.example"}
        assert set(app(box).objects()) >= {"Account", "Contact", "Opportunity", "Task", "User"}
        sf.Account.update(account_id(0), {"Health_Band__c": "Red"})
        box.clock.advance(1)
        changed = replace(small_dataset.customers[0], arr=99000.0)
        new = replace(small_dataset.customers[1], index=42, key="C000042", name="Newco")
        app(box).apply(Delta(now=box.clock.now(), new_customers=[new], changed_customers=[changed]))
        acme = sf.Account.get(account_id(0))
        assert (acme["AnnualRevenue"], acme["Health_Band__c"]) == (99000.0, "Red")
        assert acme["SystemModstamp"] >= "2026-11-03T09:00:00.000+0000"
        assert sf.Account.get_by_custom_id("Customer_Key__c", "C000042")["Name"] == "Newco"


def test_same_seed_same_ids_and_token(small_dataset):
    with salesforce(small_dataset) as (_box_a, sf_a), salesforce(small_dataset) as (_box_b, sf_b):
        assert sf_a.session_id == sf_b.session_id
        ids_a = [r["Id"] for r in sf_a.query("SELECT Id FROM Account")["records"]]
        assert ids_a == [r["Id"] for r in sf_b.query("SELECT Id FROM Account")["records"]]


def test_malformed_body_and_bad_type_are_400(org):
    _, sf = org
    raw = http(
        sf, "POST", "composite/sobjects", data=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert (raw.status_code, raw.json()[0]["errorCode"]) == (400, "JSON_PARSER_ERROR")
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.restful("composite/sobjects", method="POST", json={"records": [{"Name": "no type"}]})
    assert caught.value.content == [
        {"message": "Must send a concrete entity type.", "errorCode": "INVALID_TYPE"}
    ]


def test_oauth_password_and_client_credentials_flows(org):
    _, sf = org
    url = f"https://{sf.sf_instance}/services/oauth2/token"
    granted = sf.session.post(
        url,
        data={"grant_type": "password", "username": "dana.reyes@vendor.example", "password": "x"},
        timeout=10,
    ).json()
    assert set(granted) == {"access_token", "instance_url", "id", "token_type", "issued_at", "signature"}
    assert granted["instance_url"] == f"https://{sf.sf_instance}"
    logged_in = Salesforce(
        instance_url=granted["instance_url"],
        session_id=granted["access_token"],
        version="62.0",
        session=sf.session,
    )
    assert logged_in.query("SELECT COUNT() FROM Account")["totalSize"] == 5
    client = sf.session.post(
        url, data={"grant_type": "client_credentials", "client_id": "a", "client_secret": "b"}, timeout=10
    )
    assert client.json()["access_token"] == granted["access_token"]
    refused = sf.session.post(
        url, data={"grant_type": "password", "username": "nobody@x.example", "password": "x"}, timeout=10
    )
    assert (refused.status_code, refused.json()["error"]) == (400, "invalid_grant")
