"""HubSpot's error bodies: the top-level `Error` and the per-input `StandardError` of batch answers.

Every HubSpot API answers a failed call with `{status: "error", message, correlationId, category}`
plus optional `subCategory`, `context`, `errors` and `links` (the `Error` schema of each CRM spec,
https://developers.hubspot.com/docs/api/error-handling ). Batch endpoints that partly fail answer 207
and list one `StandardError` per failure, which the spec requires to carry `status`, `category`,
`message`, `context`, `errors` and `links` (`BatchResponseSimplePublicObjectWithErrors`,
https://developers.hubspot.com/docs/api/error-handling#multi-status-errors ).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from healthsync.sandbox.wire import ApiError

__all__ = [
    "INVALID_AUTHENTICATION",
    "OBJECT_NOT_FOUND",
    "VALIDATION_ERROR",
    "PropertyProblem",
    "api_error",
    "error_body",
    "property_values_error",
    "standard_error",
    "status_error",
]

VALIDATION_ERROR = "VALIDATION_ERROR"
OBJECT_NOT_FOUND = "OBJECT_NOT_FOUND"
INVALID_AUTHENTICATION = "INVALID_AUTHENTICATION"


def error_body(
    category: str,
    message: str,
    *,
    sub_category: str | None = None,
    context: Mapping[str, Sequence[str]] | None = None,
    errors: Sequence[Mapping[str, Any]] | None = None,
    links: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """A top-level HubSpot error body; `correlationId` is a fresh UUID (the spec's `format: uuid`)."""
    body: dict[str, Any] = {
        "status": "error",
        "message": message,
        "correlationId": str(uuid.uuid4()),
        "category": category,
    }
    if sub_category is not None:
        body["subCategory"] = sub_category
    if context:
        body["context"] = {key: list(values) for key, values in context.items()}
    if errors:
        body["errors"] = [dict(e) for e in errors]
    if links:
        body["links"] = dict(links)
    return body


def api_error(status: int, category: str, message: str, **extra: Any) -> ApiError:
    """An `ApiError` carrying a HubSpot body; handlers raise it and the server sends it as is."""
    return ApiError(status, error_body(category, message, **extra))


def standard_error(
    status: int | str,
    category: str,
    message: str,
    *,
    context: Mapping[str, Sequence[str]] | None = None,
    sub_category: str | None = None,
) -> dict[str, Any]:
    """One entry of a 207 answer's `errors[]` (the spec's `StandardError`: every listed key is required)."""
    entry: dict[str, Any] = {
        "status": "error" if isinstance(status, int) else status,
        "category": category,
        "message": message,
        "context": {key: list(values) for key, values in (context or {}).items()},
        "errors": [],
        "links": {},
    }
    if sub_category is not None:
        entry["subCategory"] = sub_category
    return entry


class PropertyProblem(dict[str, Any]):
    """One invalid property value, as HubSpot lists them inside "Property values were not valid: [...]"."""

    def __init__(self, name: str, error: str, message: str) -> None:
        super().__init__(isValid=False, message=message, error=error, name=name)


def property_values_error(problems: Sequence[PropertyProblem]) -> str:
    """HubSpot's message for rejected values: a fixed prefix and the validation results as JSON.

    Clients parse this string to find the offending property (seen in many integrations, e.g.
    `Property values were not valid: [{"isValid":false,"message":"Property \\"x\\" does not exist",
    "error":"PROPERTY_DOESNT_EXIST","name":"x"}]`), so the shape matters, not only the status.
    """
    return "Property values were not valid: " + json.dumps(list(problems), separators=(",", ":"))


_STATUS_ERRORS: dict[int, tuple[str, str]] = {
    400: (VALIDATION_ERROR, "Invalid input (details will vary based on the error)"),
    401: (
        INVALID_AUTHENTICATION,
        (
            "Authentication credentials not found. This API supports OAuth 2.0 authentication and you can"
            " find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview"
        ),
    ),
    403: (
        "MISSING_SCOPES",
        (
            "This app hasn't been granted all required scopes to make this call. Read more about"
            " required scopes here: https://developers.hubspot.com/scopes."
        ),
    ),
    404: (OBJECT_NOT_FOUND, "resource not found"),
    405: (VALIDATION_ERROR, "HTTP method not allowed for this path"),
    409: ("CONFLICT", "The request conflicts with the current state of the resource"),
    500: ("INTERNAL_ERROR", "internal error"),
    502: ("INTERNAL_ERROR", "Bad gateway"),
    503: ("INTERNAL_ERROR", "Service unavailable"),
    504: ("INTERNAL_ERROR", "Gateway timeout"),
}


def status_error(status: int) -> dict[str, Any]:
    """A plausible HubSpot body for a bare status (fault injection, unknown paths, handler crashes).

    Categories follow https://developers.hubspot.com/docs/api/error-handling ; 5xx use INTERNAL_ERROR.
    """
    category, message = _STATUS_ERRORS.get(
        status, ("INTERNAL_ERROR" if status >= 500 else VALIDATION_ERROR, f"HTTP {status}")
    )
    return error_body(category, message)
