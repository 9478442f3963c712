"""The csv source reads the common OHLCV CSV layouts."""

from __future__ import annotations

import re
import warnings
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from quantdesk.config import Settings
from quantdesk.core.frame import is_canonical
from quantdesk.core.time_range import TimeRange
from quantdesk.data.loader import load_bars
from quantdesk.data.sources.csv import CsvSource
from quantdesk.errors import FatalSourceError

DAILY_ROWS = [
    ("2024-01-02", 100.0, 102.0, 99.0, 101.0, 1_000),
    ("2024-01-03", 101.0, 103.5, 100.5, 103.0, 1_500),
    ("2024-01-04", 103.0, 104.0, 101.0, 102.0, 1_200),
    ("2024-01-05", 102.0, 102.5, 98.0, 98.5, 2_000),
    ("2024-01-08", 98.5, 100.0, 97.0, 99.5, 1_100),
]


def write(path: Path, header: str, rows: list[str]) -> Path:
    path.write_text("\n".join([header, *rows]) + "\n")
    return path


def daily_lines(with_adjusted_close: bool = False) -> list[str]:
    lines = []
    for date, open_, high, low, close, volume in DAILY_ROWS:
        adjusted = f",{close * 0.9}" if with_adjusted_close else ""
        lines.append(f"{date},{open_},{high},{low},{close}{adjusted},{volume}")
    return lines


def read(path: Path, settings: Settings) -> pd.DataFrame:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return CsvSource(settings).read_file(str(path))


def test_yahoo_layout_with_adjusted_close(tmp_path: Path, settings_in: Settings) -> None:
    path = write(tmp_path / "y.csv", "Date,Open,High,Low,Close,Adj Close,Volume", daily_lines(True))
    frame = read(path, settings_in)
    assert is_canonical(frame)
    assert list(frame["close"]) == [row[4] for row in DAILY_ROWS]
    assert frame.index[0] == pd.Timestamp("2024-01-02", tz="UTC")


def test_unnamed_index_column_layout(tmp_path: Path, settings_in: Settings) -> None:
    path = write(tmp_path / "goog.csv", ",Open,High,Low,Close,Volume", daily_lines())
    frame = read(path, settings_in)
    assert len(frame) == len(DAILY_ROWS)
    assert frame["volume"].dtype == np.float64


@pytest.mark.parametrize("scale", [1_000, 1], ids=["epoch-ms", "epoch-s"])
def test_epoch_times_in_lower_case_layout(
    tmp_path: Path, settings_in: Settings, scale: int
) -> None:
    start = pd.Timestamp("2024-03-01", tz="UTC")
    lines = [
        f"{int((start + pd.Timedelta(hours=hour)).timestamp()) * scale},10,11,9,10.5,5"
        for hour in range(4)
    ]
    path = write(tmp_path / "e.csv", "timestamp,open,high,low,close,volume", lines)
    frame = read(path, settings_in)
    assert frame.index[0] == start
    assert CsvSource(settings_in).file_timeframe(frame) is not None
    assert str(CsvSource(settings_in).file_timeframe(frame)) == "1h"


def test_missing_volume_means_zero(tmp_path: Path, settings_in: Settings) -> None:
    path = write(tmp_path / "nv.csv", "Date,Open,High,Low,Close", ["2024-01-02,1,2,0.5,1.5"])
    assert read(path, settings_in)["volume"].tolist() == [0.0]


def test_daily_file_serves_weekly_bars_by_resampling(tmp_path: Path, settings_in: Settings) -> None:
    path = write(tmp_path / "d.csv", "Date,Open,High,Low,Close,Volume", daily_lines())
    result = load_bars(f"csv:{path}", timeframe="1w", settings=settings_in)
    assert list(result.frame.index) == [
        pd.Timestamp("2024-01-01", tz="UTC"),
        pd.Timestamp("2024-01-08", tz="UTC"),
    ]
    assert result.frame["high"].iloc[0] == 104.0
    assert result.cache_path is None
    assert not result.cache_hit


