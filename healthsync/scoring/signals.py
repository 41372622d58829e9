"""Playbook signals: the conditions that become tasks for an account's owner (DESIGN.md section 5).

Four families, in the order a CSM should act on them:

- risk (HIGH): usage halved over 14 days, band fell to red, a critical ticket open too long, a
  detractor NPS answer;
- renewal (MEDIUM, HIGH in Approval): entering each renewal stage, with that stage's actions;
- onboarding (MEDIUM): the day-30 checkpoint call and the day-90 value review;
- expansion (LOW): most licenses in use, seats added, a promoter NPS answer.

Every signal carries a key `"{account}:{code}:{period}"`. The period is chosen so that the same
condition, seen again on the next sync, produces the same key and so the same task, while a new
occurrence (a new month, a new ticket, a new contract) produces a new one. A feature that is missing
(None) never fires a signal: no data is not evidence.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from itertools import pairwise

from healthsync.model import (
    Band,
    Features,
    HealthResult,
    RenewalStage,
    Signal,
    SignalKind,
    TaskPriority,
)
from healthsync.scoring.renewal import OPEN_STAGES, STAGE_ACTIONS, is_late_approval

__all__ = ["SUBJECT_MAX_CHARS", "SignalThresholds", "detect_signals"]

SUBJECT_MAX_CHARS = 80
"""Task subjects longer than this are cut; CRM list views show about this much."""

_KIND_ORDER = {
    SignalKind.RISK: 0,
    SignalKind.RENEWAL: 1,
    SignalKind.ONBOARDING: 2,
    SignalKind.EXPANSION: 3,
}

_CHECKPOINT_NAMES = {30: "checkpoint call", 90: "value review"}


@dataclass(frozen=True)
class SignalThresholds:
    """When each signal fires and how soon its task is due; config builds one, defaults are the playbook's.

    Attributes:
        usage_drop: risk when active usage changed by this fraction or more downward over 14 days
            (0.5: `usage_change_14d <= -0.5`, i.e. halved).
        critical_ticket_age_days: risk when the oldest open critical ticket is strictly older.
        detractor_max: risk when the last NPS answer is at most this (0-6 are detractors).
        promoter_min: expansion when the last NPS answer is at least this (9-10 are promoters).
        expansion_utilization: expansion when active users / licenses is at least this.
        seat_growth_min: expansion when at least this many seats were added since the last snapshot.
        onboarding_checkpoints: days after contract start that get an onboarding task.
        onboarding_grace_days: a checkpoint fires on days [checkpoint, checkpoint + grace), so a
            weekly sync cannot step over it.
        risk_due_days: days to act on a risk (1: call within 24 h).
        renewal_due_days: days to act on entering a renewal stage.
        onboarding_due_days: days to act on an onboarding checkpoint.
        expansion_due_days: days to act on an expansion signal.

    Raises:
        ValueError: a field is out of range; the message names it.
    """

    usage_drop: float = 0.5
    critical_ticket_age_days: float = 7
    detractor_max: int = 6
    promoter_min: int = 9
    expansion_utilization: float = 0.8
    seat_growth_min: int = 1
    onboarding_checkpoints: tuple[int, ...] = (30, 90)
    onboarding_grace_days: int = 14
    risk_due_days: int = 1
    renewal_due_days: int = 7
    onboarding_due_days: int = 3
    expansion_due_days: int = 14

    def __post_init__(self) -> None:
        if not 0 < self.usage_drop <= 1:
            raise ValueError(
                f"usage_drop must be in (0, 1] (a fraction of usage lost), got {self.usage_drop}"
            )
        if not (math.isfinite(self.critical_ticket_age_days) and self.critical_ticket_age_days >= 0):
            raise ValueError(
                f"critical_ticket_age_days must be a non-negative number, got {self.critical_ticket_age_days}"
            )
        if not 0 <= self.detractor_max <= 10:
            raise ValueError(f"detractor_max must be an NPS score 0-10, got {self.detractor_max}")
        if not 0 <= self.promoter_min <= 10:
            raise ValueError(f"promoter_min must be an NPS score 0-10, got {self.promoter_min}")
        if self.detractor_max >= self.promoter_min:
            raise ValueError(
                f"detractor_max ({self.detractor_max}) must be below promoter_min ({self.promoter_min})"
            )
        if not (math.isfinite(self.expansion_utilization) and self.expansion_utilization > 0):
            raise ValueError(
                f"expansion_utilization must be a positive ratio, got {self.expansion_utilization}"
            )
        if self.seat_growth_min < 1:
            raise ValueError(f"seat_growth_min must be at least 1 seat, got {self.seat_growth_min}")
        checkpoints = self.onboarding_checkpoints
        if any(day < 0 for day in checkpoints):
            raise ValueError(f"onboarding_checkpoints must be days >= 0, got {checkpoints}")
        if any(later <= earlier for earlier, later in pairwise(checkpoints)):
            raise ValueError(f"onboarding_checkpoints must be strictly increasing, got {checkpoints}")
        if self.onboarding_grace_days < 1:
            raise ValueError(f"onboarding_grace_days must be at least 1, got {self.onboarding_grace_days}")
        for name in ("risk_due_days", "renewal_due_days", "onboarding_due_days", "expansion_due_days"):
            value = getattr(self, name)
            if value < 0:
                raise ValueError(f"{name} must not be negative, got {value}")


_DEFAULT_THRESHOLDS = SignalThresholds()


def detect_signals(
    features: Features,
    result: HealthResult,
    *,
    previous_band: Band | None,
    as_of: date,
    thresholds: SignalThresholds = _DEFAULT_THRESHOLDS,
    stage: RenewalStage | None = None,
) -> list[Signal]:
    """Return every playbook signal that holds for one account on `as_of`, most urgent family first.

    Signals are pure facts about this run; turning them into tasks (and skipping the ones whose key
    already has a task) is the planner's job, which is why each key is deterministic. The band-red
    signal reads `result.band`, the band the CSM sees, so a CSM override to red counts and an
    override away from red silences it.

    Args:
        features: the account's features; missing ones simply fire nothing.
        result: the account's health for this run.
        previous_band: the band written at the previous run, None if there was none.
        as_of: the day of the run; it sets the periods in keys, and the days to the contract end
            or since its start when `features` lacks them.
        thresholds: when each signal fires and how soon it is due.
        stage: the renewal stage from `renewal.renewal_stage`; a date-driven stage fires a renewal
            signal, Renewed/Churned/None fire none.

    Returns:
        The signals, sorted by family (risk, renewal, onboarding, expansion), then code.

    Raises:
        ValueError: `features` and `result` belong to different accounts.
    """
    if features.account != result.account:
        raise ValueError(
            f"features are for account {features.account!r} but the result is for {result.account!r}"
        )
    found = [
        *_risk_signals(features, result, previous_band, as_of, thresholds),
        *_renewal_signals(features, stage, as_of, thresholds),
        *_onboarding_signals(features, as_of, thresholds),
        *_expansion_signals(features, as_of, thresholds),
    ]
    return sorted(found, key=lambda signal: (_KIND_ORDER[signal.kind], signal.code))


# --- the four families ---------------------------------------------------------------------------


def _risk_signals(
    features: Features,
    result: HealthResult,
    previous_band: Band | None,
    as_of: date,
    thresholds: SignalThresholds,
) -> list[Signal]:
    found: list[Signal] = []

    def add(code: str, period: str, subject: str, reason: str) -> None:
        found.append(
            _signal(
                features.account,
                SignalKind.RISK,
                code,
                period,
                subject,
                reason,
                thresholds.risk_due_days,
                TaskPriority.HIGH,
            )
        )

    change = features.usage_change_14d
    if change is not None and change <= -thresholds.usage_drop:
        add(
            "risk.usage_drop",
            _month(as_of),
            f"Usage down {_percent(-change)} in 14 days: call the customer",
            f"Active usage fell {_percent(-change)} over the last 14 days vs the 14 before.",
        )

    if result.band is Band.RED and previous_band is not Band.RED:
        was = f"was {previous_band}" if previous_band is not None else "no earlier band on record"
        if result.override is not None and result.computed_band is not Band.RED:
            override = result.override
            subject = "Health set to red by CSM override"
            reason = (
                f"{override.author} set the health band to red until {override.expires.isoformat()} "
                f"({was}); the computed score is {_number(result.score)}, {result.computed_band}."
            )
        else:
            subject = f"Health fell to red (score {_number(result.score)})"
            reason = f"The health score is {_number(result.score)}, in the red band ({was})."
        add("risk.band_red", as_of.isoformat(), subject, reason)

    age = features.oldest_critical_ticket_age_days
    if age is not None and age > thresholds.critical_ticket_age_days:
        ticket_id = features.oldest_critical_ticket_id
        ticket = f"Critical ticket #{ticket_id}" if ticket_id else "The oldest critical ticket"
        count = features.open_critical_tickets
        others = f"; {count} critical tickets are open in all" if count is not None and count > 1 else ""
        add(
            "risk.critical_ticket",
            ticket_id if ticket_id else _month(as_of),
            f"Critical ticket open {_number(age)} days" + (f" (#{ticket_id})" if ticket_id else ""),
            f"{ticket} has been open {_number(age)} days, over the "
            f"{_number(thresholds.critical_ticket_age_days)}-day limit{others}.",
        )

    nps = features.last_nps
    if nps is not None and nps <= thresholds.detractor_max:
        add(
            "risk.detractor",
            _answer_period(features, as_of),
            f"Detractor NPS answer ({nps}/10): follow up",
            f"The last NPS answer was {nps} out of 10{_answered_on(features)}, a detractor "
            f"(0-{thresholds.detractor_max}).",
        )
    return found


def _renewal_signals(
    features: Features,
    stage: RenewalStage | None,
    as_of: date,
    thresholds: SignalThresholds,
) -> list[Signal]:
    end = features.contract_end
    if stage is None or stage not in OPEN_STAGES or end is None:
        return []
    days_left = features.days_to_contract_end
    if days_left is None:
        days_left = (end - as_of).days
    due = thresholds.renewal_due_days
    if days_left >= 0:
        due = min(due, days_left)  # a task due after the contract has ended helps nobody
    actions = "; ".join(STAGE_ACTIONS[stage])
    late = (
        " Fewer than 15 days are left: later than the playbook's 15-30 day Approval window."
        if is_late_approval(days_left)
        else ""
    )
    return [
        _signal(
            features.account,
            SignalKind.RENEWAL,
            f"renewal.{stage.value.lower()}",
            end.isoformat(),
            f"Renewal: {stage.value} stage, contract ends {end.isoformat()}",
            f"The contract ends in {_count(days_left, 'day')} ({end.isoformat()}), so the renewal is in "
            f"{stage.value}: {actions}.{late}",
            due,
            TaskPriority.HIGH if stage is RenewalStage.APPROVAL else TaskPriority.MEDIUM,
        )
    ]


def _onboarding_signals(features: Features, as_of: date, thresholds: SignalThresholds) -> list[Signal]:
    start = features.contract_start
    if start is None:
        return []
    days_in = features.days_since_contract_start
    if days_in is None:
        days_in = (as_of - start).days
    found: list[Signal] = []
    for checkpoint in thresholds.onboarding_checkpoints:
        if not checkpoint <= days_in < checkpoint + thresholds.onboarding_grace_days:
            continue
        name = _CHECKPOINT_NAMES.get(checkpoint, "check-in")
        found.append(
            _signal(
                features.account,
                SignalKind.ONBOARDING,
                f"onboarding.day{checkpoint}",
                start.isoformat(),
                f"Onboarding day {checkpoint}: {name}",
                f"The contract started {start.isoformat()}, {_count(days_in, 'day')} ago: "
                f"time for the day-{checkpoint} {name}.",
                thresholds.onboarding_due_days,
                TaskPriority.MEDIUM,
            )
        )
    return found


def _expansion_signals(features: Features, as_of: date, thresholds: SignalThresholds) -> list[Signal]:
    found: list[Signal] = []

    def add(code: str, period: str, subject: str, reason: str) -> None:
        found.append(
            _signal(
                features.account,
                SignalKind.EXPANSION,
                code,
                period,
                subject,
                reason,
                thresholds.expansion_due_days,
                TaskPriority.LOW,
            )
        )

    users, licenses = features.active_users, features.licenses
    if users is not None and licenses is not None and licenses > 0:
        # Divide rather than multiply the threshold: 8 / 10 == 0.8 exactly, 0.7 * 10 is not 7.
        utilization = users / licenses
        if utilization >= thresholds.expansion_utilization:
            add(
                "expansion.utilization",
                _quarter(as_of),
                f"{_percent(utilization)} of licenses in use: discuss more seats",
                f"{users} active users on {_count(licenses, 'license')} ({_percent(utilization)}), "
                f"at or above the {_percent(thresholds.expansion_utilization)} expansion threshold.",
            )

    growth = features.seat_growth
    if growth is not None and growth >= thresholds.seat_growth_min:
        add(
            "expansion.seat_growth",
            as_of.isoformat(),
            f"Customer added {_count(growth, 'seat')}",
            f"Licenses grew by {_count(growth, 'seat')} since the previous snapshot.",
        )

    nps = features.last_nps
    if nps is not None and nps >= thresholds.promoter_min:
        add(
            "expansion.promoter",
            _answer_period(features, as_of),
            f"Promoter NPS answer ({nps}/10): ask for a reference",
            f"The last NPS answer was {nps} out of 10{_answered_on(features)}, a promoter "
            f"({thresholds.promoter_min}-10).",
        )
    return found


# --- helpers -------------------------------------------------------------------------------------


def _signal(
    account: str,
    kind: SignalKind,
    code: str,
    period: str,
    subject: str,
    reason: str,
    due_in_days: int,
    priority: TaskPriority,
) -> Signal:
    return Signal(
        kind=kind,
        code=code,
        account=account,
        key=f"{account}:{code}:{period}",
        subject=_fit(subject),
        reason=reason,
        due_in_days=due_in_days,
        priority=priority,
    )


def _fit(subject: str) -> str:
    """Cut a subject to `SUBJECT_MAX_CHARS`, marking the cut, so long ids cannot overflow the CRM list."""
    if len(subject) <= SUBJECT_MAX_CHARS:
        return subject
    return subject[: SUBJECT_MAX_CHARS - 1].rstrip() + "…"


def _month(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def _quarter(day: date) -> str:
    return f"{day.year:04d}Q{(day.month - 1) // 3 + 1}"


def _answer_period(features: Features, as_of: date) -> str:
    """The NPS answer's date identifies it; without one, a month keeps the task from repeating daily."""
    return features.last_nps_at.isoformat() if features.last_nps_at is not None else _month(as_of)


def _answered_on(features: Features) -> str:
    return f" (answered {features.last_nps_at.isoformat()})" if features.last_nps_at is not None else ""


def _percent(fraction: float) -> str:
    return f"{fraction * 100:.0f}%"


def _number(value: float) -> str:
    """Up to two decimals, no trailing zeros: 7.01 stays 7.01 (not 7.0), 32.0 becomes 32."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def _count(amount: int, noun: str) -> str:
    return f"{amount} {noun}" if amount in (1, -1) else f"{amount} {noun}s"
