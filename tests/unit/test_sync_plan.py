"""The plan: field writes only for real differences, one task per new signal key, renewal deals that
only move forward, and the exact number of write calls each CRM needs.

Live CRM values are built the way the connectors read them: the raw value the CRM holds, read back
through the mapping's transforms (`from_crm`), so enum maps and float rounding are exercised.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from healthsync.connectors.base import CrmDeal
from healthsync.mappings import FieldMapping, load_mapping
from healthsync.mappings.transforms import from_crm
from healthsync.model import (
    Account,
    Band,
    Contribution,
    DealUpsert,
    Direction,
    Features,
    FieldWrite,
    HealthResult,
    Override,
    Plan,
    RenewalStage,
    Signal,
    SignalKind,
    TaskPriority,
    TaskUpsert,
    Trend,
)
from healthsync.sync.plan import (
    BATCH_LIMITS,
    REASONS_MAX_CHARS,
    Assessment,
    CallEstimate,
    Planner,
    PlanPart,
    PlanView,
    build_plan,
    deal_key,
    desired_outputs,
    estimate_calls,
    estimate_counts,
    group_updates,
    reasons_text,
)

AS_OF = date(2026, 3, 31)
NOW = datetime(2026, 3, 31, 6, 0, tzinfo=UTC)
NOW_WIRE = "2026-03-31T06:00:00Z"
END = date(2026, 5, 15)  # 45 days after AS_OF: Negotiation
KEY = deal_key("001", END)

HUBSPOT = load_mapping("hubspot")
SALESFORCE = load_mapping("salesforce")

CONTRIBUTIONS = (
    Contribution(
        "login_high", "login_days_30d", 30, "Logged in on 20 of the last 30 days (more than 15)", 20
    ),
    Contribution("nps_promoter", "last_nps", 20, "Last NPS answer was 9: a promoter (9-10)", 9),
    Contribution("no_critical_tickets", "open_critical_tickets", 15, "No open critical tickets", 0),
    Contribution(
        "critical_ticket_stale", "oldest_critical_ticket_age_days", -20, "A critical ticket...", 9.5
    ),
)


TREND = Trend(3.04, Direction.UP, 69.42, AS_OF - timedelta(days=7))


def result(
    score: float = 72.46,
    band: Band = Band.GREEN,
    *,
    computed_band: Band | None = None,
    contributions: tuple[Contribution, ...] = CONTRIBUTIONS[:2],
    missing: tuple[str, ...] = ("payments_on_time_6m",),
    trend: Trend | None = TREND,
    override: Override | None = None,
) -> HealthResult:
    return HealthResult(
        account="001",
        score=score,
        band=band,
        computed_band=computed_band or band,
        contributions=contributions,
        missing=missing,
        coverage=0.8,
        rules_version="builtin-1",
        computed_at=AS_OF,
        override=override,
        trend=trend,
    )


def account(**values: Any) -> Account:
    fields: dict[str, Any] = {
        "crm_id": "001",
        "name": "Acme",
        "owner_id": "owner-1",
        "arr": 12000.0,
        "contract_end": END,
    }
    fields.update(values)
    return Account(**fields)


def assessment(
    acct: Account | None = None,
    health: HealthResult | None = None,
    *,
    stage: RenewalStage | None = RenewalStage.NEGOTIATION,
    signals: tuple[Signal, ...] = (),
    days_to_end: int | None = 45,
) -> Assessment:
    acct = acct or account()
    features = Features(account=acct.crm_id, days_to_contract_end=days_to_end, contract_end=acct.contract_end)
    return Assessment(acct, acct.crm_id, features, health or result(), stage, signals)


def read_back(mapping: FieldMapping, raw: Mapping[str, Any]) -> dict[str, Any]:
    """What a connector reads as live outputs: each mapped field's raw CRM value through `from_crm`."""
    return {
        name: from_crm(mapping.transform(name), raw.get(crm_field), mapping.enums)
        for name, crm_field in mapping.account.outputs.items()
        if crm_field
    }


