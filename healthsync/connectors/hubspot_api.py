"""The HubSpot wire: one hubspot-api-client, its limits, and the one seam where its errors become ours.

hubspot-api-client 12 speaks urllib3 directly (not requests), builds a fresh `ApiClient` (and pool)
each time a `client.crm.<object>.<api>` property is read, and has one `ApiException` class *per
generated package* (`hubspot.crm.companies.exceptions.ApiException` is not the deals one, nor a base
of it). So this module:

- builds the client once with `retry=Retry(total=0)`: `healthsync.http.Http` is the only retry layer
  (STYLE.md §2.1). Issue #5 asks to "configure the SDK's retries so 429s are retried (its default
  does not retry POST)": the SDK's urllib3 `Retry` skips POST (search, batch writes) and would sleep
  on `Retry-After` behind our counters' backs, so instead `Http` retries every 429, POST included
  (a 429 means HubSpot did nothing, so replaying even a create is safe), and the SDK retries nothing;
- keeps each API object it uses, so a run reuses one connection pool per API;
- translates every SDK and urllib3 exception in `translate`, by duck typing on the generated
  `ApiException` (`.status`, `.body`, `.headers`) since there is no common class to catch;
- registers the client-side limiters from the config (10-second window, search per second) and
  guards the daily cap;
- lets the bulk paths take the answer as decoded JSON (`call_json`) and build request models on one
  shared configuration (`models`): the SDK's model layer made a fresh `Configuration` copy per
  request object and one object (plus a dateutil parse per timestamp) per response value, which was
  most of a HubSpot run's local compute (issue #6's benchmark).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.client import HTTPException
from typing import Any, TypeVar

import urllib3.exceptions
from hubspot import HubSpot
from urllib3.util.retry import Retry

from healthsync.errors import (
    AuthError,
    HealthsyncError,
    QuotaExhausted,
    RateLimited,
    TransientError,
    VendorError,
)
from healthsync.http import Http, Kind

__all__ = [
    "DAILY_WINDOW_S",
    "SEARCH_PER_SECOND",
    "VENDOR",
    "HubSpotApi",
    "translate",
]

T = TypeVar("T")

VENDOR = "hubspot"

SEARCH_PER_SECOND = 4
"""Client-side pace of search calls: HubSpot documents 5 per second per account
(https://developers.hubspot.com/docs/api/crm/search#limitations ; vendor-facts.md §10); one is kept
as margin because other integrations of the portal search too."""

TEN_SECONDS = 10.0
"""The rolling window of the burst limit (100 or 190 calls by tier; `config.hubspot.requests_per_10s`).
https://developers.hubspot.com/docs/api/usage-details"""

DAILY_WINDOW_S = 86_400.0
"""The daily cap resets at midnight in the portal's time zone (vendor-facts.md §11)."""

_ROLLING_BACKOFF_S = 10.0
_SEARCH_BACKOFF_S = 1.0
"""HubSpot's 429s carry no documented Retry-After; its own Node SDK waits 10 s for the rolling window
and 1 s for search (HubSpot/hubspot-api-nodejs RetryDecorator.ts, vendor-facts.md §11)."""

_CREDENTIAL_FIX = (
    "store a valid private-app token: `healthsync auth set hubspot` (or set HUBSPOT_TOKEN) and check "
    "that [hubspot] access_token refers to it"
)
_SCOPES_FIX = (
    "grant the private app the CRM scopes healthsync needs (crm.objects.companies.read/write, "
    "crm.objects.deals.read/write, crm.schemas.*.read, crm.objects.owners.read, tasks) in HubSpot under "
    "Settings > Integrations > Private apps, then re-issue hubspot.access_token"
)


def _api_exception(exc: BaseException) -> bool:
    """True for any generated package's `ApiException` (there is no common base class to catch)."""
    return any(
        cls.__name__ == "ApiException" and cls.__module__.startswith("hubspot.") for cls in type(exc).__mro__
    )


def _body(exc: BaseException) -> tuple[str, dict[str, Any]]:
    raw = getattr(exc, "body", None)
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw or "")
    try:
        data = json.loads(text) if text else {}
    except ValueError:
        data = {}
    return text, data if isinstance(data, dict) else {}


