"""Field-by-field validation of one `[[rule]]` table and of a `[bands]` table.

Split from `rules.py`, which checks what concerns several rules at once (duplicate ids, overlaps,
segment weights). Every check appends a located ConfigProblem and carries on, so a user sees every
mistake in a rule file in one run. Messages name the rule id, because in a file of thirty rules
"rule[17].when" alone is not enough to find the one you meant.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Sequence
from dataclasses import dataclass

from healthsync.errors import ConfigProblem
from healthsync.scoring.conditions import OPERATORS, Condition, Operator, Scalar
from healthsync.scoring.registry import (
    EXTRA_PREFIX,
    SIGNALS,
    SignalDef,
    ValueKind,
    extra_signal,
    known_names,
    lookup,
    value_fits,
)
from healthsync.scoring.templates import ReasonTemplate, TemplateError
from healthsync.tomlsource import KeyPath, TomlDocument

__all__ = ["RULE_KEYS", "RuleFields", "check_rule", "closest", "show", "unknown_key"]

RULE_KEYS = ("id", "signal", "when", "points", "reason")
_ID_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")
_SAMPLES: dict[ValueKind, Scalar] = {"int": 12, "number": 7.5, "ratio": 0.5, "bool": True, "str": "text"}
_KIND_WORDS: dict[ValueKind, str] = {
    "int": "a whole number",
    "number": "a number",
    "ratio": "a number (a ratio: 0.5 means 50%)",
    "bool": "true or false",
    "str": "a text",
}


@dataclass
class RuleFields:
    """The parts of one rule that passed validation; a None part had a problem (already reported)."""

    id: str | None = None
    definition: SignalDef | None = None
    when: Condition | None = None
    points: float | None = None
    reason: ReasonTemplate | None = None

    @property
    def label(self) -> str:
        """How messages name the rule."""
        return f"rule '{self.id}'" if self.id else "rule without an id"

    @property
    def complete(self) -> bool:
        """Every part is valid, so a Rule can be built."""
        parts = (self.id, self.definition, self.when, self.points, self.reason)
        return all(part is not None for part in parts)


def closest(word: str, options: Sequence[str]) -> str | None:
    """The option `word` was most likely meant to be, for "did you mean" hints."""
    found = difflib.get_close_matches(word, list(options), n=1, cutoff=0.6)
    return found[0] if found else None


def unknown_key(
    doc: TomlDocument, path: KeyPath, key: str, allowed: Sequence[str], where: str
) -> ConfigProblem:
    """The problem for a key nobody reads: silently ignoring it would hide a typo."""
    hint = closest(key, allowed)
    fix = f"did you mean '{hint}'?" if hint else f"allowed keys: {', '.join(allowed)}"
    return doc.problem(path, f"{where}: unknown key '{key}'", fix=fix)


def check_rule(
    doc: TomlDocument, path: KeyPath, entry: object, problems: list[ConfigProblem]
) -> RuleFields | None:
    """Validate one rule table; None when it is not a table at all."""
    if not isinstance(entry, dict):
        problems.append(doc.problem(path, "each rule must be a table", fix="write each rule as [[rule]]"))
        return None
    fields = RuleFields()
    raw_id = entry.get("id")
    label = f"rule '{raw_id}'" if isinstance(raw_id, str) and raw_id else "rule without an id"
    for key in entry:
        if key not in RULE_KEYS:
            problems.append(unknown_key(doc, (*path, key), key, RULE_KEYS, label))
    missing = [key for key in RULE_KEYS if key not in entry]
    if missing:
        problems.append(
            doc.problem(
                path, f"{label}: missing {', '.join(missing)}", fix=f"every rule needs {', '.join(RULE_KEYS)}"
            )
        )
    fields.id = _check_id(doc, path, entry, problems)
    signal = _check_signal(doc, path, label, entry, problems)
    if "when" in entry:
        fields.when, fields.definition = _check_when(
            doc, (*path, "when"), label, signal, entry["when"], problems
        )
    if "points" in entry:
        points = entry["points"]
        if isinstance(points, bool) or not isinstance(points, int | float) or not math.isfinite(points):
            problems.append(
                doc.problem((*path, "points"), f"{label}: points must be a number, got {show(points)}")
            )
        else:
            fields.points = float(points)
    if "reason" in entry:
        fields.reason = _check_reason(doc, (*path, "reason"), label, entry["reason"], fields, problems)
    return fields


def _check_id(
    doc: TomlDocument, path: KeyPath, entry: dict[str, object], problems: list[ConfigProblem]
) -> str | None:
    raw = entry.get("id")
    if raw is None:
        return None
    if not isinstance(raw, str) or not raw or not set(raw) <= _ID_CHARS:
        problems.append(
            doc.problem(
                (*path, "id"),
                f"rule id {show(raw)} must be text of letters, digits, '_' or '-'",
                fix='e.g. id = "login_high"; segment weights refer to rules by id',
            )
        )
        return None
    return raw


def _check_signal(
    doc: TomlDocument, path: KeyPath, label: str, entry: dict[str, object], problems: list[ConfigProblem]
) -> str | None:
    """The signal name when it exists (the kind of an extra.<name> signal comes from `when`)."""
    raw = entry.get("signal")
    if raw is None:
        return None
    if isinstance(raw, str) and lookup(raw) is not None:
        return raw
    names = known_names()
    hint = closest(raw, names) if isinstance(raw, str) else None
    known = f"known signals: {', '.join(names)}, or {EXTRA_PREFIX}<name> for a custom input"
    problems.append(
        doc.problem(
            (*path, "signal"),
            f"{label}: unknown signal " + (f"'{raw}'" if isinstance(raw, str) else show(raw)),
            fix=f"did you mean '{hint}'? ({known})" if hint else known,
        )
    )
    return None


def _check_when(
    doc: TomlDocument,
    path: KeyPath,
    label: str,
    signal: str | None,
    raw: object,
    problems: list[ConfigProblem],
) -> tuple[Condition | None, SignalDef | None]:
    ops = ", ".join(OPERATORS)
    if not isinstance(raw, dict):
        problems.append(doc.problem(path, f"{label}: when must be a table", fix="e.g. when = { gt = 15 }"))
        return None, None
    for key in raw:
        if key not in OPERATORS:
            hint = closest(key, OPERATORS)
            fix = f"did you mean '{hint}'? (operators: {ops})" if hint else f"operators: {ops}"
            problems.append(doc.problem((*path, key), f"{label}: unknown operator '{key}'", fix=fix))
    used: list[Operator] = [op for op in OPERATORS if op in raw]
    if not used:
        if not raw:
            problems.append(
                doc.problem(path, f"{label}: when has no operator", fix=f"use exactly one of: {ops}")
            )
        return None, None
    if len(used) > 1:
        problems.append(
            doc.problem(
                path,
                f"{label}: when has {len(used)} operators ({', '.join(used)}); a rule takes exactly one",
                fix="use between = [low, high] for a range, or split it into two rules",
            )
        )
        return None, None
    if signal is None:
        return None, None
    op = used[0]
    definition = lookup(signal)
    assert definition is not None
    if signal not in SIGNALS:  # extra.<name>
        definition = extra_signal(signal, _infer_kind(raw[op]))
    condition = _check_value(doc, (*path, op), label, definition, op, raw[op], problems)
    return condition, (definition if condition is not None else None)


def _infer_kind(value: object) -> ValueKind:
    """The kind a custom input is compared as, from the value its condition is written with."""
    sample = value[0] if isinstance(value, list) and value else value
    if isinstance(sample, bool):
        return "bool"
    if isinstance(sample, str):
        return "str"
    return "number"


def _check_value(
    doc: TomlDocument,
    path: KeyPath,
    label: str,
    signal: SignalDef,
    op: Operator,
    raw: object,
    problems: list[ConfigProblem],
) -> Condition | None:
    """Check the operator's value against the signal's kind and build the condition."""
    kind, name = signal.kind, signal.name
    wanted = _KIND_WORDS[kind]
    numeric = kind in ("int", "number", "ratio")
    if not numeric and op not in ("eq", "in"):
        example = "eq = true" if kind == "bool" else 'eq = "gold"'
        problems.append(
            doc.problem(
                path,
                f"{label}: {name} is {'yes/no' if kind == 'bool' else 'text'}; only eq or in apply, not {op}",
                fix=f"e.g. when = {{ {example} }}",
            )
        )
        return None
    if op == "between":
        if not (isinstance(raw, list) and len(raw) == 2 and all(value_fits(v, kind) for v in raw)):
            problems.append(
                doc.problem(
                    path, f"{label}: between on {name} needs [low, high], two numbers; got {show(raw)}"
                )
            )
            return None
        lo, hi = raw
        if lo > hi:
            problems.append(
                doc.problem(
                    path,
                    f"{label}: between [{lo}, {hi}] on {name} has its low end above its high end",
                    fix=f"write between = [{hi}, {lo}]",
                )
            )
            return None
        return Condition("between", (lo, hi))
    if op == "in":
        if not (isinstance(raw, list) and raw and all(value_fits(v, kind) for v in raw)):
            problems.append(
                doc.problem(
                    path, f"{label}: in on {name} needs a non-empty list of {wanted}; got {show(raw)}"
                )
            )
            return None
        return Condition("in", tuple(raw))
    if not value_fits(raw, kind):
        fix = None
        if isinstance(raw, str) and numeric and _parses_as_number(raw):
            fix = f"remove the quotes: {op} = {raw}"
        problems.append(
            doc.problem(path, f"{label}: {op} on {name} needs {wanted}; got {show(raw)}", fix=fix)
        )
        return None
    assert isinstance(raw, int | float | str)
    return Condition(op, raw)


def _parses_as_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _check_reason(
    doc: TomlDocument,
    path: KeyPath,
    label: str,
    raw: object,
    fields: RuleFields,
    problems: list[ConfigProblem],
) -> ReasonTemplate | None:
    if not isinstance(raw, str) or not raw.strip():
        problems.append(
            doc.problem(
                path,
                f"{label}: reason must be a non-empty text",
                fix='e.g. reason = "Logged in on {value} days"',
            )
        )
        return None
    try:
        template = ReasonTemplate.parse(raw)
        if fields.definition is not None and fields.when is not None:
            template.check(
                sample=_SAMPLES[fields.definition.kind],
                points=fields.points or 0.0,
                condition=fields.when,
                signal=fields.definition.name,
            )
    except TemplateError as exc:
        for message in exc.messages:
            problems.append(doc.problem(path, f"{label}: reason template: {message}"))
        return None
    return template


def show(value: object) -> str:
    """A TOML value as the user wrote it, with its type when that is the point of the message."""
    if isinstance(value, bool):
        return f"{'true' if value else 'false'} (a yes/no)"
    if isinstance(value, str):
        return f'"{value}" (a text)'
    if isinstance(value, list):
        return "[" + ", ".join(show(v).split(" (")[0] for v in value) + "]"
    if isinstance(value, dict):
        return "a table"
    return repr(value)
