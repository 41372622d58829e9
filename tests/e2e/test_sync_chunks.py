"""A run that assesses, records and plans its accounts in chunks does what a run in one piece does.

Two identical sandboxes (same seed) are synced the same way, once with chunks of 7 accounts and
once in one piece: a first sync, an unchanged re-sync, and a sync a simulated week later (trends,
stages, closed renewals). The CRMs must end up alike, with the same write calls, the same health
history and snapshots and the same outbox. Then what a result keeps: the assessments and the plan of
a small run or a dry run, counts only for a big one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from e2e_support import CrmView, config_for

from healthsync.config import Config, load_config
from healthsync.render_sync import plan_to_json
from healthsync.sandbox import Sandbox
from healthsync.sync import engine
from healthsync.sync.engine import Reporter, SyncResult, run_sync
from healthsync.sync.plan import PlanView
from healthsync.sync.state import StateStore
from healthsync.sync.state_records import OutboxStatus

ACCOUNTS = 60
SEED = 44
CHUNK = 7


class Stages(Reporter):
    """The stages a run reports, in order."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def stage(self, name: str, total: int | None = None) -> None:
        self.seen.append(f"start {name}")

    def done(self, name: str, summary: str) -> None:
        self.seen.append(f"done {name}")


@pytest.fixture(params=["hubspot", "salesforce"])
def crm(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def _sync(box: Sandbox, config: Config, **options: Any) -> SyncResult:
    return run_sync(config, as_of=box.clock.today(), clock=box.clock.now, **options)


def _crm_state(box: Sandbox, crm: str) -> dict[str, Any]:
    view = CrmView(box, crm)
    accounts = {
        i: (f["score"], str(f["band"]).lower(), f["trend"], f["stage"], f["days"], f["reasons"])
        for i, f in view.accounts().items()
    }
    tasks = sorted((t["key"], t["account"], t["owner"]) for t in view.tasks())
    deals = sorted((d["key"], d["stage"], d["amount"], d["close"]) for d in view.deals())
    return {"accounts": accounts, "tasks": tasks, "deals": deals}


def _recorded(config: Config) -> dict[str, Any]:
    """Health history, every run's snapshots and the outbox, as the state store holds them."""
    store = StateStore.open(config.state.url)
    try:
        runs = sorted(r.id for r in store.recent_runs(limit=50))
        snapshots = [store.snapshots_for_run(run) for run in runs]
        accounts = sorted({s.account for taken in snapshots for s in taken})
        return {
            "health": {a: [(p.day, p.score, p.band) for p in store.history(a)] for a in accounts},
            "snapshots": [
                [(s.account, s.band, s.score, s.licenses, s.reasons, s.signals, s.value_day) for s in taken]
                for taken in snapshots
            ],
            "outbox": sorted(
                (e.key, e.kind, e.status.value) for e in store.outbox_pending(statuses=tuple(OutboxStatus))
            ),
        }
    finally:
        store.close()


def _scenario(box: Sandbox, config: Config, crm: str) -> dict[str, Any]:
    """First sync, unchanged re-sync, a week later: what each run did and what the CRM holds."""
    runs = []
    stages = Stages()
    for advance in (0, 0, 7):
        box.advance(advance)
        box.stats.reset()
        result = _sync(box, config, reporter=stages if not runs else Reporter())
        assert result.status == "ok", result.errors
        calls = box.stats.snapshot().get(crm, {})
        runs.append(
            {
                "accounts": result.accounts,
                "planned": result.planned,
                "writes": result.writes,
                "estimate": result.estimate,
                "changed": result.changed_fields,
                "write_calls": calls.get("write", 0),
                "by_endpoint": calls.get("by_endpoint", {}),
                "crm": _crm_state(box, crm),
            }
        )
    return {"runs": runs, "recorded": _recorded(config), "stages": stages.seen}


def test_a_run_in_chunks_writes_and_records_what_a_run_in_one_piece_does(
    crm: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    outcomes = []
    for chunk in (CHUNK, 10_000):
        monkeypatch.setattr(engine, "CHUNK_ACCOUNTS", chunk)
        folder = tmp_path / f"chunk-{chunk}"
        with Sandbox(accounts=ACCOUNTS, seed=SEED, workdir=folder / "box") as box:
            outcomes.append(_scenario(box, load_config(config_for(box, folder, crm)), crm))
    chunked, whole = outcomes
    first, again, later = chunked["runs"]
    assert first["writes"]["fields"] == first["accounts"]["scored"] == ACCOUNTS
    assert first["writes"]["tasks"] > 0
    assert first["writes"]["deals"] > 0
    assert again["write_calls"] == 0
    assert later["writes"] != {"fields": 0, "tasks": 0, "deals": 0}
    assert chunked["recorded"]["health"]
    assert chunked["recorded"]["outbox"]
    for mine, theirs in zip(chunked["runs"], whole["runs"], strict=True):
        assert mine == theirs
    assert chunked["recorded"] == whole["recorded"]
    assert (
        chunked["stages"]
        == whole["stages"]
        == [
            "start accounts",
            "done accounts",
            "start support",
            "done support",
            "start usage",
            "done usage",
            "start score",
            "done score",
            "start write",
            "done write",
        ]
    )


def test_a_small_run_keeps_its_assessments_and_plan_a_big_one_counts(
    crm: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(engine, "CHUNK_ACCOUNTS", CHUNK)
    with Sandbox(accounts=ACCOUNTS, seed=SEED, workdir=tmp_path / "box") as box:
        config = load_config(config_for(box, tmp_path, crm))
        fixed = box.clock.now()
        # A dry run keeps its whole plan: `plan --json` lists every write, whatever the size.
        small = run_sync(config, as_of=box.clock.today(), clock=lambda: fixed, dry_run=True)
        monkeypatch.setattr(engine, "DETAILS_MAX_ACCOUNTS", 10)
        big = run_sync(config, as_of=box.clock.today(), clock=lambda: fixed, dry_run=True)
        assert len(small.assessments) == ACCOUNTS
        assert big.assessments == []
        assert small.plan_kept
        assert big.plan_kept
        assert plan_to_json(big) == plan_to_json(small)
        assert len(plan_to_json(big)["fields"]) == sum(big.changed_fields.values())
        assert set(big.names) == {w.record_id for w in big.plan.field_writes}
        assert big.names == {a.account.crm_id: a.account.name for a in small.assessments}

        # A real run of more accounts than that keeps counts; the plan only while it is small.
        monkeypatch.setattr(engine, "PLAN_KEPT_MAX", 20)
        first = _sync(box, config)
        assert first.status == "ok"
        assert first.assessments == []
        assert not first.plan_kept
        assert isinstance(first.plan, PlanView)
        assert first.plan.is_empty
        assert first.names == {}
        assert first.planned == small.planned
        assert first.writes == small.planned
        assert first.estimate == small.estimate
        assert first.changed_fields == small.changed_fields
        again = _sync(box, config)
        assert again.plan_kept
        assert again.plan.is_empty
        assert again.planned == {"fields": 0, "tasks": 0, "deals": 0}
        # Told to keep details, any run keeps them.
        box.advance(7)
        kept = _sync(box, config, keep_details=True)
        assert len(kept.assessments) == ACCOUNTS
        assert kept.plan_kept
        assert len(kept.plan.task_upserts) == kept.planned["tasks"]
