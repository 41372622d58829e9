"""Property values as HubSpot stores, validates and compares them.

HubSpot keeps every property value as a string on the wire. What a value may be depends on the
property's `type` (https://developers.hubspot.com/docs/api/crm/properties , "type and fieldType"):
numbers as decimal strings, `date` as a calendar day (midnight UTC when given as epoch milliseconds),
`datetime` as epoch milliseconds or ISO 8601, `enumeration` one of the options (`;`-joined for
checkboxes), `bool` "true"/"false".
"""

from __future__ import annotations

import functools
import math
import re
from datetime import UTC, date, datetime, time
from typing import Any

from healthsync.sandbox.hubspot.errors import PropertyProblem

__all__ = [
    "comparable",
    "iso",
    "normalize_value",
    "parse_instant",
]

_DIGITS = re.compile(r"^-?\d+$")


@functools.lru_cache(maxsize=65536)
def iso(moment: datetime) -> str:
    """HubSpot's timestamp format: UTC, milliseconds, `Z` (e.g. `2019-10-30T03:30:17.883Z`).

    Cached: list pages format the same record stamps over and over.
    """
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def parse_instant(value: str) -> datetime | None:
    """An instant from epoch milliseconds, ISO 8601 or a bare date (midnight UTC); None if unparsable."""
    text = value.strip()
    if _DIGITS.match(text):
        try:
            return datetime.fromtimestamp(int(text) / 1000, tz=UTC)
        except (OverflowError, OSError, ValueError):
            return None
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), time(0), tzinfo=UTC)
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _as_text(raw: Any) -> str | None:
    if raw is None:
        return None
    if isinstance(raw, bool):
        return "true" if raw else "false"
    if isinstance(raw, float) and raw.is_integer():
        return str(int(raw))
    return str(raw)


def normalize_value(
    name: str, kind: str, field_type: str, options: list[str], raw: Any
) -> tuple[str | None, PropertyProblem | None]:
    """The stored form of `raw` for a property of type `kind`, or the problem HubSpot would report.

    An empty string clears the property, as in HubSpot. Error codes are the ones HubSpot puts in
    "Property values were not valid" (INVALID_OPTION, INVALID_LONG, INVALID_DATE, ...).
    """
    text = _as_text(raw)
    if text is None or text == "":
        return None, None
    if kind == "number":
        try:
            number = float(text)
        except ValueError:
            number = math.nan
        if math.isnan(number) or math.isinf(number):
            return None, PropertyProblem(name, "INVALID_LONG", f"{text} was not a valid long.")
        return text.strip(), None
    if kind == "bool":
        if text.lower() not in {"true", "false"}:
            return None, PropertyProblem(name, "INVALID_BOOLEAN", f"{text} is not a valid boolean.")
        return text.lower(), None
    if kind == "date":
        moment = parse_instant(text)
        if moment is None:
            return None, PropertyProblem(name, "INVALID_DATE", f"{text} is not a valid date.")
        if _DIGITS.match(text.strip()) and moment.timetz() != time(0, tzinfo=UTC):
            # https://developers.hubspot.com/docs/api/faq : date properties take midnight UTC only.
            return None, PropertyProblem(
                name,
                "INVALID_DATE",
                f"{text} is at {moment.time()} UTC; date values must be at midnight UTC.",
            )
        return moment.date().isoformat(), None
    if kind == "datetime":
        moment = parse_instant(text)
        if moment is None:
            return None, PropertyProblem(name, "INVALID_DATETIME", f"{text} is not a valid datetime.")
        return iso(moment), None
    if kind == "enumeration" and options:
        chosen = text.split(";") if field_type == "checkbox" else [text]
        bad = [value for value in chosen if value not in options]
        if bad:
            return None, PropertyProblem(
                name,
                "INVALID_OPTION",
                f"{bad[0]} was not one of the allowed options: [{', '.join(options)}]",
            )
    return text, None


def comparable(kind: str, value: str | None) -> float | str | None:
    """A value in a form search can order and compare: numbers and instants as floats, text folded."""
    if value is None:
        return None
    if kind in {"number"}:
        try:
            return float(value)
        except ValueError:
            return None
    if kind in {"date", "datetime"}:
        moment = parse_instant(value)
        return moment.timestamp() * 1000 if moment else None
    return value.casefold()
