"""Turn results into what people read (rich tables) and what scripts read (JSON-ready dicts).

Kept apart from `cli.py` so the CLI stays a thin parse-call-render skin and the JSON shapes, which
scripts depend on, live in one place.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from healthsync.model import Band, Direction, HealthResult
from healthsync.scoring.rules import Bands, Rule, RuleSet

__all__ = ["print_results", "print_ruleset", "result_to_json", "ruleset_to_json"]

_BAND_STYLE = {Band.GREEN: "bold green", Band.YELLOW: "bold yellow", Band.RED: "bold red"}
_ARROW = {Direction.UP: "↑", Direction.DOWN: "↓", Direction.FLAT: "→"}


def _points(points: float) -> str:
    return f"{points:+g}" if points else "0"


def _bands_text(bands: Bands) -> str:
    return f"green ≥ {bands.green:g}, yellow ≥ {bands.yellow:g} and < {bands.green:g}, red < {bands.yellow:g}"


def _rule_row(rule: Rule, weight: float = 1.0) -> tuple[str, str, str, str, str]:
    points = rule.points * weight
    shown = _points(points) if weight == 1.0 else f"{_points(points)} (×{weight:g})"
    return rule.id, rule.signal, rule.when.describe(), shown, rule.reason


def _rules_table(title: str, rules: Iterable[Rule], weights: dict[str, float] | None = None) -> Table:
    table = Table(title=title, title_justify="left", show_lines=False)
    table.add_column("rule", no_wrap=True)
    table.add_column("signal", no_wrap=True)
    table.add_column("when", no_wrap=True)
    table.add_column("points", justify="right", no_wrap=True)
    table.add_column("reason", ratio=1)
    for rule in rules:
        table.add_row(*_rule_row(rule, (weights or {}).get(rule.id, 1.0)))
    return table


def print_ruleset(console: Console, ruleset: RuleSet) -> None:
    """Print the default table, its bands, then each segment's differences."""
    console.print(f"Rules {ruleset.rules_version} from {ruleset.source}")
    console.print(_rules_table("Default rules", ruleset.rules))
    console.print(f"Bands: {_bands_text(ruleset.bands)}")
    for _, segment in sorted(ruleset.segments.items()):
        rules = segment.rules if segment.rules is not None else ruleset.rules
        console.print()
        console.print(_rules_table(f"Segment '{segment.name}'", rules, dict(segment.weights)))
        console.print(f"Bands: {_bands_text(segment.bands or ruleset.bands)}")


def ruleset_to_json(ruleset: RuleSet) -> dict[str, Any]:
    """The rule set as plain data, for `rules show --json`."""

    def rules_json(rules: Iterable[Rule]) -> list[dict[str, Any]]:
        return [
            {
                "id": r.id,
                "signal": r.signal,
                "when": r.when.describe(),
                "points": r.points,
                "reason": r.reason,
            }
            for r in rules
        ]

    return {
        "version": ruleset.rules_version,
        "source": ruleset.source,
        "bands": {"green": ruleset.bands.green, "yellow": ruleset.bands.yellow},
        "rules": rules_json(ruleset.rules),
        "segments": {
            seg.name: {
                "rules": rules_json(seg.rules) if seg.rules is not None else None,
                "weights": dict(seg.weights),
                "bands": {"green": seg.bands.green, "yellow": seg.bands.yellow} if seg.bands else None,
            }
            for _, seg in sorted(ruleset.segments.items())
        },
    }


def result_to_json(result: HealthResult) -> dict[str, Any]:
    """One account's health as plain data: the stable shape of `rules test --json` and friends."""
    trend = result.trend
    return {
        "account": result.account,
        "score": result.score,
        "band": result.band.value,
        "computed_band": result.computed_band.value,
        "segment": result.segment,
        "contributions": [
            {"rule": c.rule_id, "signal": c.signal, "points": c.points, "reason": c.reason, "value": c.value}
            for c in result.contributions
        ],
        "missing": list(result.missing),
        "coverage": result.coverage,
        "raw_score": result.raw_score,
        "override": (
            {
                "band": result.override.band.value,
                "author": result.override.author,
                "expires": result.override.expires.isoformat(),
                "note": result.override.note,
            }
            if result.override
            else None
        ),
        "trend": (
            {
                "delta": trend.delta,
                "direction": trend.direction.value if trend.direction else None,
                "previous_score": trend.previous_score,
            }
            if trend
            else None
        ),
        "rules_version": result.rules_version,
        "computed_at": result.computed_at.isoformat(),
    }


def band_text(result: HealthResult) -> Text:
    """Band in its colour, with the override marked so nobody mistakes it for the computed one."""
    label = result.band.value
    if result.override is not None:
        label += f" (override by {result.override.author} until {result.override.expires.isoformat()})"
    return Text(label, style=_BAND_STYLE[result.band])


def print_results(console: Console, results: Sequence[HealthResult]) -> None:
    """Print each account's score, band and reasons: what a CSM needs to trust the number."""
    summary = Table(title="Health scores", title_justify="left")
    for column in ("account", "score", "band", "coverage", "segment"):
        summary.add_column(column, justify="right" if column in {"score", "coverage"} else "left")
    for r in results:
        summary.add_row(r.account, f"{r.score:g}", band_text(r), f"{r.coverage:.0%}", r.segment or "")
    console.print(summary)
    for r in results:
        console.print()
        console.print(Text.assemble((r.account, "bold"), f"  {r.score:g} ", band_text(r)))
        for c in r.contributions:
            console.print(f"  {_points(c.points):>5}  {c.reason}  [{c.rule_id}]", markup=False)
        if r.missing:
            console.print(f"  no data: {', '.join(r.missing)}", style="dim", markup=False)
        if r.raw_score is not None and r.raw_score != r.score:
            console.print(
                f"  (points add up to {r.raw_score:g}; the score is kept within 0–100)", style="dim"
            )
