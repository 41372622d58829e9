"""End to end through the CLI against the sandbox, for HubSpot and for Salesforce as the CRM.

One scenario per CRM, in the order a customer lives it: a first sync writes scores, tasks and
renewal deals; an immediate re-sync writes nothing; a simulated week later stages and trends move
and only the new tasks appear. Every assertion reads the CRM back through `/_sandbox/state`.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from e2e_support import CrmView, cli_sync, config_for

from healthsync.model import RenewalStage
from healthsync.sandbox import Sandbox
from healthsync.scoring.renewal import OPEN_STAGES, renewal_stage
from healthsync.sync.state import StateStore
from healthsync.sync.state_records import OutboxStatus

ACCOUNTS = 120
SEED = 21
STAGE_LABELS = {
    "hubspot": {
        RenewalStage.PREPARATION: "Preparation",
        RenewalStage.INITIATION: "Initiation",
        RenewalStage.NEGOTIATION: "Negotiation",
        RenewalStage.APPROVAL: "Approval",
    },
    "salesforce": {
        RenewalStage.PREPARATION: "Preparation",
        RenewalStage.INITIATION: "Initiation",
        RenewalStage.NEGOTIATION: "Negotiation",
        RenewalStage.APPROVAL: "Approval",
    },
}
CLOSED = {"Closed won", "Closed lost", "Closed Won", "Closed Lost"}


@pytest.fixture(params=["hubspot", "salesforce"])
def crm(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def _archetypes(box: Sandbox) -> dict[str, str]:
    return {c.key: c.archetype for c in box.dataset.customers if c.in_crm}  # type: ignore[union-attr]


def _expected_deals(
    accounts: dict[str, dict[str, Any]], today: date
) -> dict[str, tuple[RenewalStage, float]]:
    """Renewal deals the CRM should hold: one per account whose contract ends within 120 days."""
    out = {}
    for crm_id, fields in accounts.items():
        if not fields["end"]:
            continue
        end = date.fromisoformat(str(fields["end"])[:10])
        stage = renewal_stage((end - today).days)
        if stage in OPEN_STAGES:
            out[f"renewal:{crm_id}:{end.isoformat()}"] = (stage, float(fields["arr"]))
    return out


def test_sync_writes_back_converges_and_moves_with_the_calendar(crm: str, tmp_path: Path) -> None:
    with Sandbox(accounts=ACCOUNTS, seed=SEED, workdir=tmp_path / "box") as box:
        view = CrmView(box, crm)
        config = config_for(box, tmp_path, crm)
        today = box.clock.today()

        # --- first sync: scores, tasks and renewal deals land in the CRM ---------------------
        first = cli_sync(config, today)
        assert first["status"] == "ok"
        assert first["dry_run"] is False
        accounts = view.accounts()
        assert first["accounts"]["crm"] == first["accounts"]["scored"] == len(accounts)
        assert set(first) >= {"run_id", "accounts", "writes", "api_calls", "errors", "duration_s"}
        assert first["errors"] == []
        assert first["writes"]["fields"] == len(accounts)  # every account got its score

        store = StateStore.open(f"sqlite:///{config.with_suffix('.db')}")
        try:
            recorded = {h: store.latest_health(h) for h in accounts}
            sent = {e.key for e in store.outbox_pending(kind="task", statuses=(OutboxStatus.SENT,))}
        finally:
            store.close()
        for crm_id, fields in accounts.items():
            health = recorded[crm_id]
            assert health is not None
            assert float(fields["score"]) == health.score
            assert str(fields["band"]).lower() == health.band.value
            assert fields["reasons"]

        # Scores tell the archetypes apart, as a CSM would expect.
        archetype = _archetypes(box)
        bands: dict[str, Counter[str]] = {}
        for fields in accounts.values():
            bands.setdefault(archetype[fields["key"]], Counter())[str(fields["band"]).lower()] += 1
        assert set(bands["churn_risk"]) == {"red"}
        assert set(bands["expanding"]) == {"green"}
        assert "red" not in bands["healthy"]
        assert bands["declining"]["green"] < bands["declining"]["yellow"] + bands["declining"]["red"]

        # Exactly the planned tasks, each once, on its account and owner.
        tasks = view.tasks()
        keys = [t["key"] for t in tasks]
        assert len(keys) == len(set(keys)) == first["writes"]["tasks"]
        assert set(keys) == sent
        for task in tasks:
            assert task["account"] == task["key"].split(":")[0]
        churners = {i for i, f in accounts.items() if archetype[f["key"]] == "churn_risk"}
        with_risk = {t["account"] for t in tasks if ":risk." in t["key"]}
        assert churners <= with_risk

        # One renewal deal per contract ending within 120 days, at the stage its date gives.
        expected = _expected_deals(accounts, today)
        deals = {d["key"]: d for d in view.deals()}
        assert set(deals) == set(expected)
        for key, (stage, arr) in expected.items():
            assert deals[key]["stage"] == STAGE_LABELS[crm][stage]
            assert deals[key]["amount"] == arr
        assert first["writes"]["deals"] == len(expected)

        # --- an immediate re-sync writes nothing ------------------------------------------------
        box.stats.reset()
        second = cli_sync(config, today)
        assert second["status"] == "ok"
        assert second["writes"] == {"fields": 0, "tasks": 0, "deals": 0}
        assert second["api_calls"][crm]["write"] == 0
        assert view.writes() == 0

        # --- a week later: stages and trends move, only new tasks appear -----------------------
        box.advance(7)
        later = today + timedelta(days=7)
        before = {d["key"]: d for d in view.deals()}
        third = cli_sync(config, later)
        assert third["status"] == "ok"
        moved = view.accounts()
        trended = [f for f in moved.values() if f["trend"] not in (None, "")]
        assert len(trended) == len(accounts)  # a week of history: every account has a trend now
        tasks_now = view.tasks()
        keys_now = [t["key"] for t in tasks_now]
        assert len(keys_now) == len(set(keys_now))  # nothing doubled
        assert set(keys) <= set(keys_now)
        assert len(keys_now) - len(keys) == third["writes"]["tasks"]

        deals_now = {d["key"]: d for d in view.deals()}
        for key, deal in deals_now.items():
            old = before.get(key)
            if old is not None and old["stage"] in CLOSED:
                assert deal == old  # a person closed it: never touched
        expected_now = _expected_deals(moved, later)
        for key, (stage, _) in expected_now.items():
            deal = deals_now[key]
            if deal["stage"] in CLOSED:
                continue
            assert deal["stage"] == STAGE_LABELS[crm][stage]
        assert any(before[k]["stage"] != deals_now[k]["stage"] for k in before if k in deals_now), (
            "a week later, some renewal should have moved to its next stage"
        )


def test_a_backfill_records_history_without_writing_and_gives_the_first_sync_a_trend(tmp_path: Path) -> None:
    with Sandbox(accounts=40, seed=SEED, workdir=tmp_path / "box") as box:
        view = CrmView(box, "hubspot")
        config = config_for(box, tmp_path, "hubspot")
        today = box.clock.today()
        for days_back in (14, 7):
            past = cli_sync(config, today - timedelta(days=days_back))
            assert past["backfill"] is True
            assert past["writes"] == {"fields": 0, "tasks": 0, "deals": 0}
            assert past["accounts"]["scored"] == 40
        assert view.writes() == 0
        assert all(f["score"] is None for f in view.accounts().values())

        now = cli_sync(config, today)
        assert now["backfill"] is False
        assert now["writes"]["fields"] == 40
        assert all(f["trend"] not in (None, "") for f in view.accounts().values())  # vs the backfilled week


def test_plan_sync_explain_and_status_through_the_cli(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from healthsync.cli import cli

    runner = CliRunner()
    with Sandbox(accounts=30, seed=SEED, workdir=tmp_path / "box") as box:
        config = str(config_for(box, tmp_path, "salesforce"))
        today = box.clock.today().isoformat()

        planned = runner.invoke(cli, ["plan", "--json", "--config", config, "--as-of", today])
        assert planned.exit_code == 0, planned.output
        plan = json.loads(planned.stdout)
        assert len({f["record_id"] for f in plan["fields"]}) == 30
        assert all(f["reason"] for f in plan["fields"] + plan["tasks"] + plan["deals"])
        # Salesforce: 200 records a composite call, so one call per kind for 30 accounts.
        calls = plan["api_calls_estimate"]
        assert (calls["fields"], calls["tasks"], calls["deals"]) == (
            1,
            1 if plan["tasks"] else 0,
            1 if plan["deals"] else 0,
        )
        assert box.stats.snapshot()["salesforce"]["write"] == 0  # plan writes nothing

        synced = runner.invoke(cli, ["sync", "--config", config, "--as-of", today])
        assert synced.exit_code == 0, synced.output
        assert "accounts: 30 accounts read from salesforce" in synced.stderr  # plain lines when piped
        assert "written: 30 accounts updated" in synced.stdout
        assert len(CrmView(box, "salesforce").tasks()) == len(plan["tasks"])

        name = next(iter(CrmView(box, "salesforce").accounts()))
        explained = runner.invoke(cli, ["explain", name, "--json", "--config", config])
        assert explained.exit_code == 0, explained.output
        detail = json.loads(explained.stdout)
        assert detail["account"] == name
        assert sum(c["points"] for c in detail["contributions"]) == pytest.approx(detail["score"]) or detail[
            "score"
        ] in (0, 100)
        human = runner.invoke(cli, ["explain", detail["name"], "--config", config])
        assert human.exit_code == 0
        assert detail["name"] in human.stdout

        status = runner.invoke(cli, ["status", "--json", "--config", config])
        runs = json.loads(status.stdout)["runs"]
        assert [r["dry_run"] for r in runs] == [False, True]
        assert runs[0]["status"] == "ok"
