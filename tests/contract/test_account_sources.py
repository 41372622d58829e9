"""Contracts every CRM connector keeps: one suite parametrized over the connectors (STYLE.md 2.7).

Each connector is built from a real config written for the sandbox, through the registry, as the
engine builds it, and talks to the sandbox over HTTP through the unmodified vendor SDK. Read-only
contracts share a module-scoped sandbox; contracts that change CRM data get a sandbox of their own.

Request counts are exact: the theoretical minimum from the vendor page and batch sizes (`Crm`)
plus a documented fixed handful. The formulas pinned here, for N accounts and n writes:

- full pull, with describe and owners: Salesforce ceil(N / 2,000) SOQL pages + 1 describe +
  ceil(users / 2,000) owner pages; HubSpot ceil(N / 100) list pages + 1 properties read +
  ceil(owners / 500) owner pages;
- incremental pull reading R records at or after the watermark minus its lag: Salesforce
  ceil(R / 2,000) `queryAll` pages; HubSpot ceil(R / 200) searches + ceil(max(A, 1) / 100) pages of the
  archived list (A archived companies);
- n field updates: ceil(n / max) batch calls (Salesforce 200, HubSpot 100);
- n new tasks: Salesforce ceil(n / 200) upserts; HubSpot ceil(n / 100) batch reads by key +
  ceil(n / 100) batch creates;
- n new renewal deals: Salesforce ceil(n / 200) upserts (the account link is the upsert's AccountId);
  HubSpot ceil(n / 100) upserts + 1 pipelines read (once per connector) + ceil(n / 2,000) v4
  association batch creates linking the deals to their companies (batch upsert takes no links).

Every batch but the last carries the vendor maximum; pages are audited suite-wide (tests/conftest.py).
"""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import pytest
import requests
from helpers.configs import crm_config
from helpers.fakes import FakeTime, make_http
from helpers.sandboxes import faults, served, state

from healthsync.connectors.base import FieldUpdate, Page, WriteOutcome
from healthsync.connectors.hubspot import HubSpotConnector
from healthsync.connectors.incremental import WatermarkState
from healthsync.connectors.registry import crm_connector, ticket_source, usage_source
from healthsync.connectors.salesforce import SalesforceConnector
from healthsync.connectors.salesforce_read import ACCOUNT_WATERMARK
from healthsync.connectors.usage_sql import SqlUsageSource
from healthsync.connectors.zendesk import ZendeskConnector
from healthsync.errors import AuthError
from healthsync.http import Http
from healthsync.model import Account, DealUpsert, RenewalStage, TaskPriority, TaskUpsert
from healthsync.sandbox import Sandbox
from healthsync.sandbox.salesforce.ids import KEY_PREFIXES, make_id

ACCOUNTS = 2300  # more than one full page on both CRMs
WRITES = 250  # more than one full batch on both CRMs


@dataclass(frozen=True)
class Crm:
    """What the contracts need to know about one CRM connector: vendor maxima, names, endpoints."""

    name: Literal["salesforce", "hubspot"]
    page_max: int
    """Records per page of a full pull (SOQL batch maximum; HubSpot list maximum)."""
    incremental_max: int
    """Records per page of an incremental pull (SOQL again; HubSpot search maximum)."""
    write_max: int
    """Inputs per batch write (sObject Collections; HubSpot batch endpoints)."""
    account_object: str
    name_field: str
    band_field: str
    good_band: str
    read_path: str
    """Path prefix of the account reads, for injected faults."""
    open_task_status: str
    missing_account: str
    """A well-formed account id the CRM does not have."""
    missing_owner: str
    """A well-formed owner id the CRM does not have."""
    task_error: str
    """The vendor's refusal of a task on `missing_account`."""
    deal_error: str
    """The vendor's refusal of a deal owned by `missing_owner`."""
    endpoints: dict[str, str]
    """Role → `METHOD template` as the sandbox counts it."""


