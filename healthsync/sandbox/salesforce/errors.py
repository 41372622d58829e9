"""Salesforce error bodies: a JSON array of `{message, errorCode, fields?}` for the request, and
`{statusCode, message, fields}` per record inside collection results.

Shapes: REST "Status Codes and Error Responses"
(https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/errorcodes.htm); per-record
errors as in the sObject Collections examples
(https://developer.salesforce.com/docs/platform/api-rest/guide/resources-composite-sobjects-collections-create.html).
Codes are values of the Partner WSDL's `StatusCode` / `ExceptionCode` enumerations.
"""

from __future__ import annotations

import math
from typing import Any, NoReturn

from healthsync.sandbox.wire import ApiError, Response, json_response

__all__ = [
    "RecordError",
    "error_body",
    "error_response",
    "fail",
    "not_found",
    "record_error",
]


class RecordError(Exception):
    """One record of a collection call failed; becomes an entry of that record's `errors`."""

    def __init__(self, status_code: str, message: str, fields: list[str] | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.message = message
        self.fields = fields or []

    def as_json(self) -> dict[str, Any]:
        """The per-record error object."""
        return {"statusCode": self.status_code, "message": self.message, "fields": self.fields}


def record_error(status_code: str, message: str, fields: list[str] | None = None) -> dict[str, Any]:
    """A per-record error object."""
    return RecordError(status_code, message, fields).as_json()


def error_body(error_code: str, message: str, fields: list[str] | None = None) -> list[dict[str, Any]]:
    """The request-level error array."""
    item: dict[str, Any] = {"message": message, "errorCode": error_code}
    if fields is not None:
        item["fields"] = fields
    return [item]


def fail(status: int, error_code: str, message: str, fields: list[str] | None = None) -> NoReturn:
    """Answer the request with a Salesforce error (raised, so handlers stay linear)."""
    raise ApiError(status, error_body(error_code, message, fields))


def not_found() -> NoReturn:
    """The REST API's 404 body for an unknown resource or record."""
    fail(404, "NOT_FOUND", "The requested resource does not exist")


# Bodies for statuses the fault injector or the router asks for.
_BY_STATUS = {
    400: ("INVALID_INPUT", "Bad request"),
    401: ("INVALID_SESSION_ID", "Session expired or invalid"),
    403: ("REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded."),
    404: ("NOT_FOUND", "The requested resource does not exist"),
    # Not a documented REST status; answered as the concurrent-request limit would be worded.
    429: ("REQUEST_LIMIT_EXCEEDED", "ConcurrentPerOrgLongTxn Limit exceeded."),
    500: (
        "UNKNOWN_EXCEPTION",
        "An unexpected error occurred. Please include this ErrorId if you contact support: 0-0 (0)",
    ),
    503: ("SERVER_UNAVAILABLE", "Server temporarily unavailable, please retry your request."),
}


def error_response(
    status: int,
    *,
    method: str = "GET",
    allowed: list[str] | None = None,
    retry_after: float | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """A Salesforce-shaped error response for `status` (fault injection, 404/405/500 from the router)."""
    if status == 405:
        allowed_text = ",".join(allowed or ["GET", "HEAD"])
        code, message = (
            "METHOD_NOT_ALLOWED",
            f"HTTP Method '{method}' not allowed. Allowed are {allowed_text}",
        )
    elif status in _BY_STATUS:
        code, message = _BY_STATUS[status]
    elif status >= 500:
        code, message = _BY_STATUS[500]
    else:
        code, message = "INVALID_INPUT", f"HTTP {status}"
    out = dict(headers or {})
    if retry_after is not None or status == 429:
        out["Retry-After"] = str(max(1, math.ceil(retry_after or 1)))
    return json_response(error_body(code, message), status, out)
