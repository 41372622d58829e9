"""Rule sets: the data that turns features into a health score (DESIGN.md section 5).

Rules are data so RevOps can change the playbook without a release. A rule file is TOML:

```toml
version = "2026.1"            # optional; results carry it plus a short hash of the content
[bands]                       # optional; red is everything below yellow
green = 70
yellow = 40
[[rule]]
id = "login_high"
signal = "login_days_30d"     # a name from healthsync.scoring.registry, or extra.<name>
when = { gt = 15 }            # exactly one of gt gte lt lte eq between in
points = 30
reason = "Logged in on {value} of the last 30 days"
[segments.enterprise]         # per segment: weights, and/or a replacement [[...rule]] list, own bands
weights = { login_high = 0.5 }
```

Within one rule list, two rules on the same signal must not both fire for any value: stacked
readings ("15 logins: medium" and "15 logins: high") make an explanation ambiguous, so the loader
rejects them and says for which values they overlap. Every problem in a file is reported at once
(file, line, key, rule id), because a user fixing a rule file one error per run gives up.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import lru_cache
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any

from healthsync.errors import ConfigError, ConfigProblem
from healthsync.model import Band
from healthsync.scoring.conditions import Condition, overlap
from healthsync.scoring.registry import SignalDef, ValueKind
from healthsync.scoring.rulecheck import RuleFields, check_rule, unknown_key
from healthsync.scoring.tablecheck import check_bands, check_weights, ids_written
from healthsync.scoring.templates import ReasonTemplate
from healthsync.tomlsource import KeyPath, TomlDocument, load_toml, parse_toml

__all__ = [
    "Bands",
    "Condition",
    "EffectiveRules",
    "Rule",
    "RuleSet",
    "Segment",
    "default_rules",
    "load_rules",
    "parse_rules",
]

DEFAULT_RULES_RESOURCE = "default_rules.toml"
_TOP_KEYS = ("version", "bands", "rule", "segments")
_SEGMENT_KEYS = ("rule", "weights", "bands")


@dataclass(frozen=True)
class Bands:
    """Score thresholds of the bands: green from `green` up, yellow from `yellow`, red below.

    Thresholds are inclusive lower bounds so a score exactly on one (70.0) takes the better band,
    which is what "green ≥ 70" in the playbook says.
    """

    green: float = 70.0
    yellow: float = 40.0

    def band_for(self, score: float) -> Band:
        """The band a score falls in."""
        if score >= self.green:
            return Band.GREEN
        if score >= self.yellow:
            return Band.YELLOW
        return Band.RED


@dataclass(frozen=True)
class Rule:
    """One line of the playbook: when `signal` satisfies `when`, add `points` and say `reason`.

    Attributes:
        id: unique within its rule list; weights and explanations refer to it.
        signal: the signal name as written (see `healthsync.scoring.registry`).
        when: the condition on the signal value.
        points: points as written in the file.
        reason: the reason template as written, e.g. "Logged in on {value} days".
        definition: how to read the signal from `Features`.
        template: `reason`, parsed; renders the sentence shown to the CSM when the rule fires.
        weight: segment multiplier applied to `points` (1.0 outside segments).
        line: where the rule starts in its file, for messages.
    """

    id: str
    signal: str
    when: Condition
    points: float
    reason: str
    definition: SignalDef = field(compare=False, repr=False)
    template: ReasonTemplate = field(compare=False, repr=False)
    weight: float = 1.0
    line: int | None = field(default=None, compare=False)

    @property
    def kind(self) -> ValueKind:
        """The kind of value the rule reads."""
        return self.definition.kind

    @property
    def weighted_points(self) -> float:
        """Points after the segment weight (rounded so 30 × 0.3 reads 9, not 8.999999999999998)."""
        return round(self.points * self.weight, 6)


@dataclass(frozen=True)
class Segment:
    """How one customer segment departs from the rule set's defaults.

    Attributes:
        name: the segment name as written in the file.
        rules: a replacement rule list, or None to use the rule set's rules.
        weights: rule id → multiplier of its points (0 switches a rule off for the segment).
        bands: the segment's own thresholds, or None to use the rule set's.
    """

    name: str
    rules: tuple[Rule, ...] | None = None
    weights: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))
    bands: Bands | None = None


@dataclass(frozen=True)
class EffectiveRules:
    """What actually applies to one account: the rules (weights applied) and bands of its segment."""

    segment: str | None
    rules: tuple[Rule, ...]
    bands: Bands
    rules_version: str

    @property
    def signals(self) -> tuple[str, ...]:
        """The distinct signals these rules read, in rule order; the denominator of coverage."""
        return tuple(dict.fromkeys(rule.signal for rule in self.rules))


@dataclass(frozen=True)
class RuleSet:
    """A validated rule file: default rules and bands plus per-segment variations.

    Attributes:
        rules: the default rule list.
        bands: the default bands.
        segments: segment variations keyed by lower-cased name (segment names match case-insensitively,
            because CRMs hold "Enterprise", "enterprise" and "ENTERPRISE" side by side).
        version: the `version` written in the file, if any.
        source: where the rules came from (a file name), for messages.
        digest: short hash of the file's content, so two different files with the same `version`
            can still be told apart in results.
    """

    rules: tuple[Rule, ...]
    bands: Bands = field(default_factory=Bands)
    segments: Mapping[str, Segment] = field(default_factory=lambda: MappingProxyType({}))
    version: str | None = None
    source: str = "<rules>"
    digest: str = ""

    @property
    def rules_version(self) -> str:
        """The version shown in every result: `<version>+<digest>` ("unversioned" when not given)."""
        return f"{self.version or 'unversioned'}+{self.digest}" if self.digest else self.version or ""

    def for_segment(self, name: str | None) -> EffectiveRules:
        """The rules and bands for an account in segment `name`.

        An unknown or missing segment gets the defaults: a segment the rule file does not mention
        has no variation, which is not an error.
        """
        segment = self.segments.get(name.strip().lower()) if name else None
        if segment is None:
            return EffectiveRules(None, self.rules, self.bands, self.rules_version)
        base = segment.rules if segment.rules is not None else self.rules
        rules = tuple(replace(rule, weight=segment.weights.get(rule.id, 1.0)) for rule in base)
        return EffectiveRules(segment.name, rules, segment.bands or self.bands, self.rules_version)


def load_rules(path: str | Path) -> RuleSet:
    """Read and validate a rule file.

    Raises:
        ConfigError: the file is missing, is not TOML, or breaks a rule; lists every problem.
    """
    return parse_rules(load_toml(path))


@lru_cache(maxsize=1)
def default_rules() -> RuleSet:
    """The built-in rule set, which reproduces the reference table of DESIGN.md section 5."""
    text = resources.files("healthsync.scoring").joinpath(DEFAULT_RULES_RESOURCE).read_text("utf-8")
    return parse_rules(parse_toml(text, f"healthsync/scoring/{DEFAULT_RULES_RESOURCE}"))


def parse_rules(doc: TomlDocument) -> RuleSet:
    """Validate a parsed rule file and build its RuleSet.

    Raises:
        ConfigError: `"<source>: invalid rule file"`, with one ConfigProblem per problem found.
    """
    problems: list[ConfigProblem] = []
    data = doc.data
    for key in data:
        if key not in _TOP_KEYS:
            problems.append(unknown_key(doc, (key,), key, _TOP_KEYS, "the rule file"))

    version = data.get("version")
    if version is not None and not isinstance(version, str):
        problems.append(
            doc.problem(("version",), "version must be text", fix=f'quote it: version = "{version}"')
        )
        version = None

    bands = Bands()
    if "bands" in data:
        green, yellow = check_bands(doc, ("bands",), data["bands"], (bands.green, bands.yellow), problems)
        bands = Bands(green, yellow)

    rules = _rule_list(doc, ("rule",), data.get("rule"), problems)
    segments = _segments(doc, data.get("segments"), data.get("rule"), bands, problems)
    if problems:
        problems.sort(key=lambda p: p.line or 0)  # stable: same-line problems keep their check order
        raise ConfigError(f"{doc.source}: invalid rule file", problems)
    return RuleSet(
        rules=rules,
        bands=bands,
        segments=MappingProxyType(segments),
        version=version,
        source=doc.source,
        digest=_digest(data),
    )


def _digest(data: dict[str, Any]) -> str:
    canonical = json.dumps(data, sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:8]


def _rule_list(
    doc: TomlDocument, path: KeyPath, raw: object, problems: list[ConfigProblem]
) -> tuple[Rule, ...]:
    """Validate a `[[rule]]` array, then the relations between its rules (ids, overlaps)."""
    if raw is None or raw == []:
        header = "[[" + ".".join(str(p) for p in path) + "]]"
        problems.append(doc.problem(path, "no rules", fix=f"add at least one {header} table"))
        return ()
    if not isinstance(raw, list):
        problems.append(doc.problem(path, "must be an array of tables", fix="write each rule as [[rule]]"))
        return ()
    checked: list[tuple[KeyPath, RuleFields]] = []
    first_seen: dict[str, KeyPath] = {}
    for index, entry in enumerate(raw):
        entry_path = (*path, index)
        fields = check_rule(doc, entry_path, entry, problems)
        if fields is None:
            continue
        if fields.id is not None:
            if fields.id in first_seen:
                earlier = doc.line_of(first_seen[fields.id])
                problems.append(
                    doc.problem(
                        (*entry_path, "id"),
                        f"rule '{fields.id}': duplicate id, already used by the rule at line {earlier}",
                        fix="give each rule its own id",
                    )
                )
            else:
                first_seen[fields.id] = entry_path
        checked.append((entry_path, fields))
    # Overlaps are checked for every rule whose signal and condition are valid, even if its other
    # parts are not, so fixing a reason does not reveal a new problem on the next run.
    _check_overlaps(doc, [(p, f) for p, f in checked if f.definition and f.when], problems)
    return tuple(_build(doc, p, f) for p, f in checked if f.complete)


def _build(doc: TomlDocument, path: KeyPath, fields: RuleFields) -> Rule:
    assert fields.id is not None
    assert fields.definition is not None
    assert fields.when is not None
    assert fields.reason is not None
    assert fields.points is not None
    return Rule(
        id=fields.id,
        signal=fields.definition.name,
        when=fields.when,
        points=fields.points,
        reason=fields.reason.text,
        definition=fields.definition,
        template=fields.reason,
        line=doc.line_of(path),
    )


def _check_overlaps(
    doc: TomlDocument, rules: list[tuple[KeyPath, RuleFields]], problems: list[ConfigProblem]
) -> None:
    """Two rules on one signal must not both fire for any value, and must read it as the same kind."""
    for j, (path_b, b) in enumerate(rules):
        for path_a, a in rules[:j]:
            assert a.definition is not None
            assert b.definition is not None
            assert a.when is not None
            assert b.when is not None
            if a.definition.name != b.definition.name:
                continue
            signal, line_a = b.definition.name, doc.line_of(path_a)
            if a.definition.kind != b.definition.kind:
                problems.append(
                    doc.problem(
                        (*path_b, "when"),
                        f"{b.label}: reads {signal} as {b.definition.kind} but {a.label} "
                        f"(line {line_a}) reads it as {a.definition.kind}",
                        fix="compare a custom input with values of one type in every rule",
                    )
                )
                continue
            both = overlap(a.when, b.when, integer=b.definition.kind == "int")
            if both is not None:
                problems.append(
                    doc.problem(
                        (*path_b, "when"),
                        f"{b.label} ({signal} {b.when.describe()}) overlaps {a.label} "
                        f"({signal} {a.when.describe()}, line {line_a}): both would fire for {both}",
                        fix="make the conditions disjoint (e.g. gt 15 and lte 15); rules on one signal "
                        "may not stack, so each account gets one unambiguous reading per signal",
                    )
                )


def _segments(
    doc: TomlDocument, raw: object, top_rules: object, bands: Bands, problems: list[ConfigProblem]
) -> dict[str, Segment]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        problems.append(
            doc.problem(("segments",), "must be a table of segments", fix="write [segments.<name>]")
        )
        return {}
    out: dict[str, Segment] = {}
    for name, body in raw.items():
        path: KeyPath = ("segments", name)
        key = name.strip().lower()
        if key in out:
            problems.append(
                doc.problem(
                    path,
                    f"segment '{name}' repeats segment '{out[key].name}'; segment names ignore case",
                    fix="merge the two tables",
                )
            )
            continue
        if not isinstance(body, dict):
            problems.append(
                doc.problem(path, f"segment '{name}' must be a table", fix=f"write [segments.{name}]")
            )
            continue
        for k in body:
            if k not in _SEGMENT_KEYS:
                problems.append(unknown_key(doc, (*path, k), k, _SEGMENT_KEYS, f"segment '{name}'"))
        own = _rule_list(doc, (*path, "rule"), body["rule"], problems) if "rule" in body else None
        ids = ids_written(body.get("rule", top_rules))
        weights = check_weights(doc, path, name, body.get("weights"), ids, "rule" in body, problems)
        own_bands = None
        if "bands" in body:
            green, yellow = check_bands(
                doc, (*path, "bands"), body["bands"], (bands.green, bands.yellow), problems
            )
            own_bands = Bands(green, yellow)
        out[key] = Segment(name=name, rules=own, weights=MappingProxyType(weights), bands=own_bands)
    return out