SALESFORCE = Crm(
    name="salesforce",
    page_max=2000,  # Sforce-Query-Options batchSize maximum
    incremental_max=2000,
    write_max=200,  # composite/sobjects
    account_object="Account",
    name_field="Name",
    band_field="Health_Band__c",
    good_band="Green",
    read_path="/services/data",
    open_task_status="Not Started",
    missing_account=make_id(KEY_PREFIXES["Account"], 99_999),
    missing_owner=make_id(KEY_PREFIXES["User"], 99_999),
    task_error="INVALID_CROSS_REFERENCE_KEY: invalid cross reference id (fields: WhatId)",
    deal_error="INVALID_CROSS_REFERENCE_KEY: invalid cross reference id (fields: OwnerId)",
    endpoints={
        "first_page": "GET /services/data/{version}/query",
        "next_page": "GET /services/data/{version}/query/{locator}",
        "incremental": "GET /services/data/{version}/queryAll",
        "describe": "GET /services/data/{version}/sobjects/{sobject}/describe",
        "update": "PATCH /services/data/{version}/composite/sobjects",
        "upsert": "PATCH /services/data/{version}/composite/sobjects/{sobject}/{field}",
    },
)
HUBSPOT = Crm(
    name="hubspot",
    page_max=100,  # list `limit` maximum
    incremental_max=200,  # search `limit` maximum
    write_max=100,  # batch inputs
    account_object="companies",
    name_field="name",
    band_field="healthsync_band",
    good_band="green",
    read_path="/crm/v3/objects/companies",
    open_task_status="NOT_STARTED",
    missing_account="999999",
    missing_owner="999999",
    task_error="Could not create association: COMPANY 999999 does not exist",
    deal_error="999999 is not a valid owner id",
    endpoints={
        "list": "GET /crm/v3/objects/{objectType}",
        "incremental": "POST /crm/v3/objects/{objectType}/search",
        "describe": "GET /crm/v3/properties/{objectType}",
        "owners": "GET /crm/v3/owners",
        "update": "POST /crm/v3/objects/{objectType}/batch/update",
        "read": "POST /crm/v3/objects/{objectType}/batch/read",
        "create": "POST /crm/v3/objects/{objectType}/batch/create",
        "upsert": "POST /crm/v3/objects/{objectType}/batch/upsert",
        "pipelines": "GET /crm/v3/pipelines/{objectType}",
        "link": "POST /crm/v4/associations/{fromObjectType}/{toObjectType}/batch/create",
    },
)
CRMS = [SALESFORCE, HUBSPOT]
LINK_MAX = 2000
"""Pairs per HubSpot v4 association batch create (`hubspot_write.ASSOCIATION_CREATE_MAX`)."""


def _ceil(count: int, size: int) -> int:
    return math.ceil(count / size)


# --- fixtures and helpers --------------------------------------------------------------------


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    """Read-only contracts: 2,300 generated customers."""
    with Sandbox(accounts=ACCOUNTS, seed=11, workdir=tmp_path_factory.mktemp("sandbox")) as box:
        yield box


@pytest.fixture
def own_sandbox(tmp_path: Path) -> Iterator[Sandbox]:
    """A sandbox of its own, for contracts that change CRM data."""
    with Sandbox(accounts=300, seed=5, workdir=tmp_path / "box") as box:
        yield box


@pytest.fixture(params=CRMS, ids=lambda crm: crm.name)
def crm(request: pytest.FixtureRequest) -> Crm:
    return request.param


def connect(sandbox: Sandbox, folder: Path, crm: Crm, http: Http | None = None) -> Any:
    """The CRM connector the registry builds from a config written for `sandbox`.

    `Http` runs on a fake clock (`helpers.fakes`): rate-limit waits and retries take no real time.
    """
    config = crm_config(sandbox, folder, crm.name)
    return crm_connector(config, http or make_http(), clock=sandbox.clock.now)


def pull(connector: Any, since: WatermarkState | None = None) -> list[Page[Account]]:
    return list(connector.iter_accounts(since))


def records(pages: list[Page[Account]]) -> list[Account]:
    return [a for p in pages for a in p.records]


def deleted(pages: list[Page[Account]]) -> list[str]:
    return [k for p in pages for k in p.deleted]


def in_crm(sandbox: Sandbox) -> int:
    assert sandbox.dataset is not None
    return sum(1 for c in sandbox.dataset.customers if c.in_crm)


def rows(sandbox: Sandbox, crm: Crm, object_name: str) -> list[dict[str, Any]]:
    """Stored records as flat dicts (HubSpot's properties lifted beside `id` and `archived`)."""
    found = state(sandbox, crm.name, object_name)
    if crm.name == "hubspot":
        return [{"id": r["id"], "archived": r.get("archived", False), **r["properties"]} for r in found]
    return found