REASONS = (
    "+30 Logged in on 20 of the last 30 days (more than 15); "
    "+20 Last NPS answer was 9: a promoter (9-10); no data: payments_on_time_6m"
)
HUBSPOT_RAW: dict[str, Any] = {  # HubSpot hands every property back as a string
    "healthsync_score": "72.5",
    "healthsync_band": "green",
    "healthsync_trend": "3",
    "healthsync_trend_direction": "up",
    "healthsync_reasons": REASONS,
    "healthsync_renewal_stage": "negotiation",
    "healthsync_days_to_renewal": "45",
    "healthsync_last_synced": "1772000000000",  # epoch ms, weeks ago
}
SALESFORCE_RAW: dict[str, Any] = {  # Salesforce numbers arrive as floats, picklists by label
    "Health_Score__c": 72.5,
    "Health_Band__c": "Green",
    "Health_Trend__c": 3.0,
    "Health_Trend_Direction__c": "Up",
    "Health_Reasons__c": REASONS,
    "Renewal_Stage__c": "Negotiation",
    "Days_To_Renewal__c": 45.0,
    "Health_Last_Synced__c": "2026-03-01T06:00:00.000+0000",
}
RAW = {"hubspot": HUBSPOT_RAW, "salesforce": SALESFORCE_RAW}
MAPPINGS = {"hubspot": HUBSPOT, "salesforce": SALESFORCE}


def plan(
    *assessments: Assessment,
    mapping: FieldMapping = HUBSPOT,
    known_tasks: Mapping[str, Any] | None = None,
    live_deals: Mapping[str, CrmDeal] | None = None,
) -> Plan:
    return build_plan(
        assessments,
        mapping,
        as_of=AS_OF,
        now=NOW,
        known_tasks=known_tasks or {},
        live_deals=live_deals or {},
    )


def synced(crm: str, **raw_changes: Any) -> Assessment:
    """The default assessment of an account whose CRM already holds its values (but `raw_changes`)."""
    mapping = MAPPINGS[crm]
    live = read_back(mapping, {**RAW[crm], **raw_changes})
    return assessment(account(live_outputs=live))


# --- desired outputs and reasons -----------------------------------------------------------------


def test_desired_outputs_are_rounded_canonical_values() -> None:
    assert desired_outputs(assessment(), NOW) == {
        "score": 72.5,
        "band": "green",
        "trend": 3.0,
        "trend_direction": "up",
        "reasons": REASONS,
        "renewal_stage": "Negotiation",
        "days_to_renewal": 45,
        "last_synced": NOW,
    }


def test_desired_outputs_without_trend_or_stage_are_none() -> None:
    desired = desired_outputs(assessment(health=result(trend=None), stage=None, days_to_end=None), NOW)
    unset = ("trend", "trend_direction", "renewal_stage", "days_to_renewal")
    assert {name: desired[name] for name in unset} == dict.fromkeys(unset)


def test_reasons_put_the_biggest_effect_first_and_keep_three() -> None:
    text = reasons_text(result(contributions=CONTRIBUTIONS, missing=()))
    # 30, then the two 20s (a tie broken by rule id: critical_ticket_stale < nps_promoter); 15 is cut
    assert text == (
        "+30 Logged in on 20 of the last 30 days (more than 15); −20 A critical ticket...; "
        "+20 Last NPS answer was 9: a promoter (9-10)"
    )


def test_reasons_leave_out_rules_that_moved_nothing() -> None:
    zero = Contribution("login_low", "login_days_30d", 0, "Logged in on only 3 of the last 30 days", 3)
    text = reasons_text(result(contributions=(zero, CONTRIBUTIONS[2]), missing=()))
    assert text == "+15 No open critical tickets"


