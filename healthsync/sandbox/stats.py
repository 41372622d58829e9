"""Request counters and the page-size audit the tests and benchmarks read through `/_sandbox/`.

Counting happens at the server, per vendor, per endpoint template and per kind, so a test can assert
"1,000 companies took exactly 10 list calls" without timing anything.

The audit records, per paged read, the page size in effect and whether records remained after the
page, and, per batch call, how many inputs it carried (`/_sandbox/audit`). A read whose page size
was below the vendor maximum while more records remained is *undersized*: a client paid for more
requests than the vendor's page size requires. Undersized reads are also appended to a log shared by
every sandbox in the process (`undersized_mark` / `undersized_since`), so a test harness can fail
the test that caused one whichever sandbox served it, including one already stopped.
"""

from __future__ import annotations

import threading
from collections import defaultdict, deque
from dataclasses import asdict, dataclass
from typing import Any

from healthsync.sandbox.wire import Kind, Request

__all__ = ["BatchCall", "PageRead", "Stats", "undersized_mark", "undersized_since"]

_KEEP = 10_000
"""Audit entries kept per sandbox (the most recent): plenty for a test, bounded for `serve`."""


@dataclass(frozen=True)
class PageRead:
    """One page served: the page size in effect, the vendor maximum, records returned, more left."""

    vendor: str
    endpoint: str
    size: int
    maximum: int
    returned: int
    more: bool

    @property
    def undersized(self) -> bool:
        """Smaller than the vendor allows while records remained: the client made extra requests."""
        return self.size < self.maximum and self.more

    def __str__(self) -> str:
        left = "more remained" if self.more else "the last page"
        return (
            f"{self.vendor} {self.endpoint}: page size {self.size} (maximum {self.maximum}), "
            f"{self.returned} returned, {left}"
        )


@dataclass(frozen=True)
class BatchCall:
    """One batch call served: how many inputs it carried, and the vendor maximum."""

    vendor: str
    endpoint: str
    kind: Kind
    inputs: int
    maximum: int


class _UndersizedLog:
    """Undersized reads of every sandbox in the process, numbered, the most recent kept."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: deque[tuple[int, PageRead]] = deque(maxlen=_KEEP)
        self._count = 0

    def add(self, read: PageRead) -> None:
        with self._lock:
            self._count += 1
            self._entries.append((self._count, read))

    def mark(self) -> int:
        with self._lock:
            return self._count

    def since(self, mark: int) -> list[PageRead]:
        with self._lock:
            return [read for number, read in self._entries if number > mark]


_UNDERSIZED = _UndersizedLog()


def undersized_mark() -> int:
    """A position in the process-wide log of undersized reads (see `undersized_since`)."""
    return _UNDERSIZED.mark()


def undersized_since(mark: int) -> list[PageRead]:
    """Undersized reads served by any sandbox in this process after `mark` (`undersized_mark()`)."""
    return _UNDERSIZED.since(mark)


class Stats:
    """Thread-safe counters of requests served, by vendor, kind and endpoint, plus 429s served.

    Also the page-size audit: the most recent page reads and batch calls (`reads`, `batches`) and
    every undersized read (`undersized`).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[str, dict[str, int]] = defaultdict(lambda: {"read": 0, "write": 0, "throttled": 0})
        self._endpoints: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        self._reads: deque[PageRead] = deque(maxlen=_KEEP)
        self._batches: deque[BatchCall] = deque(maxlen=_KEEP)
        self._undersized: deque[PageRead] = deque(maxlen=_KEEP)

    def count(self, vendor: str, endpoint: str, kind: Kind) -> None:
        """Record one request that reached an endpoint (whatever its answer)."""
        with self._lock:
            self._counts[vendor][kind] += 1
            self._endpoints[vendor][endpoint] += 1

    def throttled(self, vendor: str) -> None:
        """Record one 429 served."""
        with self._lock:
            self._counts[vendor]["throttled"] += 1

    def audit(self, vendor: str, endpoint: str, kind: Kind, request: Request) -> None:
        """Record the page or batch a handler served for `request` (`Request.page` / `.batch`)."""
        page, batch = request.page, request.batch
        if page is not None:
            read = PageRead(vendor, endpoint, page.size, page.maximum, page.returned, page.more)
            with self._lock:
                self._reads.append(read)
                if read.undersized:
                    self._undersized.append(read)
            if read.undersized:
                _UNDERSIZED.add(read)
        if batch is not None:
            with self._lock:
                self._batches.append(BatchCall(vendor, endpoint, kind, batch.inputs, batch.maximum))

    def reads(self, vendor: str | None = None) -> list[PageRead]:
        """Pages served since the last reset (of `vendor`, or all), oldest first."""
        with self._lock:
            return [r for r in self._reads if vendor is None or r.vendor == vendor]

    def batches(self, vendor: str | None = None) -> list[BatchCall]:
        """Batch calls served since the last reset (of `vendor`, or all), oldest first."""
        with self._lock:
            return [b for b in self._batches if vendor is None or b.vendor == vendor]

    def undersized(self) -> list[PageRead]:
        """Undersized reads this sandbox served (kept across `reset`: evidence, not a counter)."""
        with self._lock:
            return list(self._undersized)

    def snapshot(self) -> dict[str, Any]:
        """`{"<vendor>": {"read", "write", "throttled", "by_endpoint": {"<METHOD> <template>": n}}}`."""
        with self._lock:
            return {
                vendor: {**counts, "by_endpoint": dict(sorted(self._endpoints[vendor].items()))}
                for vendor, counts in sorted(self._counts.items())
            }

    def audit_snapshot(self) -> dict[str, Any]:
        """`{"reads": [...], "batches": [...], "undersized": [...]}` for `GET /_sandbox/audit`."""
        with self._lock:
            return {
                "reads": [asdict(r) for r in self._reads],
                "batches": [asdict(b) for b in self._batches],
                "undersized": [asdict(r) for r in self._undersized],
            }

    def reset(self) -> None:
        """Forget every count and the recent reads and batches (`POST /_sandbox/stats/reset`)."""
        with self._lock:
            self._counts.clear()
            self._endpoints.clear()
            self._reads.clear()
            self._batches.clear()
