"""Record writes: create, update, upsert by external id and delete, one record or a collection.

Each operation validates a record completely before storing anything, so a failed record leaves
no trace; a collection runs inside one store transaction so `allOrNone` can undo the records that
did succeed and report them as ALL_OR_NONE_OPERATION_ROLLED_BACK
(https://developer.salesforce.com/docs/platform/api-rest/guide/resources-composite-sobjects-collections-create.html,
.../resources-composite-sobjects-collections-upsert.html).

Access: a `Permissions` overlay (`permissions.py`) makes objects or fields read-only for the API
user; creates and updates of a read-only object fail with CANNOT_INSERT_UPDATE_ACTIVATE_ENTITY,
fields with INVALID_FIELD_FOR_INSERT_UPDATE.

Derived fields follow the picklist entries' value-set flags: Opportunity `IsClosed`/`IsWon` from the
stage's closed/won, `Probability` from the stage's default probability when a write sets the stage
without a probability (OpportunityStage `DefaultProbability`,
https://developer.salesforce.com/docs/atlas.en-us.object_reference.meta/object_reference/sforce_api_objects_opportunitystage.htm),
Task `IsClosed` from the status's closed flag.

Fault hook: `lock_rows(ids, times)` makes the next `times` writes touching those records (the record
itself, or a parent it references: Salesforce locks the parent while inserting a child) fail with
UNABLE_TO_LOCK_ROW, so connectors can test their retries.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from healthsync.sandbox.salesforce.errors import RecordError
from healthsync.sandbox.salesforce.permissions import Permissions
from healthsync.sandbox.salesforce.query import format_datetime
from healthsync.sandbox.salesforce.schema import FieldDef, ObjectDef, Schema
from healthsync.sandbox.salesforce.store import Store
from healthsync.sandbox.salesforce.values import JsonParseError, coerce

__all__ = ["ROLLED_BACK", "Writer"]

Record = dict[str, Any]
Result = dict[str, Any]

ROLLED_BACK = RecordError(
    "ALL_OR_NONE_OPERATION_ROLLED_BACK",
    "Record rolled back because not all records were valid and the request was using AllOrNone header",
)


def _read_only_error(definition: FieldDef) -> RecordError:
    return RecordError(
        "INVALID_FIELD_FOR_INSERT_UPDATE",
        f"Unable to create/update fields: {definition.name}. Please check the security settings of this "
        "field and verify that it is read/write for your profile or permission set.",
        [definition.name],
    )


def _entity_error(obj: ObjectDef, action: str) -> RecordError:
    return RecordError("CANNOT_INSERT_UPDATE_ACTIVATE_ENTITY", f"entity type cannot be {action}: {obj.label}")


class Writer:
    """Applies writes to the store with Salesforce's per-record validation."""

    def __init__(
        self,
        schema: Schema,
        store: Store,
        now: Callable[[], datetime],
        user_id: str,
        permissions: Permissions | None = None,
    ) -> None:
        self.schema = schema
        self.store = store
        self.now = now
        self.user_id = user_id
        self.permissions = permissions or Permissions()
        self._locks: dict[str, int] = {}
        self._locks_guard = threading.Lock()

    # --- fault hook ---------------------------------------------------------------------------------

    def lock_rows(self, record_ids: Iterable[str], times: int = 1) -> None:
        """Make the next `times` writes touching each record fail with UNABLE_TO_LOCK_ROW."""
        with self._locks_guard:
            for record_id in record_ids:
                self._locks[record_id] = self._locks.get(record_id, 0) + times

    def pending_locks(self) -> list[dict[str, Any]]:
        """Locked rows and how many more writes will fail (the `_locks` state dump)."""
        with self._locks_guard:
            return [{"Id": k, "remaining": v} for k, v in sorted(self._locks.items())]

    def _check_locks(self, ids: Iterable[str | None]) -> None:
        with self._locks_guard:
            for record_id in ids:
                if record_id and self._locks.get(record_id, 0) > 0:
                    self._locks[record_id] -= 1
                    if self._locks[record_id] == 0:
                        del self._locks[record_id]
                    raise RecordError(
                        "UNABLE_TO_LOCK_ROW",
                        f"unable to obtain exclusive access to this record or 1 records: {record_id}",
                    )

    # --- validation ---------------------------------------------------------------------------------

    def _resolve_foreign(self, obj: ObjectDef, relationship: FieldDef, value: dict[str, Any]) -> str:
        """`"Account": {"Customer_Key__c": "C1"}`: a reference set by the parent's external id."""
        keys = [k for k in value if k != "attributes"]
        target_name = (value.get("attributes") or {}).get("type") or relationship.reference_to[0]
        target = self.schema.get(str(target_name))
        if len(keys) != 1 or target is None or target.name not in relationship.reference_to:
            raise JsonParseError(f"Invalid foreign key reference for {relationship.relationship_name}")
        definition = target.field(keys[0])
        if definition is None or not definition.external_id:
            raise RecordError(
                "INVALID_FIELD", f"Invalid foreign key: {keys[0]} is not an External ID on {target.name}"
            )
        found = self.store.lookup(target, definition, coerce(definition, value[keys[0]]))
        if len(found) != 1:
            problem = "not found" if not found else "matched more than one record"
            raise RecordError(
                "INVALID_FIELD",
                f"Foreign key external ID: {value[keys[0]]} {problem} for field {definition.name} "
                f"in entity {target.name}",
            )
        return next(iter(found))

    def _values(self, obj: ObjectDef, body: Record, *, creating: bool, skip: set[str]) -> Record:
        out: Record = {}
        for key, value in body.items():
            if key == "attributes" or key.casefold() in skip:
                continue
            definition = obj.field(key)
            if definition is None:
                relationship = obj.relationship(key)
                if relationship is not None and isinstance(value, dict):
                    out[relationship.name] = self._resolve_foreign(obj, relationship, value)
                    continue
                raise RecordError("INVALID_FIELD", f"No such column '{key}' on sobject of type {obj.name}")
            if definition.name == "Id" and creating:
                raise RecordError(
                    "INVALID_FIELD_FOR_INSERT_UPDATE", "cannot specify Id in an insert call", ["Id"]
                )
            allowed = (
                self.permissions.field_createable(obj, definition)
                if creating
                else self.permissions.field_updateable(obj, definition)
            )
            if not allowed:
                raise _read_only_error(definition)
            out[definition.name] = coerce(definition, value)
        return out

    def _check_references(self, obj: ObjectDef, values: Record) -> None:
        for name, value in values.items():
            definition = obj.fields[name]
            if definition.type != "reference" or value is None:
                continue
            target = self.schema.by_prefix(value[:3])
            if target is None or target.name not in definition.reference_to:
                raise RecordError(
                    "MALFORMED_ID", f"{definition.label}: id value of incorrect type: {value}", [name]
                )
            row = self.store.get(target.name, value)
            if row is None or row.get("IsDeleted"):
                raise RecordError("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", [name])

    def _check_unique(self, obj: ObjectDef, row: Record) -> None:
        for definition in obj.unique_fields():
            value = row.get(definition.name)
            if value is None:
                continue
            others = self.store.lookup(obj, definition, value) - {row["Id"]}
            if others:
                raise RecordError(
                    "DUPLICATE_VALUE",
                    f"duplicate value found: {definition.name} duplicates value on record with id: "
                    f"{min(others)}",
                )

    def _derive(self, obj: ObjectDef, row: Record, values: Record, *, creating: bool) -> None:
        """Fields Salesforce computes: full names, closed/won flags, stage probability, the Task's account."""
        if obj.name in {"Contact", "User"}:
            row["Name"] = " ".join(p for p in (row.get("FirstName"), row.get("LastName")) if p)
        elif obj.name == "Opportunity":
            stage = obj.fields["StageName"].picklist_entry(row.get("StageName"))
            row["IsClosed"] = bool(stage and stage.closed)
            row["IsWon"] = bool(stage and stage.won)
            stage_set = (creating or "StageName" in values) and "Probability" not in values
            if stage_set and stage is not None and stage.probability is not None:
                row["Probability"] = float(stage.probability)
        elif obj.name == "Task":
            status = obj.fields["Status"].picklist_entry(row.get("Status"))
            row["IsClosed"] = bool(status and status.closed)
            what = row.get("WhatId")
            if what and what.startswith("006"):
                opportunity = self.store.get("Opportunity", what)
                row["AccountId"] = opportunity.get("AccountId") if opportunity else None
            else:
                row["AccountId"] = what if what and what.startswith("001") else None

    # --- single-record operations -------------------------------------------------------------------

    def create(self, obj: ObjectDef, body: Record, *, skip: frozenset[str] = frozenset()) -> str:
        """Create one record; returns its Id."""
        if not self.permissions.createable(obj):
            raise _entity_error(obj, "inserted")
        values = self._values(obj, body, creating=True, skip=set(skip))
        row: Record = {name: definition.default_value for name, definition in obj.fields.items()}
        row.update(values)
        missing = [d.name for d in obj.fields.values() if d.required_on_create and row.get(d.name) is None]
        if missing:
            raise RecordError(
                "REQUIRED_FIELD_MISSING", f"Required fields are missing: [{', '.join(missing)}]", missing
            )
        self._check_references(obj, values)
        stamp = format_datetime(self.now())
        row.update(Id=self.store.new_id(obj), CreatedDate=stamp, LastModifiedDate=stamp, SystemModstamp=stamp)
        row.update(CreatedById=self.user_id, LastModifiedById=self.user_id)
        if "OwnerId" in obj.fields and row.get("OwnerId") is None:
            row["OwnerId"] = self.user_id
        if obj.has_is_deleted:
            row["IsDeleted"] = False
        self._derive(obj, row, values, creating=True)
        self._check_unique(obj, row)
        self._check_locks(row.get(d.name) for d in obj.fields.values() if d.type == "reference")
        self.store.put(obj.name, row)
        return str(row["Id"])

    def existing(self, obj: ObjectDef, record_id: str) -> Record:
        """The live row with this Id, or the per-record error Salesforce gives."""
        row = self.store.get(obj.name, record_id)
        if row is None or row.get("IsDeleted"):
            raise RecordError("ENTITY_IS_DELETED", "entity is deleted")
        return row

    def update(
        self, obj: ObjectDef, record_id: str, body: Record, *, skip: frozenset[str] = frozenset()
    ) -> None:
        """Update one record by Id."""
        if not self.permissions.updateable(obj):
            raise _entity_error(obj, "updated")
        current = self.existing(obj, record_id)
        values = self._values(obj, body, creating=False, skip=set(skip) | {"id"})
        cleared = [n for n, v in values.items() if v is None and not obj.fields[n].nillable]
        if cleared:
            raise RecordError(
                "REQUIRED_FIELD_MISSING", f"Required fields are missing: [{', '.join(cleared)}]", cleared
            )
        self._check_references(obj, values)
        row = dict(current)
        row.update(values)
        stamp = format_datetime(self.now())
        row.update(LastModifiedDate=stamp, SystemModstamp=stamp, LastModifiedById=self.user_id)
        self._derive(obj, row, values, creating=False)
        self._check_unique(obj, row)
        self._check_locks(
            [record_id, *(values.get(d.name) for d in obj.fields.values() if d.type == "reference")]
        )
        self.store.put(obj.name, row)

    def person_update(self, obj: ObjectDef, record_id: str, values: Record, user_id: str) -> Record:
        """A change a person makes in the UI as `user_id`: not subject to the API user's permission
        restrictions or injected row locks; values are coerced, derived fields and stamps set as for
        `update`. Returns the stored row."""
        current = self.existing(obj, record_id)
        coerced = {obj.fields[name].name: coerce(obj.fields[name], value) for name, value in values.items()}
        row = dict(current)
        row.update(coerced)
        stamp = format_datetime(self.now())
        row.update(LastModifiedDate=stamp, SystemModstamp=stamp, LastModifiedById=user_id)
        self._derive(obj, row, coerced, creating=False)
        self.store.put(obj.name, row)
        return row

    def delete(self, obj: ObjectDef, record_id: str) -> None:
        """Move one record to the recycle bin (IsDeleted = true; `queryAll` still sees it)."""
        if not self.permissions.deletable(obj):
            raise RecordError(
                "INSUFFICIENT_ACCESS_OR_READONLY", f"insufficient access rights on object {obj.name}"
            )
        current = self.existing(obj, record_id)
        self._check_locks([record_id])
        stamp = format_datetime(self.now())
        self.store.put(
            obj.name, {**current, "IsDeleted": True, "SystemModstamp": stamp, "LastModifiedDate": stamp}
        )

    def upsert(self, obj: ObjectDef, key: FieldDef, body: Record) -> tuple[str, bool]:
        """Create or update by external id `key`; returns (Id, created)."""
        raw = next((v for k, v in body.items() if k.casefold() == key.name.casefold()), None)
        if raw is None or raw == "":
            raise RecordError("MISSING_ARGUMENT", f"{key.name} not specified", [key.name])
        if any(k.casefold() == "id" for k in body):
            raise RecordError("INVALID_FIELD", "Id cannot be specified in an upsert by external id", ["Id"])
        found = self.store.lookup(obj, key, coerce(key, raw))
        if len(found) > 1:
            raise RecordError(
                "DUPLICATE_EXTERNAL_ID",
                f"{key.label}: more than one record found for external id field: {sorted(found)}",
                [key.name],
            )
        if found:
            record_id = next(iter(found))
            self.update(obj, record_id, body)
            return record_id, False
        return self.create(obj, body), True

    # --- collections --------------------------------------------------------------------------------

    def run_batch(
        self, operations: list[Callable[[], Result]], all_or_none: bool, *, upsert: bool = False
    ) -> list[Result]:
        """Run per-record operations in input order; results in the same order.

        A JsonParseError aborts the whole call (nothing is kept) and propagates.
        """
        results: list[Result] = []
        with self.store.transaction() as rollback:
            try:
                for operation in operations:
                    try:
                        results.append(operation())
                    except RecordError as exc:
                        results.append(self._failure(exc, upsert))
            except JsonParseError:
                rollback()
                raise
            if all_or_none and not all(r["success"] for r in results):
                rollback()
                results = [
                    {**r, "success": False, "errors": [ROLLED_BACK.as_json()]} if r["success"] else r
                    for r in results
                ]
        return results

    @staticmethod
    def _failure(exc: RecordError, upsert: bool) -> Result:
        # Salesforce omits `id` on a failed record (collections examples); upsert adds `created`.
        out: Result = {"success": False, "errors": [exc.as_json()]}
        if upsert:
            out["created"] = False
        return out

    @staticmethod
    def duplicates(values: list[Any]) -> set[Any]:
        """Values given more than once in one upsert call (each such record gets DUPLICATE_EXTERNAL_ID)."""
        return {v for v, n in Counter(values).items() if n > 1 and v is not None}
