"""`ZendeskApp`: the Zendesk Support API (`/api/v2/`) of the sandbox.

Authentication follows https://developer.zendesk.com/api-reference/introduction/security-and-auth/ :
basic auth with `{email}/token:{api_token}` or an OAuth `Authorization: Bearer {token}`. Plain
`{email}:{password}` basic auth is refused (Zendesk has deprecated password access for APIs:
https://support.zendesk.com/hc/en-us/articles/7386291855386 ), as is anything else, with
401 `{"error": "Couldn't authenticate you"}`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import math
from http import HTTPStatus
from typing import Any

from healthsync.sandbox.dataset import Customer, Dataset, Delta, SupportTicket, SurveyRating
from healthsync.sandbox.vendor import SandboxContext
from healthsync.sandbox.wire import ApiError, Handler, Request, Response, Route, Router, json_response
from healthsync.sandbox.zendesk import errors
from healthsync.sandbox.zendesk.incremental import RECENT_SECONDS, Exports
from healthsync.sandbox.zendesk.ratelimit import RateLimits
from healthsync.sandbox.zendesk.records import (
    ADMIN_EMAIL,
    ADMIN_USER_ID,
    admin_user,
    epoch,
    org_id,
    organization_record,
    rating_record,
    ticket_record,
    user_record,
)
from healthsync.sandbox.zendesk.routes import Resources
from healthsync.sandbox.zendesk.search import Search
from healthsync.sandbox.zendesk.store import ZendeskStore

__all__ = ["ZendeskApp"]

_DEFAULT_RETRY_AFTER = 60
"""Retry-After for an injected 429 that names none: Zendesk always sends one, and budgets are per minute."""


class ZendeskApp:
    """Zendesk organizations, users, tickets, CSAT ratings, search and incremental exports.

    Args:
        context: the sandbox's clock, counters and settings.
    """

    name = "zendesk"

    def __init__(self, context: SandboxContext) -> None:
        self.context = context
        self.store = ZendeskStore()
        self.limits = RateLimits()
        digest = hashlib.sha256(f"zendesk-sandbox-{context.seed}".encode()).hexdigest()
        self.email = ADMIN_EMAIL
        self.token = digest[:40]
        self.oauth_token = digest[24:64]
        self._exports = Exports(self.store, context.clock)
        self._resources = Resources(self.store)
        self._search = Search(self.store)
        self._customers: dict[int, Customer] = {}
        self._tickets: dict[int, SupportTicket] = {}
        self._ratings_by_ticket: dict[int, SurveyRating] = {}
        self._agents: list[int] = [ADMIN_USER_ID]

    # --- settings -------------------------------------------------------------------------------

    @property
    def account_limit(self) -> int:
        """Requests per minute for the account (400: Suite Growth / Professional)."""
        return self.limits.account.limit

    @account_limit.setter
    def account_limit(self, value: int) -> None:
        self.limits = RateLimits(account=value, incremental=self.limits.incremental.limit)

    @property
    def incremental_limit(self) -> int:
        """Requests per minute to `/api/v2/incremental/*` (10; 30 with the High Volume add-on)."""
        return self.limits.incremental.limit

    @incremental_limit.setter
    def incremental_limit(self, value: int) -> None:
        self.limits = RateLimits(account=self.limits.account.limit, incremental=value)

    # --- VendorApp: routes ----------------------------------------------------------------------

    def register(self, router: Router) -> None:
        """Add the `/api/v2/` routes; each path also answers with the `.json` suffix zenpy sends."""
        res, exp, search = self._resources, self._exports, self._search
        routes: list[tuple[str, Handler]] = [
            ("/api/v2/incremental/tickets/cursor", exp.tickets_cursor),
            ("/api/v2/incremental/users/cursor", exp.users_cursor),
            ("/api/v2/incremental/tickets", exp.tickets_time),
            ("/api/v2/incremental/users", exp.users_time),
            ("/api/v2/incremental/organizations", exp.organizations_time),
            ("/api/v2/organizations/show_many", res.organizations_many),
            ("/api/v2/organizations/search", res.organizations_search),
            ("/api/v2/organizations", res.organizations),
            ("/api/v2/organizations/{id}", res.organization),
            ("/api/v2/users/me", res.me),
            ("/api/v2/users/show_many", res.users_many),
            ("/api/v2/users", res.users),
            ("/api/v2/users/{id}", res.user),
            ("/api/v2/tickets/show_many", res.tickets_many),
            ("/api/v2/tickets", res.tickets),
            ("/api/v2/tickets/{id}", res.ticket),
            ("/api/v2/satisfaction_ratings", res.ratings),
            ("/api/v2/satisfaction_ratings/{id}", res.rating),
            ("/api/v2/search/count", search.count),
            ("/api/v2/search", search.search),
        ]
        for template, handler in routes:
            wrapped = self._with_rate_headers(handler)
            if not template.endswith("}"):
                router.add(self.name, "GET", template + ".json", wrapped)
            router.add(self.name, "GET", template, wrapped)

    def _with_rate_headers(self, handler: Handler) -> Handler:
        """Every answer reports the account budget, as Zendesk's responses do (ratelimit module)."""

        def serve(request: Request) -> Response:
            try:
                response = handler(request)
            except ApiError as exc:
                response = exc.response()
            response.headers.update(self.limits.headers(enforced=self.context.rate_limits))
            return response

        return serve

    # --- VendorApp: data ------------------------------------------------------------------------

    def seed(self, dataset: Dataset) -> None:
        """Project the dataset into organizations, users (plus the API admin), tickets and ratings."""
        store = self.store
        with store.lock:
            orgs = []
            for customer in dataset.customers:
                self._customers[customer.index] = customer
                if org_id(customer) is not None:
                    orgs.append((organization_record(customer), epoch(customer.modified_at)))
            store.organizations.load(orgs)
            users = [(user_record(admin_user(), None, dataset.now), epoch(dataset.now))]
            for user in dataset.support_users:
                created = user.created_at or dataset.now
                record = user_record(user, self._user_org(user.customer), created)
                users.append((record, epoch(user.updated_at or created)))
            store.users.load(users)
            agents = sorted(u.id for u in dataset.support_users if u.role != "end-user")
            self._agents = agents or [ADMIN_USER_ID]
            for rating in sorted(dataset.ratings, key=lambda r: (r.updated_at, r.id)):
                self._ratings_by_ticket[rating.ticket] = rating
            tickets = []
            for ticket in dataset.tickets:
                self._tickets[ticket.id] = ticket
                latest = self._ratings_by_ticket.get(ticket.id)
                stamp = max(ticket.updated_at, latest.updated_at) if latest else ticket.updated_at
                tickets.append((self._ticket(ticket), epoch(stamp)))
            store.tickets.load(tickets)
            store.ratings.load(
                [(rating_record(r, self._assignee(r.ticket)), epoch(r.updated_at)) for r in dataset.ratings]
            )

    def apply(self, delta: Delta) -> None:
        """Store what changed, stamped when it happened (never inside an already exported range)."""
        store = self.store
        # Ticket exports hold back the last minute; changes from a clock jump happened before "now".
        latest = epoch(delta.now) - RECENT_SECONDS

        def when(moment: Any) -> int:
            return min(epoch(moment), latest)

        with store.lock:
            for customer in [*delta.new_customers, *delta.changed_customers]:
                self._customers[customer.index] = customer
                organization_id = org_id(customer)
                if organization_id is None:
                    continue
                record = organization_record(customer)
                old = store.organizations.get(organization_id)
                if old is None or _content(old) != _content(record):
                    stamp = store.change_stamp(
                        store.organizations, organization_id, when(customer.modified_at)
                    )
                    store.organizations.put(record, stamp)
            for user in delta.new_support_users:
                created = user.created_at or delta.now
                record = user_record(user, self._user_org(user.customer), created)
                store.users.put(
                    record, store.change_stamp(store.users, user.id, when(user.updated_at or created))
                )
            touched: dict[int, int] = {}
            for rating in delta.new_ratings:
                self._ratings_by_ticket[rating.ticket] = rating
                stamp = store.change_stamp(store.ratings, rating.id, when(rating.updated_at))
                store.ratings.put(rating_record(rating, self._assignee(rating.ticket)), stamp)
                touched[rating.ticket] = max(touched.get(rating.ticket, 0), when(rating.updated_at))
            for ticket in [*delta.new_tickets, *delta.changed_tickets]:
                self._tickets[ticket.id] = ticket
                touched[ticket.id] = max(touched.get(ticket.id, 0), when(ticket.updated_at))
            for ticket_id, moment in touched.items():
                known = self._tickets.get(ticket_id)
                if known is not None:
                    stamp = store.change_stamp(store.tickets, ticket_id, moment)
                    store.tickets.put(self._ticket(known), stamp)

    def _user_org(self, customer_index: int | None) -> int | None:
        customer = self._customers.get(customer_index) if customer_index is not None else None
        return org_id(customer) if customer is not None else None

    def _assignee(self, ticket_id: int) -> int:
        return self._agents[ticket_id % len(self._agents)]

    def _ticket(self, ticket: SupportTicket) -> dict[str, Any]:
        return ticket_record(
            ticket,
            self._user_org(ticket.customer),
            self._assignee(ticket.id),
            self._ratings_by_ticket.get(ticket.id),
        )

    def objects(self) -> list[str]:
        """The dumpable stores."""
        return list(self.store.collections())

    def state(self, object_name: str) -> list[dict[str, Any]]:
        """Every stored record of `object_name` (deleted tickets included), in id order."""
        collection = self.store.collections()[object_name]
        with self.store.lock:
            return [collection.render(r) for r in collection.all()]

    # --- VendorApp: auth, limits, errors --------------------------------------------------------

    def authenticate(self, request: Request) -> Response | None:
        """None for an API token (basic `email/token:TOKEN`) or OAuth bearer token, else Zendesk's 401."""
        header = request.header("authorization") or ""
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "bearer" and value.strip() == self.oauth_token:
            return None
        if scheme.lower() == "basic":
            try:
                user, _, secret = base64.b64decode(value.strip(), validate=True).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                user, secret = "", ""
            if user.lower() == f"{self.email}/token" and secret == self.token:
                return None
        return json_response(
            errors.unauthorized_body(), 401, {"WWW-Authenticate": 'Basic realm="Web Password"'}
        )

    def throttle(self, request: Request, route: Route) -> Response | None:
        """429 once the account or incremental-export budget for the minute is spent (rate limits on)."""
        if not self.context.rate_limits:
            return None
        wait = self.limits.take(request.path)
        if wait is None:
            return None
        return errors.rate_limited(max(1, math.ceil(wait)), self.limits.headers(enforced=True, refused=True))

    def error(self, status: int, request: Request, *, retry_after: float | None = None) -> Response:
        """A Zendesk-shaped error for fault injection and unrouted requests."""
        if status == 429:
            wait = _DEFAULT_RETRY_AFTER if retry_after is None else max(0, math.ceil(retry_after))
            return errors.rate_limited(wait, self.limits.headers(enforced=True, refused=True))
        headers = {"Retry-After": str(math.ceil(retry_after))} if retry_after is not None else {}
        body: dict[str, Any]
        if status == 401:
            body = errors.unauthorized_body()
        elif status == 403:
            body = {
                "error": "Forbidden",
                "description": "You do not have access to this page. Please contact the account owner "
                "of this help desk for further help.",
            }
        elif status in (404, 405):
            body = {"error": "InvalidEndpoint", "description": "Not found"}
        elif status >= 500:
            # The `Errors` envelope the published OAS documents for 500s.
            body = {"errors": [{"code": "Unavailable", "title": _phrase(status)}]}
        else:
            body = {"error": _phrase(status).replace(" ", ""), "description": _phrase(status)}
        return json_response(body, status, headers)

    def exhaust_quota(self) -> None:
        """Zendesk has per-minute limits only, no daily quota: nothing to spend."""

    def credentials(self, base_url: str, tls_base_url: str | None) -> dict[str, Any]:
        """How a client reaches this Zendesk: base URL, the admin's email, API token and OAuth token."""
        return {"url": base_url, "email": self.email, "token": self.token, "oauth_token": self.oauth_token}


def _content(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if k not in {"updated_at", "generated_timestamp"}}


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"