def test_reasons_show_fractional_points() -> None:
    weighted = (
        Contribution("a", "s", 7.5, "weighted up"),
        Contribution("b", "s", -0.5, "weighted down"),
    )
    assert reasons_text(result(contributions=weighted, missing=())) == "+7.5 weighted up; −0.5 weighted down"


def test_reasons_list_missing_signals_sorted_after_the_rules() -> None:
    text = reasons_text(result(contributions=CONTRIBUTIONS[2:3], missing=("last_nps", "active_user_ratio")))
    assert text == "+15 No open critical tickets; no data: active_user_ratio, last_nps"


def test_an_override_that_changes_the_band_comes_first() -> None:
    override = Override(Band.RED, "dana", date(2026, 4, 30))
    health = result(
        band=Band.RED,
        computed_band=Band.GREEN,
        contributions=CONTRIBUTIONS[:1],
        override=override,
        missing=(),
    )
    assert reasons_text(health) == (
        "red set by dana until 2026-04-30; +30 Logged in on 20 of the last 30 days (more than 15)"
    )


def test_an_override_that_agrees_with_the_computed_band_is_not_listed() -> None:
    override = Override(Band.GREEN, "dana", date(2026, 4, 30))
    health = result(contributions=CONTRIBUTIONS[:1], override=override, missing=())
    assert reasons_text(health) == "+30 Logged in on 20 of the last 30 days (more than 15)"


def test_no_reasons_is_an_empty_text() -> None:
    assert reasons_text(result(contributions=(), missing=())) == ""


def test_reasons_of_exactly_255_characters_are_kept_whole() -> None:
    reason = "x" * (REASONS_MAX_CHARS - len("+30 "))
    text = reasons_text(result(contributions=(Contribution("a", "s", 30, reason),), missing=()))
    assert text == "+30 " + reason
    assert len(text) == 255


def test_longer_reasons_are_cut_at_255_characters_with_an_ellipsis() -> None:
    reason = "y" * 300
    text = reasons_text(result(contributions=(Contribution("a", "s", 30, reason),), missing=()))
    assert len(text) == 255
    assert text == ("+30 " + reason)[:254] + "…"


# --- field writes --------------------------------------------------------------------------------


@pytest.mark.parametrize("crm", ["hubspot", "salesforce"])
def test_an_unchanged_account_gets_no_field_write(crm: str) -> None:
    assert plan(synced(crm), mapping=MAPPINGS[crm]).field_writes == ()


@pytest.mark.parametrize("crm", ["hubspot", "salesforce"])
def test_last_synced_alone_never_causes_a_write(crm: str) -> None:
    stale = {MAPPINGS[crm].account.outputs["last_synced"]: None}
    assert plan(synced(crm, **stale), mapping=MAPPINGS[crm]).field_writes == ()


@pytest.mark.parametrize(("crm", "live_score"), [("hubspot", "72.50"), ("salesforce", 72.5000000001)])
def test_scores_compare_after_rounding(crm: str, live_score: Any) -> None:
    field = MAPPINGS[crm].account.outputs["score"]
    assert plan(synced(crm, **{field: live_score}), mapping=MAPPINGS[crm]).field_writes == ()


def test_an_enum_read_back_in_another_case_is_unchanged() -> None:
    unchanged = synced("hubspot", healthsync_band="Green", healthsync_renewal_stage="NEGOTIATION")
    assert plan(unchanged).field_writes == ()


def test_one_changed_output_writes_it_and_stamps_last_synced_on_hubspot() -> None:
    changed = synced("hubspot", healthsync_band="yellow")
    assert plan(changed).field_writes == (
        FieldWrite("companies", "001", "healthsync_band", "yellow", "green", "band: 'yellow' → 'green'"),
        FieldWrite(
            "companies",
            "001",
            "healthsync_last_synced",
            datetime(2026, 2, 25, 6, 13, 20, tzinfo=UTC),
            NOW_WIRE,
            "last_synced: stamped with the values above",
        ),
    )


