"""HubSpot connector writes over the unmodified hubspot-api-client, checked in the sandbox's state.

Counts: field updates 1 batch per 100 records; deals 1 upsert per 100 + the pipelines read (once
per connector) + 1 v4 batch association create per 2,000 deals to link (batch upsert takes no
associations) + 1 v4 batch read of links per 1,000 existing deals; the plan writer makes one link
pass for a whole run, so a run's new deals cost ceil(n / 2,000) link calls however many upsert
batches they took; tasks 1 batch read by key per 100 + 1 batch create per 100 missing ones, or,
through the plan writer, 1 search page per 200 keyed tasks the state store does not know of (one
page when it knows them all) and no key read. Zero inputs make zero calls.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest
from helpers.fakes import FakeTime, make_http
from helpers.sandboxes import faults, hubspot_sandbox
from hubspot_support import COMPANY_BASE, connect, dataset, served, state

from healthsync.connectors.base import FieldUpdate
from healthsync.errors import MappingError, TransientError
from healthsync.model import DealUpsert, Plan, RenewalStage, TaskPriority, TaskUpsert
from healthsync.sandbox import Sandbox
from healthsync.sync.state import StateStore
from healthsync.sync.writer import PlanWriter

BATCH_UPDATE = "POST /crm/v3/objects/{objectType}/batch/update"
BATCH_UPSERT = "POST /crm/v3/objects/{objectType}/batch/upsert"
BATCH_READ = "POST /crm/v3/objects/{objectType}/batch/read"
BATCH_CREATE = "POST /crm/v3/objects/{objectType}/batch/create"
PIPELINES = "GET /crm/v3/pipelines/{objectType}"
LINK = "POST /crm/v4/associations/{fromObjectType}/{toObjectType}/batch/create"
LINKS_READ = "POST /crm/v4/associations/{fromObjectType}/{toObjectType}/batch/read"


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[Sandbox]:
    """300 companies."""
    sandbox = hubspot_sandbox(dataset(tmp_path, 300))
    yield sandbox
    sandbox.stop()


def company(i: int) -> str:
    return str(COMPANY_BASE + i)


def by_id(records: list[dict]) -> dict[str, dict]:
    return {r["id"]: r for r in records}


# --- field updates ----------------------------------------------------------------------------


def test_250_updates_in_3_batches_with_one_bad_value_refused(sandbox: Sandbox, tmp_path: Path) -> None:
    connector = connect(sandbox, tmp_path / "cfg")
    updates = [FieldUpdate("companies", company(i), {"healthsync_score": i % 100}) for i in range(250)]
    updates[120] = FieldUpdate("companies", company(120), {"healthsync_band": "purple"})
    outcomes = connector.update_fields(updates)

    assert served(sandbox) == {BATCH_UPDATE: math.ceil(250 / 100)}
    assert [o.key for o in outcomes] == [u.record_id for u in updates]  # input order
    refused = [o for o in outcomes if not o.ok]
    assert [o.key for o in refused] == [company(120)]
    assert "purple" in (refused[0].error or "")
    stored = by_id(state(sandbox, "companies"))
    assert stored[company(119)]["properties"]["healthsync_score"] == "19"
    assert stored[company(121)]["properties"]["healthsync_score"] == "21"
    assert "healthsync_band" not in stored[company(120)]["properties"]


def test_each_record_carries_only_its_own_fields(sandbox: Sandbox, tmp_path: Path) -> None:
    connector = connect(sandbox, tmp_path / "cfg")
    connector.update_fields([FieldUpdate("companies", company(1), {"healthsync_band": "red"})])
    outcomes = connector.update_fields(
        [
            FieldUpdate("companies", company(1), {"healthsync_score": 12.0}),
            FieldUpdate("companies", company(2), {"healthsync_band": "green", "healthsync_reasons": "ok"}),
        ]
    )
    assert all(o.ok for o in outcomes)
    stored = by_id(state(sandbox, "companies"))
    assert stored[company(1)]["properties"]["healthsync_band"] == "red"  # not blanked
    assert stored[company(1)]["properties"]["healthsync_score"] == "12"
    assert "healthsync_score" not in stored[company(2)]["properties"]


def test_empty_batches_make_no_calls(sandbox: Sandbox, tmp_path: Path) -> None:
    connector = connect(sandbox, tmp_path / "cfg")
    assert connector.update_fields([]) == []
    assert connector.upsert_deals([]) == []
    assert connector.upsert_tasks([]) == []
    assert served(sandbox) == {}


# --- deals ------------------------------------------------------------------------------------


def deal(i: int, stage: RenewalStage = RenewalStage.PREPARATION, amount: float = 12000.0) -> DealUpsert:
    return DealUpsert(
        key=f"renewal-C{i:06d}-2027",
        account_id=company(i),
        name=f"Company {i} renewal 2027",
        pipeline="Renewals",
        stage=stage,
        amount=amount,
        close_date=date(2027, 1, 1),
        owner_id="6100000",
        reason="contract ends in 90 days",
    )


def test_deal_upserted_twice_is_one_deal_linked_to_its_company(sandbox: Sandbox, tmp_path: Path) -> None:
    connector = connect(sandbox, tmp_path / "cfg")
    first = connector.upsert_deals([deal(1), deal(2)])
    assert [(o.ok, o.created) for o in first] == [(True, True), (True, True)]
    assert served(sandbox) == {PIPELINES: 1, BATCH_UPSERT: 1, LINK: 1}  # both links in one batch

    sandbox.stats.reset()
    second = connector.upsert_deals([deal(1, RenewalStage.NEGOTIATION, 15000.0), deal(2)])
    assert [(o.ok, o.created) for o in second] == [(True, False), (True, False)]
    assert [o.crm_id for o in second] == [o.crm_id for o in first]
    # Existing deals: their links are checked in one batch read and are there: no new link calls.
    assert served(sandbox) == {BATCH_UPSERT: 1, LINKS_READ: 1}

    deals = [d for d in state(sandbox, "deals") if d["properties"].get("healthsync_renewal_key")]
    assert len(deals) == 2
    renewals = next(p for p in state(sandbox, "pipelines") if p["label"] == "Renewals")
    stages = {s["label"]: s["id"] for s in renewals["stages"]}
    one = next(d for d in deals if d["properties"]["healthsync_renewal_key"] == deal(1).key)
    assert one["properties"]["pipeline"] == renewals["id"]
    assert one["properties"]["dealstage"] == stages["Negotiation"]
    assert one["properties"]["amount"] == "15000"
    assert one["properties"]["hubspot_owner_id"] == "6100000"
    links = [
        a
        for a in state(sandbox, "associations")
        if a["fromObjectType"] == "deals"
        and a["fromObjectId"] == one["id"]
        and a["toObjectType"] == "companies"
    ]
    assert [(a["toObjectId"], a["associationTypeId"]) for a in links] == [(company(1), 341)]
    found = connector.fetch_deals([deal(1).key, "renewal-missing"])
    assert found.keys() == {deal(1).key}
    live = found[deal(1).key]
    assert (live.crm_id, live.stage_name, live.stage, live.is_closed) == (
        one["id"],
        "Negotiation",
        RenewalStage.NEGOTIATION,
        False,
    )
    assert live.amount == 15000.0
    assert live.close_date == deal(1).close_date


def test_a_missing_link_of_an_existing_deal_is_made(sandbox: Sandbox, tmp_path: Path) -> None:
    connector = connect(sandbox, tmp_path / "cfg")
    crm_id = connector.upsert_deals([deal(3)])[0].crm_id
    connector.api.api("crm.associations.v4.basic_api").archive(
        object_type="deals", object_id=crm_id, to_object_type="companies", to_object_id=company(3)
    )
    sandbox.stats.reset()
    assert connector.upsert_deals([deal(3)])[0].ok
    assert served(sandbox) == {BATCH_UPSERT: 1, LINKS_READ: 1, LINK: 1}


def test_the_plan_writer_links_a_whole_runs_deals_in_one_v4_batch(sandbox: Sandbox, tmp_path: Path) -> None:
    """250 new deals: ceil(250 / 100) upserts without links, then ceil(250 / 2,000) = 1 link batch for
    the whole run (not one per upsert batch), each deal linked to its company."""
    connector = connect(sandbox, tmp_path / "cfg")
    deals = [deal(i) for i in range(250)]
    with StateStore.open(f"sqlite:///{tmp_path / 'state.db'}") as store:
        run_id = store.start_run("contract", dry_run=False)
        report = PlanWriter(connector, store, vendor="hubspot", run_id=run_id).write(
            Plan((), (), tuple(deals))
        )
    assert (report.deals, report.errors) == (250, [])
    assert served(sandbox) == {PIPELINES: 1, BATCH_UPSERT: 3, LINK: 1}
    assert [b.inputs for b in sandbox.stats.batches("hubspot") if b.endpoint == LINK] == [250]
    linked = {
        a["fromObjectId"]: a["toObjectId"]
        for a in state(sandbox, "associations")
        if a["fromObjectType"] == "deals" and a["toObjectType"] == "companies"
    }
    ids = {d["properties"].get("healthsync_renewal_key"): d["id"] for d in state(sandbox, "deals")}
    assert {d.key: linked.get(ids[d.key]) for d in deals} == {d.key: d.account_id for d in deals}


def test_a_bad_deal_does_not_sink_its_batch(sandbox: Sandbox, tmp_path: Path) -> None:
    connector = connect(sandbox, tmp_path / "cfg")
    batch = [deal(i) for i in range(8)]
    batch[5] = DealUpsert(**{**vars(deal(5)), "owner_id": "not-an-owner"})
    outcomes = connector.upsert_deals(batch)
    assert [o.ok for o in outcomes] == [True] * 5 + [False] + [True] * 2
    assert outcomes[5].error


def test_unknown_pipeline_stage_is_a_mapping_error(sandbox: Sandbox, tmp_path: Path) -> None:
    connector = connect(sandbox, tmp_path / "cfg")
    mapping = connector.mapping.model_copy(
        update={"deals": connector.mapping.deals.model_copy(update={"pipeline": "Upsells"})}
    )
    connector.writer.mapping = mapping
    with pytest.raises(MappingError, match="Upsells"):
        connector.upsert_deals([deal(1)])


# --- tasks ------------------------------------------------------------------------------------


def task(i: int, period: str = "2026-W45") -> TaskUpsert:
    return TaskUpsert(
        key=f"risk-C{i:06d}-{period}",
        account_id=company(i),
        subject=f"Company {i} is at risk",
        body="Usage dropped by half in 14 days.",
        due=date(2026, 11, 9),
        owner_id="6100001",
        priority=TaskPriority.HIGH,
        reason="usage drop",
    )


def test_tasks_are_created_once_across_two_runs(sandbox: Sandbox, tmp_path: Path) -> None:
    connector = connect(sandbox, tmp_path / "cfg")
    batch = [task(i) for i in range(150)]
    first = connector.upsert_tasks(batch)
    assert all(o.ok and o.created for o in first)
    assert served(sandbox) == {BATCH_READ: 2, BATCH_CREATE: 2}  # ceil(150 / 100) of each

    sandbox.stats.reset()
    again = connect(sandbox, tmp_path / "cfg2").upsert_tasks([*batch, task(200)])
    assert [o.created for o in again] == [False] * 150 + [True]
    assert [o.crm_id for o in again[:150]] == [o.crm_id for o in first]
    assert served(sandbox) == {BATCH_READ: 2, BATCH_CREATE: 1}

    tasks = state(sandbox, "tasks")
    assert len(tasks) == 151
    one = next(t for t in tasks if t["properties"]["healthsync_task_key"] == task(7).key)
    props = one["properties"]
    assert props["hs_task_subject"] == "Company 7 is at risk"
    assert props["hs_task_priority"] == "HIGH"
    assert props["hs_task_status"] == "NOT_STARTED"
    assert props["hubspot_owner_id"] == "6100001"
    assert props["hs_timestamp"].startswith("2026-11-09")
    assert [r["id"] for r in one["associations"]["companies"]["results"]] == [company(7)]


def test_a_bad_task_is_isolated_from_its_batch(sandbox: Sandbox, tmp_path: Path) -> None:
    connector = connect(sandbox, tmp_path / "cfg")
    batch = [task(i) for i in range(6)]
    batch[2] = TaskUpsert(**{**vars(task(2)), "account_id": "999"})  # no such company
    outcomes = connector.upsert_tasks(batch)
    assert [o.ok for o in outcomes] == [True, True, False, True, True, True]
    assert len(state(sandbox, "tasks")) == 5


def test_a_429_on_a_create_is_retried_but_a_5xx_is_not(sandbox: Sandbox, tmp_path: Path) -> None:
    fake = FakeTime()
    connector = connect(sandbox, tmp_path / "cfg", make_http(fake))
    faults(
        sandbox,
        rules=[{"path_prefix": "/crm/v3/objects/tasks/batch/create", "status": 429, "retry_after": 2}],
    )
    assert all(o.ok for o in connector.upsert_tasks([task(1)]))
    assert 2.0 in fake.sleeps  # POST retried after a 429: HubSpot did nothing, replay is safe

    faults(sandbox, rules=[{"path_prefix": "/crm/v3/objects/tasks/batch/create", "status": 502}])
    with pytest.raises(TransientError):  # the create may have happened: the outbox reconciles
        connector.upsert_tasks([task(2)])
    assert connector.fetch_tasks([task(1).key, task(2).key]).keys() == {task(1).key}


# --- tasks through the plan writer: what the outbox knows spares the key reads -----------------

SEARCH = "POST /crm/v3/objects/{objectType}/search"


def write_tasks(sandbox: Sandbox, folder: Path, db: Path, tasks: list[TaskUpsert]) -> int:
    """One run's task writes through `PlanWriter` with the state store at `db`; tasks created."""
    with StateStore.open(f"sqlite:///{db}") as store:
        run_id = store.start_run("contract", dry_run=False)
        report = PlanWriter(connect(sandbox, folder), store, vendor="hubspot", run_id=run_id).write(
            Plan((), tuple(tasks), ())
        )
    assert report.errors == []
    return report.tasks


