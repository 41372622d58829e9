"""Renewal stage of a contract, from the days left until it ends (DESIGN.md section 5).

The playbook's stages, counted back from the contract end:

=============  ==================  ==========================================
stage          days to end         what the owner does
=============  ==================  ==========================================
Preparation    90 < d <= 120       check health, plan the QBR
Initiation     60 < d <= 90        reach the decision maker
Negotiation    30 < d <= 60        agree terms, send the proposal
Approval       0 <= d <= 30        get the signature, collect payment
=============  ==================  ==========================================

Boundaries are inclusive on the nearer side: on day 90 a renewal is already in Initiation, on day
30 in Approval. The playbook's Approval window is 15-30 days; we keep the last 14 days (0-14) in
Approval too, rather than dropping the renewal, because those are exactly the days it most needs an
owner. `is_late_approval` tells them apart so callers can flag them. Past the end date (d < 0) with
no recorded outcome, the contract has lapsed and no stage is claimed.

Renewed and Churned are never inferred from dates; they come from what a person recorded on the
contract. Stages only move forward (`stage_order`, `next_stage_is_forward`), so a deal is never
pushed back, e.g. when a contract end date is corrected.

The windows are data (`RenewalWindows`) so config can move them later.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from healthsync.model import ContractOutcome, RenewalStage

__all__ = [
    "DEFAULT_RENEWAL_WINDOWS",
    "LATE_APPROVAL_DAYS",
    "OPEN_STAGES",
    "STAGE_ACTIONS",
    "RenewalWindows",
    "StageWindow",
    "is_late_approval",
    "next_stage_is_forward",
    "renewal_stage",
    "stage_order",
]

StageWindow = tuple[RenewalStage, int, int]
"""(stage, lower_exclusive, upper_inclusive) in days to contract end: lower < d <= upper."""

OPEN_STAGES: tuple[RenewalStage, ...] = (
    RenewalStage.PREPARATION,
    RenewalStage.INITIATION,
    RenewalStage.NEGOTIATION,
    RenewalStage.APPROVAL,
)
"""The stages set by date, in the order a renewal passes through them."""

LATE_APPROVAL_DAYS = 15
"""The playbook's Approval window starts here; fewer days left than this is a late approval."""

_ORDER: Mapping[RenewalStage, int] = MappingProxyType(
    {
        RenewalStage.PREPARATION: 0,
        RenewalStage.INITIATION: 1,
        RenewalStage.NEGOTIATION: 2,
        RenewalStage.APPROVAL: 3,
        RenewalStage.RENEWED: 4,
        RenewalStage.CHURNED: 4,
    }
)

STAGE_ACTIONS: Mapping[RenewalStage, tuple[str, ...]] = MappingProxyType(
    {
        RenewalStage.PREPARATION: (
            "review the account's health and open issues",
            "schedule a quarterly business review",
        ),
        RenewalStage.INITIATION: ("reach the decision maker and confirm the renewal is on their agenda",),
        RenewalStage.NEGOTIATION: (
            "agree the renewal terms",
            "send the renewal proposal",
        ),
        RenewalStage.APPROVAL: (
            "get the renewal signed",
            "make sure payment is arranged",
        ),
    }
)
"""What the account owner should do in each date-driven stage; task reasons quote these."""


