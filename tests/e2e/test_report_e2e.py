"""`healthsync report --json` after weeks of syncs agrees with the sandbox's own record of what happened.

The sandbox logs every contract event (renewals with their new ARR, churns with a reason, mid-term
resizes, signings) at `/_sandbox/events/contracts`, and keeps the NPS survey and daily usage in its
usage database. This test syncs a sandbox for six simulated weeks, asks the report for the trailing
month, and recomputes each metric from those records with the report's own definitions:

- an account's ARR on a sync is what the CRM showed at that moment (events up to it applied), so
  ARR moves at the syncs' resolution, exactly as the report sees it;
- the period is (start, end]; one sync lands on the start day, so the baseline is that sync;
- a churn counts on its event's day, the day the sandbox's person closed the renewal deal lost.
"""

from __future__ import annotations

import json
import math
import sqlite3
import statistics
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from click.testing import CliRunner

from healthsync.cli import cli
from healthsync.config import load_config
from healthsync.report.periods import period_for
from healthsync.sandbox import Sandbox
from healthsync.sandbox.runtime import default_start
from healthsync.sandbox.serve import write_config
from healthsync.sync.engine import Reporter, run_sync

ACCOUNTS = 160
SEED = 6
DAYS = 42
FIRST_DAY = default_start(date(2026, 6, 1))
"""Fixed, so the seed's world (two churns, eight renewals, six signings in the month) never changes."""


def _day(moment: str) -> date:
    return datetime.fromisoformat(moment).astimezone(UTC).date()


class World:
    """The sandbox's ground truth: customers, their contract events and the moment of every sync."""

    def __init__(
        self, box: Sandbox, crm: str, events: list[dict[str, Any]], syncs: dict[date, datetime]
    ) -> None:
        assert box.dataset is not None
        self.crm = crm
        self.syncs = syncs
        self.customers = {c.index: c for c in box.dataset.customers if c.in_crm}
        self.ids = {i: box.crm_account_ids(i)[crm] for i in self.customers}
        self.events: dict[int, list[dict[str, Any]]] = defaultdict(list)
        for event in events:
            if event["index"] in self.customers:
                event["moment"] = datetime.fromisoformat(event["at"])
                self.events[event["index"]].append(event)

    def arr_at(self, index: int, moment: datetime) -> float:
        """The ARR the CRM showed at `moment` (a churn leaves the account's ARR as it was)."""
        later = [e for e in self.events[index] if e["moment"] > moment]
        return float(later[0]["arr_before"] if later else self.customers[index].arr)

    def signed_after(self, index: int, moment: datetime) -> bool:
        return any(e["kind"] == "signed" and e["moment"] > moment for e in self.events[index])

    def churn_day(self, index: int) -> date | None:
        churns = [e for e in self.events[index] if e["kind"] == "churned"]
        return _day(churns[0]["at"]) if churns else None


def _sync_weeks(box: Sandbox, config_path: Path) -> tuple[date, dict[date, datetime]]:
    """Weekly syncs over DAYS days, plus one on the trailing month's start day; returns the last day."""
    config = load_config(config_path)
    first = box.clock.today()
    end = first + timedelta(days=DAYS)
    start = period_for(end, "month").start
    offset = (start - first).days
    offsets = sorted({0, 7, *range(offset, DAYS, 7), DAYS})
    syncs: dict[date, datetime] = {}
    done = 0
    for day in offsets:
        if day:
            box.advance(day - done)
        done = day
        run = run_sync(config, as_of=box.clock.today(), clock=box.clock.now, reporter=Reporter())
        assert run.status == "ok", run.errors
        syncs[box.clock.today()] = box.clock.now()
    assert box.clock.today() == end
    assert start in syncs
    return end, syncs


def _expected_retention(world: World, start: date, end: date) -> dict[str, float]:
    baseline = world.syncs[start]
    days = sorted(d for d in world.syncs if start < d <= end)
    base = [
        i
        for i in world.customers
        if not world.signed_after(i, baseline) and not ((c := world.churn_day(i)) is not None and c <= start)
    ]
    arr_start = expansion = contraction = churned_arr = 0.0
    churned = 0
    for index in base:
        previous = world.arr_at(index, baseline)
        arr_start += previous
        churn = world.churn_day(index)
        gone = churn is not None and start < churn <= end
        for day in days:
            if gone and churn is not None and day > churn:
                break
            now = world.arr_at(index, world.syncs[day])
            expansion += max(0.0, now - previous)
            contraction += max(0.0, previous - now)
            previous = now
        if gone:
            churned += 1
            churned_arr += previous
    return {
        "accounts_start": len(base),
        "arr_start": arr_start,
        "expansion": expansion,
        "contraction": contraction,
        "churned_arr": churned_arr,
        "churned": churned,
        "nrr": 100 * (arr_start + expansion - contraction - churned_arr) / arr_start,
        "grr": 100 * (arr_start - contraction - churned_arr) / arr_start,
        "logo_churn": 100 * churned / len(base),
    }


