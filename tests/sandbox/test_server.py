"""The sandbox server itself: routing, counting, faults, TLS and the control endpoints.

These use a tiny vendor app defined here, so they test the server and not any vendor's fidelity.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests

from healthsync.sandbox import Sandbox
from healthsync.sandbox.wire import ApiError, Request, Response, Route, Router, json_response


class EchoApp:
    """A minimal vendor: `/echo/v1/items` paged list and an item create; bearer token `t0k`."""

    name = "echo"

    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = [{"id": i} for i in range(5)]
        self.quota_spent = False

    def register(self, router: Router) -> None:
        router.add(self.name, "GET", "/echo/v1/items", self.list_items)
        router.add(self.name, "POST", "/echo/v1/items", self.create_item)
        router.add(self.name, "POST", "/echo/v1/items/search", self.list_items, kind="read")

    def list_items(self, request: Request) -> Response:
        return json_response({"results": self.items})

    def create_item(self, request: Request) -> Response:
        body = request.json()
        if "id" not in body:
            raise ApiError(400, {"message": "id required"})
        self.items.append(body)
        return json_response(body, 201)

    def seed(self, dataset: Any) -> None:
        pass

    def apply(self, delta: Any) -> None:
        pass

    def objects(self) -> list[str]:
        return ["items"]

    def state(self, object_name: str) -> list[dict[str, Any]]:
        if object_name != "items":
            raise KeyError(object_name)
        return self.items

    def authenticate(self, request: Request) -> Response | None:
        if request.header("authorization") != "Bearer t0k":
            return json_response({"message": "bad token"}, 401)
        return None

    def throttle(self, request: Request, route: Route) -> Response | None:
        if self.quota_spent:
            return json_response({"message": "quota"}, 403)
        return None

    def error(self, status: int, request: Request, *, retry_after: float | None = None) -> Response:
        headers = {"Retry-After": str(int(retry_after))} if retry_after else {}
        return json_response({"message": f"echo error {status}"}, status, headers)

    def exhaust_quota(self) -> None:
        self.quota_spent = True

    def credentials(self, base_url: str, tls_base_url: str | None) -> dict[str, Any]:
        return {"url": base_url, "token": "t0k"}


@pytest.fixture
def sandbox():
    with Sandbox(apps=[EchoApp()], seed=3, generate=False) as box:
        yield box


@pytest.fixture
def http():
    with requests.Session() as session:
        session.headers["Authorization"] = "Bearer t0k"
        yield session


def test_routes_count_by_template_and_kind(sandbox, http):
    assert http.get(f"{sandbox.url}/echo/v1/items").json()["results"][0] == {"id": 0}
    assert http.get(f"{sandbox.url}/echo/v1/items/").status_code == 200  # trailing slash tolerated
    assert http.post(f"{sandbox.url}/echo/v1/items/search", json={}).status_code == 200
    assert http.post(f"{sandbox.url}/echo/v1/items", json={"id": 9}).status_code == 201
    stats = requests.get(f"{sandbox.url}/_sandbox/stats", timeout=5).json()
    assert stats["echo"]["read"] == 3
    assert stats["echo"]["write"] == 1
    assert stats["echo"]["by_endpoint"]["GET /echo/v1/items"] == 2
    requests.post(f"{sandbox.url}/_sandbox/stats/reset", timeout=5)
    assert requests.get(f"{sandbox.url}/_sandbox/stats", timeout=5).json() == {}


def test_handler_errors_and_unknown_paths(sandbox, http):
    assert http.post(f"{sandbox.url}/echo/v1/items", json={}).json() == {"message": "id required"}
    assert http.delete(f"{sandbox.url}/echo/v1/items").status_code == 405
    assert http.get(f"{sandbox.url}/nothing/here").status_code == 404


def test_auth_is_the_apps_and_happens_after_counting(sandbox):
    response = requests.get(f"{sandbox.url}/echo/v1/items", timeout=5)
    assert response.status_code == 401
    assert requests.get(f"{sandbox.url}/_sandbox/stats", timeout=5).json()["echo"]["read"] == 1


def test_state_dump(sandbox, http):
    http.post(f"{sandbox.url}/echo/v1/items", json={"id": "new"})
    dumped = requests.get(f"{sandbox.url}/_sandbox/state/echo/items", timeout=5).json()
    assert dumped[-1] == {"id": "new"}
    assert requests.get(f"{sandbox.url}/_sandbox/state/echo/nope", timeout=5).status_code == 404
    assert requests.get(f"{sandbox.url}/_sandbox/state/nope/items", timeout=5).status_code == 404


def test_injected_429_storm_then_recovery(sandbox, http):
    faults = {"rules": [{"path_prefix": "/echo", "status": 429, "count": 2, "retry_after": 3}]}
    assert requests.post(f"{sandbox.url}/_sandbox/faults", json=faults, timeout=5).status_code == 200
    first = http.get(f"{sandbox.url}/echo/v1/items")
    assert first.status_code == 429
    assert first.headers["Retry-After"] == "3"
    assert http.get(f"{sandbox.url}/echo/v1/items").status_code == 429
    assert http.get(f"{sandbox.url}/echo/v1/items").status_code == 200
    assert requests.get(f"{sandbox.url}/_sandbox/stats", timeout=5).json()["echo"]["throttled"] == 2


def test_injected_drop_mid_response(sandbox, http):
    requests.post(f"{sandbox.url}/_sandbox/faults", json={"rules": [{"drop": True}]}, timeout=5)
    with pytest.raises((requests.exceptions.ConnectionError, requests.exceptions.ChunkedEncodingError)):
        http.get(f"{sandbox.url}/echo/v1/items")
    assert http.get(f"{sandbox.url}/echo/v1/items").status_code == 200


def test_rate_faults_are_repeatable_and_clearable(sandbox, http):
    requests.post(f"{sandbox.url}/_sandbox/faults", json={"rules": [{"status": 503, "rate": 0.5}]}, timeout=5)
    statuses = [http.get(f"{sandbox.url}/echo/v1/items").status_code for _ in range(20)]
    assert set(statuses) == {200, 503}
    requests.delete(f"{sandbox.url}/_sandbox/faults", timeout=5)
    assert http.get(f"{sandbox.url}/echo/v1/items").status_code == 200


def test_bad_fault_is_refused(sandbox):
    response = requests.post(f"{sandbox.url}/_sandbox/faults", json={"rules": [{"stauts": 500}]}, timeout=5)
    assert response.status_code == 400
    assert "stauts" in response.json()["error"]


def test_quota_exhaustion_via_control(sandbox, http):
    requests.post(f"{sandbox.url}/_sandbox/faults", json={"exhaust_quota": ["echo"]}, timeout=5)
    assert http.get(f"{sandbox.url}/echo/v1/items").status_code == 403


def test_tls_listener_with_the_ca_bundle(sandbox, http):
    assert sandbox.tls_url.startswith("https://127.0.0.1:")
    response = http.get(f"{sandbox.tls_url}/echo/v1/items", verify=str(sandbox.ca_bundle))
    assert response.status_code == 200
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(f"{sandbox.tls_url}/echo/v1/items", timeout=5)  # system CAs do not trust it


def test_clock_advances_forward_only(sandbox):
    before = requests.get(f"{sandbox.url}/_sandbox/clock", timeout=5).json()
    after = requests.post(f"{sandbox.url}/_sandbox/advance", json={"days": 7}, timeout=5).json()
    assert after["today"] > before["today"]
    assert requests.post(f"{sandbox.url}/_sandbox/advance", json={"days": -1}, timeout=5).status_code == 400


def test_info_names_every_vendor_and_the_control_url(sandbox):
    info = requests.get(f"{sandbox.url}/_sandbox/", timeout=5).json()
    assert info["echo"] == {"url": sandbox.url, "token": "t0k"}
    assert info["control"] == f"{sandbox.url}/_sandbox/"
    json.dumps(info)