@dataclass(frozen=True)
class RenewalWindows:
    """The day windows of the date-driven stages, checked to tile the calendar without gaps.

    Attributes:
        windows: one `StageWindow` per stage, farthest from the contract end first, each window's
            lower bound equal to the next one's upper bound. The last window's lower bound is -1 so
            that day 0 (the end date itself) is still inside it: days are whole numbers, so
            "-1 < d" reads "d >= 0".

    Raises:
        ValueError: the windows are empty, overlap, leave a gap, reach below day 0, repeat a stage,
            name Renewed/Churned, or are not in stage order (farther windows must be earlier stages,
            or "move forward only" would break).
    """

    windows: tuple[StageWindow, ...] = (
        (RenewalStage.PREPARATION, 90, 120),
        (RenewalStage.INITIATION, 60, 90),
        (RenewalStage.NEGOTIATION, 30, 60),
        (RenewalStage.APPROVAL, -1, 30),
    )

    def __post_init__(self) -> None:
        if not self.windows:
            raise ValueError("renewal windows: at least one stage window is required")
        seen: set[RenewalStage] = set()
        for index, (stage, lower, upper) in enumerate(self.windows):
            where = f"renewal windows[{index}] ({stage})"
            if stage not in OPEN_STAGES:
                raise ValueError(f"{where}: only {', '.join(OPEN_STAGES)} are set by date")
            if stage in seen:
                raise ValueError(f"{where}: stage appears twice")
            seen.add(stage)
            if lower >= upper:
                raise ValueError(f"{where}: lower bound {lower} must be below upper bound {upper}")
            if lower < -1:
                raise ValueError(f"{where}: lower bound {lower} reaches past the contract end (minimum -1)")
            if index == 0:
                continue
            previous_stage, previous_lower, _ = self.windows[index - 1]
            if upper > previous_lower:
                raise ValueError(
                    f"{where}: upper bound {upper} overlaps {previous_stage}, which covers days above "
                    f"{previous_lower}; it must be {previous_lower}"
                )
            if upper < previous_lower:
                raise ValueError(
                    f"{where}: upper bound {upper} leaves a gap: days {upper + 1}-{previous_lower} are in "
                    f"no stage; it must be {previous_lower}"
                )
            if _ORDER[stage] <= _ORDER[previous_stage]:
                raise ValueError(
                    f"{where}: must be a later stage than {previous_stage}, which is farther out"
                )

    def stage_for(self, days_to_end: int) -> RenewalStage | None:
        """The window containing `days_to_end`, or None when no window does."""
        for stage, lower, upper in self.windows:
            if lower < days_to_end <= upper:
                return stage
        return None


DEFAULT_RENEWAL_WINDOWS = RenewalWindows()


def renewal_stage(
    days_to_end: int | None,
    outcome: ContractOutcome | None = None,
    *,
    windows: RenewalWindows = DEFAULT_RENEWAL_WINDOWS,
) -> RenewalStage | None:
    """Return the renewal stage for a contract, or None when it is not in a renewal window.

    A recorded outcome wins over the calendar: a person said the contract renewed or churned, so
    the dates no longer decide. Otherwise the stage follows the days to the contract end, with each
    boundary day belonging to the stage nearer the end (see the module docstring). The last 14 days
    stay in Approval although the playbook's window ends at 15 (`is_late_approval`).

    Args:
        days_to_end: whole days from today to the contract end; None when the end is unknown.
        outcome: what a person recorded about the contract's end, if anything.
        windows: the stage windows; the default is the playbook's.

    Returns:
        The stage; None when the end is unknown, more than 120 days away, or already past without
        a recorded outcome (a lapsed contract is for a person to settle, not for the engine to guess).
    """
    if outcome is ContractOutcome.RENEWED:
        return RenewalStage.RENEWED
    if outcome is ContractOutcome.CHURNED:
        return RenewalStage.CHURNED
    if days_to_end is None or days_to_end < 0:
        return None
    return windows.stage_for(days_to_end)


def is_late_approval(days_to_end: int | None) -> bool:
    """True when fewer than 15 days are left (0-14): in Approval, but past the playbook's window.

    Those renewals stay in Approval (see `renewal_stage`); this tells callers to flag them as late.
    """
    return days_to_end is not None and 0 <= days_to_end < LATE_APPROVAL_DAYS


def stage_order(stage: RenewalStage) -> int:
    """Return the position of `stage` in a renewal's life, so callers can refuse backward moves.

    Preparation < Initiation < Negotiation < Approval < Renewed = Churned; the two outcomes share
    the last place because neither follows the other.
    """
    return _ORDER[stage]


def next_stage_is_forward(current: RenewalStage | None, new: RenewalStage) -> bool:
    """True when moving a deal from `current` to `new` goes forward.

    The engine moves renewal deals by date, never backward, and never touches a closed one. So a
    move is allowed only to a strictly later stage; staying put, going back, or leaving Renewed or
    Churned is not forward. A deal with no stage yet (`current` None) may enter any stage.
    """
    if current is None:
        return True
    return _ORDER[new] > _ORDER[current]
