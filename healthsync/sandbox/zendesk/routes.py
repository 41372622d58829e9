"""Organizations, users, tickets and satisfaction ratings: list, show, show_many, org search, `users/me`.

References:
https://developer.zendesk.com/api-reference/ticketing/organizations/organizations/ ,
https://developer.zendesk.com/api-reference/ticketing/users/users/ ,
https://developer.zendesk.com/api-reference/ticketing/tickets/tickets/ ,
https://developer.zendesk.com/api-reference/ticketing/ticket-management/satisfaction_ratings/ .
Deleted tickets are gone from these endpoints (404 on show); only exports still list them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from healthsync.sandbox.wire import ApiError, BatchServed, Request, Response, json_response
from healthsync.sandbox.zendesk import errors
from healthsync.sandbox.zendesk.paging import page_list, with_url
from healthsync.sandbox.zendesk.records import ADMIN_USER_ID, parse_iso
from healthsync.sandbox.zendesk.store import Collection, ZendeskStore

__all__ = ["Resources"]

SHOW_MANY_MAX = 100
"""`show_many` takes "a comma-separated list of up to 100" ids or external ids (references above)."""
_RECEIVED = {"good", "bad"}

Record = dict[str, Any]


def _record_id(request: Request, name: str) -> int:
    raw = request.params[name].removesuffix(".json")
    try:
        return int(raw)
    except ValueError:
        raise errors.not_found() from None


def _not_deleted(record: Record) -> bool:
    return record.get("status") != "deleted"


class Resources:
    """Handlers for the record endpoints, reading the store under its lock."""

    def __init__(self, store: ZendeskStore) -> None:
        self.store = store

    # --- generic shapes -------------------------------------------------------------------------

    def _list(
        self, request: Request, collection: Collection, keep: Callable[[Record], bool] | None = None
    ) -> Response:
        with self.store.lock:
            return page_list(request, collection, collection.name, keep)

    def _show(
        self,
        request: Request,
        collection: Collection,
        singular: str,
        keep: Callable[[Record], bool] | None = None,
    ) -> Response:
        record_id = _record_id(request, "id")
        with self.store.lock:
            record = collection.get(record_id)
            if record is None or (keep is not None and not keep(record)):
                raise errors.not_found()
            return json_response({singular: with_url(request, collection, record)})

    def _show_many(
        self,
        request: Request,
        collection: Collection,
        keep: Callable[[Record], bool] | None = None,
        by_external_id: bool = False,
    ) -> Response:
        raw_ids, raw_external = request.arg("ids"), request.arg("external_ids")
        if raw_external is not None and by_external_id:
            wanted = [v.strip() for v in raw_external.split(",") if v.strip()]
        elif raw_ids is not None:
            wanted = [v.strip() for v in raw_ids.split(",") if v.strip()]
        else:
            raise errors.bad_request("Missing ids or external_ids parameter", "InvalidParameter")
        request.batch = BatchServed(len(wanted), SHOW_MANY_MAX)  # the page-size audit
        if len(wanted) > SHOW_MANY_MAX:
            raise ApiError(
                400,
                {
                    "error": "TooManyValues",
                    "description": f"Too many values: at most {SHOW_MANY_MAX} are allowed",
                },
            )
        with self.store.lock:
            if raw_external is not None and by_external_id:
                lowered = {w.lower() for w in wanted}
                found = [
                    r for r in collection.by_id(keep=keep) if (r.get("external_id") or "").lower() in lowered
                ]
            else:
                found = []
                for value in wanted:
                    record = collection.get(int(value)) if value.isdigit() else None
                    if record is not None and (keep is None or keep(record)):
                        found.append(record)
            body = [with_url(request, collection, r) for r in found]
        return json_response(
            {collection.name: body, "next_page": None, "previous_page": None, "count": len(body)}
        )

    # --- organizations --------------------------------------------------------------------------

    def organizations(self, request: Request) -> Response:
        """`GET /api/v2/organizations`: cursor or offset pages in id order."""
        return self._list(request, self.store.organizations)

    def organization(self, request: Request) -> Response:
        """`GET /api/v2/organizations/{id}`."""
        return self._show(request, self.store.organizations, "organization")

    def organizations_many(self, request: Request) -> Response:
        """`GET /api/v2/organizations/show_many?ids=` or `?external_ids=`."""
        return self._show_many(request, self.store.organizations, by_external_id=True)

    def organizations_search(self, request: Request) -> Response:
        """`GET /api/v2/organizations/search?external_id=` or `?name=` (exactly one, case-insensitive)."""
        external_id, name = request.arg("external_id"), request.arg("name")
        if (external_id is None) == (name is None):
            raise errors.bad_request("Provide either external_id or name, but not both", "InvalidParameter")
        field, value = ("external_id", external_id) if external_id is not None else ("name", name)
        wanted = (value or "").lower()
        with self.store.lock:
            found = [
                with_url(request, self.store.organizations, r)
                for r in self.store.organizations.by_id()
                if (r.get(field) or "").lower() == wanted
            ]
        return json_response(
            {"organizations": found, "next_page": None, "previous_page": None, "count": len(found)}
        )

    # --- users ----------------------------------------------------------------------------------

    def users(self, request: Request) -> Response:
        """`GET /api/v2/users`, optionally filtered by `role` / `role[]`."""
        roles = set(request.query.get("role", []) + request.query.get("role[]", []))
        keep = (lambda r: r.get("role") in roles) if roles else None
        return self._list(request, self.store.users, keep)

    def user(self, request: Request) -> Response:
        """`GET /api/v2/users/{id}`."""
        return self._show(request, self.store.users, "user")

    def users_many(self, request: Request) -> Response:
        """`GET /api/v2/users/show_many?ids=` or `?external_ids=`."""
        return self._show_many(request, self.store.users, by_external_id=True)

    def me(self, request: Request) -> Response:
        """`GET /api/v2/users/me`: the user the credentials belong to (the sandbox's admin)."""
        with self.store.lock:
            record = self.store.users.get(ADMIN_USER_ID)
            if record is None:
                raise errors.not_found()
            return json_response({"user": with_url(request, self.store.users, record)})

    # --- tickets --------------------------------------------------------------------------------

    def tickets(self, request: Request) -> Response:
        """`GET /api/v2/tickets` (deleted tickets are not listed)."""
        return self._list(request, self.store.tickets, _not_deleted)

    def ticket(self, request: Request) -> Response:
        """`GET /api/v2/tickets/{id}` (404 for a deleted ticket)."""
        return self._show(request, self.store.tickets, "ticket", _not_deleted)

    def tickets_many(self, request: Request) -> Response:
        """`GET /api/v2/tickets/show_many?ids=`."""
        return self._show_many(request, self.store.tickets, _not_deleted)

    # --- satisfaction ratings -------------------------------------------------------------------

    def ratings(self, request: Request) -> Response:
        """`GET /api/v2/satisfaction_ratings` with `score`, `start_time`, `end_time` filters."""
        keep = _rating_filter(request)
        return self._list(request, self.store.ratings, keep)

    def rating(self, request: Request) -> Response:
        """`GET /api/v2/satisfaction_ratings/{id}`."""
        return self._show(request, self.store.ratings, "satisfaction_rating")


def _rating_filter(request: Request) -> Callable[[Record], bool] | None:
    """The documented filters: `score` (offered, unoffered, received, good, bad, each `_with_comment`
    or `_without_comment` where it applies) and `start_time` / `end_time` on `created_at` (epoch)."""
    score = request.arg("score")
    start, end = request.arg("start_time"), request.arg("end_time")
    if not (score or start or end):
        return None
    try:
        start_s = int(start) if start else None
        end_s = int(end) if end else None
    except ValueError:
        raise errors.bad_request("start_time and end_time must be Unix epoch times") from None

    def keep(record: Record) -> bool:
        if score and not _score_matches(score, record):
            return False
        created = parse_iso(str(record["created_at"]))
        return (start_s is None or created >= start_s) and (end_s is None or created <= end_s)

    return keep


def _score_matches(wanted: str, record: Record) -> bool:
    base, _, comment_rule = wanted.partition("_with")
    actual = record.get("score")
    if base == "received":
        matched = actual in _RECEIVED
    elif base in {"good", "bad", "offered", "unoffered"}:
        matched = actual == base
    else:
        return False
    has_comment = bool(record.get("comment"))
    if comment_rule == "_comment":
        return matched and has_comment
    if comment_rule == "out_comment":
        return matched and not has_comment
    return matched