def test_one_changed_output_writes_it_and_stamps_last_synced_on_salesforce() -> None:
    changed = synced("salesforce", Health_Trend_Direction__c="Down")
    assert plan(changed, mapping=SALESFORCE).field_writes == (
        FieldWrite(
            "Account", "001", "Health_Trend_Direction__c", "down", "Up", "trend_direction: 'down' → 'up'"
        ),
        FieldWrite(
            "Account",
            "001",
            "Health_Last_Synced__c",
            datetime(2026, 3, 1, 6, 0, tzinfo=UTC),
            NOW_WIRE,
            "last_synced: stamped with the values above",
        ),
    )


def test_a_score_that_rounds_differently_is_written_as_a_number() -> None:
    changed = assessment(account(live_outputs=read_back(HUBSPOT, HUBSPOT_RAW)), result(score=72.44))
    writes = plan(changed).field_writes
    assert [(w.field, w.old, w.new) for w in writes] == [
        ("healthsync_score", 72.5, 72.4),
        ("healthsync_last_synced", datetime(2026, 2, 25, 6, 13, 20, tzinfo=UTC), NOW_WIRE),
    ]


def test_a_first_sync_writes_every_output_then_last_synced() -> None:
    writes = plan(assessment()).field_writes
    assert [(w.field, w.old, w.new) for w in writes] == [
        ("healthsync_score", None, 72.5),
        ("healthsync_band", None, "green"),
        ("healthsync_trend", None, 3.0),
        ("healthsync_trend_direction", None, "up"),
        ("healthsync_reasons", None, REASONS),
        ("healthsync_renewal_stage", None, "negotiation"),
        ("healthsync_days_to_renewal", None, 45),
        ("healthsync_last_synced", None, NOW_WIRE),
    ]


def test_a_value_that_went_away_is_cleared() -> None:
    gone = assessment(account(live_outputs=read_back(HUBSPOT, HUBSPOT_RAW)), stage=None, days_to_end=None)
    writes = plan(gone).field_writes
    assert [(w.field, w.old, w.new) for w in writes] == [
        ("healthsync_renewal_stage", "Negotiation", None),
        ("healthsync_days_to_renewal", 45, None),
        ("healthsync_last_synced", datetime(2026, 2, 25, 6, 13, 20, tzinfo=UTC), NOW_WIRE),
    ]


def turned_off(tmp_path: Path, *outputs: str) -> FieldMapping:
    lines = "\n".join(f'{name} = ""' for name in outputs)
    path = tmp_path / "mapping.toml"
    path.write_text(f"[account.outputs]\n{lines}\n", encoding="utf-8")
    return load_mapping("hubspot", path)


def test_turned_off_outputs_are_not_written(tmp_path: Path) -> None:
    mapping = turned_off(tmp_path, "reasons", "trend")
    writes = plan(assessment(), mapping=mapping).field_writes
    assert [w.field for w in writes] == [
        "healthsync_score",
        "healthsync_band",
        "healthsync_trend_direction",
        "healthsync_renewal_stage",
        "healthsync_days_to_renewal",
        "healthsync_last_synced",
    ]


def test_a_turned_off_last_synced_is_not_stamped(tmp_path: Path) -> None:
    mapping = turned_off(tmp_path, "last_synced")
    live = read_back(mapping, {**HUBSPOT_RAW, "healthsync_band": "red"})
    writes = plan(assessment(account(live_outputs=live)), mapping=mapping).field_writes
    assert writes == (
        FieldWrite("companies", "001", "healthsync_band", "red", "green", "band: 'red' → 'green'"),
    )


def test_group_updates_collects_each_records_fields_in_first_seen_order() -> None:
    writes = [
        FieldWrite("Account", "1", "A__c", None, 1, ""),
        FieldWrite("Account", "2", "B__c", None, 2, ""),
        FieldWrite("Account", "1", "C__c", None, 3, ""),
        FieldWrite("Task", "1", "D__c", None, 4, ""),
    ]
    assert group_updates(writes) == [
        ("Account", "1", {"A__c": 1, "C__c": 3}),
        ("Account", "2", {"B__c": 2}),
        ("Task", "1", {"D__c": 4}),
    ]


