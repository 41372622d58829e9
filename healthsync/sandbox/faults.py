"""Fault injection: latency, HTTP errors, 429 storms, dropped connections and spent quotas on demand.

Tests set faults through `POST /_sandbox/faults` with a JSON body such as::

    {"latency_ms": 20,
     "rules": [{"path_prefix": "/crm/v3/objects/companies", "method": "GET",
                "status": 503, "count": 2},
               {"path_prefix": "/api/v2/incremental", "status": 429, "count": 3, "retry_after": 1},
               {"path_prefix": "/services/data", "drop": true, "rate": 0.1}],
     "exhaust_quota": ["salesforce"]}

A rule fires on matching requests either `count` times (then retires) or on a `rate` share of them
(drawn from a seeded generator, so a test run is repeatable). A fired rule answers with `status` and
the vendor's own error body for it (built by the vendor app), or with `drop` closes the connection
halfway through a normal response. `DELETE /_sandbox/faults` clears everything.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass
from typing import Any

__all__ = ["FaultRule", "Faults", "FiredFault"]


@dataclass
class FaultRule:
    """One injected fault and what it matches."""

    path_prefix: str = "/"
    method: str | None = None
    vendor: str | None = None
    status: int | None = None
    retry_after: float | None = None
    drop: bool = False
    latency_ms: int = 0
    count: int | None = None
    rate: float | None = None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FaultRule:
        """Build a rule from the control endpoint's JSON, refusing unknown keys and empty rules."""
        known = set(cls.__dataclass_fields__)
        unknown = set(data) - known
        if unknown:
            raise ValueError(
                f"unknown fault keys: {', '.join(sorted(unknown))}; known: {', '.join(sorted(known))}"
            )
        rule = cls(**data)
        if rule.status is None and not rule.drop and not rule.latency_ms:
            raise ValueError("a fault rule needs a status, drop or latency_ms")
        if rule.count is None and rule.rate is None:
            rule.count = 1
        if rule.rate is not None and not 0 < rule.rate <= 1:
            raise ValueError("rate must be in (0, 1]")
        return rule

    def matches(self, vendor: str, method: str, path: str) -> bool:
        """True when this rule applies to the request."""
        return (
            path.startswith(self.path_prefix)
            and (self.method is None or self.method.upper() == method.upper())
            and (self.vendor is None or self.vendor == vendor)
        )


@dataclass(frozen=True)
class FiredFault:
    """What the server must do to one request because of a fault rule."""

    status: int | None
    retry_after: float | None
    drop: bool
    latency_ms: int


class Faults:
    """The active fault rules, plus global latency; thread-safe."""

    def __init__(self, seed: int = 0, latency_ms: int = 0) -> None:
        self._lock = threading.Lock()
        self._rules: list[FaultRule] = []
        self._random = random.Random(seed)  # noqa: S311 - repeatable fault draws, not cryptography
        self.latency_ms = latency_ms
        self.fired = 0

    def configure(self, data: dict[str, Any]) -> None:
        """Add rules and settings from the control endpoint's JSON (see the module docstring)."""
        rules = [FaultRule.from_json(r) for r in data.get("rules", [])]
        with self._lock:
            if "latency_ms" in data:
                self.latency_ms = int(data["latency_ms"])
            self._rules.extend(rules)

    def clear(self) -> None:
        """Remove every rule and the global latency."""
        with self._lock:
            self._rules.clear()
            self.latency_ms = 0

    def describe(self) -> dict[str, Any]:
        """Current rules, for `GET /_sandbox/faults`."""
        with self._lock:
            return {
                "latency_ms": self.latency_ms,
                "fired": self.fired,
                "rules": [vars(r).copy() for r in self._rules],
            }

    def draw(self, vendor: str, method: str, path: str) -> FiredFault | None:
        """The fault to apply to this request, if any; retires count-limited rules as they fire."""
        with self._lock:
            for rule in self._rules:
                if not rule.matches(vendor, method, path):
                    continue
                if rule.count is not None:
                    rule.count -= 1
                    if rule.count <= 0:
                        self._rules.remove(rule)
                elif rule.rate is not None and self._random.random() >= rule.rate:
                    continue
                self.fired += 1
                return FiredFault(rule.status, rule.retry_after, rule.drop, rule.latency_ms + self.latency_ms)
            return FiredFault(None, None, False, self.latency_ms) if self.latency_ms else None
