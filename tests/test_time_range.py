"""Half-open time ranges and the arithmetic the cache relies on."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from quantdesk.core.time_range import TimeRange, merge_ranges, to_utc_timestamp
from quantdesk.errors import InvalidInputError


def day(number: int) -> pd.Timestamp:
    return pd.Timestamp("2024-01-01", tz="UTC") + pd.Timedelta(days=number)


def test_naive_times_are_utc_and_aware_times_are_converted() -> None:
    assert to_utc_timestamp("2024-01-01") == pd.Timestamp("2024-01-01", tz="UTC")
    assert to_utc_timestamp("2024-01-01T05:00-05:00") == pd.Timestamp("2024-01-01 10:00", tz="UTC")


def test_unreadable_time_names_the_fix() -> None:
    with pytest.raises(InvalidInputError, match="ISO format"):
        to_utc_timestamp("yesterday-ish", name="start")


def test_empty_or_reversed_range_is_refused() -> None:
    with pytest.raises(InvalidInputError, match="exclusive"):
        TimeRange.of("2024-02-01", "2024-01-01")
    with pytest.raises(InvalidInputError, match="not before"):
        TimeRange.of("2024-01-01", "2024-01-01")


def test_subtract_finds_the_holes() -> None:
    wanted = TimeRange(day(0), day(10))
    covered = [TimeRange(day(2), day(4)), TimeRange(day(3), day(5)), TimeRange(day(8), day(12))]
    assert wanted.subtract(covered) == [
        TimeRange(day(0), day(2)),
        TimeRange(day(5), day(8)),
    ]
    assert wanted.subtract([TimeRange(day(-1), day(11))]) == []
    assert wanted.subtract([]) == [wanted]


def test_merge_joins_touching_ranges() -> None:
    merged = merge_ranges([TimeRange(day(3), day(4)), TimeRange(day(0), day(3))])
    assert merged == [TimeRange(day(0), day(4))]


ranges = st.tuples(st.integers(0, 60), st.integers(1, 20)).map(
    lambda pair: TimeRange(day(pair[0]), day(pair[0] + pair[1]))
)


@given(wanted=ranges, covered=st.lists(ranges, max_size=6))
def test_subtract_and_covered_partition_the_range(
    wanted: TimeRange, covered: list[TimeRange]
) -> None:
    holes = wanted.subtract(covered)
    for number in range(-1, 85):
        instant = day(number) + pd.Timedelta(hours=12)
        inside = wanted.start <= instant < wanted.end
        in_hole = any(hole.start <= instant < hole.end for hole in holes)
        in_cover = any(piece.start <= instant < piece.end for piece in covered)
        assert in_hole == (inside and not in_cover)
