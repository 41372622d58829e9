"""`explain`: one account's recorded health, found by CRM id or name, from a real SQLite state store.

Each test records runs the way the engine does (health history and account snapshots per run, tasks
in the outbox) and reads them back through `explain_account`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from healthsync.config import Config
from healthsync.errors import ConfigError
from healthsync.model import Band, Contribution, Direction, HealthResult, RenewalStage, Trend
from healthsync.sync.explain import explain_account
from healthsync.sync.state import AccountSnapshot, OutboxStatus, StateStore

DAY = date(2026, 3, 31)
CONFIG = Config.model_validate(
    {"crm": {"system": "hubspot"}, "hubspot": {"access_token": {"env": "HUBSPOT_TOKEN"}}}
)


@dataclass
class Clock:
    now: datetime = datetime(2026, 3, 31, 6, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(tmp_path: Path, clock: Clock) -> Iterator[StateStore]:
    with StateStore.open(f"sqlite:///{tmp_path / 'state.db'}", clock=clock) as opened:
        yield opened


def health(account: str, score: float, band: Band, day: date = DAY) -> HealthResult:
    return HealthResult(
        account=account,
        score=score,
        band=band,
        computed_band=band,
        contributions=(
            Contribution("login_high", "login_days_30d", 30, "Logged in on 20 of the last 30 days", 20),
        ),
        missing=("last_nps",),
        coverage=0.8,
        rules_version="builtin-1",
        computed_at=day,
    )


def record(
    store: StateStore,
    day: date,
    scores: dict[str, float],
    *,
    names: dict[str, str] | None = None,
    contract_end: date | None = None,
) -> int:
    """One run on `day`: a health row and a snapshot per account (named from `names`, else ACCOUNTS)."""
    names = names or ACCOUNTS
    run_id = store.start_run("test", dry_run=False)
    results = [
        health(a, s, Band.GREEN if s >= 70 else Band.YELLOW if s >= 40 else Band.RED, day)
        for a, s in scores.items()
    ]
    store.record_health(run_id, results, day)
    store.record_snapshots(
        run_id,
        day,
        [
            AccountSnapshot(
                account=a, name=names[a], score=s, arr=12000.0, contract_end=contract_end, owner_id="owner-1"
            )
            for a, s in scores.items()
        ],
    )
    return run_id


ACCOUNTS = {"001": "Acme", "002": "Acme Labs", "003": "Globex Corporation", "004": "Initech"}
EVERYONE = {"001": 65.0, "002": 80.0, "003": 35.0, "004": 50.0}


# --- finding the account -------------------------------------------------------------------------


def test_found_by_crm_id(store: StateStore) -> None:
    record(store, DAY, EVERYONE)
    explanation = explain_account(store, CONFIG, "003")
    assert (explanation.snapshot.account, explanation.snapshot.name) == ("003", "Globex Corporation")
    assert (explanation.health.account, explanation.health.score, explanation.health.band) == (
        "003",
        35.0,
        Band.RED,
    )


@pytest.mark.parametrize("query", ["Acme", "acme", "ACME", "  Acme  "])
def test_an_exact_name_in_any_case_wins_over_partial_matches(store: StateStore, query: str) -> None:
    record(store, DAY, EVERYONE)
    assert explain_account(store, CONFIG, query).snapshot.account == "001"


@pytest.mark.parametrize("query", ["labs", "Globex", "corp", "INITECH"])
def test_a_unique_partial_name_finds_the_account(store: StateStore, query: str) -> None:
    record(store, DAY, EVERYONE)
    found = explain_account(store, CONFIG, query).snapshot.account
    assert found == {"labs": "002", "Globex": "003", "corp": "003", "INITECH": "004"}[query]


def test_several_partial_matches_are_refused_with_each_listed(store: StateStore) -> None:
    record(store, DAY, EVERYONE)
    expected = (
        "'acm' matches several accounts: Acme (001); Acme Labs (002). Give the CRM id or the full name."
    )
    with pytest.raises(ConfigError, match=f"^{re.escape(expected)}$"):
        explain_account(store, CONFIG, "acm")


def test_no_match_is_refused(store: StateStore) -> None:
    record(store, DAY, EVERYONE)
    with pytest.raises(
        ConfigError, match=re.escape("no account matching 'Umbrella' in the last sync's records")
    ):
        explain_account(store, CONFIG, "Umbrella")


def test_before_any_sync_nothing_is_found(store: StateStore) -> None:
    with pytest.raises(ConfigError, match="run `healthsync sync` first"):
        explain_account(store, CONFIG, "001")


def test_only_the_last_syncs_accounts_are_found(store: StateStore) -> None:
    record(store, DAY - timedelta(days=7), EVERYONE)
    record(store, DAY, {"001": 65.0})
    with pytest.raises(ConfigError, match="no account matching 'Initech'"):
        explain_account(store, CONFIG, "Initech")


def test_the_name_of_the_last_sync_is_used(store: StateStore) -> None:
    record(store, DAY - timedelta(days=7), {"001": 60.0}, names={"001": "Acme"})
    record(store, DAY, {"001": 65.0}, names={"001": "Acme Holdings"})
    assert explain_account(store, CONFIG, "holdings").snapshot.name == "Acme Holdings"
    with pytest.raises(ConfigError, match="no account matching"):
        explain_account(store, CONFIG, "Labs")


def test_an_account_without_a_recorded_score_is_refused(store: StateStore) -> None:
    run_id = store.start_run("test", dry_run=False)
    store.record_snapshots(run_id, DAY, [AccountSnapshot(account="009", name="Umbrella")])
    with pytest.raises(ConfigError, match=re.escape("account Umbrella (009) has no recorded score yet")):
        explain_account(store, CONFIG, "009")


# --- what is explained ---------------------------------------------------------------------------


def test_the_latest_health_is_explained_with_its_contributions(store: StateStore) -> None:
    record(store, DAY - timedelta(days=7), {"001": 50.0})
    run_id = record(store, DAY, {"001": 65.0})
    h = explain_account(store, CONFIG, "001").health
    assert (h.day, h.score, h.band, h.computed_band, h.run_id) == (
        DAY,
        65.0,
        Band.YELLOW,
        Band.YELLOW,
        run_id,
    )
    assert h.contributions == (
        {
            "rule_id": "login_high",
            "signal": "login_days_30d",
            "points": 30,
            "reason": "Logged in on 20 of the last 30 days",
            "value": 20,
        },
    )
    assert (h.missing, h.coverage, h.rules_version) == (("last_nps",), 0.8, "builtin-1")


def test_the_trend_compares_with_the_entry_7_days_before(store: StateStore) -> None:
    record(store, DAY - timedelta(days=8), {"001": 10.0})
    record(store, DAY - timedelta(days=7), {"001": 50.0})
    record(store, DAY - timedelta(days=3), {"001": 90.0})
    record(store, DAY, {"001": 65.0})
    assert explain_account(store, CONFIG, "001").trend == Trend(
        15.0, Direction.UP, 50.0, DAY - timedelta(days=7), 7
    )


def test_the_trend_falls_back_within_the_tolerance(store: StateStore) -> None:
    record(store, DAY - timedelta(days=10), {"001": 66.0})
    record(store, DAY, {"001": 65.0})
    assert explain_account(store, CONFIG, "001").trend == Trend(
        -1.0, Direction.FLAT, 66.0, DAY - timedelta(days=10), 7
    )


def test_without_an_entry_7_to_10_days_before_the_trend_is_unknown(store: StateStore) -> None:
    record(store, DAY - timedelta(days=11), {"001": 10.0})
    record(store, DAY - timedelta(days=6), {"001": 10.0})
    record(store, DAY, {"001": 65.0})
    assert explain_account(store, CONFIG, "001").trend == Trend(None, None, None, None, 7)


@pytest.mark.parametrize(
    ("days", "stage"),
    [(121, None), (120, RenewalStage.PREPARATION), (90, RenewalStage.INITIATION), (45, RenewalStage.NEGOTIATION),
     (30, RenewalStage.APPROVAL), (0, RenewalStage.APPROVAL), (-1, None)],
)  # fmt: skip
def test_the_stage_comes_from_the_contract_end(
    store: StateStore, days: int, stage: RenewalStage | None
) -> None:
    record(store, DAY, {"001": 65.0}, contract_end=DAY + timedelta(days=days))
    explanation = explain_account(store, CONFIG, "001")
    assert (explanation.stage, explanation.days_to_renewal) == (stage, days)


def test_without_a_contract_end_there_is_no_stage(store: StateStore) -> None:
    record(store, DAY, {"001": 65.0})
    explanation = explain_account(store, CONFIG, "001")
    assert (explanation.stage, explanation.days_to_renewal) == (None, None)


def test_the_accounts_tasks_are_listed_from_the_outbox_newest_first(store: StateStore, clock: Clock) -> None:
    run_id = record(store, DAY, EVERYONE)
    store.outbox_put(
        "001:risk.detractor:2026-03", "task", "001", {"subject": "Detractor", "due": "2026-04-01"}, run_id
    )
    clock.now += timedelta(minutes=1)
    store.outbox_put(
        "001:risk.band_red:2026-03-31", "task", "001", {"subject": "Red", "priority": "high"}, run_id
    )
    store.outbox_put("renewal:001:2026-05-15", "deal", "001", {"stage": "Negotiation"}, run_id)
    store.outbox_put("002:risk.band_red:2026-03-31", "task", "002", {"subject": "Not Acme's"}, run_id)
    store.outbox_mark("001:risk.detractor:2026-03", OutboxStatus.SENT, crm_id="task-9")

    tasks = explain_account(store, CONFIG, "001").tasks
    assert [(t.key, t.status, t.crm_id) for t in tasks] == [
        ("001:risk.band_red:2026-03-31", OutboxStatus.PENDING, None),
        ("001:risk.detractor:2026-03", OutboxStatus.SENT, "task-9"),
    ]


def test_an_account_without_tasks_lists_none(store: StateStore) -> None:
    record(store, DAY, EVERYONE)
    assert explain_account(store, CONFIG, "004").tasks == ()


def test_the_json_form(store: StateStore) -> None:
    record(store, DAY - timedelta(days=7), {"001": 50.0})
    record(store, DAY, {"001": 65.0}, contract_end=date(2026, 5, 15))
    store.outbox_put(
        "001:risk.band_red:2026-03-31",
        "task",
        "001",
        {"subject": "Red", "due": "2026-04-01", "priority": "high"},
    )
    assert explain_account(store, CONFIG, "Acme").to_json() == {
        "account": "001",
        "name": "Acme",
        "as_of": "2026-03-31",
        "score": 65.0,
        "band": "yellow",
        "computed_band": "yellow",
        "contributions": [
            {
                "rule_id": "login_high",
                "signal": "login_days_30d",
                "points": 30,
                "reason": "Logged in on 20 of the last 30 days",
                "value": 20,
            }
        ],
        "missing": ["last_nps"],
        "coverage": 0.8,
        "rules_version": "builtin-1",
        "trend": {"delta": 15.0, "direction": "up", "previous_score": 50.0, "previous_day": "2026-03-24"},
        "renewal": {
            "stage": "Negotiation",
            "contract_end": "2026-05-15",
            "days_to_renewal": 45,
            "arr": 12000.0,
        },
        "owner_id": "owner-1",
        "tasks": [
            {
                "key": "001:risk.band_red:2026-03-31",
                "subject": "Red",
                "due": "2026-04-01",
                "priority": "high",
                "status": "pending",
                "crm_id": None,
            }
        ],
    }
