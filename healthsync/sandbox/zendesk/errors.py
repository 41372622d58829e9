"""Zendesk's error bodies, which come in several envelopes depending on the layer that refuses.

- `{"error": "<Code>", "description": "..."}`: records and endpoints (404 RecordNotFound,
  404 InvalidEndpoint, 422 InvalidValue, search's 422 "invalid"). zenpy maps RecordNotFound to
  `RecordNotFoundException` and a 422 "invalid" to `SearchResponseLimitExceeded`.
- `{"error": "Couldn't authenticate you"}`: 401 from the authentication layer.
- `{"error": {"title": ..., "message": ...}}`: parameter validation ("Invalid attribute").
- `{"errors": [{"code": ..., "title": ..., "detail": ...}]}`: newer endpoints and the offset
  pagination depth limit (documented envelope `Errors` in the published OAS).
- 429: plain text "Number of allowed API requests per minute exceeded" with `Retry-After`.
"""

from __future__ import annotations

from typing import Any

from healthsync.sandbox.wire import ApiError, Response

__all__ = [
    "RATE_LIMITED_TEXT",
    "bad_request",
    "invalid_attribute",
    "not_found",
    "offset_too_deep",
    "rate_limited",
    "search_limit",
    "too_recent",
    "unauthorized_body",
]

# The exact 401 body, as Zendesk sends it for bad basic-auth or bearer credentials; see
# https://support.zendesk.com/hc/ja/community/posts/9173361687706 (response quoted) and
# https://developer.zendesk.com/api-reference/introduction/security-and-auth/
UNAUTHORIZED = {"error": "Couldn't authenticate you"}

# Observed 429 for the account limit: `Content-Type: text/plain`, 50-byte body, `retry-after`,
# `x-rate-limit`, `x-rate-limit-remaining` headers; quoted in
# https://support.zendesk.com/hc/en-us/community/posts/4600766234138 . The rate-limits reference
# (https://developer.zendesk.com/api-reference/introduction/rate-limits/) documents the 429 and the
# Retry-After header but not a JSON body.
RATE_LIMITED_TEXT = "Number of allowed API requests per minute exceeded"


def unauthorized_body() -> dict[str, Any]:
    """The 401 body (a fresh dict: callers may serialise it concurrently)."""
    return dict(UNAUTHORIZED)


def not_found() -> ApiError:
    """404 for an unknown record id (`{"error": "RecordNotFound", "description": "Not found"}`)."""
    return ApiError(404, {"error": "RecordNotFound", "description": "Not found"})


def bad_request(description: str, code: str = "InvalidValue") -> ApiError:
    """400 in the `error`/`description` envelope."""
    return ApiError(400, {"error": code, "description": description})


def invalid_attribute(attribute: str, rule: str, endpoint: str) -> ApiError:
    """400 for a bad paging parameter, in the envelope Zendesk uses for it.

    The body shape is the one Zendesk returns for an invalid `page.size` (quoted in
    https://github.com/facetoe/zenpy/issues/565 and, for `page` on search, in
    https://support.zendesk.com/hc/en-us/community/posts/5981990015514 ).
    """
    return ApiError(
        400,
        {
            "error": {
                "title": "Invalid attribute",
                "message": f"You passed an invalid value for the {attribute} attribute. "
                f"Invalid parameter: {attribute} {rule} from {endpoint}",
            }
        },
    )


def offset_too_deep() -> ApiError:
    """400 past the offset-pagination depth limit of 10,000 records / 100 pages.

    https://developer.zendesk.com/api-reference/introduction/rate-limits/#offset-pagination-limits
    and https://support.zendesk.com/hc/en-us/articles/5591904358938 (400 Bad Request); the code
    `InvalidPaginationDepth` as quoted in https://github.com/transferwise/pipelinewise/pull/1183 .
    """
    return ApiError(
        400,
        {
            "errors": [
                {
                    "code": "InvalidPaginationDepth",
                    "title": "Pagination requests using Offset Pagination are limited to page 100 or up to "
                    "10000 records (page * per_page)",
                    "detail": "There are limits to how deep you can paginate using offset pagination. "
                    "Use cursor pagination instead.",
                }
            ]
        },
    )


def search_limit() -> ApiError:
    """422 for a search page past the 1,000-result cap.

    https://developer.zendesk.com/api-reference/ticketing/ticket-management/search/#results-limit
    (page=11 at 100 per page → 422); body as quoted by Zendesk clients, e.g.
    https://support.zendesk.com/hc/en-us/community/posts/4409222763930 .
    """
    return ApiError(
        422,
        {
            "error": "invalid",
            "description": "Invalid search: Requested response size was greater than Search Response Limits",
        },
    )


def too_recent() -> ApiError:
    """422 for an incremental export `start_time` within the last minute.

    The docs require start_time "at least one minute in the past"
    (https://developer.zendesk.com/api-reference/ticketing/ticket-management/incremental_exports/#start_time);
    the 422 `InvalidValue` "Too recent start_time" body is the one Zendesk clients handle (e.g.
    treasure-data/embulk-input-zendesk, "Ignore '422: Too recent start_time'").
    """
    return ApiError(
        422,
        {
            "error": "InvalidValue",
            "description": "Too recent start_time. Use a start_time older than 1 minute",
        },
    )


def rate_limited(retry_after: int, headers: dict[str, str]) -> Response:
    """The 429 answer: plain text body and `Retry-After` in whole seconds (see RATE_LIMITED_TEXT)."""
    out = {"Content-Type": "text/plain; charset=utf-8", "Retry-After": str(retry_after)}
    out.update(headers)
    return Response(status=429, body=RATE_LIMITED_TEXT.encode(), headers=out)