# --- tasks ---------------------------------------------------------------------------------------


def signal(code: str = "risk.band_red", due_in_days: int = 1, account_id: str = "001") -> Signal:
    return Signal(
        kind=SignalKind.RISK,
        code=code,
        account=account_id,
        key=f"{account_id}:{code}:2026-03-31",
        subject=f"Subject of {code}",
        reason=f"Why {code} fired.",
        due_in_days=due_in_days,
        priority=TaskPriority.HIGH,
    )


def test_a_new_signal_becomes_a_task_for_the_owner() -> None:
    (task,) = plan(assessment(signals=(signal(),))).task_upserts
    assert task == TaskUpsert(
        key="001:risk.band_red:2026-03-31",
        account_id="001",
        subject="Subject of risk.band_red",
        body=(
            "Why risk.band_red fired.\n"
            "\n"
            "Health score 72.5 (green), +3 over 7 days\n"
            f"Why: {REASONS}\n"
            "Created by healthsync (key 001:risk.band_red:2026-03-31)."
        ),
        due=date(2026, 4, 1),
        owner_id="owner-1",
        priority=TaskPriority.HIGH,
        reason="risk.band_red",
    )


def test_a_task_body_without_trend_or_reasons_keeps_the_reason_and_the_key() -> None:
    bare = result(trend=None, contributions=(), missing=())
    (task,) = plan(assessment(health=bare, signals=(signal(),))).task_upserts
    assert task.body == (
        "Why risk.band_red fired.\n\nHealth score 72.5 (green)\nCreated by healthsync (key 001:risk.band_red:2026-03-31)."
    )


@pytest.mark.parametrize(
    ("days", "due"), [(0, date(2026, 3, 31)), (1, date(2026, 4, 1)), (14, date(2026, 4, 14))]
)
def test_a_task_is_due_as_of_plus_the_signals_days(days: int, due: date) -> None:
    (task,) = plan(assessment(signals=(signal(due_in_days=days),))).task_upserts
    assert task.due == due


def test_a_signal_whose_key_has_a_task_yields_none() -> None:
    signals = (signal("risk.band_red"), signal("risk.detractor"))
    tasks = plan(
        assessment(signals=signals), known_tasks={"001:risk.band_red:2026-03-31": object()}
    ).task_upserts
    assert [t.key for t in tasks] == ["001:risk.detractor:2026-03-31"]


def test_one_key_signalled_twice_is_one_task() -> None:
    tasks = plan(assessment(signals=(signal(),)), assessment(signals=(signal(),))).task_upserts
    assert [t.key for t in tasks] == ["001:risk.band_red:2026-03-31"]


# --- renewal deals -------------------------------------------------------------------------------


def live_deal(
    stage: RenewalStage | None = RenewalStage.NEGOTIATION,
    *,
    amount: float | None = 12000.0,
    close_date: date | None = END,
    is_closed: bool = False,
    deleted: bool = False,
) -> dict[str, CrmDeal]:
    name = stage.value if stage is not None else "Stalled"
    return {KEY: CrmDeal(KEY, "deal-1", name, stage, is_closed, close_date, amount, "001", deleted)}


def deals(
    acct: Account | None = None,
    *,
    stage: RenewalStage | None = RenewalStage.NEGOTIATION,
    live: Mapping[str, CrmDeal] | None = None,
    mapping: FieldMapping = HUBSPOT,
) -> tuple[DealUpsert, ...]:
    return plan(assessment(acct, stage=stage), mapping=mapping, live_deals=live).deal_upserts


