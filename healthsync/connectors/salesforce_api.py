"""The Salesforce wire seam: simple-salesforce calls wrapped in `Http`, and the one `translate`.

Every request the Salesforce connector makes goes through `SalesforceApi`, which runs it inside
`Http.call` (counted, paced, retried there and only there) and maps whatever simple-salesforce,
requests or urllib3 raise into `healthsync.errors` with `translate`. Past this module no code sees
a `SalesforceError` or a requests exception (STYLE.md §2.2, pitfall 5).

simple-salesforce itself never retries (vendor-facts.md §7), except that a client which logged in
by itself (password, client credentials, JWT) signs in again on a 401 INVALID_SESSION_ID, at most
three times: that is a token refresh, not an error retry, so it is left on.
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Callable, Iterator, Mapping
from functools import partial
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

import requests
import urllib3.exceptions
from simple_salesforce.api import Salesforce
from simple_salesforce.exceptions import SalesforceAuthenticationFailed, SalesforceError

from healthsync.connectors.paging import SalesforceQueryPaginator
from healthsync.errors import (
    AuthError,
    ConfigError,
    HealthsyncError,
    PaginationError,
    QuotaExhausted,
    RateLimited,
    TransientError,
    VendorError,
)
from healthsync.http import Http, Kind
from healthsync.secrets import display_name, split_name, suggest_ref

__all__ = [
    "MAX_COLLECTION_RECORDS",
    "QUERY_BATCH_SIZE",
    "QUERY_OPTIONS",
    "REQUEST_TIMEOUT",
    "VENDOR",
    "SalesforceApi",
    "translate",
]

VENDOR = "salesforce"

QUERY_BATCH_SIZE = 2000
"""SOQL records per page: the maximum (and default) of `Sforce-Query-Options: batchSize`, min 200.
https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/headers_queryoptions.htm
Sent explicitly so an org or proxy default never shrinks our pages."""

QUERY_OPTIONS = {"Sforce-Query-Options": f"batchSize={QUERY_BATCH_SIZE}"}

MAX_COLLECTION_RECORDS = 200
"""Records per sObject Collections call (create/update/upsert): "up to 200 records".
https://developer.salesforce.com/docs/platform/api-rest/guide/resources-composite-sobjects-collections-update.html"""

REQUEST_TIMEOUT = (10.0, 120.0)
"""(connect, read) seconds: simple-salesforce sets none, and a hung socket must become a retryable
timeout rather than a run that never ends. Reads of 2,000 wide records can take tens of seconds."""

LOCK_ERROR = "UNABLE_TO_LOCK_ROW"
"""Row-lock contention: "unable to obtain exclusive access to this record"; passes when retried later.
https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/errorcodes.htm"""

# The 403 REQUEST_LIMIT_EXCEEDED body names the limit: "TotalRequests Limit exceeded." is the org's
# daily allocation (stop the run); "ConcurrentPerOrgLongTxn Limit exceeded." is the 25 concurrent
# long-running requests limit, which passes in seconds (wait and retry).
# https://developer.salesforce.com/docs/atlas.en-us.salesforce_app_limits_cheatsheet.meta/salesforce_app_limits_cheatsheet/salesforce_app_limits_platform_api.htm
_CONCURRENCY_LIMIT_HINT = "concurrent"

_CA_PROBLEMS = ("certificate", "CERTIFICATE_VERIFY_FAILED", "hostname")