def _expected_nps(world: World, usage_db: str, start: date, end: date) -> float:
    keys = {c.key for c in world.customers.values()}
    with sqlite3.connect(usage_db) as db:
        rows = db.execute("SELECT account_key, score, responded_at FROM nps_responses").fetchall()
    scores = [
        int(score)
        for key, score, at in rows
        if key in keys and start < datetime.fromisoformat(at).replace(tzinfo=UTC).date() <= end
    ]
    assert scores, "the sandbox gave no NPS answers in the period; pick another seed"
    promoters = sum(1 for s in scores if s >= 9)
    detractors = sum(1 for s in scores if s <= 6)
    return 100 * (promoters - detractors) / len(scores)


def _expected_ttv(world: World, usage_db: str, start: date, end: date) -> float | None:
    """Median days from contract start to the first day with active users >= half the seats, over
    accounts signed in the period and first synced within 29 days of their start (while the sync's
    30-day usage window still held the start day)."""
    first_sync: dict[int, date] = {}
    for index, events in world.events.items():
        for e in events:
            if e["kind"] == "signed":
                first_sync[index] = min(d for d, m in world.syncs.items() if m >= e["moment"])
    days: list[int] = []
    with sqlite3.connect(usage_db) as db:
        for index, seen in first_sync.items():
            customer = world.customers[index]
            begin = customer.contract_start
            if not (start < begin <= end) or seen > begin + timedelta(days=29):
                continue
            need = max(1, math.ceil(0.5 * customer.seats))
            row = db.execute(
                "SELECT MIN(day) FROM usage_daily WHERE account_key = ? AND day >= ? AND day <= ? "
                "AND active_users >= ?",
                (customer.key, begin.isoformat(), end.isoformat(), need),
            ).fetchone()
            if row[0] is not None:
                days.append((date.fromisoformat(row[0]) - begin).days)
    return float(statistics.median(days)) if days else None


@pytest.mark.parametrize("crm", ["hubspot", "salesforce"])
def test_report_json_agrees_with_the_sandbox_records(tmp_path: Path, crm: str) -> None:
    with Sandbox(accounts=ACCOUNTS, seed=SEED, start=FIRST_DAY, workdir=tmp_path / "sandbox") as box:
        config_path = write_config(box, tmp_path / "healthsync.toml", crm=crm)  # type: ignore[arg-type]
        end, syncs = _sync_weeks(box, config_path)
        events = requests.get(f"{box.url}/_sandbox/events/contracts", timeout=10).json()
        world = World(box, crm, events, syncs)
        usage_db = (box.usage_db_url or "").removeprefix("sqlite:///")

        result = CliRunner().invoke(
            cli, ["report", "--json", "--config", str(config_path), "--as-of", end.isoformat()]
        )
        assert result.exit_code == 0, result.output
        report = json.loads(result.stdout)

    metrics = report["metrics"]
    period = period_for(end, "month")
    assert report["period"] == {"kind": "month", "start": period.start.isoformat(), "end": end.isoformat()}
    expected_keys = {"nrr", "grr", "logo_churn", "ltv", "ltv_cac", "ttv", "nps", "coverage"}
    assert expected_keys <= set(metrics)
    for metric in metrics.values():
        assert {"value", "target", "on_target", "period"} <= set(metric)

    # Every churn in the period closed a renewal deal healthsync had opened: that is how it knows.
    in_period = [
        e
        for es in world.events.values()
        for e in es
        if e["kind"] == "churned" and period.start < _day(e["at"]) <= end
    ]
    assert in_period, "no churn in the period; pick another seed"
    assert all(crm in e["deals_closed"] for e in in_period)

    want = _expected_retention(world, period.start, end)
    nrr, grr, churn = metrics["nrr"], metrics["grr"], metrics["logo_churn"]
    assert nrr["details"]["accounts_start"] == want["accounts_start"]
    for part in ("arr_start", "expansion", "contraction", "churned_arr"):
        assert nrr["details"][part] == pytest.approx(want[part]), part
    assert nrr["value"] == pytest.approx(want["nrr"])
    assert grr["value"] == pytest.approx(want["grr"])
    assert churn["value"] == pytest.approx(want["logo_churn"])
    assert churn["details"]["churned"] == want["churned"] == len(in_period)
    assert nrr["on_target"] is (want["nrr"] > 100)
    assert grr["on_target"] is (want["grr"] > 85)
    assert churn["on_target"] is (want["logo_churn"] < 5)

    # LTV: the average ARR of active accounts at the end x the lifetime the month's churn implies.
    last = syncs[end]
    active = [i for i in world.customers if (c := world.churn_day(i)) is None or c > end]
    average = statistics.fmean(world.arr_at(i, last) for i in active)
    annual = 1 - (1 - want["logo_churn"] / 100) ** 12
    assert metrics["ltv"]["value"] == pytest.approx(average / annual)
    assert metrics["ltv_cac"]["value"] is None
    assert "cac" in metrics["ltv_cac"]["note"]

    assert metrics["nps"]["value"] == pytest.approx(_expected_nps(world, usage_db, period.start, end))
    assert metrics["coverage"]["value"] == pytest.approx(100.0)
    assert metrics["coverage"]["on_target"] is True
    ttv = _expected_ttv(world, usage_db, period.start, end)
    assert metrics["ttv"]["value"] == (pytest.approx(ttv) if ttv is not None else None)
