"""How contract verdicts are read from closed renewal deals (sync/outcomes.py)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime

from healthsync.connectors.base import CrmDeal
from healthsync.model import Account, ContractOutcome, RenewalStage
from healthsync.sync.outcomes import (
    apply_outcomes,
    deal_key,
    deal_keys_to_check,
    outcomes_from_deals,
    parse_deal_key,
)
from healthsync.sync.state_records import OutcomeRecord

DAY = date(2026, 11, 24)
NOW = datetime(2026, 11, 24, 9, tzinfo=UTC)


def account(crm_id: str, end: date | None) -> Account:
    return Account(crm_id=crm_id, name=crm_id.title(), contract_end=end)


def deal(key: str, stage: RenewalStage | None, *, closed: bool = True, **kw: object) -> CrmDeal:
    values: dict[str, object] = {
        "key": key,
        "crm_id": "D-" + key,
        "stage_name": stage.value if stage else "Custom",
        "stage": stage,
        "is_closed": closed,
        "close_date": None,
        "amount": None,
        "account_id": None,
    }
    values.update(kw)
    return CrmDeal(**values)  # type: ignore[arg-type]


def test_deal_keys_round_trip_including_ids_with_colons() -> None:
    assert parse_deal_key(deal_key("001:A", date(2027, 1, 31))) == ("001:A", date(2027, 1, 31))
    assert parse_deal_key("renewal:acme:not-a-date") is None
    assert parse_deal_key("task:acme:2027-01-31") is None


def test_keys_to_check_cover_the_horizon_and_undecided_past_contracts() -> None:
    accounts = [
        account("soon", date(2027, 1, 10)),  # 47 days out: in the renewal horizon
        account("far", date(2027, 9, 1)),  # beyond 120 days: no deal yet
        account("lapsed", date(2026, 10, 1)),  # ended 54 days ago, no verdict yet
        account("decided", date(2026, 11, 1)),  # ended, verdict recorded
        account("renewed", date(2027, 11, 20)),  # the CRM moved it to its next term
    ]
    recent = [("renewed", date(2026, 11, 20)), ("renewed", date(2027, 11, 20)), ("old", date(2026, 1, 1))]
    keys = deal_keys_to_check(accounts, recent, [("decided", date(2026, 11, 1))], DAY)
    assert keys == sorted(
        [
            deal_key("soon", date(2027, 1, 10)),
            deal_key("lapsed", date(2026, 10, 1)),
            deal_key("renewed", date(2026, 11, 20)),  # its previous term's deal, closed or not
        ]
    )


def test_closed_deals_become_outcomes_and_others_do_not() -> None:
    won, lost = deal_key("a", date(2026, 11, 20)), deal_key("b", date(2026, 11, 15))
    deals = {
        won: deal(won, RenewalStage.RENEWED, amount=13200.0, close_date=date(2026, 11, 19)),
        lost: deal(lost, RenewalStage.CHURNED, loss_reason="Price", amount=9000.0),
        deal_key("c", date(2027, 1, 1)): deal(
            deal_key("c", date(2027, 1, 1)), RenewalStage.NEGOTIATION, closed=False
        ),
        deal_key("d", date(2026, 11, 2)): deal(
            deal_key("d", date(2026, 11, 2)), None
        ),  # a stage of their own
    }
    accounts = {
        "a": account("a", date(2027, 11, 20)),
        "b": replace(account("b", date(2026, 11, 15)), arr=8000.0),
    }
    out = {o.account: o for o in outcomes_from_deals(deals, accounts, day=DAY, now=NOW)}
    assert set(out) == {"a", "b"}
    assert (
        out["a"].outcome,
        out["a"].arr,
        out["a"].new_contract_end,
        out["a"].decided_on,
        out["a"].reason,
    ) == (
        ContractOutcome.RENEWED,
        13200.0,
        date(2027, 11, 20),
        date(2026, 11, 19),
        None,
    )
    # No close date on the deal: decided the day a sync saw it closed. A loss records the ARR lost:
    # the account's ARR, not the amount on the lost deal.
    assert (out["b"].outcome, out["b"].reason, out["b"].arr, out["b"].decided_on, out["b"].deal_key) == (
        ContractOutcome.CHURNED,
        "Price",
        8000.0,
        DAY,
        lost,
    )


def test_a_verdict_on_the_current_term_sets_the_stage_only_from_its_day() -> None:
    accounts = [account("b", date(2026, 11, 15)), account("a", date(2027, 11, 20))]
    verdicts = [
        OutcomeRecord("b", date(2026, 11, 15), ContractOutcome.CHURNED, "Price", None, None, NOW, DAY),
        OutcomeRecord("a", date(2026, 11, 20), ContractOutcome.RENEWED, None, None, 1.0, NOW, DAY),
    ]
    now = {a.crm_id: a.contract_outcome for a in apply_outcomes(accounts, verdicts, DAY)}
    assert now == {"b": ContractOutcome.CHURNED, "a": None}  # a's verdict was on its previous term
    before = {a.crm_id: a.contract_outcome for a in apply_outcomes(accounts, verdicts, date(2026, 11, 1))}
    assert before == {"b": None, "a": None}  # a backfill before the verdict sees the contract open
