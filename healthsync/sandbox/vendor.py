"""What a vendor app (Salesforce, HubSpot, Zendesk) provides to the sandbox server.

The server owns the socket, counting, fault injection and the control endpoints; a vendor app owns
its records, its routes, its auth scheme, its rate limits and the exact shape of its errors, since
those differ per vendor and a faithful fake must get them right.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from healthsync.sandbox.clock import SimClock
from healthsync.sandbox.dataset import Dataset, Delta
from healthsync.sandbox.stats import Stats
from healthsync.sandbox.wire import Request, Response, Route, Router

__all__ = ["SandboxContext", "VendorApp"]


@dataclass(frozen=True)
class SandboxContext:
    """What every vendor app shares: the simulated clock, counters and settings."""

    clock: SimClock
    stats: Stats
    seed: int
    rate_limits: bool
    """True for `--rate-limits realistic`: enforce the vendors' documented limits with real 429s."""
    provisioned: bool = True
    """True: the CRMs already have healthsync's custom fields, pipeline and values (what `healthsync
    fields apply` would create). False: a CRM with only its standard schema, for provisioning tests."""


class VendorApp(Protocol):
    """One vendor's API inside the sandbox."""

    name: str
    """`salesforce`, `hubspot` or `zendesk`: the key of counters, state dumps and the ready line."""

    def register(self, router: Router) -> None:
        """Add this vendor's routes."""

    def seed(self, dataset: Dataset) -> None:
        """Fill the stores from the generated dataset (called once, before serving)."""

    def apply(self, delta: Delta) -> None:
        """Apply what changed when the simulated clock moved forward."""

    def objects(self) -> list[str]:
        """Names of the stores `/_sandbox/state/{vendor}/{object}` can dump."""

    def state(self, object_name: str) -> list[dict[str, Any]]:
        """Every stored record of `object_name`, as the vendor would return it; KeyError if unknown."""

    def authenticate(self, request: Request) -> Response | None:
        """The vendor's 401 when the request's credentials are wrong, else None."""

    def throttle(self, request: Request, route: Route) -> Response | None:
        """The vendor's 429 (or quota 403) when a limit is hit, else None; counts quota use."""

    def error(self, status: int, request: Request, *, retry_after: float | None = None) -> Response:
        """A vendor-shaped error response for `status` (used by fault injection and 404/405/500)."""

    def exhaust_quota(self) -> None:
        """Spend the daily API quota (fault injection); a no-op for vendors without one."""

    def credentials(self, base_url: str, tls_base_url: str | None) -> dict[str, Any]:
        """This vendor's entry in the ready line, e.g. `{"host": ..., "access_token": ...}`."""
