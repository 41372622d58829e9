"""Incremental watermarks: where a stream resumes, declared beside the stream that uses it.

The rules come from the pitfalls other sync tools hit (STYLE.md §3.2):

- **closed lower bound**: ask for records stamped at or after the watermark (`>=`), because vendors
  stamp whole seconds or milliseconds and a strict `>` after a mid-second checkpoint loses records
  for good (estuary/connectors#5205);
- **de-duplication**: the (key, stamp) pairs already read within `lag` of the watermark are kept
  (bounded), so `>=` and the overlap do not re-emit them every run (meta/sdk#2154);
- **lag**: the query starts `lag` before the watermark, for search indexes that show writes late
  (HubSpot) and clocks that disagree; a record that shows up late inside the overlap is new to us
  and accepted, one already read is not;
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
"""(key, stamp) pairs remembered near the watermark; beyond this a bulk update's ties are re-read
(harmless: mirrors upsert by key) rather than letting one cursor row grow without bound
(dlt-hub/dlt#2580)."""


def _seen(key: str, stamp: datetime) -> str:
    return f"{stamp.astimezone(UTC).isoformat()} {key}"


def _stamp_of(seen: str) -> datetime:
    return datetime.fromisoformat(seen.split(" ", 1)[0])


@dataclass(frozen=True)
class WatermarkState:
    """A stream's position: the highest stamp fully read, and what was read near it.

    `keys_at_value` holds `"<stamp> <key>"` entries for records stamped within the stream's lag of
    `value`, so a re-read overlap is recognised and a late arrival in it is not.
    """

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

        Within the lag overlap a record is new unless this exact (key, stamp) was read before; a
        record the vendor showed late is therefore picked up, a re-read one is not.
        """
        if state.value is None:
            return True
        if stamp < state.value - self.lag:
            return False
        return _seen(key, stamp) not in state.keys_at_value

    def advance(
        self, state: WatermarkState, seen: Iterable[tuple[str, datetime]], *, run_started: datetime
    ) -> WatermarkState:
        """The position after committing records `seen` (key, stamp), capped at the run's start.

        Records stamped after `run_started` are kept in the mirrors but do not move the watermark
        past the run's start: their neighbours stamped in the same instant may not be visible yet.
        """
        value = state.value
        entries = set(state.keys_at_value)
        for key, stamp in seen:
            if stamp > run_started:
                continue
            entries.add(_seen(key, stamp))
            if value is None or stamp > value:
                value = stamp
        if value is None:
            return WatermarkState()
        floor = value - self.lag
        kept = [e for e in entries if _stamp_of(e) >= floor]
        if len(kept) > MAX_TIE_KEYS:  # keep the newest: those nearest the watermark matter most
            kept = sorted(kept)[-MAX_TIE_KEYS:]
        return WatermarkState(value, frozenset(kept))
