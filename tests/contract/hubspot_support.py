"""Data, config and clock builders shared by the HubSpot connector tests (helpers, not fixtures)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import requests

from healthsync.config import Config, load_config
from healthsync.connectors.hubspot import HubSpotConnector
from healthsync.http import Http
from healthsync.sandbox import Sandbox
from healthsync.sandbox.dataset import Archetype, Customer, Dataset, Owner, ZendeskLink
from healthsync.sandbox.hubspot import HubSpotApp

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
"""The hand-made datasets' "now"; their sandboxes start their clocks there."""

COMPANY_BASE = 10_000_000_000
"""Seeded company ids are this plus the customer's index (sandbox `OBJECT_TYPES`)."""


def customers(count: int, *, apart: timedelta = timedelta(seconds=1)) -> list[Customer]:
    """`count` CRM customers, the first modified 10 days ago and each next one `apart` later."""
    return [
        Customer(
            index=i,
            key=f"C{i:06d}",
            name=f"Company {i}",
            domain=f"company{i}.example",
            owner=i % 2,
            industry="Software",
            segment=("SMB", "Mid-Market", "Enterprise")[i % 3],
            archetype=Archetype.HEALTHY,
            arr=1000.0 * (i % 50 + 1),
            seats=i % 40 + 1,
            contract_start=date(2026, 1, 1),
            contract_end=date(2027, 1, 1) + timedelta(days=i % 365),
            created_at=NOW - timedelta(days=500),
            modified_at=NOW - timedelta(days=10) + apart * i,
            zendesk_link=ZendeskLink.NONE,
            zendesk_name=f"Company {i}",
        )
        for i in range(count)
    ]


def dataset(workdir: Path, count: int, *, apart: timedelta = timedelta(seconds=1)) -> Dataset:
    """`count` companies and two owners."""
    owners = [
        Owner(0, "Dana", "Reyes", "dana@vendor.example"),
        Owner(1, "Sam", "Okafor", "sam@vendor.example"),
    ]
    return Dataset(0, NOW, owners, customers(count, apart=apart), [], [], [], workdir / "usage.db")


def hubspot_sandbox(data: Dataset, **kw: Any) -> Sandbox:
    """A started sandbox serving only HubSpot over `data`, its clock at the dataset's "now"."""
    return Sandbox(dataset=data, apps=[HubSpotApp], generate=False, start=data.now, **kw).start()


def hubspot_config(sandbox: Sandbox, folder: Path, *, token: str | None = None, **hubspot: Any) -> Config:
    """A real config whose [hubspot] section points at `sandbox`, the token in a secret file.

    Args:
        sandbox: a sandbox serving HubSpot.
        folder: where the config and its secret file go.
        token: a different token to store (a wrong one, for auth failures).
        **hubspot: more `[hubspot]` keys (e.g. `daily_limit=3`).
    """
    creds = sandbox.info()["hubspot"]
    folder.mkdir(parents=True, exist_ok=True)
    secret = folder / "hubspot-secret"
    secret.write_text((token or creds["access_token"]) + "\n", encoding="utf-8")
    secret.chmod(0o600)
    lines = [
        "[crm]",
        'system = "hubspot"',
        "[hubspot]",
        f"host = {json.dumps(creds['host'])}",
        f"access_token = {{ file = {json.dumps(str(secret))} }}",
        'tier = "starter"',
        *(f"{key} = {json.dumps(value)}" for key, value in hubspot.items()),
    ]
    path = folder / "healthsync.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return load_config(path)


class FakeTime:
    """A monotonic clock that only the recorded sleeps move: limiters and retries cost no real time."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def make_http(fake: FakeTime | None = None, **kw: Any) -> Http:
    """An `Http` on a fake clock (seeded jitter)."""
    import random

    fake = fake or FakeTime()
    return Http(sleep=fake.sleep, clock=fake, rng=random.Random(0), **kw)


def connect(sandbox: Sandbox, folder: Path, http: Http | None = None, **hubspot: Any) -> HubSpotConnector:
    """A connector built from a real config, on the sandbox's simulated clock."""
    config = hubspot_config(sandbox, folder, **hubspot)
    return HubSpotConnector.from_config(config, http or make_http(), clock=sandbox.clock.now)


def served(sandbox: Sandbox) -> dict[str, int]:
    """Requests the sandbox served to HubSpot, by `METHOD template`."""
    return dict(sandbox.stats.snapshot().get("hubspot", {}).get("by_endpoint", {}))


def state(sandbox: Sandbox, object_name: str) -> list[dict[str, Any]]:
    """The sandbox's stored records, through `/_sandbox/state/hubspot/<object>`."""
    response = requests.get(f"{sandbox.url}/_sandbox/state/hubspot/{object_name}", timeout=30)
    response.raise_for_status()
    result: list[dict[str, Any]] = response.json()
    return result


def faults(sandbox: Sandbox, **body: Any) -> None:
    """Inject faults through `POST /_sandbox/faults`."""
    requests.post(f"{sandbox.url}/_sandbox/faults", json=body, timeout=30).raise_for_status()


LIST = "GET /crm/v3/objects/{objectType}"
SEARCH = "POST /crm/v3/objects/{objectType}/search"
