"""Records as the CRM objects API returns them (`SimplePublicObject` and friends).

A read returns the properties it names, or the object's default properties when it names none,
and always the record id and the create/modified stamps. A named property without a value comes back
as `null`, as HubSpot sends it (the published spec types property values as plain strings, so the
contract tests drop nulls before validating). Unknown names are ignored rather than rejected.
Reference: https://developers.hubspot.com/docs/api/crm/companies ("Retrieve companies").
"""

from __future__ import annotations

from collections.abc import Container, Iterable
from datetime import datetime
from typing import Any

from healthsync.sandbox.hubspot.errors import VALIDATION_ERROR, api_error
from healthsync.sandbox.hubspot.store import ObjectType, Record
from healthsync.sandbox.hubspot.values import iso
from healthsync.sandbox.wire import Request

__all__ = ["batch_envelope", "parse_bool", "public_object", "requested_properties"]


def parse_bool(request: Request, name: str, default: bool = False) -> bool:
    """A boolean query parameter; hubspot-api-client sends Python's `True`/`False` (vendor-facts §21)."""
    raw = request.arg(name)
    if raw is None or raw == "":
        return default
    lowered = raw.lower()
    if lowered in {"true", "1"}:
        return True
    if lowered in {"false", "0"}:
        return False
    raise api_error(400, VALIDATION_ERROR, f"Unable to parse boolean query parameter {name}={raw!r}")


def requested_properties(values: Iterable[str] | None) -> list[str] | None:
    """Property names from repeated and/or comma-joined parameters (`properties=a,b&properties=c`)."""
    if values is None:
        return None
    names = [name.strip() for value in values for name in str(value).split(",") if name.strip()]
    return list(dict.fromkeys(names)) or None


def public_object(
    record: Record,
    object_type: ObjectType,
    requested: list[str] | None,
    known: Container[str],
    *,
    associations: dict[str, Any] | None = None,
    all_properties: bool = False,
) -> dict[str, Any]:
    """One record as `SimplePublicObject` (plus `associations` when asked for)."""
    if all_properties:
        properties: dict[str, str | None] = dict(sorted(record.properties.items()))
    else:
        names = list(requested) if requested else list(object_type.defaults)
        names += [object_type.created_prop, object_type.modified_prop, "hs_object_id"]
        properties = {name: record.properties.get(name) for name in sorted(set(names)) if name in known}
    out: dict[str, Any] = {
        "id": str(record.id),
        "properties": properties,
        "createdAt": iso(record.created_at),
        "updatedAt": iso(record.updated_at),
        "archived": record.archived,
    }
    if record.archived_at is not None:
        out["archivedAt"] = iso(record.archived_at)
    if associations:
        out["associations"] = associations
    return out


def batch_envelope(
    results: list[dict[str, Any]],
    started: datetime,
    finished: datetime,
    errors: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A batch answer: `{status: COMPLETE, results, requestedAt, startedAt, completedAt}` (+ errors on 207).

    Shape of `BatchResponseSimplePublicObject[WithErrors]` in the CRM object specs and
    https://developers.hubspot.com/docs/api/crm/companies (batch endpoints).
    """
    body: dict[str, Any] = {
        "status": "COMPLETE",
        "results": results,
        "requestedAt": iso(started),
        "startedAt": iso(started),
        "completedAt": iso(finished),
    }
    if errors:
        body["numErrors"] = len(errors)
        body["errors"] = errors
    return body
