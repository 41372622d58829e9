"""Salesforce sandbox: what `healthsync fields apply` and `healthsync check` need (issue #7).

Tooling `CustomField` create for Task fields (defined on Activity), Tooling `StandardValueSet`
query/GET/PATCH for the Opportunity Stage and Type picklists, and the permission switch
(`restrict`) that takes write access away from the API user. Everything goes through the unmodified
simple-salesforce over HTTPS; shapes and codes are checked against the Partner WSDL where it covers
them (describe results, PicklistEntry, StatusCode/ExceptionCode values).
"""

from __future__ import annotations

import pytest
import requests
from simple_salesforce.exceptions import SalesforceMalformedRequest
from test_salesforce_support import app, exception_codes, http, salesforce, status_codes, wsdl_shape

from healthsync.sandbox.salesforce.seed import account_id

SVS = "tooling/sobjects/StandardValueSet"
# Every key of a Tooling `standardValue` entry (Metadata API StandardValue, Tooling JSON names).
STANDARD_VALUE_KEYS = {
    "allowEmail", "closed", "color", "converted", "cssExposed", "default", "description",
    "forecastCategory", "groupingString", "highPriority", "isActive", "label", "probability",
    "reverseRole", "reviewed", "urls", "valueName", "won",
}  # fmt: skip


@pytest.fixture
def org(small_dataset):
    with salesforce(small_dataset) as (box, sf):
        yield box, sf


@pytest.fixture
def bare(small_dataset):
    with salesforce(small_dataset, provisioned=False) as (box, sf):
        yield box, sf


def _codes() -> set[str]:
    return status_codes() | exception_codes()


def _fields(sf, name: str) -> dict:
    return {f["name"]: f for f in getattr(sf, name).describe()["fields"]}


def _tooling_query(sf, soql: str) -> requests.Response:
    return http(sf, "GET", "tooling/query/", params={"q": soql})


def _opportunity(name: str, stage: str, **extra) -> dict:
    return {
        "attributes": {"type": "Opportunity"},
        "Name": name,
        "StageName": stage,
        "CloseDate": "2027-01-31",
        **extra,
    }


def _create(sf, *records: dict) -> list[dict]:
    return sf.restful("composite/sobjects", method="POST", json={"records": list(records)})


def _error(response: requests.Response) -> tuple[int, str, str]:
    body = response.json()
    assert isinstance(body, list)
    assert body[0]["errorCode"] in _codes()
    return response.status_code, body[0]["errorCode"], body[0]["message"]


# --- 1. Task custom fields live on Activity -----------------------------------------------------


KEY_FIELD = {
    "FullName": "Activity.Healthsync_Key__c",
    # The full Metadata shape the Tooling API itself uses, nulls included.
    "Metadata": {
        "caseSensitive": False,
        "defaultValue": None,
        "description": None,
        "externalId": True,
        "inlineHelpText": None,
        "label": "Healthsync Key",
        "length": 255,
        "precision": None,
        "required": False,
        "scale": None,
        "type": "Text",
        "unique": True,
        "valueSet": None,
    },
}


def test_activity_field_lands_on_task_with_its_external_id(bare):
    box, sf = bare
    assert "Healthsync_Key__c" not in _fields(sf, "Task")
    created = sf.toolingexecute("sobjects/CustomField", method="POST", data=KEY_FIELD)
    assert created["success"] is True
    assert created["id"].startswith("00N")
    field = _fields(sf, "Task")["Healthsync_Key__c"]
    assert (field["type"], field["length"], field["custom"]) == ("string", 255, True)
    assert (field["externalId"], field["unique"], field["idLookup"], field["caseSensitive"]) == (
        True,
        True,
        True,
        False,
    )
    wsdl_shape("Field", field)
    # The field works as an external id at once: upsert by it creates, then updates.
    path = "composite/sobjects/Task/Healthsync_Key__c"
    record = {"attributes": {"type": "Task"}, "Healthsync_Key__c": "risk:C1:2026-W45", "Subject": "Call"}
    assert sf.restful(path, method="PATCH", json={"records": [record]})[0]["created"] is True
    again = sf.restful(path, method="PATCH", json={"records": [{**record, "Subject": "Call again"}]})
    assert again[0]["created"] is False
    # Its Tooling row names Activity as the table.
    rows = sf.toolingexecute(
        "query/", params={"q": "SELECT Id, DeveloperName, TableEnumOrId FROM CustomField"}
    )["records"]
    assert [(r["DeveloperName"], r["TableEnumOrId"]) for r in rows] == [("Healthsync_Key", "Activity")]
    assert rows[0]["Id"] == created["id"]
    assert [c["DeveloperName"] for c in requests.get(
        f"{box.url}/_sandbox/state/salesforce/CustomField", timeout=10
    ).json()] == ["Healthsync_Key"]  # fmt: skip