def test_whole_file_loads_without_a_range(tmp_path: Path, settings_in: Settings) -> None:
    path = write(tmp_path / "d.csv", "Date,Open,High,Low,Close,Volume", daily_lines())
    result = load_bars(f"csv:{path}", timeframe="1d", settings=settings_in)
    assert result.rows == len(DAILY_ROWS)
    trimmed = load_bars(
        f"csv:{path}", timeframe="1d", start="2024-01-03", end="2024-01-05", settings=settings_in
    )
    assert trimmed.rows == 2


@pytest.mark.parametrize(
    ("header", "rows", "message"),
    [
        ("Open,High,Low,Close", ["1,2,0.5,1.5"], "no Date, Time or Timestamp column"),
        ("Date,Open,High,Close", ["2024-01-02,1,2,1.5"], "lacks column"),
        ("Date,Open,High,Low,Close", ["soon,1,2,0.5,1.5"], "cannot read times such as 'soon'"),
        ("Date,Open,High,Low,Close", ["2024-01-02,1,0.5,2,1.5"], "high < low at 2024-01-02"),
    ],
)
def test_bad_files_are_refused_in_one_line(
    tmp_path: Path, settings_in: Settings, header: str, rows: list[str], message: str
) -> None:
    path = write(tmp_path / "bad.csv", header, rows)
    with pytest.raises(FatalSourceError, match=message) as caught:
        CsvSource(settings_in).read_file(str(path))
    assert "\n" not in str(caught.value)


def test_missing_file_and_finer_timeframe(tmp_path: Path, settings_in: Settings) -> None:
    source = CsvSource(settings_in)
    with pytest.raises(FatalSourceError, match="does not exist"):
        source.read_file(str(tmp_path / "absent.csv"))
    with pytest.raises(FatalSourceError, match="is a directory"):
        source.read_file(str(tmp_path))
    path = write(tmp_path / "d.csv", "Date,Open,High,Low,Close,Volume", daily_lines())
    window = TimeRange.of("2024-01-01", "2024-02-01")
    with pytest.raises(FatalSourceError, match="holds 1d bars"):
        source.fetch(str(path), "1h", window)


def test_one_load_reads_the_file_once(
    tmp_path: Path, settings_in: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path / "d.csv", "Date,Open,High,Low,Close,Volume", daily_lines())
    reads: list[object] = []
    real_read_csv = pd.read_csv

    def counting_read_csv(*arguments: object, **options: object) -> pd.DataFrame:
        reads.append(arguments[0])
        return real_read_csv(*arguments, **options)  # type: ignore[call-overload,no-any-return]

    monkeypatch.setattr(pd, "read_csv", counting_read_csv)
    result = load_bars(f"csv:{path}", settings=settings_in)
    assert result.rows == len(DAILY_ROWS)
    assert len(reads) == 1
    source = CsvSource(settings_in)
    assert source.read_file(str(path))["high"].iloc[1] == 103.5
    path.write_text(path.read_text().replace("101.0,103.5", "101.0,103.75"))
    assert source.read_file(str(path))["high"].iloc[1] == 103.75


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
OHLCV_HEADER = "Date,Open,High,Low,Close,Volume"


def bar_lines(times: list[str]) -> list[str]:
    return [f"{time},10,11,9,10.5,5" for time in times]


def refusal(path: Path, settings: Settings) -> str:
    with pytest.raises(FatalSourceError) as caught:
        CsvSource(settings).read_file(str(path))
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_iso_times_whose_offset_changes_for_daylight_saving_are_read_as_utc(
    tmp_path: Path, settings_in: Settings
) -> None:
    opens = ["2024-03-07T09:30:00-05:00", "2024-03-08T09:30:00-05:00"]
    opens += ["2024-03-11T09:30:00-04:00", "2024-03-12T09:30:00-04:00"]
    path = write(tmp_path / "dst.csv", OHLCV_HEADER, bar_lines(opens))
    frame = read(path, settings_in)
    assert is_canonical(frame)
    assert list(frame.index) == [
        datetime(2024, 3, 7, 14, 30, tzinfo=UTC),
        datetime(2024, 3, 8, 14, 30, tzinfo=UTC),
        datetime(2024, 3, 11, 13, 30, tzinfo=UTC),
        datetime(2024, 3, 12, 13, 30, tzinfo=UTC),
    ]