def _retry_after(exc: BaseException) -> float | None:
    headers = getattr(exc, "headers", None) or {}
    value = headers.get("Retry-After") if hasattr(headers, "get") else None
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def translate(exc: BaseException, *, endpoint: str = "") -> HealthsyncError | None:
    """Map a hubspot-api-client or urllib3 exception to a `healthsync.errors` class.

    Messages carry HubSpot's own `message` and a truncated body, never a URL with its query nor a
    header value (the token travels in `Authorization`).

    Returns:
        The error to raise or retry, or None for exceptions that are not the wire's (bugs).
    """
    if _api_exception(exc):
        return _from_status(exc, endpoint)
    if isinstance(exc, urllib3.exceptions.MaxRetryError) and isinstance(
        exc.reason, urllib3.exceptions.SSLError
    ):
        return VendorError(
            "TLS verification failed; set [hubspot] ca_bundle if a proxy re-signs traffic",
            vendor=VENDOR,
            endpoint=endpoint,
        )
    if isinstance(exc, urllib3.exceptions.HTTPError | HTTPException | ConnectionError | TimeoutError):
        # Connection refused/reset, timeouts, and a response cut short (urllib3 ProtocolError with
        # IncompleteRead): nothing was learnt, so idempotent calls may be replayed.
        reason = getattr(exc, "reason", None)
        detail = type(reason).__name__ if isinstance(reason, BaseException) else type(exc).__name__
        return TransientError(f"connection failed ({detail})", vendor=VENDOR, endpoint=endpoint)
    if isinstance(exc, json.JSONDecodeError):
        return TransientError("response body was not complete JSON", vendor=VENDOR, endpoint=endpoint)
    return None


def _from_status(exc: BaseException, endpoint: str) -> HealthsyncError:
    status = int(getattr(exc, "status", 0) or 0)
    text, data = _body(exc)
    message = str(data.get("message") or getattr(exc, "reason", "") or f"HTTP {status}")
    if status == 0:  # the SDK's wrapping of urllib3's SSLError, or a request it could not build
        return VendorError(message[:300], vendor=VENDOR, endpoint=endpoint)
    if status == 401:
        return AuthError(
            f"HubSpot refused hubspot.access_token: {message}",
            vendor=VENDOR,
            endpoint=endpoint,
            status=status,
            fix=_CREDENTIAL_FIX,
        )
    if status == 403:
        return AuthError(
            f"HubSpot refused hubspot.access_token for this call: {message}",
            vendor=VENDOR,
            endpoint=endpoint,
            status=status,
            fix=_SCOPES_FIX,
        )
    if status == 429:
        policy = str(data.get("policyName") or "").upper()
        if policy == "DAILY":
            return QuotaExhausted(
                "HubSpot's daily API limit is spent; the run stops and resumes after midnight (portal time)",
                vendor=VENDOR,
                endpoint=endpoint,
                status=status,
            )
        wait = _retry_after(exc)
        if wait is None:
            wait = _SEARCH_BACKOFF_S if policy == "SECONDLY" else _ROLLING_BACKOFF_S
        return RateLimited(
            message, retry_after=wait, vendor=VENDOR, endpoint=endpoint, status=status, body=text
        )
    if status == 503 and _retry_after(exc) is not None:
        return RateLimited(
            message,
            retry_after=_retry_after(exc),
            vendor=VENDOR,
            endpoint=endpoint,
            status=status,
            body=text,
        )
    if status >= 500:
        return TransientError(message, vendor=VENDOR, endpoint=endpoint, status=status, body=text)
    return VendorError(message, vendor=VENDOR, endpoint=endpoint, status=status, body=text)