def test_a_second_create_of_the_activity_field_is_a_duplicate(bare):
    _, sf = bare
    sf.toolingexecute("sobjects/CustomField", method="POST", data=KEY_FIELD)
    again = http(sf, "POST", "tooling/sobjects/CustomField", json=KEY_FIELD)
    assert _error(again) == (
        400,
        "DUPLICATE_DEVELOPER_NAME",
        "There is already a field named Healthsync_Key__c on Activity.",
    )


@pytest.mark.parametrize("object_name", ["Task", "Event", "task"])
def test_task_or_event_full_name_is_refused_as_salesforce_refuses_it(bare, object_name):
    _, sf = bare
    refused = http(
        sf,
        "POST",
        "tooling/sobjects/CustomField",
        json={"FullName": f"{object_name}.Other__c", "Metadata": {"type": "Text", "label": "O", "length": 9}},
    )
    assert _error(refused) == (
        400,
        "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
        f"Entity Enumeration Or ID: bad value for restricted picklist field: {object_name}",
    )
    assert refused.json()[0]["fields"] == ["TableEnumOrId"]
    assert "Other__c" not in _fields(sf, "Task")
    with pytest.raises(SalesforceMalformedRequest):
        sf.toolingexecute(
            "sobjects/CustomField",
            method="POST",
            data={"FullName": "Task.Other__c", "Metadata": {"type": "Text", "label": "O", "length": 9}},
        )


def test_provisioned_org_has_the_task_key_as_an_activity_field(org):
    _, sf = org
    assert _fields(sf, "Task")["Healthsync_Key__c"]["externalId"] is True
    rows = sf.toolingexecute(
        "query/",
        params={
            "q": "SELECT DeveloperName, TableEnumOrId FROM CustomField WHERE DeveloperName = 'Healthsync_Key'"
        },
    )["records"]
    assert [r["TableEnumOrId"] for r in rows] == ["Activity"]


# --- 2. StandardValueSet -------------------------------------------------------------------------


def _stage_set(sf) -> dict:
    return sf.toolingexecute("sobjects/StandardValueSet/OpportunityStage")


def _values(metadata: dict, *, active: bool = True) -> list[str]:
    return [v["valueName"] for v in metadata["standardValue"] if (v["isActive"] is not False) == active]


def test_query_the_value_sets_by_master_label(bare):
    _, sf = bare
    for name in ("OpportunityStage", "OpportunityType"):
        found = _tooling_query(
            sf,
            f"SELECT Id, MasterLabel FROM StandardValueSet WHERE MasterLabel = '{name}'",  # noqa: S608
        )
        body = found.json()
        assert found.status_code == 200
        assert (body["size"], body["totalSize"], body["done"], body["entityTypeName"]) == (
            1,
            1,
            True,
            "StandardValueSet",
        )
        record = body["records"][0]
        # Every StandardValueSet shares one Id; the record is named by its DurableId.
        assert record == {
            "attributes": {
                "type": "StandardValueSet",
                "url": f"/services/data/v62.0/tooling/sobjects/StandardValueSet/{name}",
            },
            "Id": "000000000000000AAA",
            "MasterLabel": name,
        }


