"""Shared set-up for the Salesforce connector contract tests (no tests here).

`org()` starts a sandbox, writes a real healthsync config for it (`serve.write_config`), loads it and
builds the connector with `SalesforceConnector.from_config`, exactly as a run would; the unmodified
simple-salesforce talks HTTPS to the sandbox. `Http` gets a `sleep` that records instead of waiting.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import requests
from helpers import sandboxes
from helpers.data import NOW, crm_dataset, customer_accounts
from simple_salesforce.api import Salesforce

from healthsync.config import load_config
from healthsync.connectors.salesforce import SalesforceConnector
from healthsync.http import Http
from healthsync.sandbox import Sandbox
from healthsync.sandbox.dataset import Dataset
from healthsync.sandbox.salesforce import SalesforceApp
from healthsync.sandbox.serve import write_config

QUERY = "GET /services/data/{version}/query"
QUERY_MORE = "GET /services/data/{version}/query/{locator}"
QUERY_ALL = "GET /services/data/{version}/queryAll"
DESCRIBE = "GET /services/data/{version}/sobjects/{sobject}/describe"
UPDATE = "PATCH /services/data/{version}/composite/sobjects"
UPSERT = "PATCH /services/data/{version}/composite/sobjects/{sobject}/{field}"


def dataset(workdir: Path, count: int) -> Dataset:
    """`count` accounts (`helpers.data.customer_accounts`), the two owners, no support data."""
    return crm_dataset(workdir, customer_accounts(count))


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
        return sandboxes.state(self.box, "salesforce", sobject)

    def faults(self, *rules: dict[str, Any], **extra: Any) -> None:
        """Inject faults (`POST /_sandbox/faults`)."""
        sandboxes.faults(self.box, *rules, **extra)

    def calls(self) -> dict[str, int]:
        """Salesforce requests the sandbox served since the last reset, by endpoint."""
        return sandboxes.served(self.box, "salesforce")

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
