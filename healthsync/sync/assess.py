"""Assess: features, health with trend, renewal stage and signals for every account (DESIGN.md 5).

Pure over its inputs: the engine hands in the pulled records, the links from matching and the
health history, and gets one `Assessment` per account. Keys that connect the sources:

- the account key (history, tasks, deals) is the CRM id, stable for the account's life;
- tickets reach an account through the organizations matched to it;
- usage, NPS answers and invoices carry the usage source's key, which `[usage] account_key` names
  (the CRM id, the customer key, the Zendesk organization id, a domain or the account name).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TypeVar

from healthsync.model import Account, ContractOutcome, Payment, Rating, Ticket
from healthsync.scoring.engine import score
from healthsync.scoring.renewal import renewal_stage
from healthsync.scoring.rules import RuleSet
from healthsync.scoring.signals import SignalThresholds, detect_signals
from healthsync.scoring.trend import TrendSettings, compute_trend
from healthsync.sync.features import UsageSummary, build_features
from healthsync.sync.matching import normalize_domain, normalize_name
from healthsync.sync.plan import Assessment
from healthsync.sync.state_records import HistoryPoint

__all__ = ["Assessor", "Inputs", "assess", "usage_key"]


def usage_key(account: Account, kind: str) -> str | None:
    """The key usage rows carry for `account`, by `[usage] account_key` (normalised for domain/name)."""
    if kind == "crm_id":
        return account.crm_id
    if kind in ("customer_key", "zendesk_org_id"):
        value = account.external_keys.get(kind)
        return str(value).strip() if value else None
    if kind == "domain":
        return normalize_domain(account.domains[0]) if account.domains else None
    if kind == "name":
        return normalize_name(account.name) or None
    raise ValueError(f"unknown usage account key {kind!r}")


_V = TypeVar("_V")


def key_normalizer(kind: str) -> Callable[[str], str] | None:
    """How usage keys of `kind` are normalised before matching (`usage_key`'s form); None: as is."""
    if kind == "domain":
        return normalize_domain
    if kind == "name":
        return normalize_name
    return None


def normalised_keys(kind: str, mapping: Mapping[str, _V]) -> dict[str, _V]:
    """`mapping` re-keyed to `usage_key`'s form, so a source's raw keys meet the accounts' keys."""
    if kind == "domain":
        return {normalize_domain(k): v for k, v in mapping.items()}
    if kind == "name":
        return {normalize_name(k): v for k, v in mapping.items()}
    return dict(mapping)


@dataclass
class Inputs:
    """What the engine pulled, keyed as the sources key it. A None source is not configured."""

    accounts: Sequence[Account]
    organizations_of: Mapping[str, list[str]] = field(default_factory=dict)
    """Support organization ids per account crm id (from matching)."""
    critical_tickets: Sequence[Ticket] | None = None
    usage: Mapping[str, UsageSummary] | None = None
    nps: Mapping[str, list[Rating]] | None = None
    payments: Mapping[str, list[Payment]] | None = None
    usage_key_kind: str = "crm_id"
    history: Mapping[str, list[HistoryPoint]] = field(default_factory=dict)
    previous_licenses: Mapping[str, int | None] = field(default_factory=dict)
    payments_on_time: Mapping[str, bool | None] | None = None
    """Invoices already folded to their verdict per key (`PaymentsFold`); used when `payments` is None."""


def assess(
    inputs: Inputs,
    rules: RuleSet,
    *,
    at: datetime,
    thresholds: SignalThresholds,
    trend: TrendSettings,
) -> list[Assessment]:
    """One assessment per live account, measured at the instant `at` (its date is the as-of day)."""
    assessor = Assessor(inputs, rules, at=at, thresholds=thresholds, trend=trend)
    return assessor.assess(inputs.accounts, inputs.history, inputs.previous_licenses)


def _keyed(kind: str, mapping: Mapping[str, _V] | None) -> Mapping[str, _V] | None:
    """`normalised_keys` without copying a mapping whose keys need no normalising."""
    if mapping is None:
        return None
    return normalised_keys(kind, mapping) if key_normalizer(kind) is not None else mapping


class Assessor:
    """`assess` for one run, in parts: the sources are keyed once, then accounts are assessed in
    chunks with their own history (the engine reads history and snapshots chunk by chunk).

    `inputs.accounts`, `inputs.history` and `inputs.previous_licenses` are not read here; each
    `assess` call brings its own.
    """

    def __init__(
        self,
        inputs: Inputs,
        rules: RuleSet,
        *,
        at: datetime,
        thresholds: SignalThresholds,
        trend: TrendSettings,
    ) -> None:
        self.rules, self.at, self.thresholds, self.trend = rules, at, thresholds, trend
        self.kind = kind = inputs.usage_key_kind
        self.organizations_of = inputs.organizations_of
        self.usage = _keyed(kind, inputs.usage)
        self.nps = _keyed(kind, inputs.nps)
        self.payments = _keyed(kind, inputs.payments)
        self.verdicts = _keyed(kind, inputs.payments_on_time) if inputs.payments is None else None
        self.has_tickets = inputs.critical_tickets is not None
        self.tickets_by_org: dict[str, list[Ticket]] = defaultdict(list)
        for ticket in inputs.critical_tickets or ():
            if ticket.organization_id is not None:
                self.tickets_by_org[ticket.organization_id].append(ticket)

    def usage_of(self, account: Account) -> UsageSummary | None:
        """The account's folded usage (None without a usage source or without rows)."""
        return _get(self.usage, usage_key(account, self.kind))

    def nps_of(self, account: Account) -> list[Rating]:
        """The account's NPS answers (none without an NPS source)."""
        return _get(self.nps, usage_key(account, self.kind), []) or []

    def assess(
        self,
        accounts: Iterable[Account],
        history: Mapping[str, list[HistoryPoint]],
        previous_licenses: Mapping[str, int | None],
    ) -> list[Assessment]:
        """One assessment per live account of `accounts`, with its health history and previous licenses."""
        at, kind, trend = self.at, self.kind, self.trend
        today = at.date()
        out: list[Assessment] = []
        for account in accounts:
            if account.deleted:
                continue
            key = account.crm_id
            ukey = usage_key(account, kind)
            tickets: list[Ticket] | None = None
            if self.has_tickets and key in self.organizations_of:
                by_org = self.tickets_by_org
                tickets = [t for org in self.organizations_of[key] for t in by_org.get(org, ())]
            features = build_features(
                account,
                key=key,
                at=at,
                usage=_get(self.usage, ukey),
                tickets=tickets,
                ratings=_get(self.nps, ukey, []),
                payments=_get(self.payments, ukey, []),
                previous_licenses=previous_licenses.get(key),
                payments_verdict=_get(self.verdicts, ukey),
            )
            points = [p for p in history.get(key, ()) if p.day < today]
            result = score(features, self.rules, as_of=today, override=account.override)
            movement = compute_trend(
                [(p.day, p.score) for p in points],
                today,
                result.score,
                window_days=trend.window_days,
                tolerance_days=trend.tolerance_days,
                flat_within=trend.flat_within,
            )
            result = replace(result, trend=movement)
            stage = renewal_stage(features.days_to_contract_end, account.contract_outcome)
            previous_band = points[-1].band if points else None
            signals = detect_signals(
                features,
                result,
                previous_band=previous_band,
                as_of=today,
                thresholds=self.thresholds,
                stage=stage,
            )
            if account.contract_outcome is ContractOutcome.CHURNED:
                signals = []  # the customer has left: no task would help, and the CSM has moved on
            out.append(Assessment(account, key, features, result, stage, tuple(signals)))
        return out


def _get(mapping: Mapping[str, _V] | None, key: str | None, empty: _V | None = None) -> _V | None:
    """The value for `key`; `empty` when the source exists but has nothing for the account (or the
    account has no key), None when the source is not configured (no data)."""
    if mapping is None:
        return None
    if key is None:
        return empty
    return mapping.get(key, empty)
