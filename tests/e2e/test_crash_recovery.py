"""A sync killed with SIGKILL at any point, then run again, leaves the CRM as an uninterrupted run does.

The sync runs as a real process against the sandbox. The sandbox holds one chosen request for a
moment (a latency fault) and the test kills the process while that request is in flight:

- after the pull: during the renewal-deal lookup, the last read before any write;
- mid-write: during the second write call (some writes landed, others not);
- between the task outbox and the create: during the task create call, which the CRM still
  completes after the client died, so the outbox holds PENDING rows for tasks that exist;
- between the deal upserts and their links (HubSpot, whose batch upsert takes no associations):
  during the run's one v4 association batch create, which the CRM then refuses, so the renewal
  deals exist unlinked; the re-run has no reason to upsert them again (they are as planned), and
  links them from the outbox's PENDING entries.

The re-run must then converge: same field values, the same task keys each exactly once, the same
renewal deals, each linked to its account. The reference is an uninterrupted run on an identical
sandbox (same seed).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from e2e_support import CrmView, cli_sync, config_for, sync_process
from helpers.sandboxes import state as sandbox_state

from healthsync.sandbox import Sandbox

ACCOUNTS = 120
SEED = 33
HOLD_MS = 1500

Snapshot = dict[str, Any]


def _normal(text: Any) -> str:
    """Reasons quote ticket ages to the hundredth of a day, which moves between two runs: drop decimals."""
    return re.sub(r"\d+\.\d+", "N", str(text or ""))


def crm_state(view: CrmView) -> Snapshot:
    accounts = {
        crm_id: (f["score"], str(f["band"]).lower(), f["stage"], f["days"], _normal(f["reasons"]))
        for crm_id, f in view.accounts().items()
    }
    task_keys = sorted(t["key"] for t in view.tasks())
    deals = sorted((d["key"], d["stage"], d["amount"], d["close"]) for d in view.deals())
    return {"accounts": accounts, "tasks": task_keys, "deals": deals, "links": deal_links(view)}


def deal_links(view: CrmView) -> list[tuple[str, str | None]]:
    """(deal key, account id) of every renewal deal healthsync made; None for a deal linked to no account."""
    keys = {d["id"]: d["key"] for d in view.deals()}
    if view.crm == "salesforce":
        by_id = {r["Id"]: r.get("AccountId") for r in sandbox_state(view.box, "salesforce", "Opportunity")}
        return sorted((key, by_id.get(crm_id)) for crm_id, key in keys.items())
    linked: dict[str, str] = {}
    for a in sandbox_state(view.box, "hubspot", "associations"):
        if a["fromObjectType"] == "deals" and a["toObjectType"] == "companies" and a["fromObjectId"] in keys:
            linked[a["fromObjectId"]] = a["toObjectId"]
    return sorted((key, linked.get(crm_id)) for crm_id, key in keys.items())


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Snapshot]:
    """The CRM state after one uninterrupted sync, per CRM."""
    out = {}
    for crm in ("hubspot", "salesforce"):
        folder = tmp_path_factory.mktemp(f"reference-{crm}")
        with Sandbox(accounts=ACCOUNTS, seed=SEED, workdir=folder / "box") as box:
            result = cli_sync(config_for(box, folder, crm), box.clock.today())
            assert result["status"] == "ok"
            out[crm] = crm_state(CrmView(box, crm))
    return out


def _count(box: Sandbox, crm: str, endpoint: str) -> int:
    return int(box.stats.snapshot().get(crm, {}).get("by_endpoint", {}).get(endpoint, 0))


def _writes(box: Sandbox, crm: str) -> int:
    return int(box.stats.snapshot().get(crm, {}).get("write", 0))


Point = tuple[dict[str, Any], Callable[[Sandbox], bool]]


def kill_point(crm: str, point: str) -> Point:
    """The fault that holds the chosen request, and when (by the sandbox's counters) it is in flight."""
    if crm == "hubspot":
        paths = {
            "after_pull": ("POST", "/crm/v3/objects/deals/batch/read"),
            "mid_write": ("POST", "/crm/v3/objects/companies/batch/update"),
            "before_task_create": ("POST", "/crm/v3/objects/tasks/batch/create"),
        }
        endpoints = {
            "after_pull": "POST /crm/v3/objects/{objectType}/batch/read",
            "mid_write": "POST /crm/v3/objects/{objectType}/batch/update",
            "before_task_create": "POST /crm/v3/objects/{objectType}/batch/create",
        }
        wanted = {"after_pull": 1, "mid_write": 2, "before_task_create": 1, "before_deal_links": 1}[point]
        if point == "before_deal_links":
            # Held, then refused: the dead client never learns, and the CRM makes no link.
            path = "/crm/v4/associations/deals/companies/batch/create"
            rule = {"method": "POST", "path_prefix": path, "latency_ms": HOLD_MS, "status": 503, "count": 10}
            endpoint = "POST /crm/v4/associations/{fromObjectType}/{toObjectType}/batch/create"
            return {"rules": [rule]}, lambda box: _count(box, crm, endpoint) >= wanted
        method, path = paths[point]
        endpoint = endpoints[point]
        rule = {"method": method, "path_prefix": path, "latency_ms": HOLD_MS, "count": 10}
        return {"rules": [rule]}, lambda box: _count(box, crm, endpoint) >= wanted
    version = "/services/data/v62.0"
    if point == "after_pull":
        rule = {"method": "GET", "path_prefix": f"{version}/queryAll", "latency_ms": HOLD_MS, "count": 10}
        return {"rules": [rule]}, lambda box: _count(box, crm, "GET /services/data/{version}/queryAll") >= 1
    if point == "mid_write":
        rule = {"method": "PATCH", "path_prefix": f"{version}/composite", "latency_ms": HOLD_MS, "count": 10}
        return {"rules": [rule]}, lambda box: _writes(box, crm) >= 2
    rule = {"method": "PATCH", "path_prefix": f"{version}/composite/sobjects/Task", "latency_ms": HOLD_MS}
    endpoint = "PATCH /services/data/{version}/composite/sobjects/{sobject}/{field}"
    # Deals are upserted through the same template first; the task upsert is the second such call.
    return {"rules": [{**rule, "count": 10}]}, lambda box: _count(box, crm, endpoint) >= 2


POINTS = [
    pytest.param(crm, point, id=f"{crm}-{point}")
    for crm in ("hubspot", "salesforce")
    for point in ("after_pull", "mid_write", "before_task_create", "before_deal_links")
    if crm == "hubspot" or point != "before_deal_links"  # Salesforce links a deal in its upsert
]


@pytest.mark.parametrize(("crm", "point"), POINTS)
def test_a_killed_sync_rerun_converges_on_the_uninterrupted_state(
    crm: str, point: str, tmp_path: Path, reference: dict[str, Snapshot]
) -> None:
    with Sandbox(accounts=ACCOUNTS, seed=SEED, workdir=tmp_path / "box") as box:
        config = config_for(box, tmp_path, crm)
        faults, in_flight = kill_point(crm, point)
        box.faults.configure(faults)
        process = sync_process(config, box.clock.today())
        deadline = time.monotonic() + 60
        while not in_flight(box):
            if process.poll() is not None:
                pytest.fail(f"the sync ended before the kill point: {process.communicate()}")
            assert time.monotonic() < deadline, "the kill point was never reached"
            time.sleep(0.005)
        process.kill()
        process.communicate(timeout=10)  # reaps it and closes its pipes
        assert process.returncode == -9
        time.sleep(HOLD_MS / 1000 + 0.3)  # let the held request finish inside the CRM, as it would
        box.faults.clear()
        landed = CrmView(box, crm).tasks()
        if point == "after_pull":
            assert _writes(box, crm) == 0  # killed before writing anything
        if point == "before_task_create":
            assert landed  # the CRM made the tasks; the dead process never marked them in the outbox
        if point == "before_deal_links":
            links = deal_links(CrmView(box, crm))
            assert links
            assert all(account is None for _, account in links)  # saved, none linked

        rerun = cli_sync(config, box.clock.today())
        assert rerun["status"] == "ok", rerun["errors"]
        state = crm_state(CrmView(box, crm))
        expected = reference[crm]
        assert state["tasks"] == expected["tasks"]  # the same tasks, none twice
        assert state["deals"] == expected["deals"]
        assert state["links"] == expected["links"]
        assert all(account is not None for _, account in state["links"])
        assert state["accounts"] == expected["accounts"]

        box.stats.reset()
        again = cli_sync(config, box.clock.today())
        assert again["writes"] == {"fields": 0, "tasks": 0, "deals": 0}
        assert _writes(box, crm) == 0
