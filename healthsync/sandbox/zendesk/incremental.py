"""Incremental exports: tickets and users by cursor, organizations, users and tickets by time.

https://developer.zendesk.com/api-reference/ticketing/ticket-management/incremental_exports/ :
- cursor-based (`/incremental/tickets/cursor`, `/incremental/users/cursor`): `start_time` on the
  first request, `cursor=<after_cursor>` after that; pages of `per_page` ≤ 1,000 (default 1,000)
  with `after_cursor`, `after_url`, `before_cursor`, `before_url`, `end_of_stream`; the last page
  still carries an `after_cursor` to resume from on the next run;
- time-based (`/incremental/organizations`, `/incremental/users`, `/incremental/tickets`):
  `start_time` each time, answered with `end_time`, `next_page`, `count`, `end_of_stream`; items
  sharing the last timestamp all stay on one page (so a page can exceed `per_page`), and the next
  page starts at `end_time`, so its first items may repeat (the docs tell clients to de-duplicate);
- `start_time` must be at least one minute in the past, and the ticket exports never return the
  most recent minute (race-free data); deleted tickets are in the ticket stream with status
  `deleted` unless `exclude_deleted=true`.

Records are ordered by (change stamp, id) — the cursor holds that pair — so a record changed after
a cursor was handed out shows up exactly once on the next pull.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from itertools import islice
from typing import Any

from healthsync.sandbox.clock import SimClock
from healthsync.sandbox.wire import PageServed, Request, Response, json_response
from healthsync.sandbox.zendesk import errors
from healthsync.sandbox.zendesk.paging import decode_cursor, encode_cursor, page_url, with_url
from healthsync.sandbox.zendesk.records import epoch
from healthsync.sandbox.zendesk.store import Collection, Key, ZendeskStore

__all__ = ["Exports"]

PER_PAGE_MAX = 1000
"""`per_page`: "up to a maximum of 1,000. ... the default number is 1,000" (reference above)."""
RECENT_SECONDS = 60
"""start_time "must be at least one minute in the past"; ticket exports skip the last minute."""
_AFTER, _BEFORE = 0, 1

Record = dict[str, Any]


class Exports:
    """Handlers for `/api/v2/incremental/...` over the store, with "now" from the sandbox clock."""

    def __init__(self, store: ZendeskStore, clock: SimClock) -> None:
        self.store = store
        self.clock = clock

    # --- cursor-based ---------------------------------------------------------------------------

    def tickets_cursor(self, request: Request) -> Response:
        """`GET /api/v2/incremental/tickets/cursor[.json]`."""
        keep = None
        if (request.arg("exclude_deleted") or "").lower() == "true":
            keep = _not_deleted
        return self._cursor_export(request, self.store.tickets, "tickets", RECENT_SECONDS, keep)

    def users_cursor(self, request: Request) -> Response:
        """`GET /api/v2/incremental/users/cursor[.json]` (no last-minute hold-back for users)."""
        return self._cursor_export(request, self.store.users, "users", 0, None)

    def _cursor_export(
        self,
        request: Request,
        collection: Collection,
        resource: str,
        lag: int,
        keep: Callable[[Record], bool] | None,
    ) -> Response:
        now = epoch(self.clock.now())
        horizon = now - lag
        per_page = _per_page(request)
        token = request.arg("cursor")
        initial = not token
        if token:
            direction, stamp, record_id = decode_cursor(token, 3, "cursor")
            position: Key = (stamp, record_id)
        else:
            start = _start_time(request, now)
            direction, position = _AFTER, (start, -1)
        with self.store.lock:
            if direction == _BEFORE:
                found = list(islice(_kept(collection.changed_before(position), keep), per_page + 1))
                more = len(found) > per_page
                found = list(reversed(found[:per_page]))
                end_of_stream = False
            else:
                found = list(islice(_kept(collection.changed_after(position, horizon), keep), per_page + 1))
                more = len(found) > per_page
                found = found[:per_page]
                end_of_stream = not more
            records = [with_url(request, collection, r) for _, r in found]
            self.store.exported_through(horizon)
        request.page = PageServed(per_page, PER_PAGE_MAX, len(found), more)
        last = found[-1][0] if found else position
        after_cursor = encode_cursor(_AFTER, *last)
        before_cursor = None
        if found and not initial:  # the first page of a run has nothing before it
            before_cursor = encode_cursor(_BEFORE, *found[0][0])
        carried = {k: v[0] for k, v in request.query.items() if k not in {"cursor", "start_time"} and v}
        return json_response(
            {
                resource: records,
                "after_cursor": after_cursor,
                "after_url": page_url(request, {**carried, "cursor": after_cursor}),
                "before_cursor": before_cursor,
                "before_url": page_url(request, {**carried, "cursor": before_cursor})
                if before_cursor
                else None,
                "end_of_stream": end_of_stream,
            }
        )

    # --- time-based -----------------------------------------------------------------------------

    def organizations_time(self, request: Request) -> Response:
        """`GET /api/v2/incremental/organizations[.json]` (time-based only)."""
        return self._time_export(request, self.store.organizations, "organizations", 0, None)

    def users_time(self, request: Request) -> Response:
        """`GET /api/v2/incremental/users[.json]`."""
        return self._time_export(request, self.store.users, "users", 0, None)

    def tickets_time(self, request: Request) -> Response:
        """`GET /api/v2/incremental/tickets[.json]` (Zendesk recommends the cursor export instead)."""
        keep = _not_deleted if (request.arg("exclude_deleted") or "").lower() == "true" else None
        return self._time_export(request, self.store.tickets, "tickets", RECENT_SECONDS, keep)

    def _time_export(
        self,
        request: Request,
        collection: Collection,
        resource: str,
        lag: int,
        keep: Callable[[Record], bool] | None,
    ) -> Response:
        now = epoch(self.clock.now())
        start = _start_time(request, now)
        per_page = _per_page(request)
        horizon = now - lag
        with self.store.lock:
            stream = _kept(collection.changed_after((start, -1), horizon), keep)
            found = list(islice(stream, per_page))
            following = next(stream, None)
            # Items sharing the last timestamp stay together, even past per_page (the docs warn
            # that time-based pages can exceed the limit for exactly this reason).
            while found and following is not None and following[0][0] == found[-1][0][0]:
                found.append(following)
                following = next(stream, None)
            records = [with_url(request, collection, r) for _, r in found]
            self.store.exported_through(horizon)
        request.page = PageServed(per_page, PER_PAGE_MAX, len(found), following is not None)
        end_time = found[-1][0][0] if found else start
        if following is not None and end_time == start:
            end_time += 1  # a whole page of one timestamp: step past it, or the next page repeats it
        carried = {k: v[0] for k, v in request.query.items() if k != "start_time" and v}
        return json_response(
            {
                resource: records,
                "count": len(records),
                "end_time": end_time,
                "next_page": page_url(request, {**carried, "start_time": str(end_time)}),
                "end_of_stream": following is None,
            }
        )


def _not_deleted(record: Record) -> bool:
    return record.get("status") != "deleted"


def _kept(
    pairs: Iterator[tuple[Key, Record]], keep: Callable[[Record], bool] | None
) -> Iterator[tuple[Key, Record]]:
    return pairs if keep is None else (p for p in pairs if keep(p[1]))


def _per_page(request: Request) -> int:
    raw = request.arg("per_page")
    if not raw:
        return PER_PAGE_MAX
    try:
        value = int(raw)
    except ValueError:
        raise errors.bad_request(f"per_page must be an integer, got {raw!r}") from None
    return min(PER_PAGE_MAX, max(1, value))


def _start_time(request: Request, now: int) -> int:
    raw = request.arg("start_time")
    if raw is None or raw == "":
        raise errors.bad_request("start_time is required for the initial export request")
    try:
        start = int(float(raw))
    except ValueError:
        raise errors.bad_request(f"start_time must be a Unix epoch time, got {raw!r}") from None
    if start > now - RECENT_SECONDS:
        raise errors.too_recent()
    return start
