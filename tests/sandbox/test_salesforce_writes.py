"""Salesforce sandbox: sObject Collections, single-record writes and custom fields via simple-salesforce."""

from __future__ import annotations

import pytest
import requests
from simple_salesforce.exceptions import SalesforceMalformedRequest, SalesforceResourceNotFound
from test_salesforce_support import app, http, salesforce

from healthsync.sandbox.salesforce.seed import account_id


@pytest.fixture
def org(small_dataset):
    with salesforce(small_dataset) as (box, sf):
        yield box, sf


@pytest.fixture
def bare(small_dataset):
    with salesforce(small_dataset, provisioned=False) as (box, sf):
        yield box, sf


def _opportunity(name: str, **extra):
    return {
        "attributes": {"type": "Opportunity"},
        "Name": name,
        "StageName": "Preparation",
        "CloseDate": "2027-01-01",
        **extra,
    }


def _state(box, obj):
    return requests.get(f"{box.url}/_sandbox/state/salesforce/{obj}", timeout=10).json()


def test_collection_create_reports_each_record_in_input_order(org):
    box, sf = org
    results = sf.restful(
        "composite/sobjects",
        method="POST",
        json={
            "allOrNone": False,
            "records": [
                _opportunity("Good 1", AccountId=account_id(0), Amount=1200.5, Type="Renewal"),
                _opportunity("Bad stage", StageName="Nope"),
                {"attributes": {"type": "Opportunity"}, "Name": "Missing bits"},
                {
                    "attributes": {"type": "Task"},
                    "WhatId": account_id(1),
                    "Subject": "Call",
                    "Healthsync_Key__c": "k1",
                },
                {"attributes": {"type": "Task"}, "WhatId": "001000000000000"},
                {"attributes": {"type": "Task"}, "Subjekt": "typo"},
                {"attributes": {"type": "Task"}, "IsClosed": True},
            ],
        },
    )
    assert [r["success"] for r in results] == [True, False, False, True, False, False, False]
    codes = [r["errors"][0]["statusCode"] if r["errors"] else None for r in results]
    assert codes == [
        None,
        "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
        "REQUIRED_FIELD_MISSING",
        None,
        "INVALID_CROSS_REFERENCE_KEY",
        "INVALID_FIELD",
        "INVALID_FIELD_FOR_INSERT_UPDATE",
    ]
    assert results[2]["errors"][0]["fields"] == ["StageName", "CloseDate"]
    assert "id" not in results[1]
    tasks = [t for t in _state(box, "Task") if t["Healthsync_Key__c"] == "k1"]
    assert tasks[0]["Status"] == "Not Started"  # picklist default
    assert tasks[0]["AccountId"] == account_id(1)
    assert tasks[0]["OwnerId"].startswith("005")
    opportunity = sf.Opportunity.get(results[0]["id"])
    assert (opportunity["IsClosed"], opportunity["Amount"], opportunity["AccountId"]) == (
        False,
        1200.5,
        account_id(0),
    )


def test_collection_update_with_one_bad_record_keeps_the_good_ones(org):
    _box, sf = org
    results = sf.restful(
        "composite/sobjects",
        method="PATCH",
        json={
            "records": [
                {
                    "attributes": {"type": "Account"},
                    "id": account_id(0),
                    "Health_Score__c": 81.25,
                    "Health_Band__c": "Green",
                },
                {"attributes": {"type": "Account"}, "id": account_id(1), "Health_Band__c": "Purple"},
                {"attributes": {"type": "Account"}, "id": "001XYZ", "Health_Band__c": "Red"},
                {"attributes": {"type": "Account"}, "Health_Band__c": "Red"},
                {"attributes": {"type": "Account"}, "id": account_id(2), "Health_Score__c": 10000},
            ]
        },
    )
    assert results[0] == {"id": account_id(0), "success": True, "errors": []}
    assert [r["errors"][0]["statusCode"] for r in results[1:]] == [
        "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
        "MALFORMED_ID",
        "MISSING_ARGUMENT",
        "NUMBER_OUTSIDE_VALID_RANGE",
    ]
    acme = sf.Account.get(account_id(0))
    assert (acme["Health_Score__c"], acme["Health_Band__c"]) == (81.3, "Green")  # Number(5,1) rounds
    assert acme["SystemModstamp"] > "2026-11-02T08:59:59.999+0000"
    assert sf.Account.get(account_id(1))["Health_Band__c"] is None


def test_201_records_is_refused_whole(org):
    _, sf = org
    records = [_opportunity(f"O{i}") for i in range(201)]
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.restful("composite/sobjects", method="POST", json={"records": records})
    assert caught.value.content == [
        {
            "message": "record limit reached. cannot submit more than 200 records into this call",
            "errorCode": "EXCEEDED_ID_LIMIT",
        }
    ]
    assert sf.query("SELECT COUNT() FROM Opportunity")["totalSize"] == 0
    assert len(sf.restful("composite/sobjects", method="POST", json={"records": records[:200]})) == 200