def stamps(sandbox: Sandbox, crm: Crm) -> dict[str, datetime]:
    """Each stored account's last-modified stamp, by CRM id (recycle bin included)."""
    if crm.name == "salesforce":
        return {
            r["Id"]: datetime.strptime(r["SystemModstamp"], "%Y-%m-%dT%H:%M:%S.%f%z")
            for r in rows(sandbox, crm, "Account")
        }
    return {
        r["id"]: datetime.fromisoformat(r["hs_lastmodifieddate"].replace("Z", "+00:00"))
        for r in rows(sandbox, crm, "companies")
        if not r["archived"]
    }


def lower_bound(connector: Any, since: WatermarkState) -> datetime:
    """Where an incremental pull from `since` starts reading: the watermark minus its lag."""
    watermark = connector.companies.cursor if isinstance(connector, HubSpotConnector) else ACCOUNT_WATERMARK
    bound = watermark.query_from(since)
    assert bound is not None
    return bound


def delete_accounts(sandbox: Sandbox, crm: Crm, ids: list[str]) -> None:
    """Delete (Salesforce: to the recycle bin) or archive (HubSpot) accounts through the vendor API."""
    info = sandbox.info()[crm.name]
    if crm.name == "salesforce":
        response = requests.delete(
            f"{info['instance_url']}/services/data/v{info['api_version']}/composite/sobjects",
            params={"ids": ",".join(ids), "allOrNone": "false"},
            headers={"Authorization": f"Bearer {info['access_token']}"},
            verify=info["ca_bundle"],
            timeout=30,
        )
        assert [r["success"] for r in response.json()] == [True] * len(ids)
    else:
        response = requests.post(
            f"{sandbox.url}/crm/v3/objects/companies/batch/archive",
            json={"inputs": [{"id": i} for i in ids]},
            headers={"Authorization": f"Bearer {info['access_token']}"},
            timeout=30,
        )
        assert response.status_code == 204


def task(n: int, account: str, owner: str | None) -> TaskUpsert:
    return TaskUpsert(
        key=f"risk:{account}:2026-W45:{n}",
        account_id=account,
        subject=f"Call the customer ({n})",
        body="Usage halved over 14 days.",
        due=date(2026, 11, 9),
        owner_id=owner,
        priority=TaskPriority.HIGH,
        reason="usage drop",
    )


def deal(n: int, account: str, owner: str | None) -> DealUpsert:
    return DealUpsert(
        key=f"renewal:{account}:2027-01-01:{n}",
        account_id=account,
        name=f"Renewal 2027 ({n})",
        pipeline="Renewals",
        stage=RenewalStage.PREPARATION,
        amount=12000.0,
        close_date=date(2027, 1, 1),
        owner_id=owner,
        reason="120 days to renewal",
    )


def batch_sizes(sandbox: Sandbox, crm: Crm, role: str) -> list[int]:
    """Inputs of each batch call the sandbox served at `role`'s endpoint, in order."""
    endpoint = crm.endpoints[role]
    return [b.inputs for b in sandbox.stats.batches(crm.name) if b.endpoint == endpoint]


def full_batches(count: int, size: int) -> list[int]:
    """`count` inputs in batches of `size`: every batch full but the last."""
    return [min(size, count - start) for start in range(0, count, size)]


# --- the registry ------------------------------------------------------------------------------


def test_the_registry_builds_what_the_config_names(sandbox: Sandbox, tmp_path: Path, crm: Crm) -> None:
    config = crm_config(sandbox, tmp_path, crm.name)
    http = make_http()
    connector = crm_connector(config, http, clock=sandbox.clock.now)
    assert isinstance(connector, SalesforceConnector if crm.name == "salesforce" else HubSpotConnector)
    assert isinstance(ticket_source(config, http, clock=sandbox.clock.now), ZendeskConnector)
    usage = usage_source(config)
    assert isinstance(usage, SqlUsageSource)
    today = sandbox.clock.today()
    start = today - timedelta(days=7)
    days = [(d.account_key, d.day) for batch in usage.iter_daily_usage(start, today) for d in batch]
    usage.close()
    assert sandbox.dataset is not None
    with closing(sqlite3.connect(sandbox.dataset.usage_db)) as db:
        stored = db.execute(
            "SELECT account_key, day FROM usage_daily WHERE day BETWEEN ? AND ?",
            (start.isoformat(), today.isoformat()),
        ).fetchall()
    assert sorted(days) == sorted((key, date.fromisoformat(day)) for key, day in stored)