def test_metadata_or_full_name_only_for_a_single_row(bare):
    _, sf = bare
    both = "WHERE MasterLabel IN ('OpportunityStage', 'OpportunityType')"
    listed = _tooling_query(sf, f"SELECT Id, MasterLabel FROM StandardValueSet {both}")  # noqa: S608
    assert len(listed.json()["records"]) == 2
    for fields in ("Id, Metadata", "FullName", "MasterLabel, FullName, Metadata"):
        refused = _tooling_query(sf, f"SELECT {fields} FROM StandardValueSet {both}")  # noqa: S608
        assert _error(refused) == (
            400,
            "MALFORMED_QUERY",
            (
                "When retrieving results with Metadata or FullName fields, the query qualifications must "
                "specify no more than one row for retrieval. Result size: 2"
            ),
        )
    one = _tooling_query(
        sf, "SELECT Id, FullName, Metadata FROM StandardValueSet WHERE MasterLabel = 'OpportunityType'"
    ).json()["records"][0]
    assert one["FullName"] == "OpportunityType"
    assert "Renewal" not in _values(one["Metadata"])
    assert one["Metadata"] == sf.toolingexecute("sobjects/StandardValueSet/OpportunityType")["Metadata"]


def test_get_stage_set_has_the_metadata_api_value_attributes(bare):
    _, sf = bare
    got = _stage_set(sf)
    assert got["attributes"] == {
        "type": "StandardValueSet",
        "url": "/services/data/v62.0/tooling/sobjects/StandardValueSet/OpportunityStage",
    }
    assert (got["Id"], got["DurableId"], got["FullName"], got["MasterLabel"]) == (
        "000000000000000AAA",
        "OpportunityStage",
        "OpportunityStage",
        "OpportunityStage",
    )
    metadata = got["Metadata"]
    assert set(metadata) == {"groupingStringEnum", "sorted", "standardValue", "urls"}
    assert metadata["sorted"] is False
    assert all(set(v) == STANDARD_VALUE_KEYS for v in metadata["standardValue"])
    by_name = {v["valueName"]: v for v in metadata["standardValue"]}
    assert "Preparation" not in by_name  # a fresh org: no renewal stages yet
    won, lost, prospecting = by_name["Closed Won"], by_name["Closed Lost"], by_name["Prospecting"]
    assert (won["closed"], won["won"], won["probability"], won["forecastCategory"]) == (
        True,
        True,
        100,
        "Closed",
    )
    assert (lost["closed"], lost["won"], lost["probability"], lost["forecastCategory"]) == (
        True,
        False,
        0,
        "Omitted",
    )
    assert (prospecting["closed"], prospecting["won"], prospecting["default"], prospecting["label"]) == (
        False,
        False,
        False,
        "Prospecting",
    )
    # Describe and the value set agree.
    assert [p["value"] for p in _fields(sf, "Opportunity")["StageName"]["picklistValues"]] == _values(
        metadata
    )


def test_unknown_set_or_bare_shared_id_is_not_found(bare):
    _, sf = bare
    for key in ("NoSuchSet", "000000000000000AAA"):
        assert _error(http(sf, "GET", f"{SVS}/{key}"))[:2] == (404, "NOT_FOUND")
    assert _error(http(sf, "GET", "tooling/sobjects/CustomField/00N5jA000000000AAA"))[:2] == (
        404,
        "NOT_FOUND",
    )


def test_unprovisioned_org_refuses_renewal_stage_and_type(bare):
    _, sf = bare
    results = _create(
        sf, _opportunity("R1", "Preparation"), _opportunity("R2", "Prospecting", Type="Renewal")
    )
    assert [r["errors"][0] for r in results] == [
        {
            "statusCode": "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
            "message": "Stage: bad value for restricted picklist field: Preparation",
            "fields": ["StageName"],
        },
        {
            "statusCode": "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
            "message": "Opportunity Type: bad value for restricted picklist field: Renewal",
            "fields": ["Type"],
        },
    ]
    single = http(
        sf,
        "POST",
        "sobjects/Opportunity",
        json={k: v for k, v in _opportunity("R", "Preparation").items() if k != "attributes"},
    )
    assert _error(single)[:2] == (400, "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST")


