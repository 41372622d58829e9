"""The sandbox org's schema: sObjects and their fields, as `describe` reports them.

One `FieldDef` per field carries what both sides need: describe renders it, SOQL binds names and
literal types against it, and writes validate values with it. Field names are case-insensitive in
Salesforce (`SELECT name FROM account` works), so lookups fold case while every answer uses the
canonical API name.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

__all__ = [
    "DATE_TYPES",
    "NUMBER_TYPES",
    "STRING_TYPES",
    "FieldDef",
    "ObjectDef",
    "Picklist",
    "Schema",
]

STRING_TYPES = frozenset(
    {"string", "textarea", "picklist", "combobox", "url", "email", "phone", "multipicklist"}
)
NUMBER_TYPES = frozenset({"double", "currency", "percent", "int"})
DATE_TYPES = frozenset({"date", "datetime"})

# Salesforce describe's `soapType` per field type (Partner WSDL `soapType` enumeration).
SOAP_TYPES = {
    "id": "tns:ID",
    "reference": "tns:ID",
    "boolean": "xsd:boolean",
    "int": "xsd:int",
    "double": "xsd:double",
    "currency": "xsd:double",
    "percent": "xsd:double",
    "date": "xsd:date",
    "datetime": "xsd:dateTime",
}


@dataclass(frozen=True)
class Picklist:
    """One picklist value as describe lists it, with the flags of its value set.

    `closed`/`won`/`probability`/`forecast_category` are the Metadata API's `StandardValue` attributes
    for stages (Opportunity `IsClosed`/`IsWon`/`Probability` follow them); `closed` is also the Task
    status flag behind `IsClosed`. An inactive value stays on records that hold it, but describe no
    longer lists it and writes refuse it on a restricted picklist.
    """

    value: str
    label: str | None = None
    default: bool = False
    active: bool = True
    closed: bool | None = None
    won: bool | None = None
    probability: int | None = None
    forecast_category: str | None = None
    high_priority: bool | None = None


@dataclass
class FieldDef:
    """One field of an sObject: its describe attributes and write rules."""

    name: str
    type: str
    label: str = ""
    length: int = 0
    precision: int = 0
    scale: int = 0
    digits: int = 0
    custom: bool = False
    external_id: bool = False
    unique: bool = False
    case_sensitive: bool = False
    createable: bool = True
    updateable: bool = True
    nillable: bool = True
    defaulted_on_create: bool = False
    calculated: bool = False
    name_field: bool = False
    id_lookup: bool = False
    reference_to: tuple[str, ...] = ()
    relationship_name: str | None = None
    picklist: tuple[Picklist, ...] = ()
    restricted_picklist: bool = False
    default_value: object = None
    """What a create without this field stores (picklist defaults, Task Status...)."""
    html_formatted: bool = False

    def __post_init__(self) -> None:
        if not self.label:
            self.label = self.name.removesuffix("__c").replace("_", " ")

    @property
    def required_on_create(self) -> bool:
        """Salesforce's "required": not nillable, creatable and without a default."""
        return self.createable and not self.nillable and not self.defaulted_on_create

    @property
    def soap_type(self) -> str:
        """The field's `soapType` in describe."""
        return SOAP_TYPES.get(self.type, "xsd:string")

    def picklist_values(self) -> set[str]:
        """Active picklist values, for restricted-picklist checks."""
        return {p.value for p in self.picklist if p.active}

    def picklist_entry(self, value: object) -> Picklist | None:
        """The picklist entry (active or not) whose value is `value`, or None."""
        return next((p for p in self.picklist if p.value == value), None)


@dataclass
class ObjectDef:
    """One sObject type: its fields in describe order, looked up case-insensitively."""

    name: str
    label: str
    label_plural: str
    key_prefix: str
    fields: dict[str, FieldDef] = field(default_factory=dict)
    createable: bool = True
    updateable: bool = True
    deletable: bool = True
    has_is_deleted: bool = True
    """User has no IsDeleted: users are deactivated, never deleted."""
    url_field: str = "Id"
    """The field naming a record in its `attributes.url` (Tooling `StandardValueSet` uses `DurableId`)."""
    _folded: dict[str, FieldDef] = field(default_factory=dict, repr=False)
    _relationships: dict[str, FieldDef] = field(default_factory=dict, repr=False)

    def add(self, definition: FieldDef) -> None:
        """Add (or replace) a field."""
        self.fields[definition.name] = definition
        self._folded[definition.name.casefold()] = definition
        if definition.relationship_name:
            self._relationships[definition.relationship_name.casefold()] = definition

    def field(self, name: str) -> FieldDef | None:
        """The field called `name` in any case, or None."""
        return self._folded.get(name.casefold())

    def relationship(self, name: str) -> FieldDef | None:
        """The reference field behind relationship `name` (`Owner` → OwnerId), or None."""
        return self._relationships.get(name.casefold())

    def unique_fields(self) -> list[FieldDef]:
        """Fields with a unique index (external ids marked unique)."""
        return [f for f in self.fields.values() if f.unique]


class Schema:
    """The org's sObjects; custom fields can be added at runtime (Tooling API)."""

    def __init__(self, objects: list[ObjectDef]) -> None:
        self._objects = {o.name: o for o in objects}
        self._folded = {o.name.casefold(): o for o in objects}
        self._by_prefix = {o.key_prefix: o for o in objects}
        self.lock = threading.RLock()

    def get(self, name: str) -> ObjectDef | None:
        """The sObject called `name` in any case, or None."""
        return self._folded.get(name.casefold())

    def by_prefix(self, prefix: str) -> ObjectDef | None:
        """The sObject whose ids start with `prefix`."""
        return self._by_prefix.get(prefix)

    def names(self) -> list[str]:
        """Every sObject name, in a stable order."""
        return sorted(self._objects)

    def __iter__(self) -> Iterator[ObjectDef]:
        return iter(self._objects[name] for name in self.names())