# --- reads ---------------------------------------------------------------------------------------


def test_a_full_pull_pages_at_the_vendor_maximum_and_sees_every_account(
    sandbox: Sandbox, tmp_path: Path, crm: Crm
) -> None:
    http = make_http()
    connector = connect(sandbox, tmp_path, crm, http)
    sandbox.stats.reset()
    pages = pull(connector)
    count = in_crm(sandbox)
    assert [len(p.records) for p in pages] == full_batches(count, crm.page_max)
    assert sandbox.dataset is not None
    expected = {c.key for c in sandbox.dataset.customers if c.in_crm}
    seen = [a.external_keys.get("customer_key") for a in records(pages)]
    assert len(seen) == len(set(seen)) == len(expected)
    assert set(seen) == expected
    assert deleted(pages) == []
    pages_needed = _ceil(count, crm.page_max)  # the theoretical minimum, nothing else
    if crm.name == "salesforce":
        assert served(sandbox, crm.name) == {
            crm.endpoints["first_page"]: 1,
            crm.endpoints["next_page"]: pages_needed - 1,
        }
    else:
        assert served(sandbox, crm.name) == {crm.endpoints["list"]: pages_needed}
    assert sum(http.counter.totals()[crm.name].values()) == pages_needed


def test_a_runs_reads_are_the_pages_plus_describe_and_owners(
    sandbox: Sandbox, tmp_path: Path, crm: Crm
) -> None:
    """The fixed handful a run adds to the account pages: one describe, the owners' pages."""
    http = make_http()
    connector = connect(sandbox, tmp_path, crm, http)
    sandbox.stats.reset()
    schema = connector.describe()
    owners = connector.owners()
    pull(connector)
    assert sandbox.dataset is not None
    people = len(sandbox.dataset.owners)
    count = in_crm(sandbox)
    assert schema.get(crm.band_field) is not None
    if crm.name == "salesforce":
        assert len(owners) == people + 1  # the owners and the API's integration user
        # One SOQL query for the users (2,000 a page), one for the accounts' first page.
        assert served(sandbox, crm.name) == {
            crm.endpoints["describe"]: 1,
            crm.endpoints["first_page"]: _ceil(people + 1, 2000) + 1,
            crm.endpoints["next_page"]: _ceil(count, crm.page_max) - 1,
        }
    else:
        assert len(owners) == people
        assert served(sandbox, crm.name) == {
            crm.endpoints["describe"]: 1,
            crm.endpoints["owners"]: _ceil(people, 500),
            crm.endpoints["list"]: _ceil(count, crm.page_max),
        }
    assert sum(http.counter.totals()[crm.name].values()) == sum(served(sandbox, crm.name).values())


def test_a_pull_stopped_after_its_first_page_resumes_without_losing_an_account(
    sandbox: Sandbox, tmp_path: Path, crm: Crm
) -> None:
    connector = connect(sandbox, tmp_path, crm)
    pages = pull(connector)
    everything = {a.crm_id for a in records(pages)}
    resumed = [a.crm_id for a in records(pull(connector, pages[0].state))]
    assert len(resumed) == len(set(resumed))  # nothing twice within a pull
    assert {a.crm_id for a in pages[0].records} | set(resumed) == everything
    if crm.name == "salesforce":  # pages in stamp order: exactly the rest
        assert resumed == [a.crm_id for a in records(pages[1:])]
    else:  # the first run lists in id order, so only its last page moves the watermark
        assert pages[0].state == WatermarkState()
        assert set(resumed) == everything


def test_a_wrong_token_is_an_auth_error_naming_the_credential(
    sandbox: Sandbox, tmp_path: Path, crm: Crm
) -> None:
    config = crm_config(sandbox, tmp_path, crm.name)
    (tmp_path / "healthsync-secrets" / f"{crm.name}_token").write_text("not-the-token\n")
    sandbox.stats.reset()
    http = Http(sleep=lambda _: pytest.fail("an auth failure must not be retried"))
    with pytest.raises(AuthError) as info:
        pull(crm_connector(config, http, clock=sandbox.clock.now))
    message = str(info.value)
    assert f"{crm.name}.access_token" in message
    assert f"healthsync auth set {crm.name}" in message
    assert "not-the-token" not in message
    assert info.value.status == 401
    assert http.retries == []
    assert sum(http.counter.totals()[crm.name].values()) == 1
    assert sum(served(sandbox, crm.name).values()) == 1