def _renewal_stages(metadata: dict) -> dict:
    """Read-modify-write: the current list plus the renewal stages (one named the Metadata API way)."""
    out = dict(metadata)
    out["standardValue"] = [
        *metadata["standardValue"],
        {"valueName": "Preparation", "label": "Preparation", "default": False, "closed": False, "won": False,
         "probability": 10, "forecastCategory": "Pipeline"},
        {"fullName": "Initiation", "label": "Initiation", "probability": 25, "forecastCategory": "Pipeline"},
        {"valueName": "Negotiation", "probability": 50, "forecastCategory": "BestCase"},
        {"valueName": "Approval", "probability": 75, "forecastCategory": "Forecast"},
        {"valueName": "Renewed", "closed": True, "won": True, "probability": 100, "forecastCategory": "Closed"},
    ]  # fmt: skip
    return out


def test_patch_stage_set_adds_stages_that_describe_and_writes_honour(bare):
    _, sf = bare
    before = _stage_set(sf)["Metadata"]
    # A Metadata query is planned (and cached) before the change; it must see the change.
    query = "SELECT Metadata FROM StandardValueSet WHERE MasterLabel = 'OpportunityStage'"
    assert "Renewed" not in _values(_tooling_query(sf, query).json()["records"][0]["Metadata"])
    patched = http(sf, "PATCH", f"{SVS}/OpportunityStage", json={"Metadata": _renewal_stages(before)})
    assert (patched.status_code, patched.content) == (204, b"")
    after = _stage_set(sf)["Metadata"]
    assert _values(after) == [
        *_values(before),
        "Preparation",
        "Initiation",
        "Negotiation",
        "Approval",
        "Renewed",
    ]
    assert _values(_tooling_query(sf, query).json()["records"][0]["Metadata"]) == _values(after)
    initiation = next(v for v in after["standardValue"] if v["valueName"] == "Initiation")
    assert (initiation["label"], initiation["closed"], initiation["won"], initiation["probability"]) == (
        "Initiation",
        False,
        False,
        25,
    )
    stage = _fields(sf, "Opportunity")["StageName"]
    assert [p["value"] for p in stage["picklistValues"]] == _values(after)
    assert stage["restrictedPicklist"] is True
    for entry in stage["picklistValues"]:
        wsdl_shape("PicklistEntry", entry)
    results = _create(sf, _opportunity("Renewal C1", "Preparation"), _opportunity("Renewal C2", "Renewed"))
    assert [r["success"] for r in results] == [True, True]
    rows = sf.query("SELECT Name, StageName, IsClosed, IsWon, Probability FROM Opportunity ORDER BY Name")[
        "records"
    ]
    assert [(r["StageName"], r["IsClosed"], r["IsWon"], r["Probability"]) for r in rows] == [
        ("Preparation", False, False, 10.0),
        ("Renewed", True, True, 100.0),
    ]
    # Moving a deal to another stage recomputes the flags and the stage's probability.
    assert sf.Opportunity.update(results[0]["id"], {"StageName": "Closed Lost"}) == 204
    moved = sf.Opportunity.get(results[0]["id"])
    assert (moved["IsClosed"], moved["IsWon"], moved["Probability"]) == (True, False, 0.0)
    # The same Metadata again changes nothing.
    http(sf, "PATCH", f"{SVS}/OpportunityStage", json={"Metadata": _renewal_stages(before)})
    assert _stage_set(sf)["Metadata"] == after


def test_patch_type_set_allows_renewal_deals(bare):
    _, sf = bare
    current = sf.toolingexecute("sobjects/StandardValueSet/OpportunityType")["Metadata"]
    metadata = {
        **current,
        "standardValue": [*current["standardValue"], {"valueName": "Renewal", "label": "Renewal"}],
    }
    assert (
        sf.toolingexecute(
            "sobjects/StandardValueSet/OpportunityType", method="PATCH", data={"Metadata": metadata}
        )
        == ""
    )
    assert "Renewal" in [p["value"] for p in _fields(sf, "Opportunity")["Type"]["picklistValues"]]
    assert _create(sf, _opportunity("R", "Prospecting", Type="Renewal"))[0]["success"] is True