def keys_in_crm(sandbox: Sandbox) -> list[str]:
    return sorted(t["properties"]["healthsync_task_key"] for t in state(sandbox, "tasks"))


def test_a_run_whose_outbox_knows_every_task_reads_no_keys(sandbox: Sandbox, tmp_path: Path) -> None:
    """First run on an empty portal: one search finds no keyed task, so 150 tasks cost
    ceil(150 / 100) = 2 creates and no key read. The next run's search starts at the newest
    creation stamp the state recorded, so new tasks again need no key read."""
    db = tmp_path / "state.db"
    assert write_tasks(sandbox, tmp_path / "a", db, [task(i) for i in range(150)]) == 150
    assert served(sandbox) == {SEARCH: 1, BATCH_CREATE: 2}

    sandbox.stats.reset()
    assert write_tasks(sandbox, tmp_path / "b", db, [task(i, "2026-12") for i in range(120)]) == 120
    assert served(sandbox) == {SEARCH: 1, BATCH_CREATE: 2}
    assert len(keys_in_crm(sandbox)) == 270
    with StateStore.open(f"sqlite:///{db}") as store:
        assert store.get_cursor("hubspot", "tasks_created") is not None


def test_a_lost_state_database_adopts_the_crms_tasks_instead_of_doubling_them(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    """The state database is replaced by an empty one: the run lists the keyed tasks the CRM holds
    (one search page per 200), adopts them into the outbox, and creates only the new key."""
    first = [task(i) for i in range(250)]
    assert write_tasks(sandbox, tmp_path / "a", tmp_path / "old.db", first) == 250

    sandbox.stats.reset()
    fresh = tmp_path / "new.db"
    new = task(299, "2026-12")
    assert write_tasks(sandbox, tmp_path / "b", fresh, [*first[:40], new]) == 1
    assert served(sandbox) == {SEARCH: 2, BATCH_CREATE: 1}  # ceil(250 / 200) pages, 1 create
    assert len(keys_in_crm(sandbox)) == 251
    assert len(set(keys_in_crm(sandbox))) == 251
    with StateStore.open(f"sqlite:///{fresh}") as store:
        adopted = store.outbox_lookup([t.key for t in first])
    assert len(adopted) == 250
    # Known to the outbox now, so the planner will not plan any of them again.
    assert {e.status.value for e in adopted.values()} == {"confirmed"}


def test_a_restored_older_state_database_adopts_what_was_created_since(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    """A backup taken after run 1 is restored after run 2: the search from run 1's newest stamp
    finds run 2's tasks, which are adopted, so planning them again creates nothing."""
    db = tmp_path / "state.db"
    assert write_tasks(sandbox, tmp_path / "a", db, [task(i) for i in range(10)]) == 10
    backup = db.read_bytes()
    assert write_tasks(sandbox, tmp_path / "b", db, [task(i, "2026-12") for i in range(10)]) == 10
    db.write_bytes(backup)

    sandbox.stats.reset()
    assert write_tasks(sandbox, tmp_path / "c", db, [task(i, "2026-12") for i in range(12)]) == 2
    assert len(keys_in_crm(sandbox)) == 22
    assert len(set(keys_in_crm(sandbox))) == 22


def test_when_the_task_search_fails_every_key_is_read_before_its_create(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    """A search refused (here a 400) costs no task: the writer falls back to reading each key."""
    db = tmp_path / "state.db"
    assert write_tasks(sandbox, tmp_path / "a", db, [task(i) for i in range(5)]) == 5
    faults(sandbox, rules=[{"path_prefix": "/crm/v3/objects/tasks/search", "status": 400}])
    sandbox.stats.reset()
    fresh = tmp_path / "new.db"
    assert write_tasks(sandbox, tmp_path / "b", fresh, [task(i) for i in range(7)]) == 2
    assert served(sandbox) == {SEARCH: 1, BATCH_READ: 1, BATCH_CREATE: 1}
    assert len(set(keys_in_crm(sandbox))) == len(keys_in_crm(sandbox)) == 7


def test_keyed_tasks_restart_after_the_last_id_at_the_search_cap(
    sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Search pages stop at 10,000 results a query; with the cap lowered to 400 here, 1,000 tasks
    take queries of 2 pages each, every task listed once, in id order."""
    from healthsync.connectors import hubspot_write

    connector = connect(sandbox, tmp_path / "cfg")
    made = [replace(task(i % 300), key=task(i).key) for i in range(1000)]  # 300 companies
    assert all(o.ok for o in connector.upsert_tasks(made, look_up=False))
    monkeypatch.setattr(hubspot_write, "TASK_SEARCH_MAX", 400)
    sandbox.stats.reset()
    listed = list(connector.keyed_tasks(None))
    assert sorted(t.key for t in listed) == sorted(task(i).key for i in range(1000))
    assert [int(t.crm_id) for t in listed] == sorted(int(t.crm_id) for t in listed)
    assert all(t.created_at for t in listed)
    assert served(sandbox) == {SEARCH: 5}  # 200 + 200, 200 + 200, 200 (the last page has no `next`)
    newest = max(listed, key=lambda t: t.created_at or "")
    assert newest.created_at is not None
    assert {t.key for t in connector.keyed_tasks(newest.created_at)} <= {t.key for t in listed}
