"""`SalesforceApp`: the sandbox's Salesforce org behind `/services/data/vXX.X/`.

Auth is a bearer session (`Authorization: Bearer <token>`, or the older `OAuth <token>`), as
simple-salesforce sends with `session_id=`; a bad or missing token answers 401
`[{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]`.

Every API call (not the version list) spends one request of the org's daily API budget and every
answer carries `Sforce-Limit-Info: api-usage=USED/MAX`
(https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/headers_api_usage.htm).
A spent budget answers 403 REQUEST_LIMIT_EXCEEDED "TotalRequests Limit exceeded."
(https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/errorcodes.htm). The
budget is 100,000 with realistic rate limits (an Enterprise org's base allocation,
https://developer.salesforce.com/docs/atlas.en-us.salesforce_app_limits_cheatsheet.meta/salesforce_app_limits_cheatsheet/salesforce_app_limits_platform_api.htm)
and 5,000,000 otherwise; set `daily_api_limit` to change it. It resets when the simulated day changes.

Fault hook for row-lock contention: `lock_rows(ids, times)` (see `writes.py`); pending locks are
visible at `/_sandbox/state/salesforce/_locks`.

Permission switch for `healthsync check`: `restrict(fields=["Account.Health_Score__c"],
objects=["Task"])` makes those read-only for the API user, `unrestrict()` gives full access back
(`permissions.py`); also `POST/GET/DELETE /_sandbox/permissions/salesforce`.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from typing import Any

from healthsync.sandbox.dataset import Dataset, Delta
from healthsync.sandbox.limits import DailyQuota
from healthsync.sandbox.salesforce.custom_fields import HEALTHSYNC_FIELDS
from healthsync.sandbox.salesforce.errors import error_body, error_response
from healthsync.sandbox.salesforce.ids import KEY_PREFIXES, SERIES_SYSTEM, make_id
from healthsync.sandbox.salesforce.objects import build_schema
from healthsync.sandbox.salesforce.org import Org
from healthsync.sandbox.salesforce.permissions import Permissions
from healthsync.sandbox.salesforce.renewals import RenewalCloser
from healthsync.sandbox.salesforce.routes_oauth import oauth_routes
from healthsync.sandbox.salesforce.routes_read import read_routes, render_row
from healthsync.sandbox.salesforce.routes_tooling import add_custom_field_row, tooling_routes
from healthsync.sandbox.salesforce.routes_write import write_routes
from healthsync.sandbox.salesforce.schema import FieldDef, ObjectDef, Schema
from healthsync.sandbox.salesforce.seed import account_id, account_row, api_user_row, user_row
from healthsync.sandbox.salesforce.store import Cursors, Store
from healthsync.sandbox.salesforce.value_sets import SHARED_ID, ValueSets
from healthsync.sandbox.salesforce.writes import Writer
from healthsync.sandbox.vendor import SandboxContext
from healthsync.sandbox.wire import ApiError, Handler, Request, Response, Route, Router, json_response

__all__ = ["API_VERSION", "SalesforceApp"]

API_VERSION = "62.0"
REALISTIC_DAILY_LIMIT = 100_000
RELAXED_DAILY_LIMIT = 5_000_000
_API_PREFIX = "/services/data/v"


def _tooling_schema() -> Schema:
    obj = ObjectDef("CustomField", "Custom Field", "Custom Fields", KEY_PREFIXES["CustomField"],
                    createable=False, updateable=False, deletable=False, has_is_deleted=False)  # fmt: skip
    for definition in (
        FieldDef("Id", "id", length=18, createable=False, updateable=False, nillable=False),
        FieldDef("DeveloperName", "string", label="Field Name", length=40),
        FieldDef("TableEnumOrId", "string", label="Table Enum or ID", length=40),
        FieldDef("NamespacePrefix", "string", length=15),
        FieldDef("ManageableState", "picklist", length=40),
        FieldDef("CreatedDate", "datetime", createable=False, updateable=False),
        FieldDef("LastModifiedDate", "datetime", createable=False, updateable=False),
    ):
        obj.add(definition)
    # StandardValueSet rows live in `ValueSets`, not in the store (they share one Id).
    value_set = ObjectDef("StandardValueSet", "Standard Value Set", "Standard Value Sets", SHARED_ID[:3],
                          createable=False, updateable=True, deletable=False, has_is_deleted=False,
                          url_field="DurableId")  # fmt: skip
    for definition in (
        FieldDef("Id", "id", length=18, createable=False, updateable=False, nillable=False),
        FieldDef("DurableId", "string", label="Durable ID", length=255, createable=False, updateable=False),
        FieldDef("FullName", "string", label="Full Name", length=255, updateable=False),
        FieldDef(
            "MasterLabel", "string", label="Master Label", length=255, createable=False, updateable=False
        ),
        FieldDef("NamespacePrefix", "string", label="Namespace Prefix", length=15, createable=False),
        FieldDef("Metadata", "complexvalue"),
    ):
        value_set.add(definition)
    return Schema([obj, value_set])


class SalesforceApp:
    """The Salesforce REST API of the sandbox (see the module docstring for auth, quota and faults)."""

    name = "salesforce"

    def __init__(self, ctx: SandboxContext) -> None:
        self.ctx = ctx
        schema = build_schema(ctx.provisioned)
        store = Store(schema)
        self.api_user = make_id(KEY_PREFIXES["User"], 0, SERIES_SYSTEM)
        tooling = _tooling_schema()
        permissions = Permissions()
        self.org = Org(
            ctx=ctx,
            schema=schema,
            store=store,
            writer=Writer(schema, store, ctx.clock.now, self.api_user, permissions),
            cursors=Cursors(),
            tooling_schema=tooling,
            tooling_store=Store(tooling),
            quota=DailyQuota(REALISTIC_DAILY_LIMIT if ctx.rate_limits else RELAXED_DAILY_LIMIT),
            value_sets=ValueSets(schema),
            permissions=permissions,
        )
        digest = hashlib.sha256(f"healthsync-sandbox-salesforce-{ctx.seed}".encode()).hexdigest()
        # Looks like a real session id: org id, "!", then an opaque secret.
        self.token = f"00D5j000000Hs{digest[:2].upper()}!AQ{digest[2:60]}"
        self._quota_day = ctx.clock.today()
        self._router: Router | None = None
        store.put("User", api_user_row(schema.get("User"), ctx.clock.now()))  # type: ignore[arg-type]
        if ctx.provisioned:
            for full_name, _ in HEALTHSYNC_FIELDS:
                object_name, field_name = full_name.split(".")
                add_custom_field_row(self.org, object_name, field_name)

    # --- settings and fault hooks -----------------------------------------------------------------

    @property
    def daily_api_limit(self) -> int:
        """The org's daily API request budget."""
        return self.org.quota.limit

    @daily_api_limit.setter
    def daily_api_limit(self, limit: int) -> None:
        self.org.quota.limit = limit

    def lock_rows(self, record_ids: list[str], times: int = 1) -> None:
        """Make the next `times` writes touching each record fail with UNABLE_TO_LOCK_ROW."""
        self.org.writer.lock_rows(record_ids, times)

    def restrict(self, *, fields: Iterable[str] = (), objects: Iterable[str] = ()) -> dict[str, Any]:
        """Make `fields` (`Object.Field`) and `objects` read-only for the API user; the restrictions in force.

        Describe then reports them `createable/updateable: false` and writes to them are refused
        (see `permissions.py` for the error codes). Restrictions add up until `unrestrict()`.
        """
        self.org.permissions.restrict(fields=fields, objects=objects)
        return self.restrictions()

    def unrestrict(self) -> dict[str, Any]:
        """Give the API user full access again."""
        self.org.permissions.clear()
        return self.restrictions()

    def restrictions(self) -> dict[str, Any]:
        """`{"fields": [...], "objects": [...]}`: what `restrict` made read-only."""
        return self.org.permissions.snapshot()

    # --- VendorApp --------------------------------------------------------------------------------

    def register(self, router: Router) -> None:
        """Add every Salesforce route, most specific templates first."""
        self._router = router
        routes: list[tuple[str, str, Handler, str | None]] = [
            (m, t, h, k)
            for m, t, h, k in [
                *write_routes(self.org),
                *tooling_routes(self.org),
                *oauth_routes(self.org, lambda: self.token, self.api_user),
            ]
        ]
        routes += [(m, t, h, None) for m, t, h in read_routes(self.org)]
        # Register specific templates before generic ones: more literal segments first.
        routes.sort(key=lambda r: (-r[1].count("/"), r[1].count("{")))
        for method, template, handler, kind in routes:
            router.add(self.name, method, template, self._with_limit_info(handler), kind)  # type: ignore[arg-type]

    def _limit_info(self) -> dict[str, str]:
        return {"Sforce-Limit-Info": f"api-usage={self.org.quota.used}/{self.org.quota.limit}"}

    def _with_limit_info(self, handler: Handler) -> Handler:
        def wrapped(request: Request) -> Response:
            try:
                response = handler(request)
            except ApiError as exc:
                response = exc.response()
            if request.path.startswith(_API_PREFIX):
                response.headers.update(self._limit_info())
            return response

        return wrapped

    def seed(self, dataset: Dataset) -> None:
        """Users from the dataset's owners, Accounts from its CRM customers."""
        users = self.org.schema.get("User")
        accounts = self.org.schema.get("Account")
        assert users is not None
        assert accounts is not None
        now = self.ctx.clock.now()
        for owner in dataset.owners:
            self.org.store.put("User", user_row(users, owner, now))
        for customer in dataset.customers:
            if customer.in_crm:
                self.org.store.put("Account", account_row(accounts, customer, self.api_user))

    def apply(self, delta: Delta) -> None:
        """New and changed customers become new and updated Accounts, stamped with the sandbox clock;
        renewals and churns close their open renewal deals (`renewals.py`).

        A churn leaves the Account as it was (its ARR, its contract end now past): the closed-lost
        deal is the record of it, so a customer whose only change was churning is not rewritten.
        """
        accounts = self.org.schema.get("Account")
        assert accounts is not None
        now = self.ctx.clock.now()
        unchanged = delta.churned_only()
        with self.org.store.lock:
            for customer in [*delta.new_customers, *delta.changed_customers]:
                if not customer.in_crm or customer.index in unchanged:
                    continue
                row = account_row(accounts, customer, self.api_user, modified=now)
                current = self.org.store.get("Account", row["Id"])
                if current is not None:
                    # Keep what the API wrote (health outputs, overrides) and the original creation.
                    kept = {k: v for k, v in current.items() if k not in row or row[k] is None}
                    row.update(kept, CreatedDate=current["CreatedDate"])
                self.org.store.put("Account", row)
            closer = RenewalCloser(self.org)
            for event in delta.contract_events:
                deal = closer.close(event)
                if deal is not None:
                    event.deals_closed[self.name] = deal

    def crm_account_id(self, index: int) -> str | None:
        """The Account Id of dataset customer `index`, if the org holds that Account."""
        found = self.org.store.get("Account", account_id(index))
        return None if found is None else str(found["Id"])

    def objects(self) -> list[str]:
        """The sObjects `/_sandbox/state/salesforce/{object}` dumps, plus Tooling objects and `_locks`."""
        return [*self.org.schema.names(), "CustomField", "StandardValueSet", "_locks"]

    def state(self, object_name: str) -> list[dict[str, Any]]:
        """Every stored record (deleted ones too, with IsDeleted) in Id order."""
        if object_name == "_locks":
            return self.org.writer.pending_locks()
        if object_name in {"CustomField", "StandardValueSet"}:
            obj = self.org.tooling_schema.get(object_name)
            rows = self.org.tooling_records.records(object_name)
        else:
            obj = self.org.schema.get(object_name)
            if obj is None or obj.name != object_name:
                raise KeyError(object_name)
            rows = self.org.store.records(object_name)
        assert obj is not None
        return [render_row(obj, row, API_VERSION) for row in sorted(rows, key=lambda r: r[obj.url_field])]

    def authenticate(self, request: Request) -> Response | None:
        """401 INVALID_SESSION_ID unless the request carries the org's session token."""
        if not request.path.startswith(_API_PREFIX):
            return None  # the version list and OAuth endpoints need no session
        scheme, _, token = (request.header("authorization") or "").partition(" ")
        if scheme.lower() in {"bearer", "oauth"} and hmac.compare_digest(token.strip(), self.token):
            return None
        return json_response(error_body("INVALID_SESSION_ID", "Session expired or invalid"), 401)

    def throttle(self, request: Request, route: Route) -> Response | None:
        """Spend one request of the daily budget; 403 REQUEST_LIMIT_EXCEEDED once it is gone."""
        if not request.path.startswith(_API_PREFIX):
            return None
        today = self.ctx.clock.today()
        if today != self._quota_day:
            self._quota_day = today
            self.org.quota.reset()
        if self.org.quota.take():
            return None
        return json_response(
            error_body("REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded."), 403, self._limit_info()
        )

    def error(self, status: int, request: Request, *, retry_after: float | None = None) -> Response:
        """A Salesforce-shaped error for an injected fault or an unknown path/method."""
        allowed = self._router.allowed_methods(request.path) if self._router and status == 405 else None
        headers = self._limit_info() if request.path.startswith(_API_PREFIX) else {}
        return error_response(
            status, method=request.method, allowed=allowed, retry_after=retry_after, headers=headers
        )

    def exhaust_quota(self) -> None:
        """Spend the rest of today's API budget."""
        self.org.quota.exhaust()

    def credentials(self, base_url: str, tls_base_url: str | None) -> dict[str, Any]:
        """How simple-salesforce reaches the org: `Salesforce(instance_url=, session_id=, version=)`."""
        return {
            "instance_url": tls_base_url or base_url,
            "access_token": self.token,
            "api_version": API_VERSION,
        }