def test_a_value_left_out_is_deactivated_and_kept_on_records(bare):
    _, sf = bare
    created = _create(sf, _opportunity("Old deal", "Prospecting"))[0]["id"]
    before = _stage_set(sf)["Metadata"]
    without = {
        **before,
        "standardValue": [v for v in before["standardValue"] if v["valueName"] != "Prospecting"],
    }
    assert http(sf, "PATCH", f"{SVS}/OpportunityStage", json={"Metadata": without}).status_code == 204
    after = _stage_set(sf)["Metadata"]
    assert "Prospecting" not in _values(after)
    assert _values(after, active=False) == ["Prospecting"]
    assert after["standardValue"][-1]["isActive"] is False  # inactive values come last
    assert "Prospecting" not in [
        p["value"] for p in _fields(sf, "Opportunity")["StageName"]["picklistValues"]
    ]
    assert sf.Opportunity.get(created)["StageName"] == "Prospecting"  # the record keeps its stage
    refused = _create(sf, _opportunity("New deal", "Prospecting"))[0]["errors"][0]["statusCode"]
    assert refused == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
    # Other fields of the old deal can still be written; listing the value again reactivates it.
    assert sf.Opportunity.update(created, {"Amount": 10}) == 204
    assert http(sf, "PATCH", f"{SVS}/OpportunityStage", json={"Metadata": before}).status_code == 204
    assert _values(_stage_set(sf)["Metadata"]) == _values(before)
    assert _create(sf, _opportunity("New deal", "Prospecting"))[0]["success"] is True


def test_patch_by_shared_id_needs_the_full_name(bare):
    _, sf = bare
    metadata = _renewal_stages(_stage_set(sf)["Metadata"])
    nameless = http(sf, "PATCH", f"{SVS}/000000000000000AAA", json={"Metadata": metadata})
    assert _error(nameless)[:2] == (404, "NOT_FOUND")
    named = http(
        sf, "PATCH", f"{SVS}/000000000000000AAA", json={"FullName": "OpportunityStage", "Metadata": metadata}
    )
    assert named.status_code == 204
    assert "Renewed" in _values(_stage_set(sf)["Metadata"])


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"standardValue": []}, "standardValue must list at least one picklist value"),
        ({"standardValue": [{"label": "no name"}]}, "standardValue[0] needs a valueName (or fullName)"),
        ({"standardValue": [{"valueName": "A"}, {"valueName": "a"}]}, "duplicate value: a"),
        ({"standardValue": [{"valueName": "A", "default": True}, {"valueName": "B", "default": True}]},
         "only one value can be the default"),
        ({"standardValue": [{"valueName": "Won?", "won": True}]}, "Won?: a won value must also be closed"),
        ({"standardValue": [{"valueName": "P", "probability": 120}]}, "P: probability must be a whole number from 0 to 100"),
        ({"standardValue": [{"valueName": "F", "forecastCategory": "Commit"}]},
         "F: forecastCategory 'Commit' is not one of BestCase, Closed, Forecast, Omitted, Pipeline"),
        ({"standardValue": [{"valueName": "A", "isActive": False}]}, "standardValue must list at least one active picklist value"),
        ({"sorted": "yes", "standardValue": [{"valueName": "A"}]}, "sorted must be true or false"),
    ],
    ids=["empty", "nameless", "duplicate", "two-defaults", "won-open", "probability", "forecast", "all-inactive", "sorted"],
)  # fmt: skip
def test_invalid_stage_metadata_is_refused_and_changes_nothing(bare, change, message):
    _, sf = bare
    before = _stage_set(sf)["Metadata"]
    refused = http(sf, "PATCH", f"{SVS}/OpportunityStage", json={"Metadata": {**before, **change}})
    assert _error(refused) == (400, "FIELD_INTEGRITY_EXCEPTION", f"OpportunityStage: {message}")
    assert _stage_set(sf)["Metadata"] == before


def test_full_name_cannot_rename_a_set(bare):
    _, sf = bare
    metadata = _stage_set(sf)["Metadata"]
    refused = http(
        sf, "PATCH", f"{SVS}/OpportunityStage", json={"FullName": "OpportunityType", "Metadata": metadata}
    )
    assert _error(refused)[:2] == (400, "FIELD_INTEGRITY_EXCEPTION")


