"""The Zendesk connector under 429s, 5xx, dropped connections and its own rate limiters.

Waits go through `Http(sleep=..., clock=...)` fakes, so nothing really sleeps. The sandbox's own
per-minute windows run on a clock of their own (real time by default); the pacing tests give them
the same fake clock as `Http`, so "a minute later" means the same thing to client and server.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import requests
from helpers.configs import zendesk_config
from helpers.data import support_dataset as dataset
from helpers.fakes import FakeTime, make_http
from helpers.sandboxes import faults, zendesk_sandbox
from helpers.sandboxes import zendesk_calls as endpoint_calls
from zenpy.lib.exception import APIException, RatelimitBudgetExceeded

from healthsync.connectors.zendesk import ZendeskConnector
from healthsync.connectors.zendesk_client import ZendeskClient
from healthsync.connectors.zendesk_errors import raise_on_throttle, translate
from healthsync.errors import (
    AuthError,
    ConfigError,
    RateLimited,
    TransientError,
    VendorError,
)
from healthsync.http import PACE_MARGIN, Http
from healthsync.sandbox import Sandbox
from healthsync.sandbox.zendesk.ratelimit import RateLimits
from healthsync.secrets import resolve


def fake_http(time: FakeTime) -> Http:
    return make_http(time, seed=5)


def connect(sandbox: Sandbox, folder: Path, http: Http, **config: object) -> ZendeskConnector:
    return ZendeskConnector.from_config(
        zendesk_config(sandbox, folder, **config), http, clock=sandbox.clock.now
    )


@pytest.fixture
def box(tmp_path: Path):
    sandbox = zendesk_sandbox(dataset(tmp_path, orgs=250, tickets=2500, deleted_every=100))
    yield sandbox
    sandbox.stop()


# --- 429 and 5xx -----------------------------------------------------------------------------------


def test_429_waits_retry_after_and_5xx_back_off(box, tmp_path):
    faults(
        box,
        {"path_prefix": "/api/v2/incremental/tickets", "status": 429, "retry_after": 7},
        {"path_prefix": "/api/v2/incremental/tickets", "status": 503, "retry_after": 2},
        {"path_prefix": "/api/v2/incremental/tickets", "status": 500},
    )
    time = FakeTime(1_000.0)
    http = fake_http(time)
    with connect(box, tmp_path, http) as zendesk:
        pages = list(zendesk.iter_tickets(None))
    assert sum(len(p.records) for p in pages) == 2500
    retried = [(endpoint, error) for _, endpoint, error, _ in http.retries]
    assert retried == [("incremental/tickets/cursor", "RateLimited")] * 2 + [
        ("incremental/tickets/cursor", "TransientError")
    ]
    assert time.sleeps[:2] == [7.0, 2.0]  # Retry-After, from a 429 and from a 503
    assert 1.0 <= time.sleeps[2] <= 2.0  # jittered backoff before the fourth attempt (0.5 s * 2**2)
    assert len(time.sleeps) == 3  # zenpy itself never waited or retried
    assert endpoint_calls(box, "incremental/tickets/cursor") == 3 + 3
    assert box.stats.snapshot()["zendesk"]["throttled"] == 1


def test_a_dropped_connection_mid_page_is_retried(box, tmp_path):
    faults(box, {"path_prefix": "/api/v2/incremental/organizations", "drop": True})
    time = FakeTime(1_000.0)
    http = fake_http(time)
    with connect(box, tmp_path, http) as zendesk:
        pages = list(zendesk.iter_organizations())
    assert [len(p.records) for p in pages] == [250]  # the first run's export, 1,000 a page
    assert [error for _, _, error, _ in http.retries] == ["TransientError"]
    assert endpoint_calls(box, "incremental/organizations") == 2
    assert http.counter.by_endpoint() == {"zendesk": {"incremental/organizations": 2}}


def test_a_429_that_reached_zenpy_raises_at_once(box, tmp_path):
    """Without our hook, `ratelimit_budget=0` still stops zenpy from sleeping out a 429."""
    config = zendesk_config(box, tmp_path)
    assert config.zendesk is not None
    assert config.zendesk.token is not None
    secret = resolve(config.zendesk.token, context="zendesk.token", base_dir=config.base_dir)
    client = ZendeskClient.build(config.zendesk, credential="zendesk.token", secret=secret.reveal())
    try:
        client.session.hooks["response"].remove(raise_on_throttle)
        faults(box, {"path_prefix": "/api/v2/users/me", "status": 429, "retry_after": 30})
        with pytest.raises(RatelimitBudgetExceeded) as caught:
            client.get("users/me", {})
        assert isinstance(translate(caught.value), RateLimited)
        assert endpoint_calls(box, "users/me") == 1
    finally:
        client.close()


# --- client-side pacing ----------------------------------------------------------------------------


def _paced(box: Sandbox, time: FakeTime) -> None:
    """Run the sandbox's Zendesk windows (400/min, exports 10/min) on the fake clock."""
    assert box.rate_limits
    box.app("zendesk").limits = RateLimits(account=400, incremental=10, clock=time.clock)  # type: ignore[attr-defined]


