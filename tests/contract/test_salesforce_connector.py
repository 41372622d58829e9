"""Salesforce connector, reads: paging at 2,000, incremental resumes, deletes, describe, owners, errors.

Everything runs through the unmodified simple-salesforce against the sandbox over HTTPS. Request
counts are read at the sandbox (what the org saw) and at `Http` (what we think we sent).

Theoretical minimum for a pull of N accounts: ceil(N / 2,000) query calls (1 `query` + the rest
`query_more`); `describe` and `owners` add one call each.
"""

from __future__ import annotations

import json
import math
from datetime import date

import pytest
import requests
import responses
from responses import matchers
from salesforce_support import DESCRIBE, NOW, QUERY, QUERY_MORE, Org, dataset, org
from simple_salesforce.api import Salesforce
from simple_salesforce.exceptions import SalesforceGeneralError, SalesforceRefusedRequest

from healthsync.connectors.incremental import WatermarkState
from healthsync.connectors.salesforce_api import SalesforceApi, translate
from healthsync.connectors.salesforce_read import account_soql
from healthsync.connectors.sessions import make_session
from healthsync.errors import (
    AuthError,
    ConfigError,
    QuotaExhausted,
    RateLimited,
    TransientError,
    VendorError,
)
from healthsync.http import Http
from healthsync.mappings import load_mapping
from healthsync.model import Account, Band


def pull(o: Org, since: WatermarkState | None = None):
    pages = list(o.connector.iter_accounts(since))
    records = [a for p in pages for a in p.records]
    deleted = [k for p in pages for k in p.deleted]
    return pages, records, deleted


@pytest.fixture(scope="module")
def big(tmp_path_factory):
    with org(
        tmp_path_factory.mktemp("sf-big"), data=dataset(tmp_path_factory.mktemp("sf-big-data"), 4500)
    ) as o:
        yield o


@pytest.fixture
def small(tmp_path):
    with org(tmp_path, data=dataset(tmp_path / "data", 5)) as o:
        yield o


@pytest.fixture
def two_pages(tmp_path):
    with org(tmp_path, data=dataset(tmp_path / "data", 2500)) as o:
        yield o


class TestFullPull:
    def test_4500_accounts_take_exactly_3_query_calls(self, big):
        big.reset()
        pages, records, deleted = pull(big)
        assert [len(p.records) for p in pages] == [2000, 2000, 500]
        assert len({a.crm_id for a in records}) == 4500 == len(big.state("Account"))
        assert deleted == []
        assert big.calls() == {QUERY: 1, QUERY_MORE: 2}  # ceil(4500 / 2000)
        assert big.http.counter.by_endpoint() == {"salesforce": {"query": 1, "query_more": 2}}

    def test_describe_and_owners_are_one_call_each(self, big):
        big.reset()
        big.connector.describe()
        owners = big.connector.owners()
        assert big.calls() == {DESCRIBE: 1, QUERY: 1}
        assert {o.name for o in owners.values()} == {"Dana Reyes", "Sam Okafor", "Integration User"}
        assert all(o.active for o in owners.values())

    def test_pages_come_in_stamp_order_and_carry_a_resumable_watermark(self, big):
        pages, records, _ = pull(big)
        stamps = [a.modified_at for a in records]
        assert stamps == sorted(stamps)
        # A run killed after the first page resumes from its state and reads the rest, no more.
        first = pages[0].state
        assert isinstance(first, WatermarkState)
        rest = [a.crm_id for p in big.connector.iter_accounts(first) for a in p.records]
        assert rest == [a.crm_id for a in records[2000:]]

    def test_accounts_translate_to_the_canonical_model(self, big):
        _, records, _ = pull(big)
        first = next(a for a in records if a.external_keys.get("customer_key") == "C000000")
        assert isinstance(first, Account)
        assert first.name == "Customer 00000"
        assert first.domains == ("customer0.example",)
        assert first.owner_id is not None
        assert first.owner_id.startswith("005")
        assert (first.arr, first.licenses, first.segment) == (1000.0, 5, "SMB")
        assert (first.contract_start, first.contract_end) == (date(2026, 1, 1), date(2027, 1, 1))
        assert first.override is None
        assert set(first.live_outputs) == set(load_mapping("salesforce").account.outputs)
        assert first.raw_inputs["domain"] == "https://customer0.example"
        assert first.modified_at is not None
        assert first.modified_at < NOW


