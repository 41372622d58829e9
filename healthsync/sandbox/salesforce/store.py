"""Record storage for the sandbox org: rows per sObject, unique/external-id indexes, query cursors.

Rows are never mutated in place: a write stores a new dict, so an open query cursor keeps the rows
as they were when the query ran (Salesforce cursors are snapshots) without copying anything. One
re-entrant lock serialises writes; a collection call holds it for the whole call so `allOrNone` can
roll back through an undo log.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from healthsync.sandbox.salesforce.ids import SERIES_API, make_id
from healthsync.sandbox.salesforce.schema import FieldDef, ObjectDef, Schema

__all__ = ["Cursor", "Cursors", "Store", "index_key"]

Record = dict[str, Any]


def index_key(definition: FieldDef, value: Any) -> Any:
    """How a unique or external-id value is compared: case-insensitive unless the field says otherwise."""
    if isinstance(value, str) and not definition.case_sensitive:
        return value.casefold()
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return value


class Store:
    """Every record of the org, by sObject and Id."""

    def __init__(self, schema: Schema) -> None:
        self.schema = schema
        self.lock = threading.RLock()
        self._rows: dict[str, dict[str, Record]] = {obj.name: {} for obj in schema}
        self._indexes: dict[tuple[str, str], dict[Any, set[str]]] = {}
        self._next: dict[str, int] = {}
        self._undo: list[tuple[str, str, Record | None]] | None = None
        self.version = 0
        """Bumped by every change, so cached query results know when they are stale."""
        for obj in schema:
            for f in obj.fields.values():
                self.ensure_index(obj, f)

    # --- reads ------------------------------------------------------------------------------------

    def records(self, object_name: str) -> list[Record]:
        """A snapshot list of the object's rows (deleted ones included)."""
        with self.lock:
            return list(self._rows[object_name].values())

    def get(self, object_name: str, record_id: str) -> Record | None:
        """One row by 18-character Id."""
        return self._rows.get(object_name, {}).get(record_id)

    def count(self, object_name: str) -> int:
        """Rows stored for an object."""
        return len(self._rows[object_name])

    def lookup(self, obj: ObjectDef, definition: FieldDef, value: Any) -> set[str]:
        """Ids of live (not deleted) rows whose indexed field equals `value`."""
        index = self._indexes.get((obj.name, definition.name))
        if index is None:
            return {r["Id"] for r in self._rows[obj.name].values() if r.get(definition.name) == value}
        return set(index.get(index_key(definition, value), ()))

    # --- writes -----------------------------------------------------------------------------------

    def ensure_index(self, obj: ObjectDef, definition: FieldDef) -> None:
        """Index a unique or external-id field (also for fields created at runtime)."""
        if not (definition.unique or definition.external_id):
            return
        with self.lock:
            index: dict[Any, set[str]] = {}
            for row in self._rows[obj.name].values():
                value = row.get(definition.name)
                if value is not None and not row.get("IsDeleted"):
                    index.setdefault(index_key(definition, value), set()).add(row["Id"])
            self._indexes[(obj.name, definition.name)] = index

    def new_id(self, obj: ObjectDef) -> str:
        """A fresh Id for a record created through the API."""
        with self.lock:
            number = self._next.get(obj.name, 0)
            self._next[obj.name] = number + 1
        return make_id(obj.key_prefix, number, SERIES_API)

    def put(self, object_name: str, row: Record) -> None:
        """Store `row` (a new dict), replacing any row with its Id and updating the indexes."""
        with self.lock:
            rows = self._rows[object_name]
            old = rows.get(row["Id"])
            if self._undo is not None:
                self._undo.append((object_name, row["Id"], old))
            self._reindex(object_name, old, row)
            rows[row["Id"]] = row
            self.version += 1

    def _reindex(self, object_name: str, old: Record | None, new: Record | None) -> None:
        obj = self.schema.get(object_name)
        assert obj is not None
        for (name, field_name), index in self._indexes.items():
            if name != object_name:
                continue
            definition = obj.fields[field_name]
            if old is not None and old.get(field_name) is not None and not old.get("IsDeleted"):
                ids = index.get(index_key(definition, old[field_name]))
                if ids is not None:
                    ids.discard(old["Id"])
                    if not ids:
                        del index[index_key(definition, old[field_name])]
            if new is not None and new.get(field_name) is not None and not new.get("IsDeleted"):
                index.setdefault(index_key(definition, new[field_name]), set()).add(new["Id"])

    @contextmanager
    def transaction(self) -> Iterator[Callable[[], None]]:
        """Hold the lock for a multi-record call; the yielded function undoes every put made inside."""
        with self.lock:
            outer = self._undo
            self._undo = []
            log = self._undo

            def rollback() -> None:
                self._undo = None
                for object_name, record_id, old in reversed(log):
                    rows = self._rows[object_name]
                    self._reindex(object_name, rows.get(record_id), old)
                    if old is None:
                        rows.pop(record_id, None)
                    else:
                        rows[record_id] = old
                log.clear()
                self._undo = log
                self.version += 1

            try:
                yield rollback
            finally:
                self._undo = outer


@dataclass
class Cursor:
    """A query's remaining rows, kept server-side between `nextRecordsUrl` calls."""

    rows: list[Record]
    render: Callable[[Record, str], Record]
    batch_size: int
    expires: datetime
    object_name: str = ""
    render_key: Any = None
    """Identifies `render` for the fragment cache (None: not cacheable, e.g. relationship fields)."""


class Cursors:
    """Open query locators, bounded in number and lifetime.

    Salesforce keeps a cursor's results for 2 days and (since API v56.0) no longer caps open cursors
    (https://developer.salesforce.com/docs/platform/salesforce-app-limits-cheatsheet/guide/salesforce-app-limits-platform-apicursors.html);
    the sandbox still drops the least recently used beyond `limit` so a benchmark that restarts
    queries forever cannot grow memory without bound. A dropped or expired locator answers
    INVALID_QUERY_LOCATOR, as Salesforce does.
    """

    LIFETIME = timedelta(days=2)

    def __init__(self, limit: int = 1000) -> None:
        self.limit = limit
        self._open: OrderedDict[str, Cursor] = OrderedDict()
        self._lock = threading.Lock()
        self._counter = 0

    def open(self, cursor: Cursor) -> str:
        """Keep `cursor`; returns its 18-character locator (prefix `0r8`, as Salesforce's are)."""
        with self._lock:
            self._counter += 1
            locator = make_id("0r8", self._counter, SERIES_API)
            self._open[locator] = cursor
            while len(self._open) > self.limit:
                self._open.popitem(last=False)
            return locator

    def get(self, locator: str, now: datetime) -> Cursor | None:
        """The cursor behind `locator`, or None when unknown, dropped or expired."""
        with self._lock:
            cursor = self._open.get(locator)
            if cursor is None:
                return None
            if now >= cursor.expires:
                del self._open[locator]
                return None
            self._open.move_to_end(locator)
            return cursor
