"""Shared set-up for the Salesforce connector contract tests (no tests here).

`org()` starts a sandbox, writes a real healthsync config for it (`serve.write_config`), loads it and
builds the connector with `SalesforceConnector.from_config`, exactly as a run would; the unmodified
simple-salesforce talks HTTPS to the sandbox. `Http` gets a `sleep` that records instead of waiting.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import requests
from simple_salesforce.api import Salesforce

from healthsync.config import load_config
from healthsync.connectors.salesforce import SalesforceConnector
from healthsync.http import Http
from healthsync.sandbox import Sandbox
from healthsync.sandbox.dataset import Archetype, Customer, Dataset, Owner, ZendeskLink
from healthsync.sandbox.salesforce import SalesforceApp
from healthsync.sandbox.serve import write_config

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
QUERY = "GET /services/data/{version}/query"
QUERY_MORE = "GET /services/data/{version}/query/{locator}"
QUERY_ALL = "GET /services/data/{version}/queryAll"
DESCRIBE = "GET /services/data/{version}/sobjects/{sobject}/describe"
UPDATE = "PATCH /services/data/{version}/composite/sobjects"
UPSERT = "PATCH /services/data/{version}/composite/sobjects/{sobject}/{field}"


def customers(count: int, *, owners: int = 2) -> list[Customer]:
    """`count` CRM customers with distinct keys and names, modified one hour apart before NOW."""
    return [
        Customer(
            index=i,
            key=f"C{i:06d}",
            name=f"Customer {i:05d}",
            domain=f"customer{i}.example",
            owner=i % owners,
            industry="Software",
            segment=("SMB", "Mid-Market", "Enterprise")[i % 3],
            archetype=Archetype.HEALTHY,
            arr=1000.0 * (i + 1),
            seats=5 + i % 50,
            contract_start=date(2026, 1, 1),
            contract_end=date(2027, 1, 1) + timedelta(days=i % 365),
            created_at=NOW - timedelta(days=500),
            modified_at=NOW - timedelta(hours=count - i),
            zendesk_link=ZendeskLink.NONE,
            zendesk_name=f"Customer {i:05d}",
        )
        for i in range(count)
    ]


def dataset(workdir: Path, count: int) -> Dataset:
    """A hand-made dataset of `count` CRM customers, two owners, no support data."""
    workdir.mkdir(parents=True, exist_ok=True)
    usage_db = workdir / "usage.db"
    sqlite3.connect(usage_db).close()
    owners = [
        Owner(0, "Dana", "Reyes", "dana.reyes@vendor.example"),
        Owner(1, "Sam", "Okafor", "sam@vendor.example"),
    ]
    return Dataset(
        seed=0, now=NOW, owners=owners, customers=customers(count), support_users=[], tickets=[], ratings=[],
        usage_db=usage_db,
    )  # fmt: skip


@dataclass
class Org:
    """A running sandbox and a connector built from a real config for it."""

    box: Sandbox
    connector: SalesforceConnector
    http: Http
    config_path: Path
    waits: list[float] = field(default_factory=list)

    @property
    def app(self) -> SalesforceApp:
        return cast(SalesforceApp, self.box.app("salesforce"))

    def state(self, sobject: str) -> list[dict[str, Any]]:
        """Every stored record of `sobject`, through `/_sandbox/state`."""
        response = requests.get(f"{self.box.url}/_sandbox/state/salesforce/{sobject}", timeout=30)
        response.raise_for_status()
        return cast(list[dict[str, Any]], response.json())

    def faults(self, *rules: dict[str, Any], **extra: Any) -> None:
        """Inject faults (`POST /_sandbox/faults`)."""
        body = {"rules": list(rules), **extra}
        requests.post(f"{self.box.url}/_sandbox/faults", json=body, timeout=10).raise_for_status()

    def calls(self) -> dict[str, int]:
        """Salesforce requests the sandbox served since the last reset, by endpoint."""
        return dict(self.box.stats.snapshot().get("salesforce", {}).get("by_endpoint", {}))

    def reset(self) -> None:
        self.box.stats.reset()

    def sdk(self) -> Salesforce:
        """A plain simple-salesforce client, for test set-up that is not the connector's job."""
        info = self.box.info()["salesforce"]
        session = requests.Session()
        session.verify = info["ca_bundle"]
        session.trust_env = False
        return Salesforce(
            instance_url=info["instance_url"],
            session_id=info["access_token"],
            version="62.0",
            session=session,
        )

    def build(self) -> SalesforceConnector:
        """Another connector from the same config file (e.g. after changing a secret file)."""
        return SalesforceConnector.from_config(
            load_config(self.config_path), self.http, clock=self.box.clock.now
        )


@contextmanager
def org(tmp_path: Path, *, data: Dataset | None = None, accounts: int = 300, seed: int = 1) -> Iterator[Org]:
    """A sandbox (hand-made `data`, or generated `accounts`) and a connector from a written config."""
    options: dict[str, Any] = {"dataset": data, "generate": False, "start": NOW} if data else {}
    with Sandbox(accounts=accounts, seed=seed, **options) as box:
        waits: list[float] = []
        http = Http(retry_budget=20, sleep=waits.append)
        path = write_config(box, tmp_path / "healthsync.toml", crm="salesforce")
        connector = SalesforceConnector.from_config(load_config(path), http, clock=box.clock.now)
        try:
            yield Org(box, connector, http, path, waits)
        finally:
            connector.close()
