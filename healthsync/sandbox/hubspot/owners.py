"""Owners (`/crm/v3/owners`) and custom object schemas (`/crm/v3/schemas`).

Owners follow https://developers.hubspot.com/docs/api/crm/owners : paged with `limit` (default 100,
at most 500) and `after`, filterable by `email`, readable by `id` or `userId`; the spec requires
`type` (PERSON or QUEUE). Clients call the list with and without a trailing slash (hubspot-api-client
sends `/crm/v3/owners/`), and generic clients list custom object schemas first, so `GET
/crm/v3/schemas` (and the SDK's `/crm-object-schemas/v3/schemas`) answers the portal's (empty) list.
"""

from __future__ import annotations

from typing import Any

from healthsync.sandbox.hubspot.errors import OBJECT_NOT_FOUND, VALIDATION_ERROR, api_error
from healthsync.sandbox.hubspot.state import HubSpotState
from healthsync.sandbox.hubspot.views import parse_bool
from healthsync.sandbox.wire import PageServed, Request, Response, Router, json_response

__all__ = ["MAX_OWNERS_PAGE", "OwnerRoutes"]

MAX_OWNERS_PAGE = 500


class OwnerRoutes:
    """Owner reads and the schema listing."""

    def __init__(self, state: HubSpotState, vendor: str) -> None:
        self.state = state
        self.vendor = vendor

    def register(self, router: Router) -> None:
        """Owners and schemas (both spellings of the schemas path)."""
        router.add(self.vendor, "GET", "/crm/v3/owners", self.list)
        router.add(self.vendor, "GET", "/crm/v3/owners/{ownerId}", self.get)
        for base in ("/crm/v3/schemas", "/crm-object-schemas/v3/schemas"):
            router.add(self.vendor, "GET", base, self.schemas)
            router.add(self.vendor, "GET", base + "/{objectType}", self.schema)

    def list(self, request: Request) -> Response:
        """A page of owners; `paging.next.after` is an offset."""
        try:
            limit = int(request.arg("limit") or 100)
            offset = int(request.arg("after") or 0)
        except ValueError:
            raise api_error(400, VALIDATION_ERROR, "limit and after must be integers") from None
        if limit < 1 or limit > MAX_OWNERS_PAGE:
            raise api_error(400, VALIDATION_ERROR, f"limit must be between 1 and {MAX_OWNERS_PAGE}")
        email = (request.arg("email") or "").casefold()
        archived = parse_bool(request, "archived")
        with self.state.lock:
            owners = [
                o
                for o in self.state.owners
                if o["archived"] == archived and (not email or o["email"].casefold() == email)
            ]
        body: dict[str, Any] = {"results": owners[offset : offset + limit]}
        request.page = PageServed(limit, MAX_OWNERS_PAGE, len(body["results"]), offset + limit < len(owners))
        if offset + limit < len(owners):
            after = str(offset + limit)
            body["paging"] = {
                "next": {"after": after, "link": f"{request.base_url}/crm/v3/owners?after={after}"}
            }
        return json_response(body)

    def get(self, request: Request) -> Response:
        """One owner by `id` (default) or `userId`."""
        key = request.arg("idProperty") or "id"
        if key not in {"id", "userId"}:
            raise api_error(400, VALIDATION_ERROR, "idProperty must be id or userId")
        wanted = request.params["ownerId"]
        archived = parse_bool(request, "archived")
        with self.state.lock:
            owner = next(
                (o for o in self.state.owners if str(o[key]) == wanted and o["archived"] == archived), None
            )
        if owner is None:
            raise api_error(404, OBJECT_NOT_FOUND, f"No owner with {key} {wanted} exists")
        return json_response(owner)

    def schemas(self, request: Request) -> Response:
        """Custom object schemas: none in this portal."""
        return json_response({"results": []})

    def schema(self, request: Request) -> Response:
        """A custom object schema: none exist, so always HubSpot's 404."""
        raise api_error(404, OBJECT_NOT_FOUND, f"Unable to find object schema {request.params['objectType']}")