def test_sorted_set_lists_values_alphabetically(bare):
    _, sf = bare
    current = sf.toolingexecute("sobjects/StandardValueSet/OpportunityType")["Metadata"]
    http(sf, "PATCH", f"{SVS}/OpportunityType", json={"Metadata": {**current, "sorted": True}})
    described = [p["value"] for p in _fields(sf, "Opportunity")["Type"]["picklistValues"]]
    assert described == sorted(described, key=str.casefold)
    assert sf.toolingexecute("sobjects/StandardValueSet/OpportunityType")["Metadata"]["sorted"] is True


def test_task_status_set_drives_is_closed(bare):
    _, sf = bare
    current = sf.toolingexecute("sobjects/StandardValueSet/TaskStatus")["Metadata"]
    assert [v["valueName"] for v in current["standardValue"] if v["closed"]] == ["Completed"]
    metadata = {
        **current,
        "standardValue": [*current["standardValue"], {"valueName": "Done", "closed": True}],
    }
    assert http(sf, "PATCH", f"{SVS}/TaskStatus", json={"Metadata": metadata}).status_code == 204
    task = sf.Task.create({"Subject": "x", "Status": "Done"})["id"]
    assert sf.Task.get(task)["IsClosed"] is True
    assert sf.Task.get(sf.Task.create({"Subject": "y"})["id"])["Status"] == "Not Started"  # the default


def test_provisioned_org_already_has_the_renewal_values(org):
    _, sf = org
    stages = _values(_stage_set(sf)["Metadata"])
    assert {"Preparation", "Initiation", "Negotiation", "Approval", "Closed Won", "Closed Lost"} <= set(
        stages
    )
    assert "Renewal" in _values(sf.toolingexecute("sobjects/StandardValueSet/OpportunityType")["Metadata"])
    described = _fields(sf, "Opportunity")
    assert {"Preparation", "Approval"} <= {p["value"] for p in described["StageName"]["picklistValues"]}
    result = _create(sf, _opportunity("R", "Approval", Type="Renewal"))[0]
    assert result["success"] is True
    assert sf.Opportunity.get(result["id"])["Probability"] == 75.0


def test_state_dump_lists_value_sets(org):
    box, _ = org
    dumped = requests.get(f"{box.url}/_sandbox/state/salesforce/StandardValueSet", timeout=10).json()
    assert [d["DurableId"] for d in dumped] == [
        "AccountType",
        "Industry",
        "OpportunityStage",
        "OpportunityType",
        "TaskPriority",
        "TaskStatus",
    ]


# --- 3. Permissions for `check` ------------------------------------------------------------------


def _permissions(box, method: str, body: dict | None = None) -> requests.Response:
    return requests.request(method, f"{box.url}/_sandbox/permissions/salesforce", json=body, timeout=10)


def test_read_only_field_describes_as_such_and_refuses_writes(org):
    box, sf = org
    restricted = _permissions(box, "POST", {"fields": ["Account.Health_Score__c"]})
    assert restricted.json() == {"fields": ["Account.Health_Score__c"], "objects": []}
    assert _permissions(box, "GET").json() == restricted.json()
    described = sf.Account.describe()
    wsdl_shape("DescribeSObjectResult", described, rest_extras=frozenset({"urls"}))
    fields = {f["name"]: f for f in described["fields"]}
    score, band = fields["Health_Score__c"], fields["Health_Band__c"]
    assert (score["createable"], score["updateable"]) == (False, False)
    assert (band["createable"], band["updateable"]) == (True, True)
    assert described["updateable"] is True  # the object itself stays writable
    results = sf.restful(
        "composite/sobjects",
        method="PATCH",
        json={
            "records": [
                {"attributes": {"type": "Account"}, "id": account_id(0), "Health_Score__c": 50, "Health_Band__c": "Red"},
                {"attributes": {"type": "Account"}, "id": account_id(1), "Health_Band__c": "Red"},
            ]
        },
    )  # fmt: skip
    assert results[0]["errors"] == [
        {
            "statusCode": "INVALID_FIELD_FOR_INSERT_UPDATE",
            "message": "Unable to create/update fields: Health_Score__c. Please check the security settings of "
            "this field and verify that it is read/write for your profile or permission set.",
            "fields": ["Health_Score__c"],
        }
    ]
    assert results[1]["success"] is True
    assert sf.Account.get(account_id(0))["Health_Band__c"] is None  # the refused record wrote nothing
    single = http(sf, "PATCH", f"sobjects/Account/{account_id(0)}", json={"Health_Score__c": 1})
    assert _error(single)[:2] == (400, "INVALID_FIELD_FOR_INSERT_UPDATE")
    # Reads are unaffected; lifting the restriction makes the field writable again.
    assert sf.query("SELECT Health_Score__c FROM Account LIMIT 1")["totalSize"] == 1
    assert _permissions(box, "DELETE").json() == {"fields": [], "objects": []}
    assert sf.Account.update(account_id(0), {"Health_Score__c": 50}) == 204


