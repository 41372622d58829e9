"""`Sandbox`: generated data, the three vendor apps and their listeners, started and stopped as one.

Used in-process as a context manager (tests, `healthsync demo`, benchmarks) or as a standalone
server (`healthsync sandbox serve`). Every request goes through `dispatch`, which counts it, applies
injected faults, checks credentials and rate limits the way the vendor does, calls the route, then
records the page or batch the route served in the page-size audit (`stats.Stats.audit`).
"""

from __future__ import annotations

import dataclasses
import logging
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from datetime import time as dtime
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol, cast, runtime_checkable

from healthsync.sandbox.clock import SimClock
from healthsync.sandbox.control import register_control
from healthsync.sandbox.dataset import ContractEvent, Dataset
from healthsync.sandbox.faults import Faults
from healthsync.sandbox.server import Listener, make_tls_context
from healthsync.sandbox.stats import Stats
from healthsync.sandbox.vendor import SandboxContext, VendorApp
from healthsync.sandbox.wire import ApiError, Request, Response, Router, json_response

__all__ = ["Sandbox", "default_start"]

log = logging.getLogger("healthsync.sandbox")

_VENDOR_PREFIXES = {
    "/services/": "salesforce",
    "/crm/": "hubspot",
    "/oauth/": "hubspot",
    "/api/v2/": "zendesk",
}


@runtime_checkable
class _CrmAccounts(Protocol):
    """A CRM app that can name the record id of a dataset customer's account."""

    def crm_account_id(self, index: int) -> str | None: ...


def default_start(today: date | None = None) -> datetime:
    """09:00 UTC today: the data is a function of (seed, accounts, start), so one day's runs agree."""
    return datetime.combine(today or datetime.now(UTC).date(), dtime(9, 0), tzinfo=UTC)


