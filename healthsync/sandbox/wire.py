"""Requests, responses and routing for the sandbox's vendor APIs, independent of the HTTP server.

Vendor modules register handlers on a `Router` with path templates such as
`/crm/v3/objects/{objectType}/batch/upsert`. The template (not the concrete path) is what the
request counters report, so `/_sandbox/stats` reads like an API reference.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import parse_qs, urlsplit

__all__ = [
    "ApiError",
    "BatchServed",
    "Handler",
    "PageServed",
    "Request",
    "Response",
    "Route",
    "Router",
    "json_response",
]

Kind = Literal["read", "write"]


@dataclass(frozen=True)
class PageServed:
    """What one paged read asked for and got, for the page-size audit (`stats.Stats.audit`).

    `size` is the page size in effect: the one the client asked for (`limit`, `page[size]`,
    `per_page`, `Sforce-Query-Options: batchSize=`) as the vendor clamps it, or the vendor's
    default when it asked for none. `more` says whether records remained after this page.
    """

    size: int
    maximum: int
    returned: int
    more: bool


@dataclass(frozen=True)
class BatchServed:
    """How many inputs one batch call (read by ids, create, update, upsert, archive) carried."""

    inputs: int
    maximum: int


@dataclass
class Request:
    """One HTTP request as a handler sees it."""

    method: str
    target: str
    """The raw request target: path plus query string."""
    headers: Mapping[str, str]
    """Header names lower-cased."""
    body: bytes = b""
    base_url: str = ""
    """Scheme, host and port the client used (e.g. `https://127.0.0.1:8443`), for absolute next-page URLs."""
    params: dict[str, str] = field(default_factory=dict)
    """Path parameters from the route template."""
    page: PageServed | None = None
    """Set by a handler that served one page of a paged read (the page-size audit)."""
    batch: BatchServed | None = None
    """Set by a handler that served a batch call (the page-size audit)."""

    @property
    def path(self) -> str:
        """The path without the query string."""
        return urlsplit(self.target).path

    @property
    def query(self) -> dict[str, list[str]]:
        """Query parameters; every value is a list since APIs repeat keys (`properties=a&properties=b`)."""
        return parse_qs(urlsplit(self.target).query, keep_blank_values=True)

    def arg(self, name: str, default: str | None = None) -> str | None:
        """The first value of query parameter `name`."""
        values = self.query.get(name)
        return values[0] if values else default

    def json(self) -> Any:
        """The body parsed as JSON; a malformed body is the vendor's 400, raised by the caller's app."""
        if not self.body:
            return None
        return json.loads(self.body)

    def header(self, name: str, default: str | None = None) -> str | None:
        """A request header, case-insensitively."""
        return self.headers.get(name.lower(), default)


@dataclass
class Response:
    """What a handler returns; the server adds Content-Length and keeps the connection alive."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    drop_after: int | None = None
    """Fault injection: close the connection after sending this many body bytes."""


def json_response(payload: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    """A JSON response with the vendors' content type."""
    body = json.dumps(payload, separators=(",", ":"), default=str).encode()
    out = {"Content-Type": "application/json;charset=UTF-8"}
    out.update(headers or {})
    return Response(status=status, body=body, headers=out)


class ApiError(Exception):
    """Raised by handlers to answer with a vendor-shaped error; the vendor app builds the body."""

    def __init__(self, status: int, payload: Any, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status
        self.payload = payload
        self.headers = dict(headers or {})

    def response(self) -> Response:
        """The error as a JSON response."""
        return json_response(self.payload, self.status, self.headers)


Handler = Callable[[Request], Response]


@dataclass(frozen=True)
class Route:
    """A method + path template bound to a handler, with what kind of call it counts as."""

    vendor: str
    method: str
    template: str
    pattern: re.Pattern[str]
    handler: Handler
    kind: Kind

    @property
    def endpoint(self) -> str:
        """`METHOD /template`, the key of the per-endpoint counters."""
        return f"{self.method} {self.template}"


_PARAM = re.compile(r"\{(\w+)\}")


def _compile(template: str) -> re.Pattern[str]:
    pattern = ""
    last = 0
    for match in _PARAM.finditer(template):
        pattern += re.escape(template[last : match.start()]) + f"(?P<{match.group(1)}>[^/]+)"
        last = match.end()
    pattern += re.escape(template[last:])
    # Clients differ on trailing slashes (simple-salesforce sends `query/?q=`, HubSpot owners both
    # ways): the vendors accept either, and so do we.
    return re.compile("^" + pattern.rstrip("/") + "/?$")


class Router:
    """Matches requests to routes; first registered wins, so register specific paths first."""

    def __init__(self) -> None:
        self._routes: list[Route] = []

    def add(
        self, vendor: str, method: str, template: str, handler: Handler, kind: Kind | None = None
    ) -> None:
        """Register `handler` for `method template`; `kind` defaults to read for GET, write otherwise."""
        self._routes.append(
            Route(
                vendor=vendor,
                method=method.upper(),
                template=template,
                pattern=_compile(template),
                handler=handler,
                kind=kind or ("read" if method.upper() in {"GET", "HEAD"} else "write"),
            )
        )

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        """The route and path parameters for a request, or None."""
        for route in self._routes:
            if route.method != method.upper():
                continue
            found = route.pattern.match(path)
            if found:
                return route, found.groupdict()
        return None

    def vendor_for(self, path: str) -> str | None:
        """The vendor owning `path` under any method, so a wrong method gets that vendor's 405."""
        return next((r.vendor for r in self._routes if r.pattern.match(path)), None)

    def allowed_methods(self, path: str) -> list[str]:
        """Methods registered for `path`, for a 405 instead of a 404."""
        return sorted({r.method for r in self._routes if r.pattern.match(path)})

    def __iter__(self) -> Iterator[Route]:
        return iter(self._routes)
