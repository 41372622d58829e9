"""Reason templates: the sentence a CSM reads for each rule that fired ("Logged in on {value} days").

Rule files come from users, so the template language is deliberately tiny: four placeholders and an
optional format spec, substituted by our own scanner. `str.format` is not used on user text because
it allows attribute and index access (`{value.__class__}`), and there is no eval and no Jinja.
Unknown placeholders and bad format specs are found when the rule file is loaded, not mid-run.
"""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass

from healthsync.scoring.conditions import Condition, Scalar, format_scalar

__all__ = ["PLACEHOLDERS", "ReasonTemplate", "TemplateError"]

PLACEHOLDERS: tuple[str, ...] = ("value", "points", "threshold", "signal")
"""`{value}` the signal value, `{points}` the points awarded (after weights), `{threshold}` the
condition's value(s) ("15", "5–15", "9, 10"), `{signal}` the signal name."""


class TemplateError(ValueError):
    """A reason template cannot be parsed; `messages` says every reason why."""

    def __init__(self, messages: list[str]) -> None:
        self.messages = messages
        super().__init__("; ".join(messages))


@dataclass(frozen=True)
class _Placeholder:
    name: str
    spec: str


@dataclass(frozen=True)
class ReasonTemplate:
    """A parsed reason template; build it with `ReasonTemplate.parse`.

    Attributes:
        text: the template as written in the rule file.
        parts: literal text and placeholders, in order.
    """

    text: str
    parts: tuple[str | _Placeholder, ...]

    @classmethod
    def parse(cls, text: str) -> ReasonTemplate:
        """Parse `text`; `{{` and `}}` write literal braces.

        Raises:
            TemplateError: with one message per unknown placeholder or stray brace.
        """
        parts: list[str | _Placeholder] = []
        errors: list[str] = []
        literal: list[str] = []
        i = 0
        while i < len(text):
            ch = text[i]
            if text.startswith("{{", i) or text.startswith("}}", i):
                literal.append(ch)
                i += 2
            elif ch == "}":
                errors.append(f"single '}}' at character {i + 1}; write '}}}}' for a literal brace")
                i += 1
            elif ch == "{":
                end = text.find("}", i + 1)
                inner = text[i + 1 : end] if end >= 0 else text[i + 1 :]
                if end < 0 or "{" in inner:
                    errors.append(f"unclosed '{{' at character {i + 1}; write '{{{{' for a literal brace")
                    i = len(text) if end < 0 else i + 1
                    continue
                name, _, spec = inner.partition(":")
                if name not in PLACEHOLDERS:
                    errors.append(_unknown(name))
                parts.extend(["".join(literal), _Placeholder(name, spec)])
                literal = []
                i = end + 1
            else:
                literal.append(ch)
                i += 1
        parts.append("".join(literal))
        if errors:
            raise TemplateError(errors)
        return cls(text, tuple(p for p in parts if p != ""))

    def check(self, *, sample: Scalar, points: float, condition: Condition, signal: str) -> None:
        """Render once with a sample value so a format spec that cannot apply fails at load time.

        Raises:
            TemplateError: naming the placeholder whose format spec does not fit.
        """
        errors: list[str] = []
        for part in self.parts:
            if isinstance(part, _Placeholder) and part.spec:
                try:
                    _substitute(part, sample, points, condition, signal, strict=True)
                except (ValueError, TypeError) as exc:
                    errors.append(f"format spec ':{part.spec}' does not fit {{{part.name}}}: {exc}")
        if errors:
            raise TemplateError(errors)

    def render(self, *, value: Scalar, points: float, condition: Condition, signal: str) -> str:
        """The sentence for one account; a spec that does not fit the actual value is ignored."""
        out = []
        for part in self.parts:
            if isinstance(part, str):
                out.append(part)
            else:
                out.append(_substitute(part, value, points, condition, signal, strict=False))
        return "".join(out)


def _unknown(name: str) -> str:
    if not name:
        return "empty placeholder '{}'; write '{{' for a literal brace"
    close = difflib.get_close_matches(name, PLACEHOLDERS, n=1)
    hint = f" (did you mean {{{close[0]}}}?)" if close else ""
    known = ", ".join(f"{{{p}}}" for p in PLACEHOLDERS)
    return f"unknown placeholder {{{name}}}{hint}; known: {known}"


def _substitute(
    part: _Placeholder, value: Scalar, points: float, condition: Condition, signal: str, *, strict: bool
) -> str:
    if part.name == "value":
        return _fmt(value, part.spec, strict=strict)
    if part.name == "points":
        return _fmt(points, part.spec, strict=strict)
    if part.name == "signal":
        return _fmt(signal, part.spec, strict=strict)
    threshold = condition.value
    if not isinstance(threshold, tuple):
        return _fmt(threshold, part.spec, strict=strict)
    rendered = [_fmt(v, part.spec, strict=strict) for v in threshold]
    return "–".join(rendered) if condition.op == "between" else ", ".join(rendered)


FLOOR_SPEC = "floor"
"""`{value:floor}`: the whole number below a value, e.g. the full days a ticket has been open. Unlike
`.0f` it does not round up half-way through a day, so a reason written to the CRM changes once a day."""


def _fmt(value: Scalar, spec: str, *, strict: bool) -> str:
    if not spec:
        return format_scalar(value)
    if spec == FLOOR_SPEC:
        if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
            return str(math.floor(value))
        if strict:
            raise ValueError("floor needs a number")
        return format_scalar(value)
    try:
        return format(value, spec)
    except (ValueError, TypeError):
        if strict:
            raise
        return format_scalar(value)
