"""Everything one simulated HubSpot portal holds, behind one lock.

The route modules read and write this state; the app seeds it from the dataset. One re-entrant lock
serialises requests that touch records, which keeps unique-value checks and batch writes atomic the
way HubSpot's own per-portal processing appears to clients.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from healthsync.sandbox.clock import SimClock
from healthsync.sandbox.hubspot.catalog import (
    PropertyDef,
    PropertyGroup,
    custom_groups,
    custom_properties,
    standard_groups,
    standard_properties,
)
from healthsync.sandbox.hubspot.errors import OBJECT_NOT_FOUND, api_error
from healthsync.sandbox.hubspot.store import OBJECT_TYPES, AssociationStore, ObjectStore, ObjectType
from healthsync.sandbox.hubspot.values import iso

__all__ = ["EPOCH", "HubSpotState", "Pipeline", "Stage"]

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
"""HubSpot's default pipelines report `createdAt` 0 (the pipelines spec says so)."""


@dataclass
class Stage:
    """A pipeline stage (`PipelineStage` schema); ids are strings."""

    id: str
    label: str
    display_order: int
    metadata: dict[str, str]
    created_at: datetime
    updated_at: datetime
    archived: bool = False

    def to_json(self) -> dict[str, Any]:
        """The stage as the pipelines API returns it."""
        return {
            "id": self.id,
            "label": self.label,
            "displayOrder": self.display_order,
            "metadata": dict(self.metadata),
            "createdAt": iso(self.created_at),
            "updatedAt": iso(self.updated_at),
            "archived": self.archived,
            "writePermissions": "CRM_PERMISSIONS_ENFORCEMENT",
        }


@dataclass
class Pipeline:
    """A pipeline (`Pipeline` schema)."""

    id: str
    label: str
    display_order: int
    stages: list[Stage]
    created_at: datetime
    updated_at: datetime
    archived: bool = False

    def to_json(self) -> dict[str, Any]:
        """The pipeline with its live stages."""
        return {
            "id": self.id,
            "label": self.label,
            "displayOrder": self.display_order,
            "stages": [s.to_json() for s in self.stages if not s.archived],
            "createdAt": iso(self.created_at),
            "updatedAt": iso(self.updated_at),
            "archived": self.archived,
        }


@dataclass
class HubSpotState:
    """One portal: schema (properties, groups, pipelines), records, owners and associations."""

    clock: SimClock
    provisioned: bool
    portal_id: int = 4_200_001
    lock: threading.RLock = field(default_factory=threading.RLock)
    properties: dict[str, dict[str, PropertyDef]] = field(default_factory=dict)
    groups: dict[str, dict[str, PropertyGroup]] = field(default_factory=dict)
    objects: dict[str, ObjectStore] = field(default_factory=dict)
    owners: list[dict[str, Any]] = field(default_factory=list)
    pipelines: dict[str, dict[str, Pipeline]] = field(default_factory=dict)
    associations: AssociationStore = field(default_factory=AssociationStore)
    search_lag_seconds: float = 0.0
    """Search index lag: records written in the last N seconds are not yet visible to search
    ("it may take a few moments for newly created or updated objects to appear",
    https://developers.hubspot.com/docs/api/crm/search#limitations ). 0 turns it off."""
    _ids: int = 700_000_000

    def __post_init__(self) -> None:
        start = self.clock.now()
        for name, object_type in OBJECT_TYPES.items():
            groups = standard_groups(name) + (custom_groups(name) if self.provisioned else [])
            self.groups[name] = {g.name: g for g in groups}
            props = standard_properties(name)
            if self.provisioned:
                props += custom_properties(name, start)
            self.properties[name] = {p.name: p for p in props}
            store = ObjectStore(object_type)
            for prop in props:
                if prop.has_unique_value:
                    store.index_unique(prop.name)
            self.objects[name] = store
            self.pipelines[name] = {}

    def now(self) -> datetime:
        """The simulated clock's now: every write stamp comes from it."""
        return self.clock.now()

    def next_id(self) -> str:
        """A fresh numeric id for pipelines and stages (HubSpot's are numeric strings)."""
        self._ids += 1
        return str(self._ids)

    def live_properties(self, object_type: ObjectType) -> dict[str, PropertyDef]:
        """Definitions a write or filter may use (archived ones are gone until restored)."""
        return {n: p for n, p in self.properties[object_type.name].items() if not p.archived}

    def owner(self, owner_id: str) -> dict[str, Any] | None:
        """The owner with this id."""
        return next((o for o in self.owners if o["id"] == owner_id), None)

    def pipeline(self, type_name: str, pipeline_id: str) -> Pipeline:
        """A live pipeline, or HubSpot's 404."""
        found = self.pipelines.get(type_name, {}).get(pipeline_id)
        if found is None or found.archived:
            raise api_error(404, OBJECT_NOT_FOUND, f"Unable to find pipeline {pipeline_id}")
        return found
