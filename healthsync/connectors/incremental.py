"""Incremental watermarks: where a stream resumes, declared beside the stream that uses it.

The rules come from the pitfalls other sync tools hit (STYLE.md §3.2):

- **closed lower bound**: ask for records stamped at or after the watermark (`>=`), because vendors
  stamp whole seconds or milliseconds and a strict `>` after a mid-second checkpoint loses records
  for good (estuary/connectors#5205);
- **de-duplication of ties**: the keys already read at exactly the watermark are kept (bounded), so
  `>=` does not re-emit them every run (meta/sdk#2154);
- **lag**: the query starts `lag` before the watermark, for search indexes that show writes late
  (HubSpot) and clocks that disagree; records from the overlap are dropped unless they changed;
- **signpost**: the watermark never passes the run's start, so a record changed while the run was
  reading is picked up next time (dlt-hub/dlt#2269).

A `Watermark` is pure: the engine loads its `CursorState` from the state store, the connector uses
`query_from()` and `accept()`, and the engine commits `advance()`'s result with the page's rows in one
transaction.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

__all__ = ["MAX_TIE_KEYS", "Watermark", "WatermarkState"]

MAX_TIE_KEYS = 10_000
"""Keys remembered at the watermark; beyond this a bulk update's ties are re-read (harmless: mirrors
upsert by key) rather than letting one cursor row grow without bound (dlt-hub/dlt#2580)."""


@dataclass(frozen=True)
class WatermarkState:
    """A stream's position: the highest stamp fully read, and the keys read at exactly that stamp."""

    value: datetime | None = None
    keys_at_value: frozenset[str] = field(default_factory=frozenset)

    def encode(self) -> tuple[str, list[str]]:
        """(value, keys) for the state store's cursor row."""
        return (self.value.isoformat() if self.value else "", sorted(self.keys_at_value))

    @classmethod
    def decode(cls, value: str, keys: Iterable[str]) -> WatermarkState:
        """The inverse of `encode`; an empty value means "from the beginning"."""
        if not value:
            return cls()
        stamp = datetime.fromisoformat(value)
        if stamp.tzinfo is None:
            stamp = stamp.replace(tzinfo=UTC)
        return cls(stamp, frozenset(keys))


@dataclass(frozen=True)
class Watermark:
    """How a stream reads incrementally: which vendor field stamps changes, and how much to overlap.

    Attributes:
        field: the vendor's last-modified field (e.g. `SystemModstamp`, `hs_lastmodifieddate`).
        lag: how far before the watermark each query starts.
    """

    field: str
    lag: timedelta = timedelta(0)

    def query_from(self, state: WatermarkState) -> datetime | None:
        """The inclusive lower bound to ask the vendor for (None: read everything)."""
        return state.value - self.lag if state.value is not None else None

    def accept(self, state: WatermarkState, key: str, stamp: datetime) -> bool:
        """Whether a record returned by the query is new to us.

        Records stamped before the watermark come from the lag overlap and were read already;
        records at exactly the watermark were read if their key is remembered.
        """
        if state.value is None:
            return True
        if stamp < state.value:
            return False
        return not (stamp == state.value and key in state.keys_at_value)

    def advance(
        self, state: WatermarkState, seen: Iterable[tuple[str, datetime]], *, run_started: datetime
    ) -> WatermarkState:
        """The position after committing records `seen` (key, stamp), capped at the run's start.

        Records stamped after `run_started` are kept in the mirrors but do not move the watermark
        past the run's start: their neighbours stamped in the same instant may not be visible yet.
        """
        value = state.value
        keys = set(state.keys_at_value)
        for key, stamp in seen:
            if stamp > run_started:
                continue
            if value is None or stamp > value:
                value, keys = stamp, {key}
            elif stamp == value:
                keys.add(key)
        if len(keys) > MAX_TIE_KEYS:
            keys = set(sorted(keys)[:MAX_TIE_KEYS])
        return WatermarkState(value, frozenset(keys))