def test_an_incremental_pull_returns_exactly_what_changed(
    own_sandbox: Sandbox, tmp_path: Path, crm: Crm
) -> None:
    connector = connect(own_sandbox, tmp_path, crm)
    first = pull(connector)
    since = first[-1].state
    assert isinstance(since, WatermarkState)
    assert records(pull(connector, since)) == []  # nothing changed yet
    ids = sorted(a.crm_id for a in records(first))[:3]
    updates = [
        FieldUpdate(crm.account_object, i, {crm.name_field: f"Renamed {n}"}) for n, i in enumerate(ids)
    ]
    assert all(o.ok for o in connector.update_fields(updates))
    bound = lower_bound(connector, since)
    read = sum(1 for stamp in stamps(own_sandbox, crm).values() if stamp >= bound)
    own_sandbox.stats.reset()
    pages = pull(connector, since)
    changed = records(pages)
    assert sorted(a.crm_id for a in changed) == ids
    assert sorted(a.name for a in changed) == ["Renamed 0", "Renamed 1", "Renamed 2"]
    assert deleted(pages) == []
    expected = {crm.endpoints["incremental"]: _ceil(read, crm.incremental_max)}
    if crm.name == "hubspot":
        expected[crm.endpoints["list"]] = 1  # the archived list: one page, none archived
    assert served(own_sandbox, crm.name) == expected
    assert records(pull(connector, pages[-1].state)) == []  # each change once


def test_an_incremental_pull_after_a_simulated_week_returns_exactly_what_changed(
    own_sandbox: Sandbox, tmp_path: Path, crm: Crm
) -> None:
    connector = connect(own_sandbox, tmp_path, crm)
    since = pull(connector)[-1].state
    assert isinstance(since, WatermarkState)
    before = stamps(own_sandbox, crm)
    changes = own_sandbox.advance(7)
    after = stamps(own_sandbox, crm)
    changed = {i for i, stamp in after.items() if before.get(i) != stamp}
    assert changed, changes  # renewals, expansions and new customers
    bound = lower_bound(connector, since)
    read = sum(1 for stamp in after.values() if stamp >= bound)
    own_sandbox.stats.reset()
    pages = pull(connector, since)
    got = [a.crm_id for a in records(pages)]
    assert len(got) == len(set(got))
    assert set(got) == changed
    assert deleted(pages) == []
    expected = {crm.endpoints["incremental"]: _ceil(read, crm.incremental_max)}
    if crm.name == "hubspot":
        expected[crm.endpoints["list"]] = 1  # the archived list
    assert served(own_sandbox, crm.name) == expected
    assert records(pull(connector, pages[-1].state)) == []  # nothing changed since


# --- deletes -------------------------------------------------------------------------------------


def test_deleted_accounts_are_reported_and_not_returned(
    own_sandbox: Sandbox, tmp_path: Path, crm: Crm
) -> None:
    connector = connect(own_sandbox, tmp_path, crm)
    first = pull(connector)
    victims = sorted(a.crm_id for a in records(first))[3:5]
    delete_accounts(own_sandbox, crm, victims)
    pages = pull(connector, first[-1].state)
    assert sorted(deleted(pages)) == victims
    assert records(pages) == []
    # A full pull no longer returns them either.
    remaining = {a.crm_id for a in records(pull(connector))}
    assert remaining == {a.crm_id for a in records(first)} - set(victims)


@pytest.mark.parametrize("crm", CRMS, ids=lambda crm: crm.name)
def test_a_deletion_is_reported_once(own_sandbox: Sandbox, tmp_path: Path, crm: Crm) -> None:
    connector = connect(own_sandbox, tmp_path, crm)
    first = pull(connector)
    victim = sorted(a.crm_id for a in records(first))[0]
    delete_accounts(own_sandbox, crm, [victim])
    pages = pull(connector, first[-1].state)
    assert deleted(pages) == [victim]
    again = pull(connector, pages[-1].state)
    assert (records(again), deleted(again)) == ([], [])


# --- writes: per-record errors ------------------------------------------------------------------


