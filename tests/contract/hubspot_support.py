"""HubSpot shorthands for the HubSpot connector tests (helpers, not fixtures); shared builders are in `helpers`."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from helpers import sandboxes
from helpers.configs import hubspot_config
from helpers.data import companies, crm_dataset
from helpers.fakes import make_http

from healthsync.connectors.hubspot import HubSpotConnector
from healthsync.http import Http
from healthsync.sandbox import Sandbox
from healthsync.sandbox.dataset import Dataset

COMPANY_BASE = 10_000_000_000
"""Seeded company ids are this plus the customer's index (sandbox `OBJECT_TYPES`)."""

LIST = "GET /crm/v3/objects/{objectType}"
SEARCH = "POST /crm/v3/objects/{objectType}/search"


def dataset(workdir: Path, count: int, *, apart: timedelta = timedelta(seconds=1)) -> Dataset:
    """`count` companies (`helpers.data.companies`) and the two owners."""
    return crm_dataset(workdir, companies(count, apart=apart))


def connect(sandbox: Sandbox, folder: Path, http: Http | None = None, **hubspot: Any) -> HubSpotConnector:
    """A connector built from a real config, on the sandbox's simulated clock."""
    config = hubspot_config(sandbox, folder, **hubspot)
    return HubSpotConnector.from_config(config, http or make_http(), clock=sandbox.clock.now)


def served(sandbox: Sandbox) -> dict[str, int]:
    """Requests the sandbox served to HubSpot, by `METHOD template`."""
    return sandboxes.served(sandbox, "hubspot")


def state(sandbox: Sandbox, object_name: str) -> list[dict[str, Any]]:
    """The sandbox's stored HubSpot records, through `/_sandbox/state/hubspot/<object>`."""
    return sandboxes.state(sandbox, "hubspot", object_name)
