"""Provisioning in HubSpot: property groups, properties, options, the renewal pipeline and its stages.

- Properties go out per object through `POST /crm/v3/properties/{object}/batch/create` (a 207 lists
  the inputs HubSpot refused; the rest are created); keys carry `hasUniqueValue`
  (https://developers.hubspot.com/docs/api/crm/properties).
- A missing option is added with `PATCH /crm/v3/properties/{object}/{name}`, whose `options`
  replace the list: the existing options are sent back with the new ones.
- The renewal pipeline is `POST /crm/v3/pipelines/deals` with its stages; every stage needs a
  probability, 1.0 and 0.0 marking the closed won and lost stages
  (https://developers.hubspot.com/docs/api/crm/pipelines). A missing stage is added to it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from functools import partial
from typing import Any

from hubspot.crm.pipelines import PipelineInput, PipelineStageInput
from hubspot.crm.properties import (
    BatchInputPropertyCreate,
    OptionInput,
    PropertyCreate,
    PropertyGroupCreate,
    PropertyUpdate,
)

from healthsync.connectors.hubspot_api import HubSpotApi
from healthsync.errors import VendorError
from healthsync.mappings.provision import Change
from healthsync.mappings.schema import FieldNeed, PipelineNeed

__all__ = ["apply_changes", "property_input"]

_TYPES: dict[str, tuple[str, str]] = {
    "number": ("number", "number"),
    "integer": ("number", "number"),
    "text": ("string", "text"),
    "longtext": ("string", "textarea"),
    "enum": ("enumeration", "select"),
    "date": ("date", "date"),
    "datetime": ("datetime", "date"),
    "key": ("string", "text"),
    "any": ("string", "text"),
}
"""HubSpot (type, fieldType) per field kind."""

_GROUP_LABEL = "healthsync"


def _options(values: Sequence[str]) -> list[OptionInput]:
    return [OptionInput(label=v, value=v, display_order=i, hidden=False) for i, v in enumerate(values)]


def property_input(need: FieldNeed, group: str) -> PropertyCreate:
    """The `PropertyCreate` for a field healthsync needs."""
    kind, field_type = _TYPES[need.kind]
    return PropertyCreate(
        name=need.name,
        label=need.label,
        type=kind,
        field_type=field_type,
        group_name=group,
        options=_options(need.options) if need.kind == "enum" else None,
        has_unique_value=need.unique or None,
        form_field=False,
    )


def _probabilities(need: PipelineNeed) -> list[tuple[str, str, bool]]:
    """(label, probability, closed) per stage: open stages rise evenly to 0.8; won 1.0, lost 0.0."""
    open_stages = [s for s in need.stages if s not in (need.won, need.lost)]
    out: list[tuple[str, str, bool]] = []
    for i, label in enumerate(open_stages, start=1):
        step = round(min(0.8, 0.2 * i), 1) if len(open_stages) <= 4 else round(0.8 * i / len(open_stages), 1)
        out.append((label, f"{step:.1f}", False))
    if need.won:
        out.append((need.won, "1.0", True))
    if need.lost:
        out.append((need.lost, "0.0", True))
    return out


def _stage(label: str, probability: str, closed: bool, order: int) -> PipelineStageInput:
    return PipelineStageInput(
        label=label,
        display_order=order,
        metadata={"probability": probability, "isClosed": "true" if closed else "false"},
    )


class _Applier:
    def __init__(self, api: HubSpotApi, group: str | None) -> None:
        self.api = api
        self.group = group or _GROUP_LABEL

    def group_(self, change: Change) -> str:
        groups = self.api.api("crm.properties.groups_api")
        body = PropertyGroupCreate(name=change.name, label=change.name.capitalize(), display_order=-1)
        self.api.call(
            f"property_groups.{change.object}.create",
            partial(groups.create, object_type=change.object, property_group_create=body),
            idempotent=False,  # a second create answers 409, never a second group
            kind="write",
        )
        return change.describe()

    def fields(self, obj: str, changes: list[Change]) -> list[str]:
        batch = self.api.api("crm.properties.batch_api")
        inputs = [property_input(c.field, self.group) for c in changes if c.field is not None]
        response = self.api.call(
            f"properties.{obj}.batch_create",
            partial(
                batch.create,
                object_type=obj,
                batch_input_property_create=BatchInputPropertyCreate(inputs=inputs),
            ),
            idempotent=False,  # a replay answers 409 per existing name
            kind="write",
        )
        refused = getattr(response, "errors", None) or []
        if refused:
            messages = "; ".join(str(e.message) for e in refused)
            raise VendorError(f"HubSpot refused some {obj} properties: {messages}", vendor="hubspot")
        return [c.describe() for c in changes]

    def options(self, change: Change) -> str:
        core = self.api.api("crm.properties.core_api")
        current = self.api.call(
            f"properties.{change.object}.get",
            partial(core.get_by_name, object_type=change.object, property_name=change.name),
            idempotent=True,
            kind="read",
        )
        existing = [str(o.value) for o in current.options or []]
        labels = {str(o.value): str(o.label) for o in current.options or []}
        merged = existing + [v for v in change.values if v not in existing]
        options = [
            OptionInput(label=labels.get(v, v), value=v, display_order=i, hidden=False)
            for i, v in enumerate(merged)
        ]
        self.api.call(
            f"properties.{change.object}.update",
            partial(
                core.update,
                object_type=change.object,
                property_name=change.name,
                property_update=PropertyUpdate(options=options),
            ),
            idempotent=True,  # the full list: a replay sets the same options
            kind="write",
        )
        return change.describe()

    def pipeline(self, change: Change) -> str:
        need = change.pipeline
        assert need is not None
        stages = [_stage(label, p, closed, i) for i, (label, p, closed) in enumerate(_probabilities(need))]
        api = self.api.api("crm.pipelines.pipelines_api")
        self.api.call(
            "pipelines.deals.create",
            partial(
                api.create,
                object_type=change.object,
                pipeline_input=PipelineInput(label=need.label, display_order=99, stages=stages),
            ),
            idempotent=False,  # a second create with the label answers 409
            kind="write",
        )
        return change.describe()

    def stages(self, change: Change, pipeline_id: str, present: int) -> str:
        need = change.pipeline
        assert need is not None
        wanted = {label: (p, closed) for label, p, closed in _probabilities(need)}
        api = self.api.api("crm.pipelines.pipeline_stages_api")
        for offset, label in enumerate(change.values):
            probability, closed = wanted.get(label, ("0.5", False))
            self.api.call(
                "pipelines.deals.stages.create",
                partial(
                    api.create,
                    object_type=change.object,
                    pipeline_id=pipeline_id,
                    pipeline_stage_input=_stage(label, probability, closed, present + offset),
                ),
                idempotent=False,
                kind="write",
            )
        return change.describe()


def apply_changes(
    api: HubSpotApi, changes: Sequence[Change], *, group: str | None, pipelines: dict[str, Any]
) -> list[str]:
    """Make `changes`: groups first, then properties in one batch per object, options, pipeline.

    Args:
        api: the HubSpot API wrapper (retries and counting).
        changes: the provisioning plan's changes.
        group: the property group new properties go in.
        pipelines: live deal pipelines by label (`HubSpotConnector.pipelines()`), for added stages.
    """
    applier = _Applier(api, group)
    done: list[str] = []
    for change in changes:
        if change.kind == "create_group":
            done.append(applier.group_(change))
    by_object: dict[str, list[Change]] = defaultdict(list)
    for change in changes:
        if change.kind == "create_field":
            by_object[change.object].append(change)
    for obj, fields in by_object.items():
        done += applier.fields(obj, fields)
    for change in changes:
        if change.kind == "add_options":
            done.append(applier.options(change))
        elif change.kind == "create_pipeline":
            done.append(applier.pipeline(change))
        elif change.kind == "add_stages":
            found = next(
                (p for label, p in pipelines.items() if label.casefold() == change.name.casefold()), None
            )
            if found is None:
                raise VendorError(f"pipeline '{change.name}' vanished while provisioning", vendor="hubspot")
            done.append(applier.stages(change, found.id, len(found.stages)))
    return done
