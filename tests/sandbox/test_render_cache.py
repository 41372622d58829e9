"""The rendering caches that keep paging fast must never serve a record as it was before a write."""

from __future__ import annotations

import requests

from healthsync.sandbox import Sandbox
from healthsync.sandbox.hubspot import HubSpotApp
from healthsync.sandbox.salesforce import SalesforceApp


def test_salesforce_query_pages_reflect_writes(small_dataset) -> None:
    with (
        Sandbox(dataset=small_dataset, apps=[SalesforceApp], generate=False) as box,
        requests.Session() as http,
    ):
        info = box.info()["salesforce"]
        http.trust_env = False  # REQUESTS_CA_BUNDLE would override verify (psf/requests#3829)
        http.verify = info["ca_bundle"]
        http.headers["Authorization"] = f"Bearer {info['access_token']}"
        base = f"{info['instance_url']}/services/data/v62.0"
        soql = {"q": "SELECT Id, Name FROM Account ORDER BY Name"}
        first = http.get(f"{base}/query/", params=soql).json()["records"]
        again = http.get(f"{base}/query/", params=soql).json()["records"]
        assert first == again
        target = first[0]["Id"]
        result = http.patch(
            f"{base}/composite/sobjects",
            json={
                "allOrNone": True,
                "records": [{"attributes": {"type": "Account"}, "id": target, "Name": "Renamed Co"}],
            },
        )
        assert result.json()[0]["success"] is True
        after = {r["Id"]: r["Name"] for r in http.get(f"{base}/query/", params=soql).json()["records"]}
        assert after[target] == "Renamed Co"


def test_hubspot_list_pages_reflect_writes(small_dataset) -> None:
    with Sandbox(dataset=small_dataset, apps=[HubSpotApp], generate=False) as box, requests.Session() as http:
        info = box.info()["hubspot"]
        http.headers["Authorization"] = f"Bearer {info['access_token']}"
        url = f"{info['host']}/crm/v3/objects/companies"
        params = {"properties": "name,domain"}
        first = http.get(url, params=params).json()["results"]
        assert http.get(url, params=params).json()["results"] == first
        target = first[0]["id"]
        response = http.post(
            f"{url}/batch/update", json={"inputs": [{"id": target, "properties": {"name": "Renamed Co"}}]}
        )
        assert response.status_code == 200
        after = {r["id"]: r for r in http.get(url, params=params).json()["results"]}
        assert after[target]["properties"]["name"] == "Renamed Co"
        assert after[target]["updatedAt"] != next(r for r in first if r["id"] == target)["updatedAt"]
        # another property selection is another rendering, not the cached one
        other = http.get(url, params={"properties": "name"}).json()["results"]
        assert "domain" not in next(r for r in other if r["id"] == target)["properties"]
