"""`HubSpotApp`: the HubSpot CRM v3 API of the sandbox, as hubspot-api-client 12 reaches it.

The SDK is pointed here with `HubSpot(access_token=token, host=base_url)`: the client `setattr`s every
extra keyword onto each generated `Configuration`, and its `host` setter replaces the base path
(`hubspot/discovery/discovery_base.py`, `hubspot/crm/companies/configuration.py` in 12.0.0).
Auth is a private-app bearer token; a wrong or missing one answers HubSpot's 401
INVALID_AUTHENTICATION body (https://developers.hubspot.com/docs/api/private-apps ). The token carries
scopes (`set_scopes`, `issue_token`); a call none of them covers answers 403 MISSING_SCOPES, and
`POST /oauth/v2/private-apps/get/access-token-info` lists them (`auth.py`).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from datetime import timedelta
from typing import Any

from healthsync.sandbox.dataset import Customer, Dataset, Delta
from healthsync.sandbox.hubspot.associations import AssociationRoutes, associations_view
from healthsync.sandbox.hubspot.auth import (
    TOKEN_INFO_PATH,
    PrivateAppTokens,
    TokenInfoRoutes,
    missing_scopes_error,
    required_scopes,
)
from healthsync.sandbox.hubspot.batch import BatchRoutes
from healthsync.sandbox.hubspot.errors import status_error
from healthsync.sandbox.hubspot.objects import ObjectRoutes
from healthsync.sandbox.hubspot.owners import OwnerRoutes
from healthsync.sandbox.hubspot.pipelines import PipelineRoutes, default_deal_pipeline, renewals_pipeline
from healthsync.sandbox.hubspot.properties import PropertyRoutes
from healthsync.sandbox.hubspot.ratelimit import TIERS, RateLimiter, rate_limit_response
from healthsync.sandbox.hubspot.renewals import RenewalCloser
from healthsync.sandbox.hubspot.state import HubSpotState
from healthsync.sandbox.hubspot.store import OBJECT_TYPES
from healthsync.sandbox.hubspot.values import iso
from healthsync.sandbox.hubspot.views import public_object
from healthsync.sandbox.vendor import SandboxContext
from healthsync.sandbox.wire import ApiError, Handler, Kind, Request, Response, Route, Router, json_response

__all__ = ["HubSpotApp"]

_OWNER_ID_BASE = 6_100_000
_USER_ID_BASE = 1_296_000
_APP_ID = 3_100_001
_STATE_OBJECTS = ("companies", "deals", "tasks", "contacts")


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


class _HeaderRouter(Router):
    """Registers on the real router, wrapping handlers so normal answers carry the rate-limit headers."""

    def __init__(
        self,
        target: Router,
        decorate: Callable[[Handler, bool], Handler],
        guard: Callable[[Handler, str, Kind], Handler],
    ) -> None:
        super().__init__()
        self._target = target
        self._decorate = decorate
        self._guard = guard

    def add(
        self, vendor: str, method: str, template: str, handler: Handler, kind: Kind | None = None
    ) -> None:
        """Delegate to the real router with the handler behind the scope check, then the headers."""
        effective: Kind = kind or ("read" if method.upper() in {"GET", "HEAD"} else "write")
        guarded = self._guard(handler, template, effective)
        self._target.add(
            vendor, method, template, self._decorate(guarded, template.endswith("/search")), kind
        )


class HubSpotApp:
    """The HubSpot vendor app (`VendorApp` protocol).

    Args:
        ctx: the sandbox context (clock, counters, seed, rate limits, provisioning).
        tier: subscription tier for the limits: "starter" (100 per 10 s) or "professional" (190).
        search_lag_seconds: how long a write stays invisible to search (0: no lag).
    """

    name = "hubspot"

    def __init__(
        self, ctx: SandboxContext, *, tier: str = "starter", search_lag_seconds: float = 0.0
    ) -> None:
        self.ctx = ctx
        self.token = f"pat-na1-{uuid.uuid5(uuid.NAMESPACE_URL, f'healthsync-sandbox-hubspot-{ctx.seed}')}"
        self.tokens = PrivateAppTokens(self.token, ctx.seed)
        self.portal = HubSpotState(ctx.clock, ctx.provisioned, search_lag_seconds=search_lag_seconds)
        self.portal.pipelines["deals"]["default"] = default_deal_pipeline()
        if ctx.provisioned:
            renewals = renewals_pipeline(self.portal, ctx.clock.now())
            self.portal.pipelines["deals"][renewals.id] = renewals
        self.limits = RateLimiter(tier, ctx.rate_limits, ctx.clock)
        self._objects = ObjectRoutes(self.portal, self.name)
        self._routes: list[
            ObjectRoutes
            | OwnerRoutes
            | PropertyRoutes
            | PipelineRoutes
            | AssociationRoutes
            | BatchRoutes
            | TokenInfoRoutes
        ] = [
            TokenInfoRoutes(
                self.tokens,
                self.name,
                hub_id=self.portal.portal_id,
                app_id=_APP_ID,
                user_id=_USER_ID_BASE,
            ),
            OwnerRoutes(self.portal, self.name),
            PropertyRoutes(self.portal, self.name),
            PipelineRoutes(self.portal, self.name),
            AssociationRoutes(self.portal, self.name),
            BatchRoutes(self._objects),
            self._objects,
        ]

    # --- private-app scopes -----------------------------------------------------------------------

    def scopes(self, token: str | None = None) -> list[str]:
        """The scopes `token` (default: the sandbox's own token) carries, sorted."""
        granted = self.tokens.scopes(token or self.token)
        if granted is None:
            raise KeyError(token)
        return sorted(granted)

    def set_scopes(self, scopes: Iterable[str] | None, *, token: str | None = None) -> list[str]:
        """Restrict (or widen) a token to exactly `scopes`; None restores `auth.DEFAULT_SCOPES`.

        Calls none of the token's scopes covers answer 403 MISSING_SCOPES from then on, and the
        token-info endpoint lists the new set. Returns the scopes now granted, sorted.
        """
        return sorted(self.tokens.set(token or self.token, scopes))

    def issue_token(self, scopes: Iterable[str] | None = None) -> str:
        """A further private-app token of this portal carrying `scopes` (None: the default set)."""
        return self.tokens.issue(scopes)

    @property
    def retry_after_on_429(self) -> bool:
        """Whether rolling/per-second 429s carry `Retry-After` (HubSpot's do not document one)."""
        return self.limits.retry_after

    @retry_after_on_429.setter
    def retry_after_on_429(self, value: bool) -> None:
        self.limits.retry_after = value

    @property
    def tier(self) -> str:
        """The current tier name."""
        return next(name for name, tier in TIERS.items() if tier == self.limits.tier and name != "free")

    @tier.setter
    def tier(self, value: str) -> None:
        self.limits = RateLimiter(
            value, self.ctx.rate_limits, self.ctx.clock, retry_after=self.limits.retry_after
        )

    @property
    def search_lag_seconds(self) -> float:
        """Seconds a write stays invisible to search."""
        return self.portal.search_lag_seconds

    @search_lag_seconds.setter
    def search_lag_seconds(self, value: float) -> None:
        self.portal.search_lag_seconds = value

    # --- VendorApp ------------------------------------------------------------------------------

    def register(self, router: Router) -> None:
        """Add every HubSpot route (specific paths before generic ones)."""
        wrapping = _HeaderRouter(router, self._with_headers, self._with_scopes)
        for routes in self._routes:
            routes.register(wrapping)

    def _with_scopes(self, handler: Handler, template: str, kind: Kind) -> Handler:
        def handle(request: Request) -> Response:
            needed = required_scopes(template, kind, request.params)
            if needed:
                granted = self.tokens.scopes(_bearer(request)) or frozenset()
                if granted.isdisjoint(needed):
                    raise missing_scopes_error(needed)
            return handler(request)

        return handle

    def _with_headers(self, handler: Handler, is_search: bool) -> Handler:
        def handle(request: Request) -> Response:
            try:
                response = handler(request)
            except ApiError as exc:
                response = exc.response()
            if not is_search:
                response.headers.update(self.limits.headers())
            return response

        return handle

    def seed(self, dataset: Dataset) -> None:
        """Owners and one company per CRM customer, with ids derived from the dataset's indexes."""
        joined = dataset.now - timedelta(days=730)
        with self.portal.lock:
            self.portal.owners = [
                {
                    "id": str(_OWNER_ID_BASE + o.index),
                    "email": o.email,
                    "type": "PERSON",
                    "firstName": o.first_name,
                    "lastName": o.last_name,
                    "userId": _USER_ID_BASE + o.index,
                    "userIdIncludingInactive": _USER_ID_BASE + o.index,
                    "createdAt": iso(joined),
                    "updatedAt": iso(joined),
                    "archived": False,
                    "teams": [{"id": "4100001", "name": "Customer Success", "primary": True}],
                }
                for o in dataset.owners
            ]
            for customer in dataset.customers:
                self._put_company(customer, customer.modified_at)

    def _company_values(self, customer: Customer) -> dict[str, str | None]:
        values: dict[str, str | None] = {
            "name": customer.name,
            "domain": customer.domain,
            "website": f"https://{customer.domain}",
            "industry": customer.industry,
            "annualrevenue": _number(customer.arr),
        }
        owner = str(_OWNER_ID_BASE + customer.owner)
        if self.portal.owner(owner) is not None:
            values["hubspot_owner_id"] = owner
        if self.ctx.provisioned:
            values |= {
                "customer_key": customer.key,
                "contract_start_date": customer.contract_start.isoformat(),
                "contract_end_date": customer.contract_end.isoformat(),
                "arr": _number(customer.arr),
                "licenses": str(customer.seats),
                "segment": customer.segment,
            }
        return values

    def _put_company(self, customer: Customer, when: Any) -> None:
        if not customer.in_crm:
            return
        store = self.portal.objects["companies"]
        record_id = OBJECT_TYPES["companies"].id_base + customer.index
        existing = store.records.get(record_id)
        if existing is None:
            store.insert(
                self._company_values(customer), when, record_id=record_id, created=customer.created_at
            )
        else:
            store.write(existing, self._company_values(customer), when)

    def apply(self, delta: Delta) -> None:
        """New customers become companies; changed contracts update theirs (bumping the modified date);
        renewals and churns close their open renewal deals (`renewals.py`).

        A churn leaves the company as it was (its ARR, its contract end now past): the closed-lost
        deal is the record of it, so a customer whose only change was churning is not rewritten.
        """
        unchanged = delta.churned_only()
        with self.portal.lock:
            for customer in [*delta.new_customers, *delta.changed_customers]:
                if customer.index not in unchanged:
                    self._put_company(customer, delta.now)
            closer = RenewalCloser(self.portal)
            for event in delta.contract_events:
                deal = closer.close(event)
                if deal is not None:
                    event.deals_closed[self.name] = deal

    def crm_account_id(self, index: int) -> str | None:
        """The company id of dataset customer `index`, if the portal holds that company."""
        with self.portal.lock:
            found = self.portal.objects["companies"].get(OBJECT_TYPES["companies"].id_base + index)
        return None if found is None else str(found.id)

    def objects(self) -> list[str]:
        """Stores `/_sandbox/state/hubspot/{object}` can dump."""
        return [*_STATE_OBJECTS, "owners", "properties", "property_groups", "pipelines", "associations"]

    def state(self, object_name: str) -> list[dict[str, Any]]:
        """Stored records as the API returns them, with every property and association (archived too)."""
        with self.portal.lock:
            if object_name in _STATE_OBJECTS:
                object_type = OBJECT_TYPES[object_name]
                return [
                    public_object(
                        record,
                        object_type,
                        None,
                        (),
                        all_properties=True,
                        associations=associations_view(
                            self.portal, object_type, record.id, list(OBJECT_TYPES)
                        ),
                    )
                    for record in self.portal.objects[object_name]
                ]
            if object_name == "owners":
                return [dict(o) for o in self.portal.owners]
            if object_name == "properties":
                return [
                    {"objectType": t, **p.to_json()}
                    for t, props in self.portal.properties.items()
                    for p in props.values()
                ]
            if object_name == "property_groups":
                return [
                    {"objectType": t, **g.to_json()}
                    for t, groups in self.portal.groups.items()
                    for g in groups.values()
                ]
            if object_name == "pipelines":
                return [
                    {"objectType": t, **p.to_json()}
                    for t, ps in self.portal.pipelines.items()
                    for p in ps.values()
                ]
            if object_name == "associations":
                return [
                    {
                        "fromObjectType": a.from_type,
                        "fromObjectId": str(a.from_id),
                        "toObjectType": a.to_type,
                        "toObjectId": str(a.to_id),
                        "associationTypeId": a.type_id,
                        "associationCategory": a.category,
                    }
                    for a in self.portal.associations.all()
                ]
        raise KeyError(object_name)

    def authenticate(self, request: Request) -> Response | None:
        """401 INVALID_AUTHENTICATION unless `Authorization: Bearer <token>` names an issued token.

        The token-info endpoint authenticates by the token in its body instead.
        """
        if self.tokens.scopes(_bearer(request)) is not None:
            return None
        if request.path.rstrip("/") == TOKEN_INFO_PATH:
            return None
        return json_response(status_error(401), 401)

    def throttle(self, request: Request, route: Route) -> Response | None:
        """The 429 when a window or the daily cap is spent (search has its own per-second window)."""
        return self.limits.check(route.template.endswith("/search"))

    def error(self, status: int, request: Request, *, retry_after: float | None = None) -> Response:
        """HubSpot-shaped errors for faults, unknown paths and crashes; 429s name the policy."""
        if status == 429:
            search = request.path.rstrip("/").endswith("/search")
            # An injected fault's own retry_after wins; otherwise the window's length, if enabled.
            default = (1 if search else 10) if self.limits.retry_after else None
            policy = "SECONDLY" if search else "TEN_SECONDLY_ROLLING"
            return rate_limit_response(policy, retry_after if retry_after is not None else default)
        headers = {"Retry-After": str(max(1, round(retry_after)))} if retry_after else {}
        return json_response(status_error(status), status, headers)

    def exhaust_quota(self) -> None:
        """Spend the daily cap: every call answers 429 DAILY until the simulated day changes."""
        self.limits.daily.exhaust()

    def credentials(self, base_url: str, tls_base_url: str | None) -> dict[str, Any]:
        """`{"host", "access_token"}`: what `HubSpot(access_token=..., host=...)` needs."""
        return {"host": base_url, "access_token": self.token}


def _bearer(request: Request) -> str:
    header = request.header("authorization") or ""
    return header[7:] if header[:7].lower() == "bearer " else ""
