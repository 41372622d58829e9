"""Score accounts: features + rule set → an explainable HealthResult (DESIGN.md section 5).

The engine is a pure function. It never reads a clock (`as_of` is passed in, so a replayed run gives
the same answer) and never treats missing data as zero: a rule whose signal has no value contributes
nothing, and the signal is listed in `missing` and lowers `coverage`, so a CSM can tell "healthy"
from "we know nothing".
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from datetime import date
from types import MappingProxyType

from healthsync.model import Contribution, Features, HealthResult, Override, Trend
from healthsync.scoring.registry import read_signal
from healthsync.scoring.rules import RuleSet

__all__ = ["MAX_SCORE", "MIN_SCORE", "score", "score_many"]

MIN_SCORE = 0.0
MAX_SCORE = 100.0

_NO_OVERRIDES: Mapping[str, Override] = MappingProxyType({})
_NO_TRENDS: Mapping[str, Trend] = MappingProxyType({})


def score(
    features: Features,
    rules: RuleSet,
    *,
    as_of: date,
    override: Override | None = None,
    trend: Trend | None = None,
) -> HealthResult:
    """Score one account and keep every reason behind the number.

    The segment is chosen by `features.segment`. Every rule is evaluated; matched rules become
    contributions, zero-point ones included, so the CSM also reads "3 login days, below 5" and not
    only the rules that moved the score. The score is the sum of points clamped to 0-100 and rounded
    to one decimal (the band is taken from that rounded score, so the band always agrees with the
    number shown). A CSM override that is still active on `as_of` sets the band, and the result
    carries it so the human judgement is shown with its author, never silently replaced.

    Args:
        features: the account's inputs; None fields mean "no data".
        rules: the rule set to apply.
        as_of: the day the score is for; decides whether the override still holds.
        override: the CSM override recorded in the CRM, if any.
        trend: the trend computed from history, passed through to the result.
    """
    effective = rules.for_segment(features.segment)
    contributions: list[Contribution] = []
    missing: set[str] = set()
    for rule in effective.rules:
        value = read_signal(rule.definition, features)
        if value is None:
            missing.add(rule.signal)
            continue
        if not rule.when.matches(value):
            continue
        points = rule.weighted_points
        reason = rule.template.render(value=value, points=points, condition=rule.when, signal=rule.signal)
        contributions.append(Contribution(rule.id, rule.signal, points, reason, value))
    contributions.sort(key=lambda c: (-abs(c.points), c.rule_id))

    signals = effective.signals
    coverage = (len(signals) - len(missing)) / len(signals) if signals else 1.0
    raw = round(math.fsum(c.points for c in contributions), 6)
    final = round(min(max(raw, MIN_SCORE), MAX_SCORE), 1)
    computed_band = effective.bands.band_for(final)
    in_force = override if override is not None and override.active_on(as_of) else None
    return HealthResult(
        account=features.account,
        score=final,
        band=in_force.band if in_force is not None else computed_band,
        computed_band=computed_band,
        contributions=tuple(contributions),
        missing=tuple(sorted(missing)),
        coverage=coverage,
        rules_version=effective.rules_version,
        computed_at=as_of,
        segment=effective.segment,
        override=in_force,
        trend=trend,
        raw_score=raw,
    )


def score_many(
    features_list: Iterable[Features],
    rules: RuleSet,
    *,
    as_of: date,
    overrides: Mapping[str, Override] = _NO_OVERRIDES,
    trends: Mapping[str, Trend] = _NO_TRENDS,
) -> list[HealthResult]:
    """Score many accounts with one rule set, in input order.

    Args:
        features_list: the accounts' features.
        rules: the rule set to apply to all of them.
        as_of: the day the scores are for.
        overrides: CSM overrides keyed by `Features.account`; accounts without one have none.
        trends: trends keyed by `Features.account`.
    """
    return [
        score(f, rules, as_of=as_of, override=overrides.get(f.account), trend=trends.get(f.account))
        for f in features_list
    ]