def _eleven_export_calls(zendesk: ZendeskConnector) -> list[object]:
    """One first-run export call (the data fits one page), then ten resumes of one call each."""
    states = [list(zendesk.iter_tickets(None))[-1].state]
    for _ in range(10):
        states.append(list(zendesk.iter_tickets(str(states[-1])))[-1].state)
    return states


def test_the_export_limiter_makes_the_eleventh_call_wait_without_a_429(tmp_path):
    box = zendesk_sandbox(dataset(tmp_path, orgs=5, tickets=20), rate_limits=True)
    try:
        time = FakeTime(1_000.0)
        _paced(box, time)
        http = fake_http(time)
        with connect(box, tmp_path / "cfg", http) as zendesk:
            _eleven_export_calls(zendesk)
        # Ten calls fit the minute; the eleventh waits for it to pass, plus the 5 % margin.
        window = round(60.0 / PACE_MARGIN, 3)
        assert time.sleeps == pytest.approx([window], abs=1e-3)
        assert http.retries == []
        assert endpoint_calls(box, "incremental/tickets/cursor") == 11
        assert box.stats.snapshot()["zendesk"]["throttled"] == 0  # no wasted 429
        assert http.stats()["limiter_wait_s"] == {
            "zendesk:400/min": 0.0,
            "zendesk-incremental:10/min": pytest.approx(window, abs=1e-3),
        }
    finally:
        box.stop()


def test_a_real_429_from_an_overstated_limit_is_retried_after_retry_after(tmp_path):
    box = zendesk_sandbox(dataset(tmp_path, orgs=5, tickets=20), rate_limits=True)
    try:
        time = FakeTime(1_000.0)
        _paced(box, time)
        http = fake_http(time)
        # The config claims the High Volume add-on (30/min); the account has 10/min.
        with connect(box, tmp_path / "cfg", http, incremental_per_minute=30) as zendesk:
            states = _eleven_export_calls(zendesk)
        assert len(states) == 11
        assert http.retries == [("zendesk", "incremental/tickets/cursor", "RateLimited", 60.0)]
        assert time.sleeps == [60.0]  # the server's Retry-After, slept once by Http
        assert endpoint_calls(box, "incremental/tickets/cursor") == 12
        assert box.stats.snapshot()["zendesk"]["throttled"] == 1
    finally:
        box.stop()


# --- translation table -----------------------------------------------------------------------------


def _response(status: int, body: object = None, headers: dict[str, str] | None = None) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response._content = (json.dumps(body) if not isinstance(body, str) else body).encode()
    response.headers.update(headers or {})
    response.url = "https://acme.zendesk.com/api/v2/incremental/tickets/cursor.json?cursor=SECRETCURSOR"
    return response


@pytest.mark.parametrize(
    ("exc", "expected", "retry_after"),
    [
        (
            APIException("{}", response=_response(401, {"error": "Couldn't authenticate you"})),
            AuthError,
            None,
        ),
        (APIException("{}", response=_response(403, {"error": "Forbidden"})), AuthError, None),
        (requests.HTTPError(response=_response(429, "slow down", {"Retry-After": "12"})), RateLimited, 12.0),
        (requests.HTTPError(response=_response(429, "slow down")), RateLimited, None),
        (APIException("{}", response=_response(503, {"errors": []}, {"Retry-After": "3"})), RateLimited, 3.0),
        (APIException("{}", response=_response(502, {"errors": []})), TransientError, None),
        (requests.HTTPError(response=_response(500, "<html>")), TransientError, None),
        (APIException("{}", response=_response(422, {"error": "InvalidValue"})), VendorError, None),
        (RatelimitBudgetExceeded("Rate limit budget exceeded!"), RateLimited, None),
        (requests.ConnectionError("refused"), TransientError, None),
        (requests.ReadTimeout("slow"), TransientError, None),
        (requests.exceptions.ChunkedEncodingError("IncompleteRead"), TransientError, None),
        (json.JSONDecodeError("Expecting value", "{", 1), TransientError, None),
        (requests.exceptions.SSLError("CERTIFICATE_VERIFY_FAILED"), ConfigError, None),
    ],
    ids=[
        "401",
        "403",
        "429-retry-after",
        "429-bare",
        "503-retry-after",
        "502",
        "500-html",
        "422",
        "zenpy-budget",
        "connection",
        "timeout",
        "dropped-mid-body",
        "truncated-json",
        "tls",
    ],
)
def test_translate(exc, expected, retry_after):
    error = translate(exc)
    assert type(error) is expected
    if isinstance(error, RateLimited):
        assert error.retry_after == retry_after
    assert "SECRETCURSOR" not in str(error)


def test_translate_leaves_our_bugs_alone():
    assert translate(KeyError("id")) is None
    assert translate(TypeError("oops")) is None