@pytest.mark.parametrize(
    ("unit", "per_second"),
    [("seconds", 1), ("milliseconds", 10**3), ("microseconds", 10**6), ("nanoseconds", 10**9)],
)
def test_epoch_numbers_are_read_in_the_unit_their_magnitude_shows(
    tmp_path: Path, settings_in: Settings, unit: str, per_second: int
) -> None:
    times = [datetime(2024, 3, 1, tzinfo=UTC) + timedelta(hours=hour) for hour in range(4)]
    numbers = [int((time - EPOCH).total_seconds()) * per_second for time in times]
    path = write(
        tmp_path / f"{unit}.csv",
        "timestamp,open,high,low,close,volume",
        bar_lines([str(number) for number in numbers]),
    )
    frame = read(path, settings_in)
    assert is_canonical(frame)
    assert list(frame.index) == times
    assert str(CsvSource(settings_in).file_timeframe(frame)) == "1h"


def test_eight_digit_integers_are_yyyymmdd_dates(tmp_path: Path, settings_in: Settings) -> None:
    path = write(
        tmp_path / "ymd.csv", OHLCV_HEADER, bar_lines(["20231229", "20240102", "20240103"])
    )
    frame = read(path, settings_in)
    assert list(frame.index) == [
        datetime(2023, 12, 29, tzinfo=UTC),
        datetime(2024, 1, 2, tzinfo=UTC),
        datetime(2024, 1, 3, tzinfo=UTC),
    ]
    assert str(CsvSource(settings_in).file_timeframe(frame)) == "1d"


def test_weekly_file_at_new_york_midnight_across_daylight_saving_loads_as_1w(
    tmp_path: Path, settings_in: Settings
) -> None:
    mondays = [datetime(2024, 2, 19) + timedelta(weeks=week) for week in range(6)]
    spring_forward = datetime(2024, 3, 10)
    local = [
        f"{monday:%Y-%m-%d}T00:00:00{'-04:00' if monday > spring_forward else '-05:00'}"
        for monday in mondays
    ]
    path = write(tmp_path / "weekly.csv", OHLCV_HEADER, bar_lines(local))
    result = load_bars(f"csv:{path}", settings=settings_in)
    assert str(result.timeframe) == "1w"
    expected = [
        monday.replace(tzinfo=UTC) + timedelta(hours=4 if monday > spring_forward else 5)
        for monday in mondays
    ]
    assert list(result.frame.index) == expected


@pytest.mark.parametrize(
    ("times", "expected"),
    [
        (["1709251200", "1709254800000"], "times mix epoch units .* write every time in one unit"),
        (["50000000000", "50000003600"], "neither a YYYYMMDD date nor epoch seconds"),
        (["12345", "15945"], "12345 in data row 1 is neither a YYYYMMDD date"),
        (["20240229", "20240230"], "20240230 in data row 2 is not a calendar date in YYYYMMDD"),
        (["9999999999", "9999999998"], "reach past 2262-04-11"),
        (["2024-03-08T09:30:00-05:00", "2024-03-11T09:30:00"], "give every time an offset"),
        (["2024-01-02", "", "2024-01-04"], "data row 2 has no time; fill it in or delete the row"),
        (["2024-01-02", "soon"], r"'soon' \(data row 2\); write ISO 8601 times"),
        (["2024-01-02T00:00:00", "2024-01-02T00:00:30"], "30 seconds apart.* 1-minute or coarser"),
        (
            ["2024-01-01", "2024-01-15", "2024-01-29"],
            "14 days apart.* daily, weekly or monthly bars",
        ),
    ],
    ids=[
        "mixed-epoch-units",
        "between-seconds-and-milliseconds",
        "too-small-for-an-epoch",
        "not-a-calendar-date",
        "beyond-2262",
        "offset-and-naive-mixed",
        "missing-time",
        "unreadable-text",
        "sub-minute-bars",
        "fortnightly-bars",
    ],
)
def test_time_refusals_are_one_line_naming_the_fix(
    tmp_path: Path, settings_in: Settings, times: list[str], expected: str
) -> None:
    path = write(tmp_path / "bad-times.csv", OHLCV_HEADER, bar_lines(times))
    assert re.search(expected, refusal(path, settings_in))