def test_all_or_none_rolls_everything_back(org):
    box, sf = org
    results = sf.restful(
        "composite/sobjects",
        method="PATCH",
        json={
            "allOrNone": True,
            "records": [
                {"attributes": {"type": "Account"}, "id": account_id(0), "Health_Band__c": "Red"},
                {"attributes": {"type": "Account"}, "id": account_id(1), "Segment__c": "Huge"},
            ],
        },
    )
    assert results[0]["errors"][0]["statusCode"] == "ALL_OR_NONE_OPERATION_ROLLED_BACK"
    assert results[0]["success"] is False
    assert results[1]["errors"][0]["statusCode"] == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
    assert sf.Account.get(account_id(0))["Health_Band__c"] is None
    created = sf.restful(
        "composite/sobjects",
        method="POST",
        json={"allOrNone": True, "records": [_opportunity("Kept?"), _opportunity("No date", CloseDate=None)]},
    )
    assert [r["success"] for r in created] == [False, False]
    assert _state(box, "Opportunity") == []


def test_external_id_upsert_updates_instead_of_duplicating(org):
    box, sf = org
    path = "composite/sobjects/Opportunity/Healthsync_Renewal_Key__c"
    first = sf.restful(
        path,
        method="PATCH",
        json={"records": [_opportunity("Renewal C1", Healthsync_Renewal_Key__c="C000001-2027")]},
    )
    assert first[0]["created"] is True
    second = sf.restful(
        path,
        method="PATCH",
        json={
            "records": [
                {
                    "attributes": {"type": "Opportunity"},
                    "Healthsync_Renewal_Key__c": "c000001-2027",
                    "StageName": "Negotiation",
                },
                _opportunity("Renewal C2", Healthsync_Renewal_Key__c="C000002-2027"),
                _opportunity("Twin A", Healthsync_Renewal_Key__c="dup"),
                _opportunity("Twin B", Healthsync_Renewal_Key__c="dup"),
            ]
        },
    )
    assert [(r["success"], r["created"]) for r in second] == [
        (True, False),
        (True, True),
        (False, False),
        (False, False),
    ]
    assert second[0]["id"] == first[0]["id"]
    assert {r["errors"][0]["statusCode"] for r in second[2:]} == {"DUPLICATE_EXTERNAL_ID"}
    stored = [o for o in _state(box, "Opportunity") if o["Healthsync_Renewal_Key__c"]]
    assert sorted(o["Healthsync_Renewal_Key__c"].upper() for o in stored) == ["C000001-2027", "C000002-2027"]
    assert next(o for o in stored if o["Id"] == first[0]["id"])["StageName"] == "Negotiation"
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.restful("composite/sobjects/Opportunity/Name", method="PATCH", json={"records": []})
    assert caught.value.content[0]["errorCode"] == "INVALID_FIELD"


def test_unique_external_id_collision_is_duplicate_value(org):
    _, sf = org
    results = sf.restful(
        "composite/sobjects",
        method="PATCH",
        json={
            "records": [
                {"attributes": {"type": "Account"}, "id": account_id(1), "Customer_Key__c": "c000000"}
            ]
        },
    )
    assert results[0]["errors"][0]["statusCode"] == "DUPLICATE_VALUE"
    assert account_id(0) in results[0]["errors"][0]["message"]


def test_bad_date_fails_the_whole_request_as_json_parser_error(org):
    _, sf = org
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.restful(
            "composite/sobjects",
            method="POST",
            json={"records": [_opportunity("A"), _opportunity("B", CloseDate="01/02/2027")]},
        )
    assert caught.value.content[0]["errorCode"] == "JSON_PARSER_ERROR"
    assert sf.query("SELECT COUNT() FROM Opportunity")["totalSize"] == 0


def test_single_record_create_get_update_delete_and_upsert(org):
    _, sf = org
    created = sf.Task.create(
        {"Subject": "Renewal prep", "WhatId": account_id(2), "ActivityDate": "2026-12-01"}
    )
    assert created["success"] is True
    assert sf.Task.update(created["id"], {"Status": "Completed"}) == 204
    task = sf.Task.get(created["id"])
    assert (task["Status"], task["IsClosed"]) == ("Completed", True)
    assert sf.Task.delete(created["id"]) == 204
    with pytest.raises(SalesforceResourceNotFound) as caught:
        sf.Task.get(created["id"])
    assert caught.value.content[0]["errorCode"] == "ENTITY_IS_DELETED"
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.Account.update(account_id(0), {"Name": None})
    assert caught.value.content[0]["errorCode"] == "REQUIRED_FIELD_MISSING"
    assert sf.Account.get_by_custom_id("Customer_Key__c", "C000004")["Name"] == "Stark Industries"
    response = sf.Task.upsert("Healthsync_Key__c/T-1", {"Subject": "First"}, raw_response=True)
    assert (response.status_code, response.json()["created"]) == (201, True)
    response = sf.Task.upsert("Healthsync_Key__c/T-1", {"Subject": "Second"}, raw_response=True)
    assert (response.status_code, response.json()["created"]) == (200, False)
    assert (
        sf.query("SELECT Subject FROM Task WHERE Healthsync_Key__c = 'T-1'")["records"][0]["Subject"]
        == "Second"
    )