def _redact(url: str) -> str:
    """The URL without its query string (a SOQL query can hold customer data) or fragment."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable url>"
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


def _first_error(content: Any) -> tuple[str | None, str]:
    """(errorCode, message) from a REST error body: a JSON array of {message, errorCode, fields}."""
    if isinstance(content, list) and content and isinstance(content[0], Mapping):
        first = content[0]
        return first.get("errorCode") or first.get("statusCode"), str(first.get("message") or "")
    if isinstance(content, Mapping):  # OAuth errors: {"error": ..., "error_description": ...}
        return content.get("errorCode") or content.get("error"), str(
            content.get("message") or content.get("error_description") or ""
        )
    if isinstance(content, bytes):
        return None, content.decode("utf-8", errors="replace")
    return None, str(content) if content is not None else ""


def _body_text(content: Any) -> str:
    if isinstance(content, bytes):
        return content.decode("utf-8", errors="replace")
    if isinstance(content, str):
        return content
    try:
        return json.dumps(content, default=str)
    except (TypeError, ValueError):
        return repr(content)


def _auth_fix(credential: str) -> str:
    ref = suggest_ref(credential)
    name = display_name(*split_name(ref.keyring or credential))
    if credential.endswith("access_token"):
        return (
            f"the session in {credential} is expired or invalid: get a new access token (e.g. "
            f"`sf org display --verbose`) and store it with `healthsync auth set {name}` or in {ref.env}, "
            'or set salesforce.auth = "jwt" or "client_credentials" so healthsync signs in by itself'
        )
    return (
        f"check {credential} (and salesforce.username / consumer_key) and store the right value with "
        f"`healthsync auth set {name}` or in {ref.env}"
    )


def translate(
    exc: BaseException,
    *,
    endpoint: str = "",
    credential: str = "salesforce.access_token",
    retry_after: float | None = None,
) -> HealthsyncError | None:
    """Map a simple-salesforce / requests / urllib3 exception to a `healthsync.errors` class.

    Args:
        exc: what the SDK or the transport raised.
        endpoint: our name for the call, for the message and counters.
        credential: the config key of the credential in use, named by auth failures.
        retry_after: the `Retry-After` of the failed response, when it had one (the SDK's
            exceptions do not carry headers, so `SalesforceApi` captures it from the session).

    Returns:
        The error to raise or retry, or None for an exception that is not a vendor failure (a bug).
    """
    if isinstance(exc, SalesforceAuthenticationFailed):
        return AuthError(
            f"Salesforce sign-in failed ({exc.code or 'no code'})",
            vendor=VENDOR,
            endpoint=endpoint,
            status=401,
            fix=_auth_fix(credential),
        )
    if isinstance(exc, SalesforceError):
        return _translate_status(exc, endpoint, credential, retry_after)
    if isinstance(exc, requests.exceptions.SSLError):
        text = str(exc)
        if any(hint in text for hint in _CA_PROBLEMS):
            return ConfigError(
                "Salesforce's TLS certificate is not trusted (certificate verification failed); "
                "if a proxy or a private CA signs it, set salesforce.ca_bundle to its PEM file"
            )
        return TransientError(
            f"TLS handshake failed ({type(exc).__name__})", vendor=VENDOR, endpoint=endpoint
        )
    if isinstance(exc, requests.exceptions.Timeout):
        return TransientError(f"timed out ({type(exc).__name__})", vendor=VENDOR, endpoint=endpoint)
    if isinstance(
        exc,
        requests.exceptions.ConnectionError
        | requests.exceptions.ChunkedEncodingError
        | requests.exceptions.ContentDecodingError
        | urllib3.exceptions.HTTPError
        | ConnectionError,
    ):
        return TransientError(
            f"connection failed or dropped mid-response ({type(exc).__name__})",
            vendor=VENDOR,
            endpoint=endpoint,
        )
    if isinstance(exc, json.JSONDecodeError):  # requests' JSONDecodeError subclasses it
        # A body cut short without a transport error still fails to parse: replayable for reads.
        return TransientError("incomplete or non-JSON response", vendor=VENDOR, endpoint=endpoint)
    return None


def _translate_status(
    exc: SalesforceError, endpoint: str, credential: str, retry_after: float | None
) -> HealthsyncError:
    status = int(exc.status)
    code, message = _first_error(exc.content)
    where = _redact(str(exc.url))
    body = _body_text(exc.content)
    detail = f"{code}: {message}" if code else message or f"HTTP {status}"
    if status == 401:
        return AuthError(
            f"Salesforce refused the credentials ({detail})",
            vendor=VENDOR,
            endpoint=endpoint,
            status=status,
            fix=_auth_fix(credential),
        )
    if status == 403 and code == "REQUEST_LIMIT_EXCEEDED":
        if _CONCURRENCY_LIMIT_HINT in message.lower():
            return RateLimited(
                detail, retry_after=retry_after, vendor=VENDOR, endpoint=endpoint, status=status
            )
        return QuotaExhausted(
            f"the org's daily API request allocation is spent ({detail}); the run stops and resumes "
            "from its saved cursors when the allocation resets (rolling 24 hours)",
            vendor=VENDOR,
            endpoint=endpoint,
            status=status,
        )
    if status == 403:
        return AuthError(
            f"Salesforce refused the request ({detail}) at {where}",
            vendor=VENDOR,
            endpoint=endpoint,
            status=status,
            fix=f"give the user behind {credential} the API Enabled permission and access to the mapped "
            "objects and fields (profile or permission set)",
        )
    if status == 429 or (status == 503 and retry_after is not None):
        return RateLimited(detail, retry_after=retry_after, vendor=VENDOR, endpoint=endpoint, status=status)
    if status >= 500:
        return TransientError(detail, vendor=VENDOR, endpoint=endpoint, status=status, body=body)
    if code == "INVALID_QUERY_LOCATOR":
        return PaginationError(
            f"the query cursor expired or is unknown ({detail}); the next run restarts from the saved "
            "watermark",
            vendor=VENDOR,
            endpoint=endpoint,
            status=status,
        )
    return VendorError(f"{detail} at {where}", vendor=VENDOR, endpoint=endpoint, status=status, body=body)


def _retry_after(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None  # an HTTP date: Salesforce sends seconds; fall back to backoff
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


Method = Literal["GET", "POST", "PATCH", "DELETE"]


class SalesforceApi:
    """simple-salesforce calls, each one inside `Http.call` with `translate` as its error mapper.

    Args:
        client: builds the `Salesforce` client; called once, on first use, inside `Http.call`
            (signing in with a password, client credentials or a JWT is a request too).
        http: the run's retry, pacing and counting layer.
        session: the requests session the client uses (a response hook on it captures
            `Retry-After`, which the SDK's exceptions drop).
        credential: the config key of the credential, named by auth failures.
    """

    def __init__(
        self,
        client: Callable[[], Salesforce],
        http: Http,
        session: requests.Session,
        *,
        credential: str = "salesforce.access_token",
        logs_in: bool = False,
    ) -> None:
        self._client_factory = client
        self._client: Salesforce | None = None
        self._client_lock = threading.Lock()
        self.http = http
        self.session = session
        self.credential = credential
        self._logs_in = logs_in
        self._last = threading.local()
        session.hooks.setdefault("response", []).append(self._remember)

    def _remember(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        self._last.retry_after = _retry_after(response.headers.get("Retry-After"))

    def _translate(self, endpoint: str, exc: BaseException) -> HealthsyncError | None:
        retry_after = getattr(self._last, "retry_after", None)
        self._last.retry_after = None
        return translate(exc, endpoint=endpoint, credential=self.credential, retry_after=retry_after)

    @property
    def sf(self) -> Salesforce:
        """The client, built (and signed in) on first use."""
        with self._client_lock:
            if self._client is None:
                # Signing in is a request (counted, retried); a given session id is not.
                self._client = (
                    self.call("login", self._build, idempotent=True, kind="read")
                    if self._logs_in
                    else self._build()
                )
            return self._client

    def _build(self) -> Salesforce:
        client = self._client_factory()
        # simple-salesforce asks for pretty-printed JSON on every call; plain JSON is smaller.
        client.headers.pop("X-PrettyPrint", None)
        return client

    def call(self, endpoint: str, fn: Callable[[], Any], *, idempotent: bool, kind: Kind) -> Any:
        """Run `fn` through `Http.call` with this connector's error translation."""
        return self.http.call(
            VENDOR,
            endpoint,
            fn,
            idempotent=idempotent,
            kind=kind,
            translate=partial(self._translate, endpoint),
        )

    # --- reads -----------------------------------------------------------------------------------

    def query(self, soql: str, *, include_deleted: bool = False) -> dict[str, Any]:
        """The first page of a SOQL query (`queryAll` with `include_deleted`)."""
        sf = self.sf
        endpoint = "queryAll" if include_deleted else "query"
        return dict(
            self.call(
                endpoint,
                lambda: sf.query(
                    soql, include_deleted=include_deleted, headers=QUERY_OPTIONS, timeout=REQUEST_TIMEOUT
                ),
                idempotent=True,
                kind="read",
            )
        )

    def query_more(self, next_url: str) -> dict[str, Any]:
        """A later page, from the previous page's `nextRecordsUrl` (which keeps queryAll semantics)."""
        sf = self.sf
        return dict(
            self.call(
                "query_more",
                lambda: sf.query_more(
                    next_url, identifier_is_url=True, headers=QUERY_OPTIONS, timeout=REQUEST_TIMEOUT
                ),
                idempotent=True,
                kind="read",
            )
        )

    def iter_query(self, soql: str, *, include_deleted: bool = False) -> Iterator[list[dict[str, Any]]]:
        """The query's records page by page, following `nextRecordsUrl` until `done`."""
        pager = SalesforceQueryPaginator()
        page = self.query(soql, include_deleted=include_deleted)
        while True:
            pager.read(page)
            yield [dict(r) for r in page["records"]]
            if pager.done:
                return
            page = self.query_more(pager.next_url())

    # --- any other resource ---------------------------------------------------------------------

    def rest(
        self,
        endpoint: str,
        path: str,
        *,
        method: Method = "GET",
        body: Any = None,
        idempotent: bool,
        kind: Kind,
    ) -> Any:
        """`sf.restful(path)` (relative to `/services/data/vXX.X/`) with a JSON body."""
        sf = self.sf
        extra: dict[str, Any] = {"timeout": REQUEST_TIMEOUT}
        if body is not None:
            extra["json"] = body
        return self.call(
            endpoint, lambda: sf.restful(path, method=method, **extra), idempotent=idempotent, kind=kind
        )

    def api_usage(self) -> tuple[int, int] | None:
        """(used, allowed) daily API requests from the last response's `Sforce-Limit-Info`."""
        if self._client is None:
            return None
        usage = self._client.api_usage.get("api-usage")
        return (int(usage.used), int(usage.total)) if usage is not None else None
