"""Validation of record writes: unknown properties, bad values, owners, deal stages, unique values.

HubSpot rejects a write whose values are invalid with 400 VALIDATION_ERROR and the message
"Property values were not valid: [...]" (one validation result per bad property), and a write that
would duplicate a `hasUniqueValue` property with 409 CONFLICT naming the existing record, as it
does for contact emails ("Contact already exists. Existing ID: ...",
https://developers.hubspot.com/docs/api/crm/contacts ; unique properties:
https://developers.hubspot.com/docs/api/crm/properties#create-unique-identifier-properties ).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from healthsync.sandbox.hubspot.errors import (
    VALIDATION_ERROR,
    PropertyProblem,
    api_error,
    property_values_error,
)
from healthsync.sandbox.hubspot.state import HubSpotState
from healthsync.sandbox.hubspot.store import ObjectType, Record
from healthsync.sandbox.hubspot.values import normalize_value
from healthsync.sandbox.wire import ApiError

__all__ = ["Conflict", "check_values", "conflict_error", "find_conflict", "invalid_error"]

Conflict = tuple[str, str, Record]
"""(property, value, record already holding it)."""


def check_values(
    state: HubSpotState,
    object_type: ObjectType,
    raw: Mapping[str, Any] | None,
    *,
    existing: Record | None,
) -> tuple[dict[str, str | None], list[PropertyProblem]]:
    """Normalised values and the problems HubSpot would report for them."""
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        raise api_error(400, VALIDATION_ERROR, "Invalid input JSON: `properties` must be an object")
    props = state.live_properties(object_type)
    values: dict[str, str | None] = {}
    problems: list[PropertyProblem] = []
    for name, given in raw.items():
        prop = props.get(name)
        if prop is None:
            problems.append(
                PropertyProblem(name, "PROPERTY_DOESNT_EXIST", f'Property "{name}" does not exist')
            )
            continue
        if prop.read_only_value:
            problems.append(
                PropertyProblem(
                    name, "READ_ONLY_VALUE", f'"{name}" is a read only property; its value cannot be set.'
                )
            )
            continue
        value, problem = normalize_value(name, prop.type, prop.field_type, prop.option_values, given)
        if (
            problem is None
            and value is not None
            and name == "hubspot_owner_id"
            and state.owner(value) is None
        ):
            problem = PropertyProblem(name, "INVALID_OWNER_ID", f"{value} is not a valid owner id")
        if problem is not None:
            problems.append(problem)
        else:
            values[name] = value
    if object_type.name == "deals":
        problems += _deal_stage_problems(state, values, existing)
    if object_type.name == "tasks" and existing is None and not values.get("hs_timestamp"):
        # https://developers.hubspot.com/docs/api/crm/tasks : "hs_timestamp ... This field is required."
        problems.append(PropertyProblem("hs_timestamp", "REQUIRED", "hs_timestamp is required"))
    return values, problems


def _deal_stage_problems(
    state: HubSpotState, values: dict[str, str | None], existing: Record | None
) -> list[PropertyProblem]:
    # A deal's pipeline and stage must be internal ids of an existing pipeline and one of its stages
    # (https://developers.hubspot.com/docs/api/crm/pipelines : "use the internal ID ... not the label").
    current = existing.properties if existing else {}
    pipeline_id = values.get("pipeline", current.get("pipeline")) or "default"
    pipeline = state.pipelines["deals"].get(pipeline_id)
    if pipeline is None or pipeline.archived:
        if "pipeline" in values:
            return [
                PropertyProblem(
                    "pipeline", "INVALID_OPTION", f"{pipeline_id} was not one of the allowed options"
                )
            ]
        return []
    stage = values.get("dealstage")
    if stage is not None and stage not in {s.id for s in pipeline.stages if not s.archived}:
        return [
            PropertyProblem(
                "dealstage",
                "INVALID_OPTION",
                f"{stage} was not one of the allowed options: [{', '.join(s.id for s in pipeline.stages)}]",
            )
        ]
    if "pipeline" in values and "dealstage" not in values and existing is not None:
        old = existing.properties.get("dealstage")
        if old is not None and old not in {s.id for s in pipeline.stages}:
            return [
                PropertyProblem(
                    "dealstage", "INVALID_OPTION", f"{old} is not a stage of pipeline {pipeline_id}"
                )
            ]
    return []


def invalid_error(problems: list[PropertyProblem]) -> ApiError:
    """HubSpot's 400 for invalid values."""
    return api_error(400, VALIDATION_ERROR, property_values_error(problems))


def find_conflict(
    state: HubSpotState, object_type: ObjectType, values: Mapping[str, str | None], record_id: int | None
) -> Conflict | None:
    """The first unique property whose new value another live record already holds."""
    store = state.objects[object_type.name]
    for name in store.unique_names:
        value = values.get(name)
        if value is None:
            continue
        holder = store.find_unique(name, value)
        if holder is not None and holder.id != record_id:
            return name, value, holder
    return None


def conflict_error(object_type: ObjectType, conflict: Conflict) -> ApiError:
    """HubSpot's 409 CONFLICT for a duplicate unique value."""
    name, value, holder = conflict
    return api_error(
        409,
        "CONFLICT",
        f"{object_type.singular.capitalize()} already exists. Existing ID: {holder.id}"
        f' ({name} "{value}" must be unique)',
        context={"id": [str(holder.id)], "propertyName": [name]},
    )
