"""HubSpot sandbox: v4 batch association create, checked against crm-associations-v4.json."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests
from helpers import sandboxes
from specs import assert_matches_spec

from healthsync.sandbox import Sandbox
from healthsync.sandbox.dataset import Dataset
from healthsync.sandbox.hubspot import HubSpotApp

SPEC = "hubspot/crm-associations-v4.json"
PATH = "/crm/v4/associations/deals/companies/batch/create"
TEMPLATE = "/crm/v4/associations/{fromObjectType}/{toObjectType}/batch/create"
COMPANY_BASE = 10_000_000_000


@pytest.fixture
def box(small_dataset: Dataset) -> Iterator[Sandbox]:
    with Sandbox(dataset=small_dataset, apps=[HubSpotApp], generate=False) as sandbox:
        yield sandbox


@pytest.fixture
def http(box: Sandbox) -> Iterator[requests.Session]:
    with requests.Session() as session:
        session.headers["Authorization"] = f"Bearer {box.info()['hubspot']['access_token']}"
        yield session


def _deal(http: requests.Session, box: Sandbox, name: str) -> str:
    answer = http.post(f"{box.url}/crm/v3/objects/deals", json={"properties": {"dealname": name}}, timeout=5)
    answer.raise_for_status()
    return str(answer.json()["id"])


def _pair(deal: str, company: int, type_id: int = 341) -> dict[str, Any]:
    spec = {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": type_id}
    return {"from": {"id": deal}, "to": {"id": str(company)}, "types": [spec]}


def test_pairs_are_associated_in_one_call(box: Sandbox, http: requests.Session) -> None:
    deals = [_deal(http, box, f"renewal {n}") for n in range(3)]
    body = {"inputs": [_pair(d, COMPANY_BASE + n) for n, d in enumerate(deals)]}
    answer = http.post(f"{box.url}{PATH}", json=body, timeout=5)
    assert answer.status_code == 201
    assert_matches_spec(SPEC, "POST", TEMPLATE, 201, answer.json())
    pairs = {(r["fromObjectId"], r["toObjectId"]) for r in answer.json()["results"]}
    assert pairs == {(d, str(COMPANY_BASE + n)) for n, d in enumerate(deals)}
    links = sandboxes.state(box, "hubspot", "associations")
    made = {(a["fromObjectId"], a["toObjectId"]) for a in links if a["fromObjectType"] == "deals"}
    assert pairs <= made


def test_a_bad_pair_fails_alone_with_207(box: Sandbox, http: requests.Session) -> None:
    deal = _deal(http, box, "renewal")
    body = {"inputs": [_pair(deal, COMPANY_BASE), _pair(deal, 99), _pair(deal, COMPANY_BASE + 1, type_id=1)]}
    answer = http.post(f"{box.url}{PATH}", json=body, timeout=5)
    assert answer.status_code == 207
    assert_matches_spec(SPEC, "POST", TEMPLATE, 207, answer.json())
    assert [(r["fromObjectId"], r["toObjectId"]) for r in answer.json()["results"]] == [
        (deal, str(COMPANY_BASE))
    ]
    assert [e["category"] for e in answer.json()["errors"]] == ["OBJECT_NOT_FOUND", "VALIDATION_ERROR"]


def test_more_than_2000_pairs_are_refused(box: Sandbox, http: requests.Session) -> None:
    body = {"inputs": [_pair("1", COMPANY_BASE)] * 2001}
    answer = http.post(f"{box.url}{PATH}", json=body, timeout=5)
    assert answer.status_code == 400
    assert "2000" in answer.json()["message"]
