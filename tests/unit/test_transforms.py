"""Mapping transforms both ways: what we write reads back as what we meant."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from healthsync.mappings.transforms import from_crm, to_crm
from healthsync.model import Band

ENUMS = {"band": {"green": "Green", "yellow": "Yellow", "red": "Red"}}


@pytest.mark.parametrize(
    ("transform", "value", "crm", "read_back"),
    [
        ("enum:band", Band.GREEN, "Green", "green"),
        ("enum:band", "red", "Red", "red"),
        ("percent", 0.55, 55.0, 0.55),
        ("date", date(2026, 11, 2), "2026-11-02", date(2026, 11, 2)),
        (
            "datetime",
            datetime(2026, 11, 2, 9, 30, tzinfo=UTC),
            "2026-11-02T09:30:00Z",
            datetime(2026, 11, 2, 9, 30, tzinfo=UTC),
        ),
        ("number", 71, 71.0, 71.0),
        ("integer", 41.6, 42, 42),
        ("text", 5, "5", "5"),
        (None, "as is", "as is", "as is"),
    ],
)
def test_round_trip(transform, value, crm, read_back) -> None:
    assert to_crm(transform, value, ENUMS) == crm
    assert from_crm(transform, crm, ENUMS) == read_back


def test_reading_is_forgiving_where_crms_differ() -> None:
    assert from_crm("enum:band", "GREEN", ENUMS) == "green"
    assert from_crm("enum:band", "Purple", ENUMS) is None
    assert from_crm("datetime", "1793606400000", ENUMS) == datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
    assert from_crm("datetime", "2026-11-02T09:30:00.000+0000", ENUMS) == datetime(
        2026, 11, 2, 9, 30, tzinfo=UTC
    )
    assert from_crm("date", "2026-11-02T00:00:00Z", ENUMS) == date(2026, 11, 2)
    assert from_crm("number", "", ENUMS) is None


def test_unknown_enum_value_or_transform_is_an_error() -> None:
    with pytest.raises(ValueError, match="no CRM value for 'blue'"):
        to_crm("enum:band", "blue", ENUMS)
    with pytest.raises(ValueError, match="enum map 'colour' is not defined"):
        to_crm("enum:colour", "red", ENUMS)
    with pytest.raises(ValueError, match="unknown transform"):
        to_crm("round", 1, ENUMS)
