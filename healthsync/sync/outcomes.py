"""How contracts ended, read from the renewal deals people close in the CRM (the report's history).

healthsync opens one renewal deal per contract end (`plan.deal_key`); a person closes it won when
the customer renews, or lost with a reason when it leaves. Each run looks up the deals of contracts
that are up for renewal or recently were, and records each newly closed one as an outcome. The
verdict of a contract's *current* end also sets the account's renewal stage (Renewed / Churned).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import date, datetime, timedelta

from healthsync.connectors.base import CrmDeal
from healthsync.model import Account, ContractOutcome, RenewalStage
from healthsync.scoring.renewal import DEFAULT_RENEWAL_WINDOWS
from healthsync.sync.state_records import OutcomeRecord

__all__ = [
    "LOOKBACK_DAYS",
    "apply_outcomes",
    "deal_key",
    "deal_keys_to_check",
    "outcomes_from_deals",
    "parse_deal_key",
]

LOOKBACK_DAYS = 120
"""How long after a contract end (or after the CRM moved an account to a new term) its deal is
still looked up: people close renewals late, but not months late."""

_HORIZON = max(upper for _, _, upper in DEFAULT_RENEWAL_WINDOWS.windows)


def deal_key(account: str, contract_end: date) -> str:
    """The renewal deal's external id: one deal per account and contract end."""
    return f"renewal:{account}:{contract_end.isoformat()}"


def parse_deal_key(key: str) -> tuple[str, date] | None:
    """(account, contract end) of a key made by `deal_key`; None for anything else."""
    prefix, _, rest = key.partition(":")
    account, _, end = rest.rpartition(":")
    if prefix != "renewal" or not account:
        return None
    try:
        return account, date.fromisoformat(end)
    except ValueError:
        return None


def deal_keys_to_check(
    accounts: Iterable[Account],
    recent_ends: Iterable[tuple[str, date]],
    decided: Iterable[tuple[str, date]],
    day: date,
) -> list[str]:
    """The renewal deals this run reads: contracts ending within the renewal horizon (the planner
    needs their stage) and undecided contracts that ended, or were replaced, in the last
    `LOOKBACK_DAYS` (a person may have closed their deal since the last run)."""
    done = set(decided)
    keys: set[str] = set()
    for account in accounts:
        end = account.contract_end
        if account.deleted or end is None:
            continue
        if -LOOKBACK_DAYS <= (end - day).days <= _HORIZON:
            keys.add(deal_key(account.crm_id, end))
    oldest = day - timedelta(days=LOOKBACK_DAYS)
    for account_id, end in recent_ends:
        if (account_id, end) not in done and oldest <= end <= day + timedelta(days=_HORIZON):
            keys.add(deal_key(account_id, end))
    return sorted(k for k in keys if parse_deal_key(k) not in done)


def outcomes_from_deals(
    deals: Mapping[str, CrmDeal],
    accounts: Mapping[str, Account],
    *,
    day: date,
    now: datetime,
) -> list[OutcomeRecord]:
    """One outcome per closed renewal deal whose stage is the mapping's Renewed or Churned stage.

    A deal a person closed in a stage of their own says nothing healthsync can read, so it is left
    out. A renewal's new contract end is the account's current end when the CRM already moved it.
    """
    out: list[OutcomeRecord] = []
    for key, deal in deals.items():
        parsed = parse_deal_key(key)
        if parsed is None or deal.deleted or not deal.is_closed:
            continue
        if deal.stage not in (RenewalStage.RENEWED, RenewalStage.CHURNED):
            continue
        account_id, end = parsed
        account = accounts.get(account_id)
        won = deal.stage is RenewalStage.RENEWED
        new_end = account.contract_end if account is not None else None
        out.append(
            OutcomeRecord(
                account=account_id,
                contract_end=end,
                outcome=ContractOutcome.RENEWED if won else ContractOutcome.CHURNED,
                reason=None if won else deal.loss_reason,
                new_contract_end=new_end if won and new_end is not None and new_end > end else None,
                arr=deal.amount if won else (account.arr if account is not None else deal.amount),
                recorded_at=now,
                decided_on=deal.close_date if deal.close_date is not None and deal.close_date <= day else day,
                deal_key=key,
            )
        )
    return out


def apply_outcomes(
    accounts: Sequence[Account], outcomes: Iterable[OutcomeRecord], day: date
) -> list[Account]:
    """The accounts with `contract_outcome` set where a verdict on their current contract end was
    decided by `day` (a backfill before the verdict still sees the contract open)."""
    verdicts = {
        (o.account, o.contract_end): o.outcome
        for o in outcomes
        if o.decided_on is None or o.decided_on <= day
    }
    out: list[Account] = []
    for account in accounts:
        verdict = verdicts.get((account.crm_id, account.contract_end)) if account.contract_end else None
        out.append(
            replace(account, contract_outcome=verdict) if verdict is not account.contract_outcome else account
        )
    return out