def test_one_bad_field_value_never_sinks_its_batch(own_sandbox: Sandbox, tmp_path: Path, crm: Crm) -> None:
    connector = connect(own_sandbox, tmp_path, crm)
    ids = sorted(a.crm_id for a in records(pull(connector)))[:3]
    outcomes = connector.update_fields(
        [
            FieldUpdate(crm.account_object, ids[0], {crm.band_field: crm.good_band}),
            FieldUpdate(crm.account_object, ids[1], {crm.band_field: "Purple"}),  # not a picklist option
            FieldUpdate(crm.account_object, ids[2], {crm.band_field: crm.good_band}),
        ]
    )
    assert [(o.key, o.ok) for o in outcomes] == [(ids[0], True), (ids[1], False), (ids[2], True)]
    assert "Purple" in (outcomes[1].error or "")
    written = {a.crm_id: a.live_outputs.get("band") for a in records(pull(connector))}
    assert [written[i] for i in ids] == ["green", None, "green"]


def _accounts_and_owner(connector: Any) -> tuple[list[str], str]:
    accounts = sorted(records(pull(connector)), key=lambda a: a.crm_id)
    owner = next(a.owner_id for a in accounts if a.owner_id)
    return [a.crm_id for a in accounts], owner


def _outcomes(outcomes: list[WriteOutcome]) -> list[tuple[str, bool, bool | None]]:
    return [(o.key, o.ok, o.created) for o in outcomes]


def _as_fetched(kind: str, found: Any) -> tuple[Any, ...]:
    """What a fetched task or deal says, as a tuple to compare."""
    if kind == "tasks":
        return (found.crm_id, found.status, found.is_closed, found.due, found.deleted)
    return (found.crm_id, found.stage, found.is_closed, found.amount, found.close_date, found.deleted)


@pytest.mark.parametrize("kind", ["tasks", "deals"])
def test_one_bad_task_or_deal_fails_alone_and_a_rerun_creates_nothing_twice(
    own_sandbox: Sandbox, tmp_path: Path, crm: Crm, kind: str
) -> None:
    """A task on an account the CRM does not have, or a deal owned by an unknown user, fails alone.

    The others are written; a re-run of the same batch finds them (tasks by key, deals by external
    id) instead of creating them again, and `fetch_tasks` / `fetch_deals` see them as written.
    """
    connector = connect(own_sandbox, tmp_path, crm)
    accounts, owner = _accounts_and_owner(connector)
    section = getattr(connector.mapping, kind)
    if kind == "tasks":
        batch: list[Any] = [
            task(0, accounts[0], owner),
            task(1, crm.missing_account, owner),
            task(2, accounts[1], None),
        ]
        upsert, fetch, refusal = connector.upsert_tasks, connector.fetch_tasks, crm.task_error
        written: tuple[Any, ...] = (crm.open_task_status, False, date(2026, 11, 9), False)
    else:
        batch = [
            deal(0, accounts[0], owner),
            deal(1, accounts[1], crm.missing_owner),
            deal(2, accounts[2], None),
        ]
        upsert, fetch, refusal = connector.upsert_deals, connector.fetch_deals, crm.deal_error
        written = (RenewalStage.PREPARATION, False, 12000.0, date(2027, 1, 1), False)
    good = [batch[0].key, batch[2].key]

    def stored() -> list[str]:
        return sorted(
            r[section.key_field] for r in rows(own_sandbox, crm, section.object) if r.get(section.key_field)
        )

    first = upsert(batch)
    assert _outcomes(first) == [(good[0], True, True), (batch[1].key, False, None), (good[1], True, True)]
    assert refusal in (first[1].error or "")
    assert stored() == good

    again = upsert(batch)
    assert _outcomes(again) == [(good[0], True, False), (batch[1].key, False, None), (good[1], True, False)]
    assert [o.crm_id for o in again] == [o.crm_id for o in first]
    assert stored() == good  # nothing created twice

    found = fetch([x.key for x in batch])
    assert {key: _as_fetched(kind, value) for key, value in found.items()} == {
        o.key: (o.crm_id, *written) for o in (first[0], first[2])
    }
    if kind == "tasks":
        assert found[good[0]].owner_id == owner


# --- writes: batch sizes ------------------------------------------------------------------------


