"""What the API user may write: object permissions and field-level security, as a switch for tests.

A real integration user gets its access from its profile and permission sets; `healthsync check`
has to notice when that access is missing. `restrict()` takes write access away without changing
the schema, so the same org can answer as a fully permitted user again after `clear()`:

- a restricted field (`"Account.Health_Score__c"`) is read-only field-level security: describe says
  `createable: false, updateable: false`, and a write naming it fails with
  INVALID_FIELD_FOR_INSERT_UPDATE "Unable to create/update fields: ... Please check the security
  settings of this field and verify that it is read/write for your profile or permission set."
  (the wording the sandbox already used for system fields; `writes.py`). Field-level security is
  granted per object, so `Task.X__c` and `Event.X__c` of one Activity field are restricted apart.
- a restricted object (`"Task"`) is read-only object permissions: describe and describe global say
  `createable/updateable/deletable: false`, as does every field of it, and a create or update fails
  with CANNOT_INSERT_UPDATE_ACTIVATE_ENTITY "entity type cannot be inserted: Task" (resp. "...
  cannot be updated: ..."), which is what orgs answer when the user lacks Create or Edit on an object
  (seen in public integration logs; the REST error page lists the code:
  https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/errorcodes.htm). A delete
  keeps the sandbox's INSUFFICIENT_ACCESS_OR_READONLY.

Names are matched case-insensitively and need not exist yet: a field restricted before `fields apply`
creates it is read-only once it exists, as a new field without field-level security would be.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any

from healthsync.sandbox.salesforce.schema import FieldDef, ObjectDef

__all__ = ["Permissions"]


class Permissions:
    """Read-only objects and fields of the API user (everything else is fully writable)."""

    def __init__(self) -> None:
        self._fields: dict[tuple[str, str], str] = {}
        self._objects: dict[str, str] = {}
        self._lock = threading.Lock()

    def restrict(self, *, fields: Iterable[str] = (), objects: Iterable[str] = ()) -> None:
        """Make `fields` (`Object.Field`) and `objects` read-only, on top of earlier restrictions.

        Raises:
            ValueError: a field name is not `Object.Field`, or an object name is empty.
        """
        field_names = _names(fields, "fields")
        object_names = _names(objects, "objects")
        for name in field_names:
            object_name, _, field_name = name.partition(".")
            if not object_name or not field_name or "." in field_name:
                raise ValueError(f"fields: {name!r} is not Object.Field")
        with self._lock:
            for name in field_names:
                object_name, _, field_name = name.partition(".")
                self._fields[(object_name.casefold(), field_name.casefold())] = name
            for name in object_names:
                self._objects[name.casefold()] = name

    def clear(self) -> None:
        """Give the API user full access again."""
        with self._lock:
            self._fields.clear()
            self._objects.clear()

    def snapshot(self) -> dict[str, Any]:
        """The restrictions in force, as the control endpoint shows them."""
        with self._lock:
            return {"fields": sorted(self._fields.values()), "objects": sorted(self._objects.values())}

    # --- checks -------------------------------------------------------------------------------------

    def object_writable(self, obj: ObjectDef) -> bool:
        """False when the object is restricted to read-only."""
        return obj.name.casefold() not in self._objects

    def createable(self, obj: ObjectDef) -> bool:
        """The object's `createable` for this user."""
        return obj.createable and self.object_writable(obj)

    def updateable(self, obj: ObjectDef) -> bool:
        """The object's `updateable` for this user."""
        return obj.updateable and self.object_writable(obj)

    def deletable(self, obj: ObjectDef) -> bool:
        """The object's `deletable` for this user."""
        return obj.deletable and self.object_writable(obj)

    def field_writable(self, obj: ObjectDef, definition: FieldDef) -> bool:
        """False when the field's security (or its object's permissions) make it read-only."""
        key = (obj.name.casefold(), definition.name.casefold())
        return self.object_writable(obj) and key not in self._fields

    def field_createable(self, obj: ObjectDef, definition: FieldDef) -> bool:
        """The field's `createable` for this user."""
        return definition.createable and self.field_writable(obj, definition)

    def field_updateable(self, obj: ObjectDef, definition: FieldDef) -> bool:
        """The field's `updateable` for this user."""
        return definition.updateable and self.field_writable(obj, definition)


def _names(values: Iterable[str], what: str) -> list[str]:
    if isinstance(values, str):
        raise ValueError(f"{what}: expected a list of names, got the string {values!r}")
    out = []
    for value in values:
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"{what}: {value!r} is not a name")
        out.append(value.strip())
    return out