def deal(stage: RenewalStage = RenewalStage.NEGOTIATION, **values: Any) -> DealUpsert:
    fields: dict[str, Any] = {
        "key": KEY,
        "account_id": "001",
        "name": "Acme renewal 2026-05-15",
        "pipeline": "Renewals",
        "stage": stage,
        "amount": 12000.0,
        "close_date": END,
        "owner_id": "owner-1",
        "reason": f"contract ends 2026-05-15: {stage.value}",
    }
    fields.update(values)
    return DealUpsert(**fields)


def test_the_deal_key_is_the_account_and_the_contract_end() -> None:
    assert deal_key("001", END) == "renewal:001:2026-05-15"


@pytest.mark.parametrize("stage", list(RenewalStage)[:4])
def test_an_open_stage_without_a_deal_creates_one(stage: RenewalStage) -> None:
    assert deals(stage=stage) == (deal(stage),)


@pytest.mark.parametrize("mapping", [HUBSPOT, SALESFORCE], ids=["hubspot", "salesforce"])
def test_deals_go_to_the_renewals_pipeline(mapping: FieldMapping) -> None:
    assert deals(mapping=mapping) == (deal(),)


def test_the_amount_is_the_arr_to_the_cent() -> None:
    assert deals(account(arr=12000.456)) == (deal(amount=12000.46),)


@pytest.mark.parametrize("stage", [RenewalStage.RENEWED, RenewalStage.CHURNED, None])
def test_no_deal_outside_the_open_stages(stage: RenewalStage | None) -> None:
    assert deals(stage=stage) == ()


def test_no_deal_without_a_contract_end() -> None:
    assert deals(account(contract_end=None)) == ()


def test_a_live_deal_a_person_closed_is_left_alone() -> None:
    closed = live_deal(RenewalStage.RENEWED, is_closed=True, amount=9000.0)
    assert deals(live=closed) == ()


def test_a_live_deal_in_a_stage_of_its_own_is_left_alone() -> None:
    assert deals(live=live_deal(None, amount=1.0)) == ()


def test_a_live_deal_with_the_same_stage_amount_and_close_date_is_not_written() -> None:
    assert deals(live=live_deal()) == ()


def test_a_live_deal_in_an_earlier_stage_moves_forward() -> None:
    earlier = live_deal(RenewalStage.INITIATION)
    assert deals(live=earlier) == (deal(reason="contract ends 2026-05-15: Initiation → Negotiation"),)


def test_a_live_deal_in_a_later_stage_is_never_moved_back() -> None:
    assert deals(live=live_deal(RenewalStage.APPROVAL)) == ()


def test_a_live_deal_in_a_later_stage_keeps_it_when_the_amount_changes() -> None:
    later = live_deal(RenewalStage.APPROVAL, amount=10000.0)
    assert deals(live=later) == (
        deal(RenewalStage.APPROVAL, reason="contract ends 2026-05-15: amount or close date changed"),
    )


def test_a_live_deal_in_a_later_stage_keeps_it_when_the_close_date_changes() -> None:
    later = live_deal(RenewalStage.APPROVAL, close_date=date(2026, 5, 1))
    assert deals(live=later) == (
        deal(RenewalStage.APPROVAL, reason="contract ends 2026-05-15: amount or close date changed"),
    )


def test_a_live_deal_without_an_amount_gets_the_arr() -> None:
    assert deals(live=live_deal(amount=None)) == (
        deal(reason="contract ends 2026-05-15: amount or close date changed"),
    )


def test_an_account_without_arr_never_blanks_the_deal_amount() -> None:
    assert deals(account(arr=None), live=live_deal(amount=5000.0)) == ()


def test_a_deleted_live_deal_is_made_again() -> None:
    assert deals(live=live_deal(deleted=True)) == (deal(),)


def test_a_deleted_account_is_skipped_entirely() -> None:
    gone = assessment(account(deleted=True), signals=(signal(),))
    assert plan(gone) == Plan()


# --- planning in chunks, and the plan a run keeps -------------------------------------------------


