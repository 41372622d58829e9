"""Contracts every CRM connector keeps, one suite parametrized over the connectors (STYLE.md 2.7).

Built from a real config written for the sandbox, through the registry, as the engine will build them.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from healthsync.config import load_config
from healthsync.connectors.base import FieldUpdate
from healthsync.connectors.hubspot import HubSpotConnector
from healthsync.connectors.registry import crm_connector, ticket_source, usage_source
from healthsync.connectors.salesforce import SalesforceConnector
from healthsync.connectors.usage_sql import SqlUsageSource
from healthsync.connectors.zendesk import ZendeskConnector
from healthsync.errors import AuthError
from healthsync.http import Http
from healthsync.sandbox import Sandbox
from healthsync.sandbox.serve import write_config

PAGE_MAX = {"salesforce": 2000, "hubspot": 100}  # SOQL batch maximum; HubSpot list maximum
ACCOUNTS = 2300  # more than one full page on both CRMs


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory):
    with Sandbox(accounts=ACCOUNTS, seed=11, workdir=tmp_path_factory.mktemp("sandbox")) as box:
        yield box


@pytest.fixture(params=["salesforce", "hubspot"])
def system(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def _config(sandbox: Sandbox, tmp_path: Path, system: str):
    return load_config(write_config(sandbox, tmp_path / "healthsync.toml", crm=system))  # type: ignore[arg-type]


def test_the_registry_builds_what_the_config_names(sandbox: Sandbox, tmp_path: Path, system: str) -> None:
    config = _config(sandbox, tmp_path, system)
    http = Http(sleep=lambda _: None)
    crm = crm_connector(config, http, clock=sandbox.clock.now)
    assert isinstance(crm, SalesforceConnector if system == "salesforce" else HubSpotConnector)
    assert isinstance(ticket_source(config, http, clock=sandbox.clock.now), ZendeskConnector)
    usage = usage_source(config)
    assert isinstance(usage, SqlUsageSource)
    today = sandbox.clock.today()
    rows = [d for batch in usage.iter_daily_usage(today - timedelta(days=7), today) for d in batch]
    usage.close()
    assert {d.account_key for d in rows} <= {c.key for c in sandbox.dataset.customers}  # type: ignore[union-attr]
    assert rows


def test_a_full_pull_pages_at_the_vendor_maximum_and_sees_every_account(
    sandbox: Sandbox, tmp_path: Path, system: str
) -> None:
    config = _config(sandbox, tmp_path, system)
    http = Http(sleep=lambda _: None)
    crm = crm_connector(config, http, clock=sandbox.clock.now)
    pages = list(crm.iter_accounts())
    sizes = [len(p.records) for p in pages]
    assert all(size == PAGE_MAX[system] for size in sizes[:-1]), sizes
    assert 0 < sizes[-1] <= PAGE_MAX[system]
    expected = {c.key for c in sandbox.dataset.customers if c.in_crm}  # type: ignore[union-attr]
    seen = [a.external_keys.get("customer_key") for p in pages for a in p.records]
    assert len(seen) == len(set(seen)) == len(expected)
    assert set(seen) == expected
    reads = sum(http.counter.totals()[system].values())
    assert reads == -(-len(expected) // PAGE_MAX[system])  # the theoretical minimum, nothing else


def test_a_wrong_token_is_an_auth_error_naming_the_credential(
    sandbox: Sandbox, tmp_path: Path, system: str
) -> None:
    config = _config(sandbox, tmp_path, system)
    token_file = tmp_path / "healthsync-secrets" / f"{system}_token"
    token_file.write_text("not-the-token\n")
    http = Http(sleep=lambda _: None)
    with pytest.raises(AuthError) as info:
        list(crm_connector(config, http, clock=sandbox.clock.now).iter_accounts())
    assert f"{system}.access_token" in str(info.value)
    assert "not-the-token" not in str(info.value)
    assert sum(http.counter.totals()[system].values()) == 1  # never retried


@pytest.fixture
def own_sandbox(tmp_path: Path):
    """A sandbox of its own, for contracts that change CRM data."""
    with Sandbox(accounts=300, seed=5, workdir=tmp_path / "box") as box:
        yield box


def test_an_incremental_pull_returns_exactly_what_changed(
    own_sandbox: Sandbox, tmp_path: Path, system: str
) -> None:
    config = _config(own_sandbox, tmp_path, system)
    crm = crm_connector(config, Http(sleep=lambda _: None), clock=own_sandbox.clock.now)
    first = list(crm.iter_accounts())
    state = first[-1].state
    before = {a.crm_id: (a.name, a.licenses, a.contract_end) for p in first for a in p.records}
    assert not [a for p in crm.iter_accounts(state) for a in p.records]  # nothing changed yet
    updates = [
        FieldUpdate(config_object(system), crm_id, {name_field(system): f"Renamed {i}"})
        for i, crm_id in enumerate(sorted(before)[:3])
    ]
    assert all(o.ok for o in crm.update_fields(updates))
    changed = [a for p in crm.iter_accounts(state) for a in p.records]
    assert sorted(a.crm_id for a in changed) == sorted(u.record_id for u in updates)
    assert {a.name for a in changed} == {"Renamed 0", "Renamed 1", "Renamed 2"}


def test_one_bad_record_never_sinks_its_batch(own_sandbox: Sandbox, tmp_path: Path, system: str) -> None:
    config = _config(own_sandbox, tmp_path, system)
    crm = crm_connector(config, Http(sleep=lambda _: None), clock=own_sandbox.clock.now)
    ids = sorted(a.crm_id for p in crm.iter_accounts() for a in p.records)[:3]
    band = "Health_Band__c" if system == "salesforce" else "healthsync_band"
    good = "Green" if system == "salesforce" else "green"
    outcomes = crm.update_fields(
        [
            FieldUpdate(config_object(system), ids[0], {band: good}),
            FieldUpdate(config_object(system), ids[1], {band: "Purple"}),  # not a picklist option
            FieldUpdate(config_object(system), ids[2], {band: good}),
        ]
    )
    assert [o.ok for o in outcomes] == [True, False, True]
    assert outcomes[1].error
    written = {a.crm_id: a.live_outputs.get("band") for p in crm.iter_accounts() for a in p.records}
    assert (written[ids[0]], written[ids[2]]) == ("green", "green")
    assert written[ids[1]] != "purple"


def config_object(system: str) -> str:
    return "Account" if system == "salesforce" else "companies"


def name_field(system: str) -> str:
    return "Name" if system == "salesforce" else "name"


FAULT_PATH = {"salesforce": "/services/data", "hubspot": "/crm/v3/objects/companies"}


def test_429_5xx_and_a_dropped_connection_are_recovered(
    own_sandbox: Sandbox, tmp_path: Path, system: str
) -> None:
    config = _config(own_sandbox, tmp_path, system)
    waits: list[float] = []
    http = Http(sleep=waits.append)
    crm = crm_connector(config, http, clock=own_sandbox.clock.now)
    expected = sum(len(p.records) for p in crm.iter_accounts())
    faults = {
        "rules": [
            {"path_prefix": FAULT_PATH[system], "method": "GET", "status": 429, "retry_after": 3, "count": 1},
            {"path_prefix": FAULT_PATH[system], "method": "GET", "status": 503, "count": 1},
            {"path_prefix": FAULT_PATH[system], "method": "GET", "drop": True, "count": 1},
        ]
    }
    own_sandbox.faults.configure(faults)
    pulled = [a.crm_id for p in crm.iter_accounts() for a in p.records]
    assert len(pulled) == len(set(pulled)) == expected  # nothing lost, nothing doubled
    assert own_sandbox.faults.fired == 3
    assert waits[0] == 3.0  # Retry-After honoured
    assert len(http.retries) == 3
    assert [kind for _, _, kind, _ in http.retries] == ["RateLimited", "TransientError", "TransientError"]
