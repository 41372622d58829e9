"""Records, unique-value indexes and associations of the HubSpot sandbox.

Object types are reachable by plural name, singular name and object type id (`deals`, `deal`, `0-3`),
as in HubSpot: the published deals spec even uses `/crm/v3/objects/0-3`
(https://developers.hubspot.com/docs/api/crm/understanding-the-crm#object-type-id ).
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime

from healthsync.sandbox.hubspot.errors import VALIDATION_ERROR, api_error
from healthsync.sandbox.hubspot.values import iso

__all__ = [
    "ASSOCIATION_TYPES",
    "OBJECT_TYPES",
    "AssociationStore",
    "ObjectStore",
    "ObjectType",
    "Record",
    "resolve_type",
]


@dataclass(frozen=True)
class ObjectType:
    """What differs between CRM objects: ids, names, timestamps and default properties."""

    name: str
    type_id: str
    singular: str
    created_prop: str
    modified_prop: str
    defaults: tuple[str, ...]
    """Properties returned when a read names none (the "default properties" of each object's guide)."""
    id_base: int
    """Seeded records get `id_base + index`; created ones count up from `id_base + 5e9`."""

    @property
    def upper(self) -> str:
        """The name HubSpot puts in messages ("Could not get some COMPANY objects ...")."""
        return self.singular.upper()


OBJECT_TYPES: dict[str, ObjectType] = {
    t.name: t
    for t in (
        ObjectType(
            "contacts",
            "0-1",
            "contact",
            "createdate",
            "lastmodifieddate",
            ("createdate", "email", "firstname", "hs_object_id", "lastmodifieddate", "lastname"),
            12_000_000_000,
        ),
        ObjectType(
            "companies",
            "0-2",
            "company",
            "createdate",
            "hs_lastmodifieddate",
            ("createdate", "domain", "hs_lastmodifieddate", "hs_object_id", "name"),
            10_000_000_000,
        ),
        ObjectType(
            "deals",
            "0-3",
            "deal",
            "createdate",
            "hs_lastmodifieddate",
            (
                "amount",
                "closedate",
                "createdate",
                "dealname",
                "dealstage",
                "hs_lastmodifieddate",
                "hs_object_id",
                "pipeline",
            ),
            30_000_000_000,
        ),
        ObjectType(
            "tasks",
            "0-27",
            "task",
            "hs_createdate",
            "hs_lastmodifieddate",
            ("hs_createdate", "hs_lastmodifieddate", "hs_object_id"),
            40_000_000_000,
        ),
    )
}

_ALIASES = {alias: t for t in OBJECT_TYPES.values() for alias in (t.name, t.type_id, t.singular)}


def resolve_type(name: str) -> ObjectType:
    """The object type for a path segment; HubSpot's 400 for names it cannot map."""
    found = _ALIASES.get(name.lower())
    if found is None:
        raise api_error(400, VALIDATION_ERROR, f"Unable to infer object type from: {name}")
    return found


# HUBSPOT_DEFINED association type ids per (from, to) pair: the default (unlabelled) one first, then
# "primary". https://developers.hubspot.com/docs/api/crm/associations#association-type-id-values
ASSOCIATION_TYPES: dict[tuple[str, str], list[tuple[int, str]]] = {
    ("tasks", "companies"): [(192, "task_to_company")],
    ("companies", "tasks"): [(191, "company_to_task")],
    ("tasks", "contacts"): [(204, "task_to_contact")],
    ("contacts", "tasks"): [(203, "contact_to_task")],
    ("tasks", "deals"): [(216, "task_to_deal")],
    ("deals", "tasks"): [(215, "deal_to_task")],
    ("deals", "companies"): [(341, "deal_to_company_unlabeled"), (5, "deal_to_company")],
    ("companies", "deals"): [(342, "company_to_deal_unlabeled"), (6, "company_to_deal")],
    ("contacts", "companies"): [(279, "contact_to_company_unlabeled"), (1, "contact_to_company")],
    ("companies", "contacts"): [(280, "company_to_contact_unlabeled"), (2, "company_to_contact")],
    ("deals", "contacts"): [(3, "deal_to_contact")],
    ("contacts", "deals"): [(4, "contact_to_deal")],
}


@dataclass
class Record:
    """One CRM record; `properties` holds only set values, including the stamps and `hs_object_id`."""

    id: int
    properties: dict[str, str]
    created_at: datetime
    updated_at: datetime
    archived: bool = False
    archived_at: datetime | None = None
    revision: int = 0
    """Bumped by every change, so rendered copies of the record know when they are stale."""


@dataclass
class ObjectStore:
    """The records of one object type, in id order, with indexes of unique-valued properties."""

    type: ObjectType
    records: dict[int, Record] = field(default_factory=dict)
    _order: list[int] = field(default_factory=list)
    _next: int = 0
    _unique: dict[str, dict[str, int]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._next = self.type.id_base + 5_000_000_000

    def __iter__(self) -> Iterator[Record]:
        for record_id in self._order:
            yield self.records[record_id]

    def __len__(self) -> int:
        return len(self.records)

    def ids_from(self, start: int) -> Iterator[Record]:
        """Records with id ≥ `start`, in id order (list paging)."""
        position = bisect.bisect_left(self._order, start)
        for record_id in self._order[position:]:
            yield self.records[record_id]

    def get(self, record_id: str | int, *, archived: bool = False) -> Record | None:
        """The record with this id, if it exists and its archived state matches."""
        try:
            record = self.records.get(int(record_id))
        except ValueError:
            return None
        if record is None or record.archived != archived:
            return None
        return record

    def index_unique(self, name: str) -> None:
        """Start enforcing uniqueness of `name` (a property created with `hasUniqueValue`)."""
        index: dict[str, int] = {}
        for record in self:
            value = record.properties.get(name)
            if value is not None and not record.archived:
                index.setdefault(value, record.id)
        self._unique[name] = index

    @property
    def unique_names(self) -> list[str]:
        """Properties whose values must be unique."""
        return list(self._unique)

    def find_unique(self, name: str, value: str) -> Record | None:
        """The live record holding `value` in unique property `name`."""
        record_id = self._unique.get(name, {}).get(value)
        return self.records.get(record_id) if record_id is not None else None

    def insert(
        self,
        properties: dict[str, str | None],
        now: datetime,
        *,
        record_id: int | None = None,
        created: datetime | None = None,
    ) -> Record:
        """Store a new record with the stamps HubSpot sets (id, create and modified dates)."""
        if record_id is None:
            record_id = self._next
            self._next += 1
        record = Record(record_id, {}, created or now, now)
        self.records[record_id] = record
        bisect.insort(self._order, record_id)
        self.write(record, properties, now)
        record.properties.setdefault(self.type.created_prop, iso(record.created_at))
        return record

    def write(self, record: Record, changes: dict[str, str | None], now: datetime) -> None:
        """Apply already-validated values (None clears) and bump the modified stamp."""
        for name, value in changes.items():
            index = self._unique.get(name)
            old = record.properties.get(name)
            if index is not None and old is not None and index.get(old) == record.id:
                del index[old]
            if value is None:
                record.properties.pop(name, None)
            else:
                record.properties[name] = value
                if index is not None:
                    index[value] = record.id
        record.updated_at = now
        record.properties[self.type.modified_prop] = iso(now)
        record.properties["hs_object_id"] = str(record.id)
        record.revision += 1

    def archive(self, record: Record, now: datetime) -> None:
        """Archive (HubSpot's delete): hidden from reads, kept for `archived=true`, unique values freed."""
        for name, index in self._unique.items():
            value = record.properties.get(name)
            if value is not None and index.get(value) == record.id:
                del index[value]
        record.archived = True
        record.archived_at = now
        record.updated_at = now
        record.revision += 1


@dataclass(frozen=True)
class Association:
    """One directed association between two records."""

    from_type: str
    from_id: int
    to_type: str
    to_id: int
    type_id: int
    category: str = "HUBSPOT_DEFINED"


class AssociationStore:
    """Associations in both directions: HubSpot records the inverse type whenever one side is written."""

    def __init__(self) -> None:
        self._links: dict[tuple[str, int, str], dict[int, set[tuple[int, str]]]] = {}

    @staticmethod
    def inverse(from_type: str, to_type: str, type_id: int) -> int | None:
        """The type id of the reverse direction (192 task→company ↔ 191 company→task)."""
        forward = ASSOCIATION_TYPES.get((from_type, to_type), [])
        backward = ASSOCIATION_TYPES.get((to_type, from_type), [])
        for (fid, _), (bid, _) in zip(forward, backward, strict=False):
            if fid == type_id:
                return bid
        return None

    def add(
        self, from_type: str, from_id: int, to_type: str, to_id: int, type_id: int, category: str
    ) -> None:
        """Associate two records (idempotent), recording the inverse direction too."""
        self._links.setdefault((from_type, from_id, to_type), {}).setdefault(to_id, set()).add(
            (type_id, category)
        )
        back = self.inverse(from_type, to_type, type_id)
        if back is not None:
            self._links.setdefault((to_type, to_id, from_type), {}).setdefault(from_id, set()).add(
                (back, category)
            )

    def remove(self, from_type: str, from_id: int, to_type: str, to_id: int) -> None:
        """Remove every association between two records, both directions."""
        self._links.get((from_type, from_id, to_type), {}).pop(to_id, None)
        self._links.get((to_type, to_id, from_type), {}).pop(from_id, None)

    def targets(self, from_type: str, from_id: int, to_type: str) -> dict[int, set[tuple[int, str]]]:
        """Associated ids of `to_type` with their (type id, category) pairs."""
        return self._links.get((from_type, from_id, to_type), {})

    def all(self) -> list[Association]:
        """Every directed association, for state dumps."""
        return [
            Association(ft, fid, tt, tid, type_id, category)
            for (ft, fid, tt), targets in sorted(self._links.items())
            for tid, specs in sorted(targets.items())
            for type_id, category in sorted(specs)
        ]