def portfolio(crm: str) -> list[Assessment]:
    """Accounts in every state a plan distinguishes: in sync, partly and wholly out of sync, with
    signals, with and without a renewal, deleted."""
    mapping = MAPPINGS[crm]
    out = []
    for n in range(12):
        crm_id = f"{n:03d}"
        live = read_back(mapping, RAW[crm]) if n % 3 == 0 else {}
        if n % 3 == 1:
            live = read_back(mapping, {**RAW[crm], **{next(iter(RAW[crm])): 10.0}})
        acct = account(crm_id=crm_id, name=f"Acct {n}", live_outputs=live, deleted=n == 11)
        signals = tuple(
            signal(code, account_id=crm_id) for code in ("risk.band_red", "risk.detractor")[: n % 3]
        )
        stage = RenewalStage.NEGOTIATION if n % 2 else None
        out.append(assessment(acct, stage=stage, signals=signals))
    return out


@pytest.mark.parametrize("crm", ["hubspot", "salesforce"])
@pytest.mark.parametrize("size", [1, 5, 12])
def test_a_plan_made_chunk_by_chunk_is_the_plan_made_at_once(crm: str, size: int) -> None:
    everyone = portfolio(crm)
    known = {"002:risk.band_red:2026-03-31": object()}
    whole = build_plan(everyone, MAPPINGS[crm], as_of=AS_OF, now=NOW, known_tasks=known, live_deals={})
    assert whole.field_writes
    assert whole.task_upserts
    assert whole.deal_upserts
    planner = Planner(MAPPINGS[crm], as_of=AS_OF, now=NOW, live_deals={})
    kept = PlanView(planner)
    for at in range(0, len(everyone), size):
        kept.add(planner.plan(everyone[at : at + size], known))
    assert kept.to_plan() == whole
    assert not kept.is_empty
    assert kept.size == len({w.record_id for w in whole.field_writes}) + len(whole.task_upserts) + len(
        whole.deal_upserts
    )


def test_a_kept_plan_makes_its_field_writes_when_read() -> None:
    everyone = portfolio("salesforce")
    whole = build_plan(everyone, SALESFORCE, as_of=AS_OF, now=NOW, known_tasks={}, live_deals={})
    planner = Planner(SALESFORCE, as_of=AS_OF, now=NOW, live_deals={})
    kept = PlanView(planner)
    kept.add(planner.plan(everyone, {}))
    writes = kept.field_writes
    assert len(writes) == len(whole.field_writes)
    assert list(writes) == list(whole.field_writes)
    assert [writes[i] for i in range(len(writes))] == list(whole.field_writes)
    assert writes[-1] == whole.field_writes[-1]
    assert writes[:5] == whole.field_writes[:5]
    assert writes[3:9:2] == whole.field_writes[3:9:2]
    assert "\u2192" in writes[0].reason
    with pytest.raises(IndexError):
        writes[len(writes)]


def test_a_kept_plan_starts_empty_and_holds_tasks_without_a_planner() -> None:
    empty = PlanView()
    assert empty.is_empty
    assert empty.size == 0
    assert (list(empty.field_writes), empty.task_upserts, empty.deal_upserts) == ([], (), ())
    resend = TaskUpsert("k", "001", "s", "b", AS_OF, None, TaskPriority.LOW, "r")
    empty.add(PlanPart(tasks=[resend]))
    assert empty.task_upserts == (resend,)
    assert not empty.is_empty


# --- API-call estimate ---------------------------------------------------------------------------


def writes(records: int, fields_each: int = 1) -> tuple[FieldWrite, ...]:
    return tuple(
        FieldWrite("companies", str(r), f"f{f}", None, 1, "")
        for r in range(records)
        for f in range(fields_each)
    )


def tasks(count: int) -> tuple[TaskUpsert, ...]:
    return tuple(
        TaskUpsert(f"t{i}", "001", "s", "b", AS_OF, None, TaskPriority.LOW, "r") for i in range(count)
    )


