"""The sandbox's Zendesk records, with the two orders the API pages in: by id and by change.

List endpoints page by id; incremental exports page by (change stamp, id), which is what a Zendesk
export cursor encodes. Both orders are kept as sorted lists updated with `bisect`, so a page costs
O(log n + page) even with a million tickets.

A change is stamped with the time the data says it happened, but never at or before a point an
export has already handed out: a cursor given to a client promises that everything up to it was
shown, so a later change stamped earlier would be lost to that client. Real Zendesk gets this for
free because changes are stamped at the wall clock; the sandbox moves days in one step, so it keeps
the promise explicitly (`high_water`).
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Callable, Iterator
from typing import Any

from healthsync.sandbox.zendesk.records import (
    ORGANIZATION_TEMPLATE,
    RATING_TEMPLATE,
    TICKET_TEMPLATE,
    USER_TEMPLATE,
    from_epoch,
    iso,
)

__all__ = ["Collection", "Key", "ZendeskStore"]

Key = tuple[int, int]
"""(change stamp in Unix seconds, id): the order of incremental exports."""

Record = dict[str, Any]


class Collection:
    """One kind of record (organizations, users, tickets, satisfaction ratings), indexed two ways."""

    def __init__(self, name: str, template: dict[str, Any]) -> None:
        self.name = name
        self.template = template
        """Field order and shared values; stored records hold only what differs (see records.py)."""
        self._records: dict[int, Record] = {}
        self._stamps: dict[int, int] = {}
        self._ids: list[int] = []
        self._changes: list[Key] = []

    def render(self, record: Record, base_url: str | None = None) -> Record:
        """The record as the API returns it: shared fields merged in, plus `url` when a base is given."""
        full = {**self.template, **record}
        if base_url is not None:
            return {"url": f"{base_url}/api/v2/{self.name}/{record['id']}.json", **full}
        return full

    def __len__(self) -> int:
        return len(self._records)

    def get(self, record_id: int) -> Record | None:
        """The record with this id, or None."""
        return self._records.get(record_id)

    def stamp(self, record_id: int) -> int | None:
        """The record's current change stamp."""
        return self._stamps.get(record_id)

    def put(self, record: Record, stamp: int) -> None:
        """Insert or replace a record, moving it to `stamp` in the change order; sets `updated_at`."""
        record_id = int(record["id"])
        old = self._stamps.get(record_id)
        if old is None:
            bisect.insort(self._ids, record_id)
        else:
            index = bisect.bisect_left(self._changes, (old, record_id))
            del self._changes[index]
        bisect.insort(self._changes, (stamp, record_id))
        self._stamps[record_id] = stamp
        self._stamp_fields(record, stamp)
        self._records[record_id] = record

    def load(self, items: list[tuple[Record, int]]) -> None:
        """Bulk insert (record, stamp) pairs into an empty collection: one sort, not n insertions."""
        if self._records:
            raise RuntimeError(f"{self.name} is already loaded")
        for record, stamp in items:
            record_id = int(record["id"])
            self._records[record_id] = record
            self._stamps[record_id] = stamp
            self._stamp_fields(record, stamp)
        self._ids = sorted(self._records)
        self._changes = sorted((stamp, rid) for rid, stamp in self._stamps.items())

    def _stamp_fields(self, record: Record, stamp: int) -> None:
        record["updated_at"] = iso(from_epoch(stamp))
        if self.name == "tickets":  # what exports order by; only tickets expose it
            record["generated_timestamp"] = stamp

    def by_id(
        self,
        after: int | None = None,
        *,
        before: int | None = None,
        keep: Callable[[Record], bool] | None = None,
    ) -> Iterator[Record]:
        """Records in id order after `after` (ascending) or before `before` (descending)."""
        if before is not None:
            index = bisect.bisect_left(self._ids, before)
            ids: Iterator[int] = (self._ids[i] for i in range(index - 1, -1, -1))
        else:
            start = 0 if after is None else bisect.bisect_right(self._ids, after)
            ids = (self._ids[i] for i in range(start, len(self._ids)))
        for record_id in ids:
            record = self._records[record_id]
            if keep is None or keep(record):
                yield record

    def changed_after(self, position: Key, horizon: int) -> Iterator[tuple[Key, Record]]:
        """Records whose (stamp, id) is after `position` and whose stamp is at most `horizon`."""
        index = bisect.bisect_right(self._changes, position)
        while index < len(self._changes):
            key = self._changes[index]
            if key[0] > horizon:
                return
            yield key, self._records[key[1]]
            index += 1

    def changed_before(self, position: Key) -> Iterator[tuple[Key, Record]]:
        """Records whose (stamp, id) is before `position`, newest first (for `before_url`)."""
        index = bisect.bisect_left(self._changes, position) - 1
        while index >= 0:
            key = self._changes[index]
            yield key, self._records[key[1]]
            index -= 1

    def all(self) -> list[Record]:
        """Every record in id order."""
        return [self._records[i] for i in self._ids]


class ZendeskStore:
    """The four collections the sandbox serves, a lock, and the export high-water mark."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.organizations = Collection("organizations", ORGANIZATION_TEMPLATE)
        self.users = Collection("users", USER_TEMPLATE)
        self.tickets = Collection("tickets", TICKET_TEMPLATE)
        self.ratings = Collection("satisfaction_ratings", RATING_TEMPLATE)
        self.high_water = 0
        """The latest change stamp any incremental export has covered; new changes stamp after it."""

    def collections(self) -> dict[str, Collection]:
        """The collections by their API name."""
        return {c.name: c for c in (self.organizations, self.users, self.tickets, self.ratings)}

    def exported_through(self, horizon: int) -> None:
        """Record that an export told a client it has seen every change up to `horizon`."""
        with self.lock:
            self.high_water = max(self.high_water, horizon)

    def change_stamp(self, collection: Collection, record_id: int, desired: int) -> int:
        """The stamp for a change: when it happened, but after the previous one and after `high_water`."""
        previous = collection.stamp(record_id) or 0
        return max(desired, previous, self.high_water + 1)
