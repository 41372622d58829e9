"""Request counters the tests and benchmarks read through `/_sandbox/stats`.

Counting happens at the server, per vendor, per endpoint template and per kind, so a test can assert
"1,000 companies took exactly 10 list calls" without timing anything.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from typing import Any

from healthsync.sandbox.wire import Kind

__all__ = ["Stats"]


class Stats:
    """Thread-safe counters of requests served, by vendor, kind and endpoint, plus 429s served."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[str, dict[str, int]] = defaultdict(lambda: {"read": 0, "write": 0, "throttled": 0})
        self._endpoints: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))

    def count(self, vendor: str, endpoint: str, kind: Kind) -> None:
        """Record one request that reached an endpoint (whatever its answer)."""
        with self._lock:
            self._counts[vendor][kind] += 1
            self._endpoints[vendor][endpoint] += 1

    def throttled(self, vendor: str) -> None:
        """Record one 429 served."""
        with self._lock:
            self._counts[vendor]["throttled"] += 1

    def snapshot(self) -> dict[str, Any]:
        """`{"<vendor>": {"read", "write", "throttled", "by_endpoint": {"<METHOD> <template>": n}}}`."""
        with self._lock:
            return {
                vendor: {**counts, "by_endpoint": dict(sorted(self._endpoints[vendor].items()))}
                for vendor, counts in sorted(self._counts.items())
            }

    def reset(self) -> None:
        """Forget every count (`POST /_sandbox/stats/reset`)."""
        with self._lock:
            self._counts.clear()
            self._endpoints.clear()
