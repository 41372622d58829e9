"""The one seam where zenpy's and requests' exceptions become healthsync's (STYLE.md §2.2).

`translate` maps everything a Zendesk call can raise:

| raised | becomes |
|---|---|
| 401 (`APIException` "Couldn't authenticate you") | `AuthError` naming the credential key and the fix |
| 403 | `AuthError`: the user lacks a permission (exports and ratings need an admin) |
| 429, or 503 with `Retry-After` | `RateLimited(retry_after=...)` |
| other 5xx, 408, timeouts, refused or dropped connections, a cut-off body | `TransientError` |
| zenpy `RatelimitBudgetExceeded` (a 429 seen by zenpy itself) | `RateLimited` without a wait |
| a TLS verification failure | `ConfigError` pointing at `zendesk.ca_bundle` |
| other 4xx, other zenpy or requests errors | `VendorError` |

zenpy would otherwise sleep out every 429 itself and retry it forever (`BaseApi._call_api` loops on
`Retry-After` and only stops when `ratelimit_budget` runs out, raising without the response). The
session hook `raise_on_throttle` raises a 429 before zenpy sees it, with the response attached, so
the wait comes from the header and the retry from `healthsync.http`; `ratelimit_budget=0` stays as a
second guard. URLs in messages lose their query strings; bodies are truncated and scrubbed of any
revealed secret.
"""

from __future__ import annotations

import email.utils
import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import requests
from zenpy.lib.exception import APIException, RatelimitBudgetExceeded, ZenpyException

from healthsync.errors import (
    AuthError,
    ConfigError,
    ConfigProblem,
    HealthsyncError,
    RateLimited,
    TransientError,
    VendorError,
)
from healthsync.secrets import redact

__all__ = ["VENDOR", "raise_on_throttle", "translate"]

VENDOR = "zendesk"

_SOURCE = "zendesk"
_API_KEY_FIX = (
    "create a new API token in Zendesk Admin Center (Apps and integrations > APIs > Zendesk API) and store "
    "it where zendesk.token points; zendesk.email must be the address of the user who owns the token"
)
_OAUTH_FIX = (
    "issue a new OAuth access token with the `read` scope and store it where zendesk.oauth_token points"
)
_ADMIN_FIX = (
    "sign in as a Zendesk admin: incremental exports and satisfaction ratings are admin-only "
    "(https://developer.zendesk.com/api-reference/ticketing/ticket-management/incremental_exports/)"
)


def raise_on_throttle(response: requests.Response, *args: Any, **kwargs: Any) -> requests.Response:
    """A `requests` response hook: a 429 raises at once, before zenpy can sleep and retry it."""
    if response.status_code == 429:
        _ = response.content  # read the body: the connection goes back to the pool
        raise requests.HTTPError("429 Too Many Requests", response=response)
    return response


def translate(exc: BaseException, *, credential: str = "zendesk.token") -> HealthsyncError | None:
    """Our error for anything a Zendesk call raised; None for what is not a vendor problem (bugs).

    Args:
        exc: what zenpy, requests or the JSON decoder raised.
        credential: the config key of the credential in use (`zendesk.token` or `zendesk.oauth_token`),
            named by authentication failures.
    """
    if isinstance(exc, HealthsyncError):
        return exc
    response = getattr(exc, "response", None)
    if isinstance(exc, APIException | requests.HTTPError) and isinstance(response, requests.Response):
        return _from_response(response, credential)
    if isinstance(exc, RatelimitBudgetExceeded):
        return RateLimited("Zendesk answered 429 Too Many Requests", vendor=VENDOR)
    if isinstance(exc, requests.exceptions.SSLError):
        return _tls_error(exc)
    if isinstance(
        exc,
        requests.ConnectionError
        | requests.Timeout
        | requests.exceptions.ChunkedEncodingError
        | requests.exceptions.ContentDecodingError,
    ):
        return TransientError(
            f"connection to Zendesk failed or was cut off ({type(exc).__name__})",
            vendor=VENDOR,
            endpoint=_where(getattr(exc, "request", None)),
        )
    if isinstance(exc, json.JSONDecodeError):
        # A connection closed early can leave a syntactically broken body with no transport error.
        return TransientError(f"Zendesk sent an incomplete or non-JSON body ({exc.msg})", vendor=VENDOR)
    if isinstance(exc, ZenpyException | APIException | requests.RequestException):
        return VendorError(redact(str(exc))[:300], vendor=VENDOR)
    return None


def _from_response(response: requests.Response, credential: str) -> HealthsyncError:
    status = response.status_code
    endpoint = _where(response)
    body = redact(response.text or "")
    if status == 401:
        fix = _OAUTH_FIX if credential.endswith("oauth_token") else _API_KEY_FIX
        return AuthError(
            f"Zendesk did not accept the credential in {credential} ({_message(body)})",
            vendor=VENDOR,
            endpoint=endpoint,
            status=status,
            fix=fix,
        )
    if status == 403:
        return AuthError(
            f"the user of {credential} may not read {endpoint} ({_message(body)})",
            vendor=VENDOR,
            endpoint=endpoint,
            status=status,
            fix=_ADMIN_FIX,
        )
    retry_after = _retry_after(response.headers.get("Retry-After"))
    if status == 429 or (status == 503 and retry_after is not None):
        return RateLimited(
            f"Zendesk answered {status}",
            retry_after=retry_after,
            vendor=VENDOR,
            endpoint=endpoint,
            status=status,
        )
    if status >= 500 or status == 408:
        return TransientError(
            f"Zendesk answered {status}", vendor=VENDOR, endpoint=endpoint, status=status, body=body
        )
    return VendorError(
        f"Zendesk answered {status}", vendor=VENDOR, endpoint=endpoint, status=status, body=body
    )


def _message(body: str) -> str:
    """Zendesk's own words from an error body (`{"error": "Couldn't authenticate you"}`)."""
    try:
        parsed = json.loads(body)
    except ValueError:
        return body[:120] or "no details"
    error = parsed.get("error") if isinstance(parsed, dict) else None
    if isinstance(error, str):
        return error
    if isinstance(error, dict):
        return str(error.get("message") or error.get("title") or error)[:120]
    return body[:120]


def _retry_after(value: str | None) -> float | None:
    """Seconds from a `Retry-After` header: delta-seconds or an HTTP date (RFC 9110 §10.2.3)."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _where(message: requests.Response | requests.PreparedRequest | None) -> str:
    """The URL a request went to, without its query string (cursors and filters stay out of logs)."""
    url = getattr(message, "url", None)
    if not isinstance(url, str) or not url:
        return ""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


def _tls_error(exc: requests.exceptions.SSLError) -> ConfigError:
    where = _where(getattr(exc, "request", None))
    problem = ConfigProblem(
        source=_SOURCE,
        key="zendesk.ca_bundle",
        message=f"TLS verification failed for {where or 'Zendesk'}",
        fix="behind a TLS-inspecting proxy, set zendesk.ca_bundle to the proxy's CA certificate (PEM)",
    )
    return ConfigError("zendesk: TLS verification failed", [problem])
