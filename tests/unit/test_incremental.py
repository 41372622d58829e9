"""Watermarks: closed bound, ties de-duplicated, lag overlap, signpost at the run start."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from healthsync.connectors.incremental import MAX_TIE_KEYS, Watermark, WatermarkState

T0 = datetime(2026, 11, 1, 12, 0, 0, tzinfo=UTC)
RUN = T0 + timedelta(hours=1)


def seen(key: str, stamp: datetime) -> str:
    return f"{stamp.isoformat()} {key}"


def test_first_run_reads_everything_and_remembers_ties() -> None:
    mark = Watermark("SystemModstamp")
    state = WatermarkState()
    assert mark.query_from(state) is None
    assert mark.accept(state, "a", T0)
    after = mark.advance(
        state,
        [("a", T0), ("b", T0 + timedelta(seconds=1)), ("c", T0 + timedelta(seconds=1))],
        run_started=RUN,
    )
    assert after.value == T0 + timedelta(seconds=1)
    assert after.keys_at_value == {seen("b", T0 + timedelta(seconds=1)), seen("c", T0 + timedelta(seconds=1))}


def test_closed_bound_rereads_ties_but_accepts_only_new_keys() -> None:
    mark = Watermark("SystemModstamp")
    state = WatermarkState(T0, frozenset({seen("a", T0)}))
    assert mark.query_from(state) == T0  # >= , not >
    assert not mark.accept(state, "a", T0)
    assert mark.accept(state, "z", T0)  # stamped in the same second, not read before
    assert mark.accept(state, "a", T0 + timedelta(seconds=1))  # changed again
    assert not mark.accept(state, "old", T0 - timedelta(seconds=1))  # below the bound, no lag


def test_lag_overlap_accepts_late_arrivals_and_drops_rereads() -> None:
    """Regression: records the vendor showed late inside the lag window used to be dropped."""
    mark = Watermark("hs_lastmodifieddate", lag=timedelta(minutes=2))
    read = [("a", T0 - timedelta(seconds=90)), ("b", T0)]
    state = mark.advance(WatermarkState(), read, run_started=RUN)
    assert mark.query_from(state) == T0 - timedelta(minutes=2)
    assert not mark.accept(state, "a", T0 - timedelta(seconds=90))  # read last run
    assert mark.accept(state, "late", T0 - timedelta(seconds=30))  # indexed late: new to us
    assert not mark.accept(state, "ancient", T0 - timedelta(minutes=3))  # outside the overlap
    later = mark.advance(state, [("c", T0 + timedelta(minutes=5))], run_started=RUN)
    assert later.keys_at_value == {seen("c", T0 + timedelta(minutes=5))}  # pruned to the new window


def test_the_watermark_never_passes_the_run_start() -> None:
    mark = Watermark("updated_at")
    state = mark.advance(
        WatermarkState(),
        [("a", RUN - timedelta(seconds=1)), ("late", RUN + timedelta(seconds=5))],
        run_started=RUN,
    )
    assert state.value == RUN - timedelta(seconds=1)
    assert mark.accept(state, "late", RUN + timedelta(seconds=5))  # seen again next run


def test_tie_keys_are_bounded() -> None:
    mark = Watermark("updated_at")
    seen = [(f"k{i:06d}", T0) for i in range(MAX_TIE_KEYS + 50)]
    assert len(mark.advance(WatermarkState(), seen, run_started=RUN).keys_at_value) == MAX_TIE_KEYS


def test_encode_decode_round_trip() -> None:
    state = WatermarkState(T0, frozenset({seen("b", T0), seen("a", T0)}))
    value, keys = state.encode()
    assert keys == [seen("a", T0), seen("b", T0)]
    assert WatermarkState.decode(value, keys) == state
    assert WatermarkState.decode("", []) == WatermarkState()
    assert WatermarkState.decode("2026-11-01T12:00:00", []).value == T0