class HubSpotApi:
    """One hubspot-api-client for a run, its limiters, and `call` through `Http`.

    Args:
        token: the private-app token (revealed only here, into the SDK's configuration).
        host: base URL (`https://api.hubapi.com`, or the sandbox).
        http: the run's retry/limit/count layer.
        requests_per_10s: the tier's burst limit.
        daily_requests: the portal's daily cap; this run never spends more than it.
        ca_bundle: CA file for TLS verification (urllib3 `ca_certs`), when a proxy re-signs traffic.
    """

    def __init__(
        self,
        *,
        token: str,
        host: str,
        http: Http,
        requests_per_10s: int,
        daily_requests: int,
        ca_bundle: str | None = None,
    ) -> None:
        options: dict[str, Any] = {"host": host.rstrip("/")}
        if ca_bundle is not None:
            options["ssl_ca_cert"] = ca_bundle
        # total=0: no retries of any kind inside urllib3 — see the module docstring.
        self.client = HubSpot(access_token=token, retry=Retry(total=0, redirect=0), **options)
        self.http = http
        self.daily_requests = daily_requests
        self._spent = 0
        self._lock = threading.Lock()
        self._apis: dict[str, Any] = {}
        # Both paced `PACE_MARGIN` (95 %) under the limit: HubSpot counts a call when it arrives,
        # the limiter when it leaves, and the difference varies (healthsync.http.PACE_MARGIN).
        http.limit(VENDOR, requests_per_10s, TEN_SECONDS, name=f"hubspot:{requests_per_10s}/10s")
        http.limit(
            VENDOR,
            SEARCH_PER_SECOND,
            1.0,
            endpoints=lambda endpoint: endpoint.endswith(".search"),
            name=f"hubspot-search:{SEARCH_PER_SECOND}/s",
        )

    def api(self, path: str) -> Any:
        """The SDK API object at `path` under the client (e.g. `crm.companies.basic_api`), built once."""
        found = self._apis.get(path)
        if found is None:
            found = self.client
            for part in path.split("."):
                found = getattr(found, part)
            self._apis[path] = found
        return found

    def models(self, path: str) -> Any:
        """The configuration request models of the API at `path` share (pass as
        `local_vars_configuration`); a model built without one copies the SDK's default, which costs
        more than the rest of the model."""
        return self.api(path).api_client.configuration

    def call_json(
        self, endpoint: str, fn: Callable[..., Any], *, idempotent: bool, kind: Kind
    ) -> dict[str, Any]:
        """`call` for an SDK method `fn` whose answer is read as JSON, not as SDK models.

        `fn` is called with `_preload_content=False`, so the SDK returns the urllib3 response and
        raises its `ApiException` for statuses outside 2xx exactly as before (207 included in 2xx).
        """

        def decoded() -> dict[str, Any]:
            response = fn(_preload_content=False)
            try:
                raw = response.data
            finally:
                response.release_conn()
            answer = json.loads(raw) if raw else {}
            if not isinstance(answer, dict):
                raise VendorError(
                    f"HubSpot answered with JSON that is not an object ({type(answer).__name__})",
                    vendor=VENDOR,
                    endpoint=endpoint,
                )
            return answer

        return self.call(endpoint, decoded, idempotent=idempotent, kind=kind)

    def call(self, endpoint: str, fn: Callable[[], T], *, idempotent: bool, kind: Kind) -> T:
        """Run one request through `Http` (pacing, counting, retries) with our error translation.

        Raises:
            QuotaExhausted: this run alone would pass the daily cap (`config.hubspot.daily_requests`).
        """

        def attempt() -> T:
            # Inside the attempt, so retries count against the cap too.
            with self._lock:
                if self._spent >= self.daily_requests:
                    raise QuotaExhausted(
                        f"this run reached the daily cap of {self.daily_requests} HubSpot requests "
                        "([hubspot] daily_limit or the tier's); it resumes next run",
                        vendor=VENDOR,
                        endpoint=endpoint,
                    )
                self._spent += 1
            return fn()

        def translated(exc: BaseException) -> HealthsyncError | None:
            return translate(exc, endpoint=endpoint)

        return self.http.call(
            VENDOR, endpoint, attempt, idempotent=idempotent, kind=kind, translate=translated
        )