def test_incremental_returns_accounts_written_through_the_api(small):
    pages, records, _ = pull(small)
    target = [records[1].crm_id, records[3].crm_id]
    sdk = small.sdk()
    for crm_id in target:
        sdk.Account.update(crm_id, {"Health_Override__c": "Red", "Health_Override_By__c": "dana"})
    _, again, _ = pull(small, pages[-1].state)
    assert sorted(a.crm_id for a in again) == sorted(target)
    assert all(a.override is not None and a.override.band is Band.RED for a in again)
    assert all(a.override.author == "dana" and a.override.expires == date.max for a in again)


def test_soql_selects_mapped_fields_with_a_closed_bound():
    mapping = load_mapping("salesforce")
    soql = account_soql(mapping, NOW)
    assert soql.startswith("SELECT Id, IsDeleted, SystemModstamp, Name, Website, OwnerId, Customer_Key__c")
    assert "Health_Score__c" in soql  # live outputs, for the plan's diff
    assert soql.count("SystemModstamp") == 3  # selected once, even though `modified` maps to it too
    assert soql.endswith("WHERE SystemModstamp >= 2026-11-02T09:00:00Z ORDER BY SystemModstamp, Id")


def test_describe(small):
    small.reset()
    schema = small.connector.describe()
    assert small.calls() == {DESCRIBE: 1}
    assert schema.object == "Account"
    key = schema.get("customer_key__c")
    assert key is not None
    assert key.external_id
    assert key.unique
    assert key.writable
    assert key.custom
    band = schema.get("Health_Band__c")
    assert band is not None
    assert band.type == "picklist"
    assert band.options == ("Green", "Yellow", "Red")
    stamp = schema.get("SystemModstamp")
    assert stamp is not None
    assert not stamp.writable
    assert stamp.type == "datetime"
    task = small.connector.describe("Task")
    assert task.get("Healthsync_Key__c") is not None


def test_owners(small):
    owners = small.connector.owners()
    assert {(o.name, o.email) for o in owners.values()} >= {
        ("Dana Reyes", "dana.reyes@vendor.example"),
        ("Sam Okafor", "sam.okafor@vendor.example"),
    }


def test_injected_503s_on_a_read_are_retried_through_http(two_pages):
    two_pages.faults({"path_prefix": "/services/data/v62.0/query", "status": 503, "count": 2})
    two_pages.reset()
    _, records, _ = pull(two_pages)
    assert len({a.crm_id for a in records}) == 2500
    assert two_pages.calls() == {QUERY: 3, QUERY_MORE: 1}  # two refused, then the two pages
    assert [(r[1], r[2]) for r in two_pages.http.retries] == [("query", "TransientError")] * 2
    assert len(two_pages.waits) == 2


def test_429_waits_for_retry_after(small):
    small.faults({"path_prefix": "/services/data/v62.0/query", "status": 429, "count": 1, "retry_after": 7})
    _, records, _ = pull(small)
    assert len(records) == 5
    assert small.waits == [7.0]
    assert small.http.retries[0][2] == "RateLimited"


def test_a_connection_dropped_mid_page_is_recovered(two_pages):
    # The second page's response is cut off halfway; the read is idempotent, so it is replayed.
    two_pages.faults({"path_prefix": "/services/data/v62.0/query/0", "drop": True, "count": 1})
    two_pages.reset()
    _, records, _ = pull(two_pages)
    assert len({a.crm_id for a in records}) == 2500
    assert two_pages.calls() == {QUERY: 1, QUERY_MORE: 2}
    assert [r[1:3] for r in two_pages.http.retries] == [("query_more", "TransientError")]


def test_401_is_an_auth_error_naming_the_credential(small):
    token_file = small.config_path.parent / f"{small.config_path.stem}-secrets" / "salesforce_token"
    real = token_file.read_text().strip()
    token_file.write_text("00Dexpired!token\n")
    connector = small.build()
    small.reset()
    with pytest.raises(AuthError) as caught:
        pull_with(connector)
    message = str(caught.value)
    assert "salesforce.access_token" in message
    assert "healthsync auth set salesforce" in message
    assert real not in message
    assert "00Dexpired" not in message
    assert caught.value.status == 401
    assert small.http.retries == []
    assert small.calls() == {QUERY: 1}
    assert isinstance(caught.value.__cause__, Exception)


def pull_with(connector):
    return [a for p in connector.iter_accounts() for a in p.records]


