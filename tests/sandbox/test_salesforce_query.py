"""Salesforce sandbox: SOQL query/queryAll through the unmodified simple-salesforce."""

from __future__ import annotations

import pytest
from simple_salesforce.exceptions import SalesforceMalformedRequest
from test_salesforce_support import app, dataset, http, salesforce

from healthsync.sandbox.salesforce.ids import is_valid_id, make_id, to18


@pytest.fixture
def big(tmp_path):
    with salesforce(dataset(tmp_path, 4500)) as (box, sf):
        yield box, sf


@pytest.fixture
def small(small_dataset):
    with salesforce(small_dataset) as (box, sf):
        yield box, sf


def _query_calls(box) -> dict[str, int]:
    endpoints = box.stats.snapshot()["salesforce"]["by_endpoint"]
    return {k: v for k, v in endpoints.items() if "query" in k}


def test_paging_to_the_end_at_2000_per_page(big):
    box, sf = big
    first = sf.query("SELECT Id, Name FROM Account")
    assert first["totalSize"] == 4500
    assert len(first["records"]) == 2000
    assert first["done"] is False
    assert first["nextRecordsUrl"].startswith("/services/data/v62.0/query/0r8")
    assert first["nextRecordsUrl"].endswith("-2000")
    box.stats.reset()
    records = sf.query_all("SELECT Id, Name FROM Account ORDER BY Name")["records"]
    assert len(records) == 4500
    assert [r["Name"] for r in records] == sorted(r["Name"] for r in records)
    assert len({r["Id"] for r in records}) == 4500
    # 3 pages: 2,000 + 2,000 + 500.
    assert _query_calls(box) == {
        "GET /services/data/{version}/query": 1,
        "GET /services/data/{version}/query/{locator}": 2,
    }


@pytest.mark.undersized_pages(
    reason="checks that the sandbox honours and clamps Sforce-Query-Options batch sizes below the maximum"
)
def test_batch_size_header_is_honoured_and_clamped(big):
    box, sf = big
    page = sf.query("SELECT Id FROM Account", headers={"Sforce-Query-Options": "batchSize=500"})
    assert len(page["records"]) == 500
    assert page["nextRecordsUrl"].endswith("-500")
    box.stats.reset()
    ids = [
        r["Id"]
        for r in sf.query_all_iter(
            "SELECT Id FROM Account", headers={"Sforce-Query-Options": "batchSize=1000"}
        )
    ]
    assert len(ids) == 4500
    assert sum(_query_calls(box).values()) == 5
    # Below the documented minimum of 200 → 200; above the maximum of 2,000 → 2,000.
    assert (
        len(sf.query("SELECT Id FROM Account", headers={"Sforce-Query-Options": "batchSize=10"})["records"])
        == 200
    )
    assert (
        len(sf.query("SELECT Id FROM Account", headers={"Sforce-Query-Options": "batchSize=5000"})["records"])
        == 2000
    )


def test_results_without_order_by_come_back_by_id(big):
    _, sf = big
    ids = [r["Id"] for r in sf.query_all_iter("SELECT Id FROM Account WHERE Segment__c = 'SMB'")]
    assert ids == sorted(ids)
    assert len(ids) == 1500


def test_query_hides_deleted_rows_and_query_all_shows_them(small):
    _, sf = small
    victim = sf.query("SELECT Id FROM Account WHERE Name = 'Initech LLC'")["records"][0]["Id"]
    assert sf.Account.delete(victim) == 204
    soql = "SELECT Id, IsDeleted FROM Account"
    live = sf.query_all(soql)["records"]
    everything = sf.query_all(soql, include_deleted=True)["records"]
    assert victim not in {r["Id"] for r in live}
    assert {"Id": victim, "IsDeleted": True} in [
        {"Id": r["Id"], "IsDeleted": r["IsDeleted"]} for r in everything
    ]
    assert len(everything) == len(live) + 1
    assert sf.query("SELECT Id FROM Account WHERE IsDeleted = true")["totalSize"] == 0


def test_where_order_by_limit(small):
    _, sf = small
    names = lambda q: [r["Name"] for r in sf.query(q)["records"]]  # noqa: E731
    assert names("SELECT Name FROM Account WHERE Name LIKE 'acme%'") == ["Acme Corp"]
    assert names("SELECT Name FROM Account WHERE name = 'GLOBEX CORPORATION'") == ["Globex Corporation"]
    assert names("SELECT Name FROM Account WHERE Segment__c IN ('Enterprise') ORDER BY Name DESC") == [
        "Umbrella Health",
        "Acme Corp",
    ]
    assert names("SELECT Name FROM Account WHERE Segment__c NOT IN ('Enterprise') ORDER BY Name LIMIT 2") == [
        "Globex Corporation",
        "Initech LLC",
    ]
    assert names(
        "SELECT Name FROM Account WHERE (AnnualRevenue >= 36000 AND AnnualRevenue < 60000) OR Name = 'Acme Corp' "
        "ORDER BY AnnualRevenue DESC"
    ) == ["Umbrella Health", "Initech LLC", "Acme Corp"]
    assert names("SELECT Name FROM Account WHERE NOT Name LIKE '%a%' ORDER BY Name") == ["Initech LLC"]
    assert names("SELECT Name FROM Account WHERE Contract_End__c > 2027-02-15 ORDER BY Contract_End__c") == [
        "Initech LLC",
        "Umbrella Health",
        "Stark Industries",
    ]
    owner = sf.query("SELECT Owner.Name FROM Account WHERE Name = 'Acme Corp'")["records"][0]["Owner"]
    assert owner["Name"] == "Dana Reyes"
    assert owner["attributes"]["type"] == "User"
    assert sf.query("SELECT COUNT() FROM Account")["totalSize"] == 5
    # Nulls sort first by default, last when asked.
    sf.Account.update(
        sf.query("SELECT Id FROM Account WHERE Name = 'Acme Corp'")["records"][0]["Id"],
        {"Health_Score__c": 71.5},
    )
    assert names("SELECT Name FROM Account ORDER BY Health_Score__c NULLS LAST, Name")[0] == "Acme Corp"
    assert names("SELECT Name FROM Account ORDER BY Health_Score__c, Name")[-1] == "Acme Corp"


