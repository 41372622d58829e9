"""Value transforms named in mapping files: canonical value ⇄ CRM value, never user code.

A mapping says `band = "enum:band"` and `[enums.band] green = "Green"`; the writer turns `green`
into `Green` and the reader turns `Green` back. Transforms run in both directions so a value read
from the CRM can be compared with the one we would write (an unchanged re-sync writes nothing).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any

__all__ = ["from_crm", "to_crm"]


def _enum(transform: str, enums: Mapping[str, Mapping[str, str]]) -> Mapping[str, str]:
    name = transform.partition(":")[2]
    try:
        return enums[name]
    except KeyError:
        raise ValueError(f"enum map '{name}' is not defined") from None


def to_crm(transform: str | None, value: Any, enums: Mapping[str, Mapping[str, str]]) -> Any:
    """The CRM's representation of canonical `value` under `transform` (None passes through)."""
    if value is None or transform is None:
        return value
    if transform.startswith("enum:"):
        table = _enum(transform, enums)
        key = str(value.value if hasattr(value, "value") else value)
        if key not in table:
            raise ValueError(f"no CRM value for '{key}' in enum map '{transform[5:]}'")
        return table[key]
    if transform == "percent":
        return round(float(value) * 100, 4)
    if transform == "date":
        return value.isoformat() if isinstance(value, date) else str(value)[:10]
    if transform == "datetime":
        if isinstance(value, datetime):
            stamp = value if value.tzinfo else value.replace(tzinfo=UTC)
            return stamp.astimezone(UTC).isoformat().replace("+00:00", "Z")
        return str(value)
    if transform == "number":
        return float(value)
    if transform == "integer":
        return round(float(value))
    if transform == "text":
        return str(value)
    raise ValueError(f"unknown transform '{transform}'")


def from_crm(transform: str | None, raw: Any, enums: Mapping[str, Mapping[str, str]]) -> Any:
    """The canonical value of CRM value `raw` under `transform`; blanks read as None."""
    if raw is None or (isinstance(raw, str) and not raw.strip()) or transform is None:
        return None if isinstance(raw, str) and not raw.strip() else raw
    if transform.startswith("enum:"):
        reverse = {v.casefold(): k for k, v in _enum(transform, enums).items()}
        return reverse.get(str(raw).casefold())
    if transform == "percent":
        return float(raw) / 100
    if transform == "date":
        return (
            raw
            if isinstance(raw, date) and not isinstance(raw, datetime)
            else date.fromisoformat(str(raw)[:10])
        )
    if transform == "datetime":
        if isinstance(raw, datetime):
            return raw if raw.tzinfo else raw.replace(tzinfo=UTC)
        text = str(raw)
        if text.isdigit():  # HubSpot stamps as epoch milliseconds
            return datetime.fromtimestamp(int(text) / 1000, tz=UTC)
        return datetime.fromisoformat(text.replace("Z", "+00:00").replace("+0000", "+00:00"))
    if transform == "number":
        number = float(raw)
        return number if math.isfinite(number) else None
    if transform == "integer":
        return round(float(raw))
    if transform == "text":
        return str(raw)
    raise ValueError(f"unknown transform '{transform}'")
