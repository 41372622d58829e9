"""The signals a rule may read: every input feature, the derived ones, and custom `extra.<name>` inputs.

Rule files name signals by string, so one table has to say which names exist, what kind of value
each carries (so the rule loader can reject `gt = "x"` on a count before any account is scored) and
how to read it from `Features`. The same table documents the columns of a features file for
`healthsync rules test --features FILE`, so the README, the loader and the engine cannot drift apart.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

from healthsync.model import Features

__all__ = [
    "DERIVED_SIGNALS",
    "EXTRA_PREFIX",
    "INPUT_FEATURES",
    "SIGNALS",
    "SignalDef",
    "SignalValue",
    "ValueKind",
    "extra_signal",
    "known_names",
    "lookup",
    "read_signal",
    "value_fits",
]

ValueKind = Literal["int", "number", "bool", "ratio", "str"]
"""What a signal's value is: a count, any real number, yes/no, a share (0.5 means 50%) or text."""

SignalValue = int | float | bool | str
"""A signal value that is present; absence is always `None`, never a zero."""

EXTRA_PREFIX = "extra."
"""Rules address the custom inputs RevOps maps (`Features.extra`) as `extra.<name>`."""


@dataclass(frozen=True)
class SignalDef:
    """One signal rules can name: its kind, what it means, and how to read it from `Features`.

    Attributes:
        name: the name rule files and features files use.
        kind: value kind; the rule loader checks condition values against it.
        description: one sentence for the README and for "unknown signal" hints.
        getter: reads the value from `Features`; returns None when there is no data.
        minimum: smallest valid value, when the signal has one (features files are checked against it).
        maximum: largest valid value, when the signal has one.
    """

    name: str
    kind: ValueKind
    description: str
    getter: Callable[[Features], SignalValue | None] = field(compare=False, repr=False)
    minimum: float | None = None
    maximum: float | None = None


def _active_user_ratio(features: Features) -> float | None:
    active, licenses = features.active_users, features.licenses
    if active is None or licenses is None or licenses <= 0:
        return None
    return active / licenses


def _oldest_critical_age(features: Features) -> float | None:
    # With no open critical ticket there is no age to report; that is a known fact ("nothing is
    # waiting"), not missing data, so it must not lower coverage or show up as "no data".
    if features.oldest_critical_ticket_age_days is None and features.open_critical_tickets == 0:
        return 0.0
    return features.oldest_critical_ticket_age_days


_INPUTS: tuple[SignalDef, ...] = (
    SignalDef(
        "login_days_30d",
        "int",
        "Days in the last 30 on which at least one user of the account logged in (0-30).",
        lambda f: f.login_days_30d,
        minimum=0,
        maximum=30,
    ),
    SignalDef(
        "active_users",
        "int",
        "Distinct users active in the last 30 days.",
        lambda f: f.active_users,
        minimum=0,
    ),
    SignalDef(
        "licenses",
        "int",
        "Seats the customer pays for.",
        lambda f: f.licenses,
        minimum=0,
    ),
    SignalDef(
        "open_critical_tickets",
        "int",
        "Support tickets marked critical that are still open.",
        lambda f: f.open_critical_tickets,
        minimum=0,
    ),
    SignalDef(
        "oldest_critical_ticket_age_days",
        "number",
        "Age in days of the oldest open critical ticket; 0 when open_critical_tickets is 0.",
        _oldest_critical_age,
        minimum=0,
    ),
    SignalDef(
        "last_nps",
        "int",
        "The account's most recent NPS answer (0-10): 9-10 promoter, 7-8 passive, 0-6 detractor.",
        lambda f: f.last_nps,
        minimum=0,
        maximum=10,
    ),
    SignalDef(
        "payments_on_time_6m",
        "bool",
        "True when every invoice due in the last 6 months was paid by its due date.",
        lambda f: f.payments_on_time_6m,
    ),
    SignalDef(
        "usage_change_14d",
        "number",
        "Relative change of usage, last 14 days vs the 14 before: -0.5 means halved, 0.2 means +20%.",
        lambda f: f.usage_change_14d,
        minimum=-1,
    ),
    SignalDef(
        "seat_growth",
        "int",
        "Licenses now minus licenses at the previous snapshot; negative when seats were removed.",
        lambda f: f.seat_growth,
    ),
    SignalDef(
        "days_since_contract_start",
        "int",
        "Days since the current contract started (negative before it starts).",
        lambda f: f.days_since_contract_start,
    ),
    SignalDef(
        "days_to_contract_end",
        "int",
        "Days until the current contract ends (negative once it has ended).",
        lambda f: f.days_to_contract_end,
    ),
)

_DERIVED: tuple[SignalDef, ...] = (
    SignalDef(
        "active_user_ratio",
        "ratio",
        "active_users / licenses (0.5 means half the seats are used); no data when licenses is 0.",
        _active_user_ratio,
        minimum=0,
    ),
)

INPUT_FEATURES: Mapping[str, SignalDef] = MappingProxyType({s.name: s for s in _INPUTS})
"""The features a features file may carry (besides `account`, `segment` and `extra.<name>`)."""

DERIVED_SIGNALS: Mapping[str, SignalDef] = MappingProxyType({s.name: s for s in _DERIVED})
"""Signals computed from input features; rules may use them, features files may not set them."""

SIGNALS: Mapping[str, SignalDef] = MappingProxyType({**INPUT_FEATURES, **DERIVED_SIGNALS})
"""Every built-in signal, inputs and derived."""


def extra_signal(name: str, kind: ValueKind = "number") -> SignalDef:
    """The signal for custom input `extra.<name>`, read as `kind`.

    Custom inputs have no declared type, so the rule loader passes the kind its condition implies
    (`eq = true` reads a yes/no, `gt = 3` a number); a value of another type then counts as no data.
    """
    key = name.removeprefix(EXTRA_PREFIX)
    return SignalDef(
        f"{EXTRA_PREFIX}{key}",
        kind,
        f"Custom input '{key}' mapped by RevOps (Features.extra).",
        lambda f: f.extra.get(key),
    )


def lookup(name: str) -> SignalDef | None:
    """The signal called `name`, or None when no such signal exists.

    `extra.<name>` always resolves (as a number; see `extra_signal`), because custom inputs are
    defined by the CRM mapping, not by this table.
    """
    if name in SIGNALS:
        return SIGNALS[name]
    if name.startswith(EXTRA_PREFIX) and len(name) > len(EXTRA_PREFIX):
        return extra_signal(name)
    return None


def known_names() -> list[str]:
    """Every built-in signal name, sorted, for "did you mean" hints."""
    return sorted(SIGNALS)


def read_signal(signal: SignalDef, features: Features) -> SignalValue | None:
    """Read `signal` from `features`, or None when there is no usable data.

    A value whose type does not fit the signal's kind (a text in a custom numeric input) or a NaN
    cannot be compared honestly, so it is reported as no data rather than scored as a non-match.
    """
    value = signal.getter(features)
    if value is None or not value_fits(value, signal.kind):
        return None
    return value


def value_fits(value: object, kind: ValueKind) -> bool:
    """True when `value` is a legal reading of a signal of `kind` (bools are not numbers here)."""
    if kind == "bool":
        return isinstance(value, bool)
    if kind == "str":
        return isinstance(value, str)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return math.isfinite(value)