def test_datetime_comparisons_on_system_modstamp(small):
    _, sf = small
    # The small dataset stamps customer i at NOW - (10 - i) days; NOW is 2026-11-02T09:00Z.
    recent = sf.query(
        "SELECT Name FROM Account WHERE SystemModstamp >= 2026-10-26T09:00:00Z ORDER BY SystemModstamp"
    )
    assert [r["Name"] for r in recent["records"]] == ["Umbrella Health", "Stark Industries"]
    same = sf.query("SELECT Name FROM Account WHERE SystemModstamp >= 2026-10-26T10:00:00+01:00")
    assert same["totalSize"] == 2
    strictly = sf.query("SELECT Name FROM Account WHERE SystemModstamp > 2026-10-26T09:00:00.000+0000")
    assert [r["Name"] for r in strictly["records"]] == ["Stark Industries"]
    stamp = sf.query("SELECT SystemModstamp FROM Account WHERE Name = 'Acme Corp'")["records"][0][
        "SystemModstamp"
    ]
    assert stamp == "2026-10-23T09:00:00.000+0000"
    # A write stamps the record with the sandbox clock, so an incremental query sees it.
    acme = sf.query("SELECT Id FROM Account WHERE Name = 'Acme Corp'")["records"][0]["Id"]
    sf.Account.update(acme, {"Health_Band__c": "Green"})
    changed = sf.query("SELECT Id FROM Account WHERE SystemModstamp >= 2026-11-02T09:00:00Z")["records"]
    assert [r["Id"] for r in changed] == [acme]
    assert sf.query("SELECT Id FROM Account WHERE LastModifiedDate = TODAY")["totalSize"] == 1
    assert sf.query("SELECT Id FROM Account WHERE LastModifiedDate = LAST_N_DAYS:7")["totalSize"] == 3


@pytest.mark.parametrize(
    ("soql", "code"),
    [
        ("SELECT Id FORM Account", "MALFORMED_QUERY"),
        ("SELECT Id FROM Account WHERE Name = 'a' AND Name = 'b' OR Name = 'c'", "MALFORMED_QUERY"),
        ("SELECT Id FROM Account WHERE Name = 'unterminated", "MALFORMED_QUERY"),
        ("SELECT Id, Id FROM Account", "MALFORMED_QUERY"),
        ("SELECT Nope__c FROM Account", "INVALID_FIELD"),
        ("SELECT Id FROM Account WHERE AnnualRevenue = '5'", "INVALID_FIELD"),
        ("SELECT Id FROM Account WHERE SystemModstamp > 2026-01-01", "INVALID_FIELD"),
        ("SELECT Id FROM Account ORDER BY Health_Reasons__c", "INVALID_FIELD"),
        ("SELECT Id FROM Widget__c", "INVALID_TYPE"),
        ("SELECT Id FROM Account WHERE Id = 'abc'", "INVALID_QUERY_FILTER_OPERATOR"),
    ],
)
def test_bad_soql_is_a_400_with_salesforces_error_code(small, soql, code):
    _, sf = small
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.query(soql)
    assert caught.value.status == 400
    assert caught.value.content[0]["errorCode"] == code
    assert "ERROR at Row:1:Column:" in caught.value.content[0]["message"]


def test_unknown_or_expired_locator(big):
    box, sf = big
    first = sf.query("SELECT Id FROM Account")
    box.clock.advance(3)  # cursors live 2 days
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.query_more(first["nextRecordsUrl"], identifier_is_url=True)
    assert caught.value.content[0]["errorCode"] == "INVALID_QUERY_LOCATOR"
    assert http(sf, "GET", "query/0r85jA000000zzzAAA-2000").json()[0]["errorCode"] == "INVALID_QUERY_LOCATOR"
    assert app(box).org.cursors.limit >= 10


def test_ids_are_18_character_case_safe(small):
    _, sf = small
    ids = [r["Id"] for r in sf.query("SELECT Id FROM Account")["records"]]
    assert all(len(i) == 18 and is_valid_id(i) for i in ids)
    assert ids[0] == make_id("001", 0)
    # Known pair from Salesforce's documentation of the suffix algorithm.
    assert to18("001A0000006Vm9r") == "001A0000006Vm9rIAC"
    short = ids[1][:15]
    assert sf.query(f"SELECT Name FROM Account WHERE Id = '{short}'")["totalSize"] == 1  # noqa: S608