def test_spent_quota_is_quota_exhausted_and_not_retried(small):
    pull(small)
    assert small.connector.api_usage() == (small.app.org.quota.used, 5_000_000)
    small.faults(exhaust_quota=["salesforce"])
    with pytest.raises(QuotaExhausted, match="TotalRequests"):
        pull(small)
    assert small.http.retries == []


# --- translate: one test per exception family (STYLE.md pitfall 5) ----------------------------


def _sf_error(cls, status, body):
    return cls(
        "https://x.my.salesforce.com/services/data/v62.0/query/?q=SELECT+secret", status, "query", body
    )


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        pytest.param(
            _sf_error(
                SalesforceRefusedRequest,
                403,
                [{"errorCode": "REQUEST_LIMIT_EXCEEDED", "message": "TotalRequests Limit exceeded."}],
            ),
            QuotaExhausted,
            id="salesforce-403-request-limit",
        ),
        pytest.param(
            _sf_error(
                SalesforceRefusedRequest,
                403,
                [
                    {
                        "errorCode": "REQUEST_LIMIT_EXCEEDED",
                        "message": "ConcurrentPerOrgLongTxn Limit exceeded.",
                    }
                ],
            ),
            RateLimited,
            id="salesforce-403-concurrent-limit",
        ),
        pytest.param(
            _sf_error(
                SalesforceRefusedRequest,
                403,
                [{"errorCode": "API_DISABLED_FOR_ORG", "message": "API is not enabled"}],
            ),
            AuthError,
            id="salesforce-403-api-disabled",
        ),
        pytest.param(
            _sf_error(SalesforceGeneralError, 502, "<html>bad gateway</html>"),
            TransientError,
            id="salesforce-502",
        ),
        pytest.param(requests.exceptions.ReadTimeout("read timed out"), TransientError, id="read-timeout"),
        pytest.param(
            requests.exceptions.ChunkedEncodingError("IncompleteRead"), TransientError, id="dropped"
        ),
        pytest.param(
            requests.exceptions.SSLError("CERTIFICATE_VERIFY_FAILED"), ConfigError, id="untrusted-ca"
        ),
        pytest.param(
            requests.exceptions.SSLError("The handshake operation timed out"),
            TransientError,
            id="tls-timeout",
        ),
        pytest.param(json.JSONDecodeError("Expecting value", "", 0), TransientError, id="truncated-json"),
    ],
)
def test_translate_maps_every_family(exc, expected):
    error = translate(exc, endpoint="query")
    assert type(error) is expected
    assert "secret" not in str(error)  # URLs lose their query string


def test_translate_leaves_bugs_alone_and_keeps_other_4xx_as_vendor_errors():
    assert translate(KeyError("x")) is None
    bad = translate(
        _sf_error(SalesforceGeneralError, 400, [{"errorCode": "INVALID_FIELD", "message": "No such column"}])
    )
    assert type(bad) is VendorError
    assert "INVALID_FIELD" in str(bad)
    assert math.isclose(translate(_sf_error(SalesforceGeneralError, 503, []), retry_after=2).retry_after, 2)


def test_wire_pins_batch_size_header_and_next_records_url():
    """`responses` pins what the sandbox cannot show: the header and the exact URLs sent."""
    session = make_session()
    base = "https://acme.my.salesforce.com/services/data/v62.0"
    sf = Salesforce(
        instance_url="https://acme.my.salesforce.com", session_id="tok", version="62.0", session=session
    )
    api = SalesforceApi(lambda: sf, Http(sleep=lambda _: None), session)
    header = matchers.header_matcher({"Sforce-Query-Options": "batchSize=2000"})
    with responses.RequestsMock(assert_all_requests_are_fired=True) as rsps:
        rsps.get(
            f"{base}/queryAll/",
            match=[header, matchers.query_param_matcher({"q": "SELECT Id FROM Account"})],
            json={
                "totalSize": 3,
                "done": False,
                "nextRecordsUrl": "/services/data/v62.0/query/01g-2",
                "records": [{"Id": "1"}, {"Id": "2"}],
            },
        )
        rsps.get(
            f"{base}/query/01g-2",
            match=[header],
            json={"totalSize": 3, "done": True, "records": [{"Id": "3"}]},
        )
        pages = list(api.iter_query("SELECT Id FROM Account", include_deleted=True))
        assert "X-PrettyPrint" not in rsps.calls[0].request.headers
    assert [[r["Id"] for r in p] for p in pages] == [["1", "2"], ["3"]]
