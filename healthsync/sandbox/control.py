"""The `/_sandbox/` control endpoints: counters, the page-size audit, state dumps, faults, the clock,
token scopes (`/scopes/{vendor}`, for vendors whose tokens carry scopes: HubSpot) and the contract
events the simulated clock made.

`GET /_sandbox/events/contracts[?since=ISO]` lists every contract event so far (those at or after
`since`, an ISO date or instant, UTC when it names no zone), in time order:

    {"at": "2026-11-03T14:02:11+00:00", "account_key": "C000042", "index": 42,
     "kind": "renewed" | "churned" | "expanded" | "contracted" | "signed",
     "arr_before": 24000.0, "arr_after": 26400.0, "seats_before": 40, "seats_after": 44,
     "contract_end_before": "2026-11-02", "contract_end_after": "2027-11-02", "reason": null,
     "crm_ids": {"hubspot": "10000000042", "salesforce": "0015j0000000000AAA"},
     "deal_closed": true, "deals_closed": {"hubspot": "35000000000", "salesforce": "0065jA000000000AAA"}}

A churn has nothing after it (`arr_after` 0, `seats_after` 0, `contract_end_after` null) and its
`reason`; a signing nothing before it. `crm_ids` has the account's id in each CRM app holding it;
`deals_closed` the renewal deal a person closed (won or lost) in each CRM for a renewal or churn,
and `deal_closed` says whether any was.

These are for tests, benchmarks and the demo, never for the connectors: they answer plain JSON and
need no credentials (the sandbox listens on loopback only by default).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from healthsync.sandbox.dataset import ContractEvent
from healthsync.sandbox.wire import ApiError, Request, Response, Router, json_response

if TYPE_CHECKING:
    from healthsync.sandbox.runtime import Sandbox

__all__ = ["register_control"]

PREFIX = "/_sandbox"


@runtime_checkable
class _Scoped(Protocol):
    """A vendor app whose tokens carry scopes (`HubSpotApp`)."""

    def scopes(self, token: str | None = None) -> list[str]: ...

    def set_scopes(self, scopes: Iterable[str] | None, *, token: str | None = None) -> list[str]: ...

    def issue_token(self, scopes: Iterable[str] | None = None) -> str: ...


@runtime_checkable
class _Restrictable(Protocol):
    """A vendor app whose API user can lose write permissions (`SalesforceApp`)."""

    def restrict(self, *, fields: Iterable[str] = (), objects: Iterable[str] = ()) -> dict[str, Any]: ...

    def unrestrict(self) -> dict[str, Any]: ...

    def restrictions(self) -> dict[str, Any]: ...


def _body(request: Request) -> dict[str, Any]:
    try:
        data = request.json() or {}
    except json.JSONDecodeError as exc:
        raise ApiError(400, {"error": f"body is not JSON: {exc}"}) from None
    if not isinstance(data, dict):
        raise ApiError(400, {"error": "body must be a JSON object"})
    return data


def _since(request: Request) -> datetime | None:
    raw = request.arg("since")
    if raw is None or raw == "":
        return None
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise ApiError(400, {"error": f"since must be an ISO date or date-time, got {raw!r}"}) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _event_json(event: ContractEvent, crm_ids: dict[str, str]) -> dict[str, Any]:
    return {
        "at": event.at.isoformat(),
        "account_key": event.account_key,
        "index": event.index,
        "kind": event.kind,
        "arr_before": event.arr_before,
        "arr_after": event.arr_after,
        "seats_before": event.seats_before,
        "seats_after": event.seats_after,
        "contract_end_before": event.contract_end_before.isoformat() if event.contract_end_before else None,
        "contract_end_after": event.contract_end_after.isoformat() if event.contract_end_after else None,
        "reason": event.reason,
        "crm_ids": crm_ids,
        "deal_closed": bool(event.deals_closed),
        "deals_closed": dict(sorted(event.deals_closed.items())),
    }


def register_control(router: Router, sandbox: Sandbox) -> None:
    """Add the control routes for `sandbox` to `router`."""

    def index(request: Request) -> Response:
        return json_response(sandbox.info(request.base_url))

    def stats(request: Request) -> Response:
        return json_response(sandbox.stats.snapshot())

    def stats_reset(request: Request) -> Response:
        sandbox.stats.reset()
        return json_response({"reset": True})

    def audit(request: Request) -> Response:
        return json_response(sandbox.stats.audit_snapshot())

    def state_objects(request: Request) -> Response:
        app = sandbox.app(request.params["vendor"])
        return json_response({"vendor": app.name, "objects": app.objects()})

    def state(request: Request) -> Response:
        app = sandbox.app(request.params["vendor"])
        try:
            records = app.state(request.params["object"])
        except KeyError:
            raise ApiError(
                404, {"error": f"unknown object {request.params['object']!r}", "objects": app.objects()}
            ) from None
        return json_response(records)

    def faults_get(request: Request) -> Response:
        return json_response(sandbox.faults.describe())

    def faults_set(request: Request) -> Response:
        data = _body(request)
        try:
            sandbox.faults.configure(data)
        except (TypeError, ValueError) as exc:
            raise ApiError(400, {"error": str(exc)}) from None
        for vendor in data.get("exhaust_quota", []):
            sandbox.app(vendor).exhaust_quota()
        return json_response(sandbox.faults.describe())

    def faults_clear(request: Request) -> Response:
        sandbox.faults.clear()
        return json_response(sandbox.faults.describe())

    def clock(request: Request) -> Response:
        now = sandbox.clock.now()
        return json_response({"now": now.isoformat(), "today": now.date().isoformat()})

    def advance(request: Request) -> Response:
        days = _body(request).get("days")
        if not isinstance(days, int) or isinstance(days, bool) or days < 0:
            raise ApiError(400, {"error": "days must be a whole number ≥ 0"})
        summary = sandbox.advance(days)
        now = sandbox.clock.now()
        return json_response({"now": now.isoformat(), "today": now.date().isoformat(), "changes": summary})

    def contract_events(request: Request) -> Response:
        events = sandbox.contract_events(_since(request))
        ids: dict[int, dict[str, str]] = {}
        out = []
        for event in events:
            if event.index not in ids:
                ids[event.index] = sandbox.crm_account_ids(event.index)
            out.append(_event_json(event, ids[event.index]))
        return json_response(out)

    def scoped(request: Request) -> _Scoped:
        app = sandbox.app(request.params["vendor"])
        if not isinstance(app, _Scoped):
            raise ApiError(404, {"error": f"{app.name} tokens carry no scopes"})
        return app

    def scopes_get(request: Request) -> Response:
        return json_response({"vendor": request.params["vendor"], "scopes": scoped(request).scopes()})

    def scopes_set(request: Request) -> Response:
        # {"scopes": [...]} restricts the sandbox's token to exactly those; {"scopes": null} restores
        # the default set; "token" names another token issued by POST /scopes/{vendor}/tokens.
        data = _body(request)
        if "scopes" not in data:
            raise ApiError(400, {"error": 'give "scopes": a list of scope names, or null for the default'})
        try:
            granted = scoped(request).set_scopes(data["scopes"], token=data.get("token"))
        except (TypeError, KeyError) as exc:
            raise ApiError(400, {"error": f"cannot set scopes: {exc!s}"}) from None
        return json_response({"vendor": request.params["vendor"], "scopes": granted})

    def token_issue(request: Request) -> Response:
        app = scoped(request)
        try:
            token = app.issue_token(_body(request).get("scopes"))
        except TypeError as exc:
            raise ApiError(400, {"error": str(exc)}) from None
        return json_response(
            {"vendor": request.params["vendor"], "access_token": token, "scopes": app.scopes(token)}
        )

    def restrictable(request: Request) -> _Restrictable:
        app = sandbox.app(request.params["vendor"])
        if not isinstance(app, _Restrictable):
            raise ApiError(404, {"error": f"{app.name} has no permission switch"})
        return app

    def permissions_get(request: Request) -> Response:
        return json_response(restrictable(request).restrictions())

    def permissions_restrict(request: Request) -> Response:
        # {"fields": ["Account.Health_Score__c"], "objects": ["Task"]}: read-only for the API user,
        # on top of earlier restrictions; DELETE gives full access back.
        data = _body(request)
        unknown = set(data) - {"fields", "objects"}
        if unknown:
            raise ApiError(400, {"error": f"unknown keys {sorted(unknown)}; give fields and/or objects"})
        try:
            restricted = restrictable(request).restrict(
                fields=data.get("fields") or (), objects=data.get("objects") or ()
            )
        except (TypeError, ValueError) as exc:
            raise ApiError(400, {"error": str(exc)}) from None
        return json_response(restricted)

    def permissions_clear(request: Request) -> Response:
        return json_response(restrictable(request).unrestrict())

    routes = [
        ("GET", "", index),
        ("GET", "/stats", stats),
        ("POST", "/stats/reset", stats_reset),
        ("GET", "/audit", audit),
        ("GET", "/state/{vendor}", state_objects),
        ("GET", "/state/{vendor}/{object}", state),
        ("GET", "/faults", faults_get),
        ("POST", "/faults", faults_set),
        ("DELETE", "/faults", faults_clear),
        ("GET", "/clock", clock),
        ("POST", "/advance", advance),
        ("POST", "/clock/advance", advance),
        ("GET", "/events/contracts", contract_events),
        ("GET", "/permissions/{vendor}", permissions_get),
        ("POST", "/permissions/{vendor}", permissions_restrict),
        ("DELETE", "/permissions/{vendor}", permissions_clear),
        ("GET", "/scopes/{vendor}", scopes_get),
        ("POST", "/scopes/{vendor}", scopes_set),
        ("POST", "/scopes/{vendor}/tokens", token_issue),
    ]
    for method, path, handler in routes:
        router.add("_sandbox", method, PREFIX + path, handler)
