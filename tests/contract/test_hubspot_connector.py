"""HubSpot connector reads over the unmodified hubspot-api-client, against the sandbox.

hubspot-api-client speaks urllib3, so `responses` cannot intercept it: every test drives a real
sandbox on a free port. Request counts come from the sandbox's own counters and are the minimum
the vendor's page sizes allow (list 100, search 200) plus the documented handful (describe 1,
owners 1 per 500, archived list 1 per 100 archived on incremental pulls).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
import urllib3.exceptions
from helpers.data import NOW
from helpers.fakes import FakeTime, make_http
from helpers.sandboxes import faults, hubspot_sandbox
from hubspot.crm.companies import ApiException as CompaniesApiException
from hubspot.crm.deals.exceptions import ServiceException as DealsServiceException
from hubspot_support import COMPANY_BASE, LIST, SEARCH, connect, dataset, served

from healthsync.connectors.base import FieldUpdate
from healthsync.connectors.hubspot import HubSpotConnector
from healthsync.connectors.hubspot_api import translate
from healthsync.connectors.hubspot_read import hubspot_date
from healthsync.connectors.incremental import WatermarkState
from healthsync.errors import QuotaExhausted, RateLimited, TransientError, VendorError
from healthsync.sandbox import Sandbox

OWNERS = "GET /crm/v3/owners"
ARCHIVED_LIST = LIST  # the archived pass is the same list endpoint with archived=True
APART = timedelta(minutes=10)


@pytest.fixture
def sandbox450(tmp_path: Path) -> Iterator[Sandbox]:
    """450 companies modified ten minutes apart from ten days before the sandbox's now.

    Ten minutes is more than the lag (`sync.lookback_minutes`, 5), so the lag overlap of an
    incremental search holds only the record at the watermark itself.
    """
    sandbox = hubspot_sandbox(dataset(tmp_path, 450, apart=APART))
    yield sandbox
    sandbox.stop()


def pull(connector: HubSpotConnector, since: WatermarkState | None = None) -> list:
    return list(connector.iter_accounts(since))


# --- first run --------------------------------------------------------------------------------


def test_first_pull_lists_450_companies_in_exactly_5_calls(sandbox450: Sandbox, tmp_path: Path) -> None:
    connector = connect(sandbox450, tmp_path / "cfg")
    pages = pull(connector)
    assert [len(p.records) for p in pages] == [100, 100, 100, 100, 50]
    assert served(sandbox450) == {LIST: math.ceil(450 / 100)}
    ids = [a.crm_id for p in pages for a in p.records]
    assert sorted(ids) == [str(COMPANY_BASE + i) for i in range(450)]
    # Only the last page moves the watermark: the list is in id order, not stamp order.
    assert all(p.state == WatermarkState() for p in pages[:-1])
    last = pages[-1].state
    assert last.value == NOW - timedelta(days=10) + APART * 449
    # The record at the watermark is remembered, so the next search's closed bound skips it.
    assert not connector.companies.cursor.accept(last, str(COMPANY_BASE + 449), last.value)
    assert connector.companies.cursor.accept(last, str(COMPANY_BASE + 1), last.value)


def test_companies_translate_to_accounts(sandbox450: Sandbox, tmp_path: Path) -> None:
    connector = connect(sandbox450, tmp_path / "cfg")
    account = next(a for p in pull(connector) for a in p.records if a.crm_id == str(COMPANY_BASE + 7))
    assert account.name == "Company 7"
    assert account.domains == ("company7.example",)
    assert account.external_keys == {"customer_key": "C000007"}
    assert account.owner_id == "6100001"
    assert account.arr == 8000.0
    assert account.licenses == 8
    assert account.contract_start == date(2026, 1, 1)
    assert account.contract_end == date(2027, 1, 8)
    assert account.segment == "Mid-Market"
    assert account.modified_at == NOW - timedelta(days=10) + APART * 7
    assert account.live_outputs["score"] is None
    assert set(account.live_outputs) == set(connector.mapping.account.outputs)


def test_hubspot_dates_read_as_iso_or_epoch_ms() -> None:
    assert hubspot_date("2027-01-08") == "2027-01-08"
    assert hubspot_date("1798761600000") == "2027-01-01"
    assert hubspot_date("") is None


# --- incremental ------------------------------------------------------------------------------


def test_incremental_pull_returns_exactly_the_changes(sandbox450: Sandbox, tmp_path: Path) -> None:
    connector = connect(sandbox450, tmp_path / "cfg")
    first = pull(connector)[-1].state
    changed = [str(COMPANY_BASE + i) for i in range(0, 450, 2)][:210]  # 210 changes: two search pages
    outcomes = connector.update_fields(
        [FieldUpdate("companies", cid, {"healthsync_score": 50 + n % 40}) for n, cid in enumerate(changed)]
    )
    assert all(o.ok for o in outcomes)
    sandbox450.stats.reset()

    pages = pull(connector, first)
    got = [a.crm_id for p in pages for a in p.records]
    assert sorted(got) == sorted(changed)
    assert len(got) == len(set(got))
    assert [a.live_outputs["score"] for p in pages for a in p.records if a.crm_id == changed[1]] == [51.0]
    # The closed lower bound (>=) also returns the one record at the watermark (dropped as seen):
    # ceil((210 + 1) / 200) searches, plus one page of the archived list.
    assert served(sandbox450) == {SEARCH: math.ceil((210 + 1) / 200), ARCHIVED_LIST: 1}
    states = [p.state for p in pages]
    assert all(s.value is not None for s in states)
    assert [s.value for s in states] == sorted(s.value for s in states)  # monotonic
    # Nothing changed since: the lag overlap is re-read but nothing in it is new.
    assert [a for p in pull(connector, states[-1]) for a in p.records] == []


def test_unchanged_incremental_pull_returns_nothing(sandbox450: Sandbox, tmp_path: Path) -> None:
    connector = connect(sandbox450, tmp_path / "cfg")
    first = pull(connector)[-1].state
    sandbox450.stats.reset()
    pages = pull(connector, first)
    assert [a for p in pages for a in p.records] == []
    assert served(sandbox450) == {SEARCH: 1, ARCHIVED_LIST: 1}


def test_archived_company_is_reported_deleted(sandbox450: Sandbox, tmp_path: Path) -> None:
    connector = connect(sandbox450, tmp_path / "cfg")
    first = pull(connector)[-1].state
    gone = str(COMPANY_BASE + 3)
    connector.api.api("crm.companies.basic_api").archive(company_id=gone)

    pages = pull(connector, first)
    assert [k for p in pages for k in p.deleted] == [gone]
    assert gone not in {a.crm_id for p in pages for a in p.records}
    # Archived before the watermark: already reported by an earlier run, not again.
    later = WatermarkState(sandbox450.clock.now() + timedelta(hours=1))
    assert [k for p in pull(connector, later) for k in p.deleted] == []


def test_10050_company_window_is_sliced_under_the_10000_result_cap(tmp_path: Path) -> None:
    sandbox = hubspot_sandbox(dataset(tmp_path, 10_050))
    try:
        connector = connect(sandbox, tmp_path / "cfg")
        pages = pull(connector, WatermarkState(NOW - timedelta(days=30)))
        got = [a.crm_id for p in pages for a in p.records]
        assert len(got) == 10_050
        assert len(set(got)) == 10_050
        # 50 pages reach the cap; a new query from the last stamp re-reads that one record and the
        # remaining 50: 51 searches = ceil(10,050 / 200), the minimum.
        assert served(sandbox) == {SEARCH: math.ceil(10_050 / 200), ARCHIVED_LIST: 1}
        assert all(len(p.records) == 200 for p in pages[:50])
    finally:
        sandbox.stop()


def test_10050_companies_on_one_stamp_are_walked_by_id(tmp_path: Path) -> None:
    sandbox = hubspot_sandbox(dataset(tmp_path, 10_050, apart=timedelta(0)))
    try:
        connector = connect(sandbox, tmp_path / "cfg")
        pages = pull(connector, WatermarkState(NOW - timedelta(days=30)))
        got = [a.crm_id for p in pages for a in p.records]
        assert sorted(got) == sorted(str(COMPANY_BASE + i) for i in range(10_050))
        # Degenerate case: 50 pages hit the cap on one stamp; that stamp is walked again by id
        # (50 pages to the cap, then 1 for the last 50), then one search strictly after it.
        assert served(sandbox)[SEARCH] == 50 + 51 + 1
    finally:
        sandbox.stop()


# --- owners and schema ------------------------------------------------------------------------


def test_owners_in_one_call(sandbox450: Sandbox, tmp_path: Path) -> None:
    owners = connect(sandbox450, tmp_path / "cfg").owners()
    assert {o.name for o in owners.values()} == {"Dana Reyes", "Sam Okafor"}
    assert owners["6100000"].email == "dana.reyes@vendor.example"
    assert served(sandbox450) == {OWNERS: 1}  # 2 owners, 500 per page


def test_describe_in_one_call(sandbox450: Sandbox, tmp_path: Path) -> None:
    schema = connect(sandbox450, tmp_path / "cfg").describe()
    assert schema.object == "companies"
    key = schema.get("customer_key")
    assert key is not None
    assert key.unique
    assert key.custom
    band = schema.get("healthsync_band")
    assert band is not None
    assert band.writable
    assert set(band.options) >= {"green", "yellow", "red"}
    modified = schema.get("hs_lastmodifieddate")
    assert modified is not None
    assert not modified.writable
    assert not modified.custom
    assert sum(served(sandbox450).values()) == 1


# --- failures ---------------------------------------------------------------------------------


def test_429_with_retry_after_is_waited_out_by_http(sandbox450: Sandbox, tmp_path: Path) -> None:
    fake = FakeTime()
    connector = connect(sandbox450, tmp_path / "cfg", make_http(fake))
    faults(sandbox450, rules=[{"path_prefix": "/crm/v3/objects/companies", "status": 429, "retry_after": 3}])
    pages = pull(connector)
    assert sum(len(p.records) for p in pages) == 450
    assert served(sandbox450) == {LIST: 6}
    assert connector.api.http.retries == [("hubspot", "companies.list", "RateLimited", 3.0)]
    assert 3.0 in fake.sleeps


def test_429_on_search_post_is_retried(sandbox450: Sandbox, tmp_path: Path) -> None:
    connector = connect(sandbox450, tmp_path / "cfg")
    first = pull(connector)[-1].state
    faults(sandbox450, rules=[{"path_prefix": "/crm/v3/objects/companies/search", "status": 429}])
    sandbox450.app("hubspot").retry_after_on_429 = False  # as HubSpot: no Retry-After
    pull(connector, first)
    # HubSpot's own SDKs wait 1 s after a per-second search 429 (vendor-facts.md §11).
    assert connector.api.http.retries == [("hubspot", "companies.search", "RateLimited", 1.0)]


def test_dropped_connection_mid_page_is_recovered(sandbox450: Sandbox, tmp_path: Path) -> None:
    connector = connect(sandbox450, tmp_path / "cfg")
    faults(sandbox450, rules=[{"path_prefix": "/crm/v3/objects/companies", "method": "GET", "drop": True}])
    pages = pull(connector)
    assert sum(len(p.records) for p in pages) == 450
    assert served(sandbox450) == {LIST: 6}
    assert [r[2] for r in connector.api.http.retries] == ["TransientError"]


def test_server_errors_are_retried(sandbox450: Sandbox, tmp_path: Path) -> None:
    connector = connect(sandbox450, tmp_path / "cfg")
    faults(sandbox450, rules=[{"path_prefix": "/crm/v3/owners", "status": 502, "count": 2}])
    assert len(connector.owners()) == 2
    assert [r[2] for r in connector.api.http.retries] == ["TransientError", "TransientError"]


def test_daily_cap_spent_stops_the_run(sandbox450: Sandbox, tmp_path: Path) -> None:
    connector = connect(sandbox450, tmp_path / "cfg")
    faults(sandbox450, exhaust_quota=["hubspot"])
    with pytest.raises(QuotaExhausted):
        pull(connector)
    assert served(sandbox450) == {LIST: 1}


def test_configured_daily_limit_is_never_passed(sandbox450: Sandbox, tmp_path: Path) -> None:
    connector = connect(sandbox450, tmp_path / "cfg", daily_limit=3)
    with pytest.raises(QuotaExhausted, match="daily cap of 3"):
        pull(connector)
    assert served(sandbox450) == {LIST: 3}


def test_calls_are_paced_under_the_ten_second_window(sandbox450: Sandbox, tmp_path: Path) -> None:
    fake = FakeTime()
    http = make_http(fake)
    connector = connect(sandbox450, tmp_path / "cfg", http)  # starter tier: 100 per 10 s
    for _ in range(101):
        connector.owners()
    assert fake.now >= 10.0  # the 101st call waited for the window, on the fake clock
    assert http.stats()["limiter_wait_s"]["hubspot:100/10s"] >= 10.0
    assert "hubspot-search:4/s" in http.stats()["limiter_wait_s"]


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (DealsServiceException(status=503, reason="Service Unavailable"), TransientError),
        (CompaniesApiException(status=400, reason="Bad Request"), VendorError),
        (urllib3.exceptions.ProtocolError("Connection broken: IncompleteRead"), TransientError),
        (urllib3.exceptions.MaxRetryError(None, "/crm/v3/objects", ConnectionRefusedError()), TransientError),
        (urllib3.exceptions.ReadTimeoutError(None, "/crm", "read timed out"), TransientError),
    ],
    ids=["deals-503", "companies-400", "protocol-error", "connection-refused", "read-timeout"],
)
def test_sdk_errors_of_every_package_arrive_as_ours(exc: BaseException, expected: type) -> None:
    error = translate(exc, endpoint="x")
    assert type(error) is expected


def test_a_429_daily_policy_is_quota_and_a_rolling_one_waits() -> None:
    daily = CompaniesApiException(status=429)
    daily.body = b'{"status":"error","message":"You have reached your daily limit.","policyName":"DAILY"}'
    assert isinstance(translate(daily), QuotaExhausted)
    rolling = CompaniesApiException(status=429)
    rolling.body = (
        b'{"message":"You have reached your ten_secondly_rolling limit.","policyName":"TEN_SECONDLY_ROLLING"}'
    )
    rolling.headers = {}
    error = translate(rolling)
    assert isinstance(error, RateLimited)
    assert error.retry_after == 10.0
    assert translate(ValueError("a bug of ours")) is None
