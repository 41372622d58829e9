"""Contract events: what `advance` records, `GET /_sandbox/events/contracts`, and the renewal deals
people close in Salesforce and HubSpot when a contract renews or churns."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from simple_salesforce import Salesforce
from specs import assert_matches_spec
from test_salesforce_support import http as sf_http
from test_salesforce_support import salesforce, wsdl_shape

from healthsync.sandbox import Sandbox
from healthsync.sandbox.datagen import advance, generate
from healthsync.sandbox.datagen_model import add_years
from healthsync.sandbox.dataset import ContractEvent, Customer, Dataset, Delta
from healthsync.sandbox.hubspot import HubSpotApp
from healthsync.sandbox.names import CHURN_REASONS
from healthsync.sandbox.salesforce.seed import account_id

START = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
COMPANY_BASE = 10_000_000_000
DEALS_SPEC = "hubspot/crm-deals-v3.json"
DEALS = "/crm/v3/objects/0-3"  # the deals spec's own path for deals
# A generated world in which, within DAYS, several customers renew and two churn (the events
# endpoint says which; the tests find them there rather than trusting these numbers).
ACCOUNTS, SEED, DAYS = 60, 5, 120


def make(workdir: Path, accounts: int = ACCOUNTS, seed: int = SEED) -> Dataset:
    return generate(accounts, seed, now=START, workdir=workdir)


def at(days: int) -> datetime:
    return START + timedelta(days=days, seconds=2)


def events(box: Sandbox, **params: str) -> list[dict[str, Any]]:
    answer = requests.get(f"{box.url}/_sandbox/events/contracts", params=params, timeout=30)
    assert answer.status_code == 200, answer.text
    body: list[dict[str, Any]] = answer.json()
    return body


def clock(box: Sandbox) -> datetime:
    """The sandbox's simulated now."""
    answer = requests.get(f"{box.url}/_sandbox/clock", timeout=10)
    return datetime.fromisoformat(answer.json()["now"])