def renewals(count: int) -> tuple[DealUpsert, ...]:
    return tuple(deal(key=f"d{i}") for i in range(count))


def test_batch_limits_are_the_vendors() -> None:
    assert BATCH_LIMITS == {
        "salesforce": {"fields": 200, "tasks": 200, "deals": 200},
        "hubspot": {"fields": 100, "tasks": 100, "deals": 100, "deal_link_reads": 1_000, "deal_links": 2_000},
    }


@pytest.mark.parametrize(("crm", "records", "calls"), [
    ("salesforce", 0, 0), ("salesforce", 1, 1), ("salesforce", 200, 1), ("salesforce", 201, 2), ("salesforce", 400, 2), ("salesforce", 401, 3),
    ("hubspot", 1, 1), ("hubspot", 100, 1), ("hubspot", 101, 2), ("hubspot", 200, 2), ("hubspot", 201, 3),
])  # fmt: skip
def test_field_writes_take_one_call_per_batch_of_records(crm: str, records: int, calls: int) -> None:
    assert estimate_calls(Plan(writes(records, fields_each=3)), crm) == CallEstimate(calls, 0, 0, {})


def test_salesforce_needs_no_extra_calls() -> None:
    estimate = estimate_calls(Plan(writes(250), tasks(201), renewals(401)), "salesforce", new_deals=401)
    assert estimate == CallEstimate(2, 2, 3, {})
    assert estimate.total == 7


def test_hubspot_searches_keyed_tasks_and_links_deals() -> None:
    estimate = estimate_calls(Plan(writes(150), tasks(101), renewals(150)), "hubspot", new_deals=30)
    # 120 existing deals: one v4 link read (1,000 a call); 30 new ones: one v4 link create (2,000 pairs).
    assert estimate == CallEstimate(2, 2, 2, {"task search": 1, "deal link reads": 1, "deal links": 1})
    assert estimate.total == 2 + 2 + 2 + 1 + 1 + 1


def test_hubspot_with_only_new_deals_reads_no_links() -> None:
    estimate = estimate_calls(Plan(deal_upserts=renewals(3)), "hubspot", new_deals=3)
    assert estimate == CallEstimate(0, 0, 1, {"deal links": 1})
    assert estimate.total == 2


def test_hubspot_with_only_existing_deals_links_none() -> None:
    estimate = estimate_calls(Plan(deal_upserts=renewals(100)), "hubspot")
    assert estimate == CallEstimate(0, 0, 1, {"deal link reads": 1})


def test_hubspot_tasks_add_one_search_however_many() -> None:
    """The search for keyed tasks the state store does not know of: one page when it knows them all."""
    assert estimate_calls(Plan(task_upserts=tasks(100)), "hubspot") == CallEstimate(
        0, 1, 0, {"task search": 1}
    )
    assert estimate_calls(Plan(task_upserts=tasks(1_000)), "hubspot").extra == {"task search": 1}


@pytest.mark.parametrize("crm", ["salesforce", "hubspot"])
def test_the_estimate_from_counts_is_the_estimate_of_the_plan(crm: str) -> None:
    plan = Plan(writes(250, fields_each=3), tasks(201), renewals(150))
    counted = estimate_counts(crm, records=250, tasks=201, deals=150, new_deals=30)
    assert counted == estimate_calls(plan, crm, new_deals=30)


@pytest.mark.parametrize("crm", ["salesforce", "hubspot"])
def test_an_empty_plan_needs_no_call(crm: str) -> None:
    estimate = estimate_calls(Plan(), crm)
    assert estimate == CallEstimate(0, 0, 0, {})
    assert estimate.total == 0


def test_an_unchanged_account_with_its_deal_in_place_needs_no_call() -> None:
    unchanged = plan(synced("hubspot"), live_deals=live_deal())
    assert unchanged == Plan()
    assert estimate_calls(unchanged, "hubspot").total == 0