class Sandbox:
    """Local Salesforce, HubSpot and Zendesk APIs over a seeded, deterministic customer base.

    Args:
        accounts: customers to generate.
        seed: the generator's seed; the same (seed, accounts, start) gives byte-identical data.
        host: address to listen on (loopback by default: the control endpoints need no auth).
        port: plain-HTTP port (0 picks a free one).
        tls_port: HTTPS port for Salesforce (0 picks a free one).
        rate_limits: enforce the vendors' documented rate limits with real 429s.
        latency_ms: latency added to every vendor request.
        start: the simulated clock's start (default: 09:00 UTC today).
        workdir: where the usage database and CA bundle go (default: a temporary folder, removed on stop).
        dataset: serve this dataset instead of generating one (tests with hand-made data).
        apps: vendor apps (or factories taking the `SandboxContext`) instead of the three built-in ones.
        generate: generate a dataset when none is given (off for tests of the server itself).
        provisioned: start the CRMs with healthsync's custom fields and renewal pipeline in place.
    """

    def __init__(
        self,
        *,
        accounts: int = 300,
        seed: int = 1,
        host: str = "127.0.0.1",
        port: int = 0,
        tls_port: int = 0,
        rate_limits: bool = False,
        latency_ms: int = 0,
        start: datetime | None = None,
        workdir: Path | None = None,
        dataset: Dataset | None = None,
        apps: Sequence[VendorApp | Callable[[SandboxContext], VendorApp]] | None = None,
        generate: bool = True,
        provisioned: bool = True,
    ) -> None:
        self.accounts = accounts
        self.seed = seed
        self.host = host
        self.port = port
        self.tls_port = tls_port
        self.rate_limits = rate_limits
        self.clock = SimClock(start or default_start())
        self.stats = Stats()
        self.faults = Faults(seed=seed, latency_ms=latency_ms)
        self.context = SandboxContext(
            clock=self.clock, stats=self.stats, seed=seed, rate_limits=rate_limits, provisioned=provisioned
        )
        self._own_workdir = workdir is None
        self.workdir = Path(tempfile.mkdtemp(prefix="healthsync-sandbox-")) if workdir is None else workdir
        self._apps: dict[str, VendorApp] = {}
        self._given_apps = list(apps) if apps is not None else None
        self._generate = generate and dataset is None
        self._router = Router()
        self._control = Router()
        self._listeners: list[Listener] = []
        self._http: Listener | None = None
        self._https: Listener | None = None
        self._advance_lock = threading.Lock()
        self.dataset: Dataset | None = dataset
        self.ca_bundle: Path | None = None

    # --- lifecycle ------------------------------------------------------------------------------

    def start(self) -> Sandbox:
        """Generate the data, seed the apps and start listening."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        if self._given_apps is None:
            apps = self._builtin_apps()
        else:
            apps = [self._build_app(a) for a in self._given_apps]
        if self._generate:
            from healthsync.sandbox.datagen import generate

            self.dataset = generate(self.accounts, self.seed, now=self.clock.now(), workdir=self.workdir)
        for app in apps:
            if self.dataset is not None:
                app.seed(self.dataset)
            app.register(self._router)
            self._apps[app.name] = app
        register_control(self._control, self)
        tls, self.ca_bundle = make_tls_context(self.workdir)
        self._http = Listener(self.host, self.port, self.dispatch)
        self._https = Listener(self.host, self.tls_port, self.dispatch, tls)
        self._listeners = [self._http, self._https]
        return self

    def stop(self) -> None:
        """Stop the listeners and remove a temporary workdir."""
        for listener in self._listeners:
            listener.close()
        self._listeners.clear()
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _build_app(self, given: VendorApp | Callable[[SandboxContext], VendorApp]) -> VendorApp:
        # A class or function is a factory; anything else is an app instance already.
        if isinstance(given, type) or not hasattr(given, "register"):
            return cast(Callable[[SandboxContext], VendorApp], given)(self.context)
        return cast(VendorApp, given)

    def _builtin_apps(self) -> list[VendorApp]:
        from healthsync.sandbox.hubspot import HubSpotApp
        from healthsync.sandbox.salesforce import SalesforceApp
        from healthsync.sandbox.zendesk import ZendeskApp

        return [SalesforceApp(self.context), HubSpotApp(self.context), ZendeskApp(self.context)]

    # --- what clients need ------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """Base URL of the plain-HTTP listener."""
        if self._http is None:
            raise RuntimeError("the sandbox is not started")
        return self._http.base_url

    @property
    def tls_url(self) -> str:
        """Base URL of the HTTPS listener."""
        if self._https is None:
            raise RuntimeError("the sandbox is not started")
        return self._https.base_url

    @property
    def usage_db_url(self) -> str | None:
        """SQLAlchemy URL of the generated usage database."""
        return f"sqlite:///{self.dataset.usage_db}" if self.dataset is not None else None

    def app(self, name: str) -> VendorApp:
        """The vendor app called `name`; a 404 for the control endpoints otherwise."""
        try:
            return self._apps[name]
        except KeyError:
            raise ApiError(
                404, {"error": f"unknown vendor {name!r}", "vendors": sorted(self._apps)}
            ) from None

    def info(self, base_url: str | None = None) -> dict[str, Any]:
        """The ready line: how each SDK reaches this sandbox, the usage database and the control URL."""
        http = base_url or self.url
        out: dict[str, Any] = {
            name: app.credentials(http, self.tls_url) for name, app in sorted(self._apps.items())
        }
        if "salesforce" in out and self.ca_bundle is not None:
            out["salesforce"].setdefault("ca_bundle", str(self.ca_bundle))
        out["usage_db"] = self.usage_db_url
        out["control"] = f"{http}/_sandbox/"
        return out

    def advance(self, days: int) -> dict[str, int]:
        """Move the simulated clock forward and let the data evolve; returns counts of what changed."""
        with self._advance_lock:
            self.clock.advance(days)
            if self.dataset is None:
                return {}
            from healthsync.sandbox.datagen import advance

            delta = advance(self.dataset, days=days, now=self.clock.now())
            for app in self._apps.values():
                app.apply(delta)
            return {
                name: len(value) for name, value in vars(delta).items() if isinstance(value, list) and value
            }

    def contract_events(self, since: datetime | None = None) -> list[ContractEvent]:
        """Copies of the contract events so far (those at or after `since`), in time order, taken
        between advances so the deals each CRM closed for them are complete."""
        with self._advance_lock:
            if self.dataset is None:
                return []
            return [
                dataclasses.replace(event, deals_closed=dict(event.deals_closed))
                for event in self.dataset.contract_events
                if since is None or event.at >= since
            ]

    def crm_account_ids(self, index: int) -> dict[str, str]:
        """The record id of customer `index`'s account in each CRM app that holds it, by app name."""
        out: dict[str, str] = {}
        for name, app in sorted(self._apps.items()):
            if isinstance(app, _CrmAccounts):
                found = app.crm_account_id(index)
                if found is not None:
                    out[name] = found
        return out

    # --- serving ---------------------------------------------------------------------------------

    def dispatch(self, request: Request) -> Response:
        """Answer one request as the vendor would, counting it and applying faults and limits."""
        path = request.path
        if path.startswith("/_sandbox"):
            return self._dispatch_control(request)
        found = self._router.match(request.method, path)
        vendor = found[0].vendor if found else (self._router.vendor_for(path) or self._vendor_for(path))
        app = self._apps.get(vendor) if vendor else None
        if app is None or vendor is None:
            return json_response({"error": f"no sandbox API at {path}"}, 404)
        if found is None:
            status = 405 if self._router.allowed_methods(path) else 404
            return app.error(status, request)
        route, params = found
        request.params = params
        self.stats.count(vendor, route.endpoint, route.kind)

        fault = self.faults.draw(vendor, request.method, path)
        if fault is not None and fault.latency_ms:
            time.sleep(fault.latency_ms / 1000)
        if fault is not None and fault.status is not None:
            if fault.status == 429:
                self.stats.throttled(vendor)
            return app.error(fault.status, request, retry_after=fault.retry_after)

        response = app.authenticate(request) or app.throttle(request, route)
        if response is not None:
            if response.status == 429:
                self.stats.throttled(vendor)
            return response
        try:
            response = route.handler(request)
        except ApiError as exc:
            response = exc.response()
        except Exception:
            log.exception("sandbox handler %s failed", route.endpoint)
            response = app.error(500, request)
        self.stats.audit(vendor, route.endpoint, route.kind, request)
        if fault is not None and fault.drop:
            response.drop_after = max(1, len(response.body) // 2)
        return response

    def _dispatch_control(self, request: Request) -> Response:
        found = self._control.match(request.method, request.path)
        if found is None:
            return json_response({"error": f"no control endpoint {request.method} {request.path}"}, 404)
        route, params = found
        request.params = params
        try:
            return route.handler(request)
        except ApiError as exc:
            return exc.response()

    @staticmethod
    def _vendor_for(path: str) -> str | None:
        for prefix, vendor in _VENDOR_PREFIXES.items():
            if path.startswith(prefix):
                return vendor
        return None