def test_read_only_object_refuses_creates_and_updates(org):
    box, sf = org
    task = sf.Task.create({"Subject": "before", "Healthsync_Key__c": "t-before"})["id"]
    assert app(box).restrict(objects=["Task"]) == {"fields": [], "objects": ["Task"]}
    described = sf.Task.describe()
    assert (described["createable"], described["updateable"], described["deletable"]) == (False, False, False)
    assert not any(f["createable"] or f["updateable"] for f in described["fields"])
    catalogue = {s["name"]: s for s in sf.describe()["sobjects"]}
    assert (catalogue["Task"]["createable"], catalogue["Task"]["updateable"]) == (False, False)
    assert (catalogue["Account"]["createable"], catalogue["Account"]["updateable"]) == (True, True)
    assert sf.Task.metadata()["objectDescribe"]["createable"] is False
    created = _create(sf, {"attributes": {"type": "Task"}, "Subject": "x"})
    assert created[0]["errors"] == [
        {"statusCode": "CANNOT_INSERT_UPDATE_ACTIVATE_ENTITY", "message": "entity type cannot be inserted: Task", "fields": []}
    ]  # fmt: skip
    assert _error(http(sf, "POST", "sobjects/Task", json={"Subject": "x"})) == (
        400,
        "CANNOT_INSERT_UPDATE_ACTIVATE_ENTITY",
        "entity type cannot be inserted: Task",
    )
    upserted = sf.restful(
        "composite/sobjects/Task/Healthsync_Key__c",
        method="PATCH",
        json={"records": [{"attributes": {"type": "Task"}, "Healthsync_Key__c": "t-before", "Subject": "y"}]},
    )
    assert upserted[0]["errors"][0]["message"] == "entity type cannot be updated: Task"
    assert _error(http(sf, "PATCH", f"sobjects/Task/{task}", json={"Subject": "z"}))[1:] == (
        "CANNOT_INSERT_UPDATE_ACTIVATE_ENTITY",
        "entity type cannot be updated: Task",
    )
    assert _error(http(sf, "DELETE", f"sobjects/Task/{task}"))[:2] == (400, "INSUFFICIENT_ACCESS_OR_READONLY")
    assert sf.Task.get(task)["Subject"] == "before"
    assert app(box).unrestrict() == {"fields": [], "objects": []}
    assert sf.Task.describe()["createable"] is True
    assert sf.Task.create({"Subject": "after"})["success"] is True


def test_restricting_a_field_before_it_exists(bare):
    box, sf = bare
    app(box).restrict(fields=["Task.Healthsync_Key__c"])
    sf.toolingexecute("sobjects/CustomField", method="POST", data=KEY_FIELD)
    field = _fields(sf, "Task")["Healthsync_Key__c"]
    assert (field["createable"], field["updateable"]) == (False, False)
    refused = _create(sf, {"attributes": {"type": "Task"}, "Subject": "x", "Healthsync_Key__c": "k"})
    assert refused[0]["errors"][0]["statusCode"] == "INVALID_FIELD_FOR_INSERT_UPDATE"


@pytest.mark.parametrize(
    ("body", "status"),
    [({"fields": ["Health_Score__c"]}, 400), ({"fields": "Account.X__c"}, 400), ({"tables": []}, 400)],
    ids=["not-object-dot-field", "string-not-list", "unknown-key"],
)
def test_permission_switch_refuses_bad_bodies(org, body, status):
    box, _ = org
    response = _permissions(box, "POST", body)
    assert response.status_code == status
    assert "error" in response.json()
    assert _permissions(box, "GET").json() == {"fields": [], "objects": []}