def test_field_updates_go_in_full_batches(own_sandbox: Sandbox, tmp_path: Path, crm: Crm) -> None:
    connector = connect(own_sandbox, tmp_path, crm)
    ids = sorted(a.crm_id for a in records(pull(connector)))[:WRITES]
    assert len(ids) == WRITES
    own_sandbox.stats.reset()
    outcomes = connector.update_fields(
        [FieldUpdate(crm.account_object, i, {crm.band_field: crm.good_band}) for i in ids]
    )
    assert [(o.key, o.ok) for o in outcomes] == [(i, True) for i in ids]
    assert batch_sizes(own_sandbox, crm, "update") == full_batches(WRITES, crm.write_max)
    assert served(own_sandbox, crm.name) == {crm.endpoints["update"]: _ceil(WRITES, crm.write_max)}


def test_tasks_go_in_full_batches(own_sandbox: Sandbox, tmp_path: Path, crm: Crm) -> None:
    connector = connect(own_sandbox, tmp_path, crm)
    accounts, owner = _accounts_and_owner(connector)
    batch = [task(n, accounts[n % len(accounts)], owner) for n in range(WRITES)]
    own_sandbox.stats.reset()
    outcomes = connector.upsert_tasks(batch)
    assert all(o.ok and o.created for o in outcomes)
    batches = full_batches(WRITES, crm.write_max)
    calls = _ceil(WRITES, crm.write_max)
    if crm.name == "salesforce":
        assert batch_sizes(own_sandbox, crm, "upsert") == batches
        assert served(own_sandbox, crm.name) == {crm.endpoints["upsert"]: calls}
    else:  # keys are looked up first (a batch read), then the missing ones created
        assert batch_sizes(own_sandbox, crm, "read") == batches
        assert batch_sizes(own_sandbox, crm, "create") == batches
        assert served(own_sandbox, crm.name) == {crm.endpoints["read"]: calls, crm.endpoints["create"]: calls}


def test_deals_go_in_full_batches(own_sandbox: Sandbox, tmp_path: Path, crm: Crm) -> None:
    connector = connect(own_sandbox, tmp_path, crm)
    accounts, owner = _accounts_and_owner(connector)
    batch = [deal(n, accounts[n % len(accounts)], owner) for n in range(WRITES)]
    own_sandbox.stats.reset()
    outcomes = connector.upsert_deals(batch)
    assert all(o.ok and o.created for o in outcomes)
    assert batch_sizes(own_sandbox, crm, "upsert") == full_batches(WRITES, crm.write_max)
    upserts = {crm.endpoints["upsert"]: _ceil(WRITES, crm.write_max)}
    if crm.name == "salesforce":  # AccountId is set in the upsert itself
        assert served(own_sandbox, crm.name) == upserts
    else:  # + the pipelines read, and the links in v4 batches of up to 2,000 pairs
        assert batch_sizes(own_sandbox, crm, "link") == full_batches(WRITES, LINK_MAX)
        assert served(own_sandbox, crm.name) == {
            **upserts,
            crm.endpoints["pipelines"]: 1,
            crm.endpoints["link"]: _ceil(WRITES, LINK_MAX),
        }


# --- failures ------------------------------------------------------------------------------------


def test_429_5xx_and_a_dropped_connection_are_recovered(
    own_sandbox: Sandbox, tmp_path: Path, crm: Crm
) -> None:
    time = FakeTime()
    http = make_http(time)
    connector = connect(own_sandbox, tmp_path, crm, http)
    expected = sorted(a.crm_id for a in records(pull(connector)))
    faults(
        own_sandbox,
        {"path_prefix": crm.read_path, "method": "GET", "status": 429, "retry_after": 3, "count": 1},
        {"path_prefix": crm.read_path, "method": "GET", "status": 503, "count": 1},
        {"path_prefix": crm.read_path, "method": "GET", "drop": True, "count": 1},
    )
    own_sandbox.stats.reset()
    pulled = [a.crm_id for a in records(pull(connector))]
    assert sorted(pulled) == expected  # nothing lost, nothing doubled
    assert own_sandbox.faults.fired == 3
    assert http.retries[0][3] == 3.0  # Retry-After honoured
    assert 3.0 in time.sleeps
    assert [kind for _, _, kind, _ in http.retries] == ["RateLimited", "TransientError", "TransientError"]
    # The minimum pages, plus one request per fault.
    assert sum(served(own_sandbox, crm.name).values()) == _ceil(len(expected), crm.page_max) + 3