def soql_stamp(moment: datetime) -> str:
    """Salesforce's datetime wire form (what LastModifiedDate holds), comparable as text."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


def move(box: Sandbox, days: int) -> dict[str, Any]:
    answer = requests.post(f"{box.url}/_sandbox/advance", json={"days": days}, timeout=120)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


# --- what advance records ------------------------------------------------------------------------


Snapshot = tuple[float, int, date, bool]
Week = tuple[dict[int, Snapshot], datetime, Delta, dict[int, Snapshot]]


def snapshot(customers: list[Customer]) -> dict[int, Snapshot]:
    return {c.index: (c.arr, c.seats, c.contract_end, c.churned) for c in customers}


@pytest.fixture(scope="module")
def year(tmp_path_factory: pytest.TempPathFactory) -> tuple[Dataset, list[Week]]:
    """40 customers through 52 simulated weeks: each week's customers before it, its start, its delta
    and the customers after it (the delta's customers are live objects that later weeks change)."""
    dataset = make(tmp_path_factory.mktemp("year"), accounts=40, seed=3)
    weeks = []
    for week in range(1, 53):
        before, old = snapshot(dataset.customers), dataset.now
        delta = advance(dataset, days=7, now=at(7 * week))
        weeks.append((before, old, delta, snapshot(dataset.customers)))
    return dataset, weeks


def test_a_year_has_every_kind_of_event(year: tuple[Dataset, list[Week]]) -> None:
    dataset, weeks = year
    kinds = Counter(e.kind for e in dataset.contract_events)
    assert set(kinds) == {"renewed", "churned", "expanded", "contracted", "signed"}, kinds
    assert dataset.contract_events == [e for _, _, delta, _ in weeks for e in delta.contract_events]
    moments = [(e.at, e.index) for e in dataset.contract_events]
    assert moments == sorted(moments)
    # Renewals that change seats are one event, not a renewal plus a resize.
    renewals = [e for e in dataset.contract_events if e.kind == "renewed"]
    assert any(e.seats_after != e.seats_before for e in renewals)


def test_events_carry_each_change_before_and_after(year: tuple[Dataset, list[Week]]) -> None:
    dataset, weeks = year
    by_index = {c.index: c for c in dataset.customers}
    for before, old, delta, after in weeks:
        state = dict(before)  # each customer's (arr, seats, end, churned) as the events go by
        new = {c.index for c in delta.new_customers}
        for event in delta.contract_events:
            assert old < event.at <= delta.now
            customer = by_index[event.index]
            assert event.account_key == customer.key
            if event.kind == "signed":
                assert event.index in new
                assert event.index not in state
                assert (event.arr_before, event.seats_before, event.contract_end_before) == (0.0, 0, None)
                assert event.contract_end_after == add_years(event.at.date(), 1)
            else:
                arr, seats, end, churned = state[event.index]
                assert not churned
                assert (event.arr_before, event.seats_before, event.contract_end_before) == (arr, seats, end)
            if event.kind == "renewed":
                assert event.contract_end_before is not None
                assert event.contract_end_before <= event.at.date()
                assert event.contract_end_after == add_years(event.contract_end_before, 1)
                assert event.reason is None
            elif event.kind == "churned":
                assert event.contract_end_before is not None
                assert event.contract_end_before <= event.at.date()
                assert (event.arr_after, event.seats_after, event.contract_end_after) == (0.0, 0, None)
                assert event.reason in CHURN_REASONS
                assert event.reason == customer.churn_reason
            elif event.kind in ("expanded", "contracted"):
                assert event.contract_end_after == event.contract_end_before
                grew = (event.arr_after, event.seats_after) > (event.arr_before, event.seats_before)
                assert grew == (event.kind == "expanded")
                assert (event.arr_after, event.seats_after) != (event.arr_before, event.seats_before)
            if event.kind == "churned":
                state[event.index] = (event.arr_before, event.seats_before, event.contract_end_before, True)
            else:
                assert event.contract_end_after is not None
                state[event.index] = (event.arr_after, event.seats_after, event.contract_end_after, False)
        # The last event of each customer leaves it as the week ended.
        assert all(state[i] == after[i] for i in state if i in after), delta.now
        touched = {c.index for c in [*delta.new_customers, *delta.changed_customers]}
        recorded = {e.index for e in delta.contract_events}
        # Only a resize that rounded to the same seats and ARR changes a customer without an event.
        assert all(before[i] == after[i] for i in touched - recorded)


def test_churned_customers_keep_their_arr_and_past_contract_end(year: tuple[Dataset, list[Week]]) -> None:
    dataset, _ = year
    by_index = {c.index: c for c in dataset.customers}
    churns = [e for e in dataset.contract_events if e.kind == "churned"]
    assert churns
    for event in churns:
        customer = by_index[event.index]
        assert customer.churned
        assert (customer.arr, customer.contract_end) == (event.arr_before, event.contract_end_before)


def test_events_are_deterministic_and_the_same_in_one_step_or_two(tmp_path: Path) -> None:
    one, two, stepped = make(tmp_path / "a"), make(tmp_path / "b"), make(tmp_path / "c")
    first = advance(one, days=60, now=at(60))
    second = advance(two, days=60, now=at(60))
    assert first.contract_events == second.contract_events
    assert [e.kind for e in first.contract_events] == [e.kind for e in second.contract_events]
    advance(stepped, days=25, now=START + timedelta(days=25))
    advance(stepped, days=35, now=at(60))
    assert stepped.contract_events == one.contract_events
    assert one.contract_events


# --- the endpoint --------------------------------------------------------------------------------


def test_endpoint_lists_the_events_with_crm_ids(tmp_path: Path) -> None:
    with Sandbox(accounts=40, seed=3, start=START, workdir=tmp_path) as box:
        assert events(box) == []
        summary = move(box, 90)
        listed = events(box)
        assert box.dataset is not None
        recorded = box.dataset.contract_events
        assert summary["changes"]["contract_events"] == len(recorded) == len(listed) > 0
        for item, event in zip(listed, recorded, strict=True):
            assert item == {
                "at": event.at.isoformat(),
                "account_key": event.account_key,
                "index": event.index,
                "kind": event.kind,
                "arr_before": event.arr_before,
                "arr_after": event.arr_after,
                "seats_before": event.seats_before,
                "seats_after": event.seats_after,
                "contract_end_before": event.contract_end_before and event.contract_end_before.isoformat(),
                "contract_end_after": event.contract_end_after and event.contract_end_after.isoformat(),
                "reason": event.reason,
                "crm_ids": {
                    "hubspot": str(COMPANY_BASE + event.index),
                    "salesforce": account_id(event.index),
                },
                "deal_closed": False,  # healthsync never ran: no renewal deal to close
                "deals_closed": {},
            }
        middle = recorded[len(recorded) // 2].at
        since = events(box, since=middle.isoformat())
        assert since == [i for i, e in zip(listed, recorded, strict=True) if e.at >= middle]
        assert 0 < len(since) < len(listed)
        day = (START + timedelta(days=30)).date()
        naive = events(box, since=day.isoformat())  # a date: midnight UTC
        assert naive == [i for i, e in zip(listed, recorded, strict=True) if e.at.date() >= day]
        assert events(box, since=(START + timedelta(days=91)).isoformat()) == []
        bad = requests.get(f"{box.url}/_sandbox/events/contracts", params={"since": "soon"}, timeout=10)
        assert bad.status_code == 400
        assert "since" in bad.json()["error"]


# --- people close renewal deals --------------------------------------------------------------------


def _probe(workdir: Path) -> list[dict[str, Any]]:
    """The contract events of the test world, read off the events endpoint of a CRM-less sandbox."""
    with Sandbox(dataset=make(workdir), apps=[], generate=False, start=START) as box:
        move(box, DAYS)
        return events(box)


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[dict[str, Any]]]:
    """First renewals and churns of different customers in the test world: the deals to set up."""
    found: dict[str, list[dict[str, Any]]] = {"renewed": [], "churned": []}
    seen: set[int] = set()
    for event in _probe(tmp_path_factory.mktemp("probe")):
        if event["kind"] in found and event["index"] not in seen:
            seen.add(event["index"])
            found[event["kind"]].append(event)
    assert len(found["renewed"]) >= 4, found
    assert found["churned"], found
    return found


def _by_kind_and_index(box: Sandbox) -> dict[tuple[str, int], dict[str, Any]]:
    return {(e["kind"], e["index"]): e for e in events(box)}


# Salesforce


@pytest.fixture
def org(tmp_path: Path) -> Iterator[tuple[Sandbox, Any]]:
    with salesforce(make(tmp_path), start=START) as (box, sf):
        yield box, sf


def _sf_deal(event: dict[str, Any], *, keyed: bool = True, close: str | None = None) -> dict[str, Any]:
    account = account_id(event["index"])
    record: dict[str, Any] = {
        "attributes": {"type": "Opportunity"},
        "Name": f"Renewal {event['account_key']} {event['contract_end_before']}",
        "StageName": "Approval",
        "CloseDate": close or event["contract_end_before"],
        "AccountId": account,
        "Amount": event["arr_before"],
        "Type": "Renewal",
    }
    if keyed:
        record["Healthsync_Renewal_Key__c"] = f"renewal:{account}:{event['contract_end_before']}"
    return record


def _sf_upsert(sf: Any, records: list[dict[str, Any]]) -> list[str]:
    """Upsert by the external id, as healthsync writes renewal deals (sObject Collections upsert)."""
    results = sf.restful(
        "composite/sobjects/Opportunity/Healthsync_Renewal_Key__c",
        method="PATCH",
        json={"allOrNone": False, "records": records},
    )
    for result in results:
        wsdl_shape("UpsertResult", result)
        assert result["success"], result
        assert result["created"], result
    return [str(r["id"]) for r in results]


def _sf_create(sf: Any, records: list[dict[str, Any]]) -> list[str]:
    results = sf.restful("composite/sobjects", method="POST", json={"allOrNone": True, "records": records})
    for result in results:
        wsdl_shape("SaveResult", result)
        assert result["success"], result
    return [str(r["id"]) for r in results]


def test_salesforce_people_close_renewal_deals(
    org: tuple[Sandbox, Any], outcomes: dict[str, list[dict[str, Any]]]
) -> None:
    box, sf = org
    renewed, by_hand, no_deal, other = outcomes["renewed"][:4]
    churned = outcomes["churned"][0]
    won_id, lost_id = _sf_upsert(sf, [_sf_deal(renewed), _sf_deal(churned)])
    # A renewal someone opened by hand (no healthsync key): the one closing nearest the contract end.
    end = date.fromisoformat(by_hand["contract_end_before"])
    near_id, far_id = _sf_create(
        sf,
        [
            _sf_deal(by_hand, keyed=False, close=(end + timedelta(days=3)).isoformat()),
            _sf_deal(by_hand, keyed=False, close=(end + timedelta(days=60)).isoformat()),
        ],
    )
    # A keyed deal already closed stays as it is (and no other deal of the account is taken instead).
    (done_id,) = _sf_upsert(sf, [{**_sf_deal(other), "StageName": "Closed Lost"}])
    _sf_create(sf, [_sf_deal(other, keyed=False)])
    account_before = sf.Account.get(account_id(churned["index"]))
    started = clock(box)
    move(box, DAYS)

    won = sf.Opportunity.get(won_id)
    assert (won["StageName"], won["IsClosed"], won["IsWon"]) == ("Closed Won", True, True)
    assert won["Amount"] == renewed["arr_after"]
    assert won["CloseDate"] == renewed["at"][:10]
    assert won["Loss_Reason__c"] is None
    assert won["LastModifiedDate"] > soql_stamp(started)
    assert won["LastModifiedById"] == sf.Account.get(account_id(renewed["index"]))["OwnerId"]

    lost = sf.Opportunity.get(lost_id)
    assert (lost["StageName"], lost["IsClosed"], lost["IsWon"]) == ("Closed Lost", True, False)
    assert lost["Loss_Reason__c"] == churned["reason"]
    assert lost["CloseDate"] == churned["at"][:10]
    assert lost["Amount"] == churned["arr_before"]  # a lost renewal keeps its amount

    near, far = sf.Opportunity.get(near_id), sf.Opportunity.get(far_id)
    assert (near["StageName"], near["Amount"]) == ("Closed Won", by_hand["arr_after"])
    assert far["StageName"] == "Approval"
    assert sf.Opportunity.get(done_id)["StageName"] == "Closed Lost"

    # healthsync's incremental read (SystemModstamp since the last run) sees the people's writes.
    soql = f"SELECT Id FROM Opportunity WHERE SystemModstamp > {soql_stamp(started)}"  # noqa: S608
    changed = sf.query_all(soql)["records"]
    assert {r["Id"] for r in changed} == {won_id, lost_id, near_id}

    # The churned account stays as it was: its ARR, its (past) contract end, its modified date.
    account_after = sf.Account.get(account_id(churned["index"]))
    for name in ("ARR__c", "AnnualRevenue", "Contract_End__c", "LastModifiedDate", "SystemModstamp"):
        assert account_after[name] == account_before[name], name
    assert account_after["Contract_End__c"] == churned["contract_end_before"]

    listed = _by_kind_and_index(box)
    assert listed["renewed", renewed["index"]]["deals_closed"] == {"salesforce": won_id}
    assert listed["churned", churned["index"]]["deals_closed"] == {"salesforce": lost_id}
    assert listed["renewed", by_hand["index"]]["deals_closed"] == {"salesforce": near_id}
    for untouched in (no_deal, other):
        item = listed["renewed", untouched["index"]]
        assert (item["deal_closed"], item["deals_closed"]) == (False, {})
    assert listed["churned", churned["index"]]["deal_closed"] is True
    assert listed["churned", churned["index"]]["crm_ids"] == {"salesforce": account_id(churned["index"])}


def test_salesforce_without_the_loss_reason_field_closes_lost_without_it(
    tmp_path: Path, outcomes: dict[str, list[dict[str, Any]]]
) -> None:
    churned = outcomes["churned"][0]
    with salesforce(make(tmp_path), start=START, provisioned=False) as (box, sf):
        # Only the key field is provisioned (as a `fields apply` that skipped the loss reason would).
        created = sf_http(
            sf,
            "POST",
            "tooling/sobjects/CustomField",
            json={
                "FullName": "Opportunity.Healthsync_Renewal_Key__c",
                "Metadata": {
                    "type": "Text",
                    "label": "Healthsync Renewal Key",
                    "length": 255,
                    "externalId": True,
                    "unique": True,
                },
            },
        )
        assert created.status_code == 201, created.text
        # Neither the Renewal type nor the renewal stages exist in this org.
        record = {k: v for k, v in _sf_deal(churned).items() if k != "Type"} | {"StageName": "Prospecting"}
        (deal_id,) = _sf_upsert(sf, [record])
        move(box, DAYS)
        lost = sf.Opportunity.get(deal_id)
        assert (lost["StageName"], lost["IsClosed"], lost["IsWon"]) == ("Closed Lost", True, False)
        assert "Loss_Reason__c" not in lost
        assert _by_kind_and_index(box)["churned", churned["index"]]["deals_closed"] == {"salesforce": deal_id}


@contextmanager
def sf_client(box: Sandbox) -> Iterator[Salesforce]:
    """simple-salesforce connected to a sandbox that runs more apps than Salesforce."""
    info = box.info()["salesforce"]
    with requests.Session() as session:
        session.verify = info["ca_bundle"]
        session.trust_env = False  # trust only the sandbox's CA (see test_salesforce_support)
        yield Salesforce(
            instance_url=info["instance_url"],
            session_id=info["access_token"],
            version=info["api_version"],
            session=session,
        )


# HubSpot


def _spec_view(body: Any) -> Any:
    """The body without `null` property values (HubSpot sends them; its spec types values as strings)."""
    if isinstance(body, dict):
        return {
            k: {pk: pv for pk, pv in v.items() if pv is not None}
            if k == "properties" and isinstance(v, dict)
            else _spec_view(v)
            for k, v in body.items()
        }
    if isinstance(body, list):
        return [_spec_view(item) for item in body]
    return body


def _checked(response: requests.Response, template: str) -> Any:
    body = response.json() if response.content else None
    assert_matches_spec(
        DEALS_SPEC, response.request.method or "", template, response.status_code, _spec_view(body)
    )
    return body


@pytest.fixture
def portal(tmp_path: Path) -> Iterator[tuple[Sandbox, requests.Session]]:
    with (
        Sandbox(dataset=make(tmp_path), apps=[HubSpotApp], generate=False, start=START) as box,
        requests.Session() as session,
    ):
        session.headers["Authorization"] = f"Bearer {box.info()['hubspot']['access_token']}"
        yield box, session


def _midnight_ms(day: str) -> str:
    return str(int(datetime.combine(date.fromisoformat(day), datetime.min.time(), UTC).timestamp() * 1000))


def _renewals(box: Sandbox, http: requests.Session) -> tuple[str, dict[str, str]]:
    pipelines = http.get(f"{box.url}/crm/v3/pipelines/deals", timeout=10).json()["results"]
    renewals = next(p for p in pipelines if p["label"] == "Renewals")
    return renewals["id"], {s["label"]: s["id"] for s in renewals["stages"]}


def _hs_properties(
    box: Sandbox, http: requests.Session, event: dict[str, Any], **extra: str
) -> dict[str, str]:
    pipeline, stages = _renewals(box, http)
    return {
        "dealname": f"Renewal {event['account_key']} {event['contract_end_before']}",
        "pipeline": pipeline,
        "dealstage": stages["Approval"],
        "closedate": _midnight_ms(event["contract_end_before"]),
        "amount": str(int(event["arr_before"])),
        **extra,
    }


def _hs_upsert(box: Sandbox, http: requests.Session, deals: list[dict[str, Any]]) -> list[str]:
    """As healthsync does: batch upsert by the key property, then link each deal to its company (341)."""
    inputs = [
        {
            "idProperty": "healthsync_renewal_key",
            "id": f"renewal:{COMPANY_BASE + e['index']}:{e['contract_end_before']}",
            "properties": _hs_properties(box, http, e, **extra),
        }
        for e, extra in ((d["event"], d.get("extra", {})) for d in deals)
    ]
    answer = http.post(f"{box.url}{DEALS}/batch/upsert", json={"inputs": inputs}, timeout=10)
    assert answer.status_code == 200, answer.text
    results = _checked(answer, f"{DEALS}/batch/upsert")["results"]
    by_key = {r["properties"]["healthsync_renewal_key"]: r["id"] for r in results}
    ids = [by_key[i["id"]] for i in inputs]
    links = [
        {
            "from": {"id": deal},
            "to": {"id": str(COMPANY_BASE + d["event"]["index"])},
            "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 341}],
        }
        for deal, d in zip(ids, deals, strict=True)
    ]
    linked = http.post(
        f"{box.url}/crm/v4/associations/deals/companies/batch/create", json={"inputs": links}, timeout=10
    )
    assert linked.status_code == 201, linked.text
    return ids


def _hs_create(box: Sandbox, http: requests.Session, event: dict[str, Any], close: date) -> str:
    """A renewal deal a person made by hand: no healthsync key, associated with the company."""
    properties = _hs_properties(box, http, event, closedate=_midnight_ms(close.isoformat()))
    body = {
        "properties": properties,
        "associations": [
            {
                "to": {"id": str(COMPANY_BASE + event["index"])},
                "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 341}],
            }
        ],
    }
    answer = http.post(f"{box.url}{DEALS}", json=body, timeout=10)
    assert answer.status_code == 201, answer.text
    return str(_checked(answer, DEALS)["id"])


_READ = "dealstage,amount,closedate,closed_lost_reason,pipeline,hs_lastmodifieddate"


def _hs_deal(box: Sandbox, http: requests.Session, deal_id: str) -> dict[str, str]:
    answer = http.get(f"{box.url}{DEALS}/{deal_id}", params={"properties": _READ}, timeout=10)
    assert answer.status_code == 200, answer.text
    properties: dict[str, str] = _checked(answer, f"{DEALS}/{deal_id}")["properties"]
    return properties


def test_hubspot_people_close_renewal_deals(
    portal: tuple[Sandbox, requests.Session], outcomes: dict[str, list[dict[str, Any]]]
) -> None:
    box, http = portal
    _, stages = _renewals(box, http)
    renewed, by_hand, no_deal, other = outcomes["renewed"][:4]
    churned = outcomes["churned"][0]
    won_id, lost_id, done_id = _hs_upsert(
        box,
        http,
        [
            {"event": renewed},
            {"event": churned},
            {"event": other, "extra": {"dealstage": stages["Closed won"]}},  # already closed
        ],
    )
    _hs_create(box, http, other, date.fromisoformat(other["contract_end_before"]))
    end = date.fromisoformat(by_hand["contract_end_before"])
    far_id = _hs_create(box, http, by_hand, end - timedelta(days=45))
    near_id = _hs_create(box, http, by_hand, end + timedelta(days=2))
    company_before = http.get(
        f"{box.url}/crm/v3/objects/companies/{COMPANY_BASE + churned['index']}",
        params={"properties": "arr,contract_end_date,annualrevenue,hs_lastmodifieddate"},
        timeout=10,
    ).json()["properties"]
    started = clock(box)
    move(box, DAYS)

    won = _hs_deal(box, http, won_id)
    assert won["dealstage"] == stages["Closed won"]
    assert float(won["amount"]) == renewed["arr_after"]
    assert won["closedate"] == f"{renewed['at'][:10]}T00:00:00.000Z"
    assert datetime.fromisoformat(won["hs_lastmodifieddate"]) > started
    assert "closed_lost_reason" not in won or won["closed_lost_reason"] is None

    lost = _hs_deal(box, http, lost_id)
    assert lost["dealstage"] == stages["Closed lost"]
    assert lost["closed_lost_reason"] == churned["reason"]
    assert lost["closedate"] == f"{churned['at'][:10]}T00:00:00.000Z"

    assert _hs_deal(box, http, near_id)["dealstage"] == stages["Closed won"]
    assert _hs_deal(box, http, far_id)["dealstage"] == stages["Approval"]
    assert _hs_deal(box, http, done_id)["dealstage"] == stages["Closed won"]

    # A modified-since search (healthsync's incremental read) finds exactly the closed deals.
    search = http.post(
        f"{box.url}{DEALS}/search",
        json={
            "filterGroups": [
                {
                    "filters": [
                        {
                            "propertyName": "hs_lastmodifieddate",
                            "operator": "GT",
                            "value": started.isoformat(),
                        }
                    ]
                }
            ],
            "properties": ["dealstage"],
            "limit": 100,
        },
        timeout=10,
    )
    assert search.status_code == 200, search.text
    found = _checked(search, f"{DEALS}/search")
    assert {r["id"] for r in found["results"]} == {won_id, lost_id, near_id}

    # The churned company stays as it was.
    company_after = http.get(
        f"{box.url}/crm/v3/objects/companies/{COMPANY_BASE + churned['index']}",
        params={"properties": "arr,contract_end_date,annualrevenue,hs_lastmodifieddate"},
        timeout=10,
    ).json()["properties"]
    assert company_after == company_before
    assert company_after["contract_end_date"] == churned["contract_end_before"]

    listed = _by_kind_and_index(box)
    assert listed["renewed", renewed["index"]]["deals_closed"] == {"hubspot": won_id}
    assert listed["churned", churned["index"]]["deals_closed"] == {"hubspot": lost_id}
    assert listed["renewed", by_hand["index"]]["deals_closed"] == {"hubspot": near_id}
    for untouched in (no_deal, other):
        assert listed["renewed", untouched["index"]]["deal_closed"] is False
    assert listed["renewed", renewed["index"]]["crm_ids"] == {"hubspot": str(COMPANY_BASE + renewed["index"])}


def test_both_crms_close_their_own_deal_for_one_event(
    tmp_path: Path, outcomes: dict[str, list[dict[str, Any]]]
) -> None:
    churned = outcomes["churned"][0]
    with Sandbox(dataset=make(tmp_path), start=START, generate=False) as box, requests.Session() as http:
        http.headers["Authorization"] = f"Bearer {box.info()['hubspot']['access_token']}"
        (hubspot_id,) = _hs_upsert(box, http, [{"event": churned}])
        with sf_client(box) as sf:
            (salesforce_id,) = _sf_upsert(sf, [_sf_deal(churned)])
        move(box, DAYS)
        item = _by_kind_and_index(box)["churned", churned["index"]]
        assert item["deals_closed"] == {"hubspot": hubspot_id, "salesforce": salesforce_id}
        assert set(item["crm_ids"]) == {"hubspot", "salesforce"}


def test_events_dataclass_is_hashable_and_ignores_closed_deals_in_equality() -> None:
    event = ContractEvent(START, "C000001", 1, "renewed", 1.0, 2.0, 1, 2, START.date(), START.date(), None)
    other = ContractEvent(START, "C000001", 1, "renewed", 1.0, 2.0, 1, 2, START.date(), START.date(), None)
    other.deals_closed["salesforce"] = "006"
    assert event == other
    assert len({event, other}) == 1
