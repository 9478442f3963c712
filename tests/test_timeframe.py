"""Timeframes: parsing, canonical text, limits and bucketing."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from quantdesk.core.timeframe import STANDARD_TIMEFRAMES, Timeframe
from quantdesk.errors import InvalidInputError


@pytest.mark.parametrize(
    ("text", "seconds", "canonical"),
    [
        ("1m", 60, "1m"),
        ("15m", 900, "15m"),
        ("60m", 3_600, "1h"),
        ("4h", 14_400, "4h"),
        ("24h", 86_400, "1d"),
        ("1d", 86_400, "1d"),
        ("7d", 604_800, "1w"),
        ("1w", 604_800, "1w"),
        (" 2H ", 7_200, "2h"),
        ("30min", 1_800, "30m"),
    ],
)
def test_parse_reads_counts_and_units(text: str, seconds: int, canonical: str) -> None:
    timeframe = Timeframe.parse(text)
    assert timeframe.seconds == seconds
    assert str(timeframe) == canonical
    assert Timeframe.parse(canonical) == timeframe


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("2M", "did you mean '2m'"),
        ("2w", "outside the supported range"),
        ("30s", "unknown timeframe unit"),
        ("0h", "positive count"),
        ("h", "count and a unit"),
        ("", "count and a unit"),
        ("1x", "unknown timeframe unit"),
    ],
)
def test_parse_refuses_bad_text_with_one_line(text: str, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message) as caught:
        Timeframe.parse(text)
    assert "\n" not in str(caught.value)


def test_parse_refuses_non_text() -> None:
    with pytest.raises(InvalidInputError, match="text such as"):
        Timeframe.parse(60)  # type: ignore[arg-type]


def test_timeframes_order_by_length_and_hash() -> None:
    assert list(STANDARD_TIMEFRAMES) == sorted(STANDARD_TIMEFRAMES)
    assert {Timeframe.parse("60m"): "x"}[Timeframe.parse("1h")] == "x"


def test_multiples_respect_the_grid() -> None:
    assert Timeframe.parse("4h").is_multiple_of(Timeframe.parse("1h"))
    assert Timeframe.parse("1w").is_multiple_of(Timeframe.parse("1d"))
    assert not Timeframe.parse("1h").is_multiple_of(Timeframe.parse("4h"))
    assert not Timeframe.parse("1h").is_multiple_of(Timeframe.parse("7m"))
    assert not Timeframe.parse("1w").is_multiple_of(Timeframe.parse("3d"))


def test_bucket_starts_floor_to_the_epoch_grid_and_weeks_to_monday() -> None:
    times = pd.DatetimeIndex(["2024-01-03 13:47:12", "2024-01-07 23:59"], tz="UTC").as_unit("ns")
    hourly = Timeframe.parse("4h").bucket_starts(times.asi8)
    assert list(pd.DatetimeIndex(hourly, tz="UTC")) == [
        pd.Timestamp("2024-01-03 12:00", tz="UTC"),
        pd.Timestamp("2024-01-07 20:00", tz="UTC"),
    ]
    weekly = pd.DatetimeIndex(Timeframe.parse("1w").bucket_starts(times.asi8), tz="UTC")
    assert all(start.day_name() == "Monday" for start in weekly)
    assert list(weekly) == [pd.Timestamp("2024-01-01", tz="UTC")] * 2


def test_bucket_starts_handle_times_before_the_epoch() -> None:
    before = np.array([pd.Timestamp("1969-12-31 23:30", tz="UTC").value])
    start = Timeframe.parse("1h").bucket_starts(before)[0]
    assert pd.Timestamp(start, tz="UTC") == pd.Timestamp("1969-12-31 23:00", tz="UTC")


def test_bar_start_floors_a_moment_to_its_bar_in_utc() -> None:
    moment = pd.Timestamp("2024-01-03 15:47:12", tz="America/New_York")
    assert Timeframe.parse("1h").bar_start(moment) == pd.Timestamp("2024-01-03 20:00", tz="UTC")
    assert Timeframe.parse("1w").bar_start(moment) == pd.Timestamp("2024-01-01", tz="UTC")
    assert Timeframe.parse("15m").bar_start(moment) == pd.Timestamp("2024-01-03 20:45", tz="UTC")