def test_reference_by_parent_external_id(org):
    _, sf = org
    results = sf.restful(
        "composite/sobjects",
        method="POST",
        json={
            "records": [
                _opportunity("By key", Account={"Customer_Key__c": "C000003"}),
                _opportunity("Nope", Account={"Customer_Key__c": "none"}),
            ]
        },
    )
    assert sf.Opportunity.get(results[0]["id"])["AccountId"] == account_id(3)
    assert results[1]["errors"][0]["statusCode"] == "INVALID_FIELD"


def test_lock_rows_fault_hook(org):
    box, sf = org
    app(box).lock_rows([account_id(0)], times=1)
    assert _state(box, "_locks") == [{"Id": account_id(0), "remaining": 1}]
    body = {"records": [{"attributes": {"type": "Account"}, "id": account_id(0), "Health_Band__c": "Red"}]}
    first = sf.restful("composite/sobjects", method="PATCH", json=body)
    assert first[0]["errors"][0]["statusCode"] == "UNABLE_TO_LOCK_ROW"
    assert sf.restful("composite/sobjects", method="PATCH", json=body)[0]["success"] is True


def test_unprovisioned_org_lacks_custom_fields_until_tooling_creates_them(bare):
    _box, sf = bare
    names = {f["name"] for f in sf.Account.describe()["fields"]}
    assert "Customer_Key__c" not in names
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.query("SELECT Health_Score__c FROM Account")
    assert caught.value.content[0]["errorCode"] == "INVALID_FIELD"
    result = sf.restful(
        "composite/sobjects",
        method="PATCH",
        json={"records": [{"attributes": {"type": "Account"}, "id": account_id(0), "Health_Score__c": 50}]},
    )
    assert result[0]["errors"][0]["statusCode"] == "INVALID_FIELD"
    renewal = sf.restful(
        "composite/sobjects",
        method="POST",
        json={"records": [_opportunity("R", Type="Renewal", StageName="Prospecting")]},
    )
    assert renewal[0]["errors"][0]["statusCode"] == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"

    field = {
        "FullName": "Account.Health_Score__c",
        "Metadata": {"type": "Number", "label": "Health Score", "precision": 5, "scale": 1},
    }
    created = sf.toolingexecute("sobjects/CustomField", method="POST", data=field)
    assert created["success"] is True
    assert created["id"].startswith("00N")
    described = {f["name"]: f for f in sf.Account.describe()["fields"]}["Health_Score__c"]
    assert (described["type"], described["precision"], described["scale"], described["custom"]) == (
        "double",
        5,
        1,
        True,
    )
    assert sf.Account.update(account_id(0), {"Health_Score__c": 50}) == 204
    assert (
        sf.query("SELECT Health_Score__c FROM Account WHERE Health_Score__c > 1")["records"][0][
            "Health_Score__c"
        ]
        == 50.0
    )
    again = http(sf, "POST", "tooling/sobjects/CustomField", json=field)
    assert (again.status_code, again.json()[0]["errorCode"]) == (400, "DUPLICATE_DEVELOPER_NAME")
    key = {
        "FullName": "Account.Customer_Key__c",
        "Metadata": {
            "type": "Text",
            "label": "Customer Key",
            "length": 20,
            "externalId": True,
            "unique": True,
        },
    }
    sf.toolingexecute("sobjects/CustomField", method="POST", data=key)
    ext = {f["name"]: f for f in sf.Account.describe()["fields"]}["Customer_Key__c"]
    assert (ext["externalId"], ext["unique"], ext["idLookup"]) == (True, True, True)
    found = sf.toolingexecute(
        "query/?q=SELECT+Id,DeveloperName+FROM+CustomField+WHERE+TableEnumOrId='Account'"
    )
    assert sorted(r["DeveloperName"] for r in found["records"]) == ["Customer_Key", "Health_Score"]
    bad = http(
        sf,
        "POST",
        "tooling/sobjects/CustomField",
        json={"FullName": "Account.X__c", "Metadata": {"type": "Text", "label": "X"}},
    )
    assert bad.json()[0]["errorCode"] == "FIELD_INTEGRITY_EXCEPTION"
