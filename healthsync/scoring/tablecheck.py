"""Validation of a rule file's tables besides `[[rule]]`: `[bands]` and segment `weights`.

Like `rulecheck`, each check appends a located ConfigProblem and carries on, so one run reports
every problem in the file.
"""

from __future__ import annotations

import math

from healthsync.errors import ConfigProblem
from healthsync.scoring.rulecheck import closest, show, unknown_key
from healthsync.tomlsource import KeyPath, TomlDocument

__all__ = ["check_bands", "check_weights", "ids_written"]

_BAND_KEYS = ("green", "yellow")


def check_bands(
    doc: TomlDocument, path: KeyPath, raw: object, base: tuple[float, float], problems: list[ConfigProblem]
) -> tuple[float, float]:
    """Validate a bands table; returns (green, yellow), taking what it does not set from `base`.

    Yellow must be strictly below green: equal thresholds leave no yellow band, and yellow above
    green contradicts itself (a score could not be yellow and below green at once).
    """
    where = ".".join(str(p) for p in path)
    if not isinstance(raw, dict):
        problems.append(
            doc.problem(path, f"[{where}] must be a table", fix=f"write [{where}] then green = 70")
        )
        return base
    for key in raw:
        if key not in _BAND_KEYS:
            problem = unknown_key(doc, (*path, key), key, _BAND_KEYS, f"[{where}]")
            if key == "red":
                problem = doc.problem(
                    (*path, key),
                    f"[{where}]: unknown key 'red'",
                    fix="red is every score below yellow; remove it",
                )
            problems.append(problem)
    values = dict(zip(_BAND_KEYS, (base[0], base[1]), strict=True))
    valid = True
    for key in _BAND_KEYS:
        if key not in raw:
            continue
        value = raw[key]
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 100:
            problems.append(
                doc.problem(
                    (*path, key), f"[{where}]: {key} must be a score from 0 to 100, got {show(value)}"
                )
            )
            valid = False
        else:
            values[key] = float(value)
    green, yellow = values["green"], values["yellow"]
    if valid and yellow >= green:
        inherited = "" if "yellow" in raw and "green" in raw else " (one of them inherited from [bands])"
        key = "yellow" if "yellow" in raw else "green"
        problems.append(
            doc.problem(
                (*path, key),
                f"[{where}]: bands overlap: yellow starts at {yellow:g}, "
                f"not below green ({green:g}){inherited}",
                fix="yellow must be lower than green; red is everything below yellow",
            )
        )
    return green, yellow


def ids_written(raw_rules: object) -> list[str]:
    """Rule ids written in a raw rule list, valid rules or not, so weights are checked against them."""
    if not isinstance(raw_rules, list):
        return []
    return [r["id"] for r in raw_rules if isinstance(r, dict) and isinstance(r.get("id"), str)]


def check_weights(
    doc: TomlDocument,
    path: KeyPath,
    segment: str,
    raw: object,
    ids: list[str],
    own_rules: bool,
    problems: list[ConfigProblem],
) -> dict[str, float]:
    """Validate a segment's `weights` table: known rule ids, finite non-negative multipliers.

    A negative weight would flip a bonus into a penalty behind the reader's back, so it is rejected;
    0 is allowed and switches a rule off for the segment.
    """
    if raw is None:
        return {}
    wpath = (*path, "weights")
    if not isinstance(raw, dict):
        problems.append(
            doc.problem(wpath, f"segment '{segment}': weights must be a table of rule id = multiplier")
        )
        return {}
    out: dict[str, float] = {}
    scope = f"segment '{segment}'s own rules" if own_rules else "the rule file's [[rule]] list"
    for rule_id, weight in raw.items():
        where = (*wpath, rule_id)
        ok = True
        if rule_id not in ids:
            hint = closest(rule_id, ids)
            problems.append(
                doc.problem(
                    where,
                    f"segment '{segment}': weight for unknown rule '{rule_id}' (not in {scope})",
                    fix=f"did you mean '{hint}'?" if hint else f"use one of: {', '.join(ids) or '-'}",
                )
            )
            ok = False
        if isinstance(weight, bool) or not isinstance(weight, int | float) or not math.isfinite(weight):
            problems.append(
                doc.problem(where, f"segment '{segment}': weight of rule '{rule_id}' must be a number")
            )
            ok = False
        elif weight < 0:
            problems.append(
                doc.problem(
                    where,
                    f"segment '{segment}': weight of rule '{rule_id}' is negative ({weight})",
                    fix="use 0 to switch the rule off here; to penalise, change the rule's points",
                )
            )
            ok = False
        if ok:
            out[rule_id] = float(weight)
    return out
