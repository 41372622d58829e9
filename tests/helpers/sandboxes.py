"""Starting a one-vendor sandbox over a hand-made dataset, and reading what it served and stored."""

from __future__ import annotations

from typing import Any

import requests

from healthsync.sandbox import Sandbox
from healthsync.sandbox.dataset import Dataset
from healthsync.sandbox.hubspot import HubSpotApp
from healthsync.sandbox.zendesk import ZendeskApp

__all__ = ["faults", "hubspot_sandbox", "served", "state", "zendesk_calls", "zendesk_sandbox"]


def hubspot_sandbox(data: Dataset, **kw: Any) -> Sandbox:
    """A started sandbox serving only HubSpot over `data`, its clock at the dataset's "now"."""
    return Sandbox(dataset=data, apps=[HubSpotApp], generate=False, start=data.now, **kw).start()


def zendesk_sandbox(data: Dataset, **kw: Any) -> Sandbox:
    """A started sandbox serving only Zendesk over `data`, its clock at the dataset's "now"."""
    return Sandbox(dataset=data, apps=[ZendeskApp], generate=False, start=data.now, **kw).start()


def served(sandbox: Sandbox, vendor: str) -> dict[str, int]:
    """Requests the sandbox served to `vendor` since its last stats reset, by `METHOD template`."""
    return dict(sandbox.stats.snapshot().get(vendor, {}).get("by_endpoint", {}))


def zendesk_calls(sandbox: Sandbox, endpoint: str) -> int:
    """Requests served for `GET /api/v2/<endpoint>`, with or without the `.json` zenpy adds."""
    by_endpoint = served(sandbox, "zendesk")
    path = endpoint if endpoint.startswith("GET ") else f"GET /api/v2/{endpoint}"
    return int(by_endpoint.get(path, 0) + by_endpoint.get(path + ".json", 0))


def state(sandbox: Sandbox, vendor: str, object_name: str) -> list[dict[str, Any]]:
    """The sandbox's stored records, through `GET /_sandbox/state/<vendor>/<object>`."""
    response = requests.get(f"{sandbox.url}/_sandbox/state/{vendor}/{object_name}", timeout=30)
    response.raise_for_status()
    result: list[dict[str, Any]] = response.json()
    return result


def faults(sandbox: Sandbox, *rules: dict[str, Any], **extra: Any) -> None:
    """Inject fault `rules` (and e.g. `exhaust_quota=[...]`) through `POST /_sandbox/faults`."""
    body = {"rules": list(rules), **extra}
    requests.post(f"{sandbox.url}/_sandbox/faults", json=body, timeout=30).raise_for_status()
