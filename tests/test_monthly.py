"""The calendar-month timeframe ``1M``: parsing, CSV files, resampling, gaps and statistics."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from quantdesk.config import Settings
from quantdesk.core.frame import validate_ohlcv
from quantdesk.core.gaps import gap_report
from quantdesk.core.resample import resample_ohlcv
from quantdesk.core.timeframe import MONTH, Timeframe
from quantdesk.data.loader import load_bars
from quantdesk.data.sources.csv import CsvSource
from quantdesk.engine import run_backtest
from quantdesk.engine.stats import annualisation
from quantdesk.errors import FatalSourceError, InvalidInputError
from quantdesk.strategies.signals import Signals
from tests.frames import bars_from_closes

HEADER = "Date,Open,High,Low,Close,Volume"
MONTH_ENDS = [
    *("2023-07-31", "2023-08-31", "2023-09-29", "2023-10-31", "2023-11-30", "2023-12-29"),
    *("2024-01-31", "2024-02-29", "2024-03-28", "2024-04-30", "2024-05-31", "2024-06-28"),
]


def write_bars(path: Path, dates: list[str]) -> Path:
    lines = [
        f"{date},{10 + at},{12 + at},{9 + at},{11 + at},{100 * (at + 1)}"
        for at, date in enumerate(dates)
    ]
    path.write_text("\n".join([HEADER, *lines]) + "\n")
    return path


def one_line_refusal(error: type[Exception], call: object, *arguments: object) -> str:
    with pytest.raises(error) as caught:
        call(*arguments)  # type: ignore[operator]
    message = str(caught.value)
    assert "\n" not in message
    return message


def utc(*texts: str) -> list[pd.Timestamp]:
    return [pd.Timestamp(text, tz="UTC") for text in texts]


@pytest.mark.parametrize("text", ["1M", " 1M ", "1mo", "1month", "1 Months", "1MON"])
def test_a_calendar_month_is_spelled_with_a_capital_m(text: str) -> None:
    month = Timeframe.parse(text)
    assert month == MONTH
    assert month.is_calendar_month
    assert str(month) == "1M"
    assert repr(month) == "Timeframe('1M')"
    assert "calendar month" in month.description
    assert Timeframe.parse("1m") != month
    assert Timeframe.parse("1m").description == "1 minute"
    assert Timeframe.parse("4h").description == "4 hours"


def test_a_month_sorts_after_a_week_and_hashes() -> None:
    assert Timeframe.parse("1w") < MONTH
    assert sorted([MONTH, Timeframe.parse("1m"), Timeframe.parse("1d")])[-1] == MONTH
    assert {MONTH: "x"}[Timeframe.parse("1mo")] == "x"


@pytest.mark.parametrize(
    ("text", "hint"),
    [
        ("15M", "did you mean '15m' (15 minutes) or '1M'"),
        ("3M", "did you mean '3m' (3 minutes) or '1M'"),
        ("1ME", "did you mean '1M'"),
        ("1MS", "did you mean '1M'"),
        ("2mo", "only '1M'"),
    ],
)
def test_mistyped_and_unsupported_months_name_the_fix_in_one_line(text: str, hint: str) -> None:
    message = one_line_refusal(InvalidInputError, Timeframe.parse, text)
    assert hint in message


def test_a_month_has_no_fixed_length() -> None:
    message = one_line_refusal(InvalidInputError, lambda: MONTH.timedelta)
    assert "no fixed length" in message


def test_month_buckets_and_steps_follow_the_calendar() -> None:
    times = pd.DatetimeIndex(
        ["1969-12-31 23:00", "2024-01-31 23:59", "2024-02-29 12:00", "2024-12-31"], tz="UTC"
    ).as_unit("ns")
    starts = pd.DatetimeIndex(MONTH.bucket_starts(times.asi8), tz="UTC")
    assert list(starts) == utc("1969-12-01", "2024-01-01", "2024-02-01", "2024-12-01")
    assert (
        MONTH.bar_start(pd.Timestamp("2024-03-01 00:30", tz="Europe/Berlin"))
        == utc("2024-02-01")[0]
    )
    assert MONTH.shift(pd.Timestamp("2024-01-01", tz="UTC")) == utc("2024-02-01")[0]
    assert MONTH.shift(pd.Timestamp("2024-12-01", tz="UTC"), 3) == utc("2025-03-01")[0]
    assert MONTH.shift(pd.Timestamp("2024-03-01", tz="UTC"), -1) == utc("2024-02-01")[0]
    assert (
        Timeframe.parse("1h").shift(pd.Timestamp("2024-03-01", tz="UTC"), 2)
        == utc("2024-03-01 02:00")[0]
    )
    assert MONTH.is_multiple_of(Timeframe.parse("1d"))
    assert MONTH.is_multiple_of(Timeframe.parse("4h"))
    assert not MONTH.is_multiple_of(Timeframe.parse("1w"))
    assert not Timeframe.parse("1d").is_multiple_of(MONTH)


def test_a_monthly_file_dated_on_the_first_is_read_as_months(
    tmp_path: Path, settings_in: Settings
) -> None:
    dates = [f"2023-{month:02d}-01" for month in range(3, 13)] + ["2024-01-01", "2024-02-01"]
    path = write_bars(tmp_path / "monthly.csv", dates)
    result = load_bars(f"csv:{path}", settings=settings_in)
    assert result.timeframe == MONTH
    assert list(result.frame.index) == utc(*dates)
    assert list(result.frame["close"]) == [11.0 + at for at in range(len(dates))]
    assert result.time_range.end == pd.Timestamp("2024-03-01", tz="UTC")
    again = load_bars(f"csv:{path}", timeframe="1M", start="2023-06-01", settings=settings_in)
    assert list(again.frame.index) == utc(*dates[3:])


def test_month_end_dates_are_stamped_at_their_month_start(
    tmp_path: Path, settings_in: Settings
) -> None:
    path = write_bars(tmp_path / "month-ends.csv", MONTH_ENDS)
    frame = CsvSource(settings_in).read_file(str(path))
    assert list(frame.index) == list(pd.date_range("2023-07-01", "2024-06-01", freq="MS", tz="UTC"))
    assert CsvSource(settings_in).native_timeframe(str(path)) == MONTH


def test_two_bars_in_one_month_are_refused(tmp_path: Path, settings_in: Settings) -> None:
    dates = [*MONTH_ENDS[:7], "2024-02-15", *MONTH_ENDS[7:]]
    path = write_bars(tmp_path / "twice.csv", dates)
    message = one_line_refusal(FatalSourceError, CsvSource(settings_in).read_file, str(path))
    assert "2024-02-15 (data row 8) and 2024-02-29 (data row 9) both fall in February 2024" in (
        message
    )
    assert "one bar a month" in message


def test_a_monthly_file_cannot_serve_daily_bars(tmp_path: Path, settings_in: Settings) -> None:
    path = write_bars(tmp_path / "monthly.csv", [f"2024-{month:02d}-01" for month in range(1, 7)])
    with pytest.raises(FatalSourceError, match=r"ask for --timeframe 1M$"):
        load_bars(f"csv:{path}", timeframe="1d", settings=settings_in)


def test_a_daily_file_serves_calendar_months(tmp_path: Path, settings_in: Settings) -> None:
    days = pd.bdate_range("2024-01-02", "2024-04-30")
    path = write_bars(tmp_path / "daily.csv", [f"{day:%Y-%m-%d}" for day in days])
    daily = CsvSource(settings_in).read_file(str(path))
    monthly = load_bars(f"csv:{path}", timeframe="1M", settings=settings_in).frame
    assert list(monthly.index) == list(
        pd.date_range("2024-01-01", "2024-04-01", freq="MS", tz="UTC")
    )
    for label, row in monthly.iterrows():
        inside = daily[(daily.index >= label) & (daily.index < label + pd.DateOffset(months=1))]
        assert (row["open"], row["close"]) == (inside["open"].iloc[0], inside["close"].iloc[-1])
        assert (row["high"], row["low"]) == (inside["high"].max(), inside["low"].min())
        assert row["volume"] == inside["volume"].sum()


def daily_bars(start: str, end: str, *, seed: int = 7) -> pd.DataFrame:
    days = pd.date_range(start, end, freq="D", tz="UTC", inclusive="left")
    generator = np.random.default_rng(seed)
    closes = 100 * np.exp(np.cumsum(generator.normal(0, 0.01, len(days))))
    volumes = generator.uniform(1, 1_000, len(days))
    frame = bars_from_closes(closes, start=start, frequency="1D", volume=volumes)
    return validate_ohlcv(frame.drop(frame.index[frame.index.day_of_week >= 5]))


def test_daily_bars_resample_to_calendar_months_computed_by_hand() -> None:
    daily = daily_bars("2023-11-01", "2024-04-01")
    monthly = resample_ohlcv(daily, "1M", source_timeframe="1d")
    labels = utc("2023-11-01", "2023-12-01", "2024-01-01", "2024-02-01", "2024-03-01")
    assert list(monthly.index) == labels
    times = daily.index.asi8
    for label, row in zip(labels, monthly.itertuples(), strict=True):
        following = label + pd.DateOffset(months=1)
        inside = (times >= label.value) & (times < following.value)
        assert row.open == daily["open"].to_numpy()[inside][0]
        assert row.high == np.max(daily["high"].to_numpy()[inside])
        assert row.low == np.min(daily["low"].to_numpy()[inside])
        assert row.close == daily["close"].to_numpy()[inside][-1]
        assert row.volume == pytest.approx(np.sum(daily["volume"].to_numpy()[inside]), rel=1e-12)
    assert gap_report(monthly, "1M").empty


def test_weekly_bars_cannot_make_months_nor_months_anything_else() -> None:
    weekly = bars_from_closes([1.0, 2.0, 3.0], start="2024-01-01", frequency="7D")
    message = one_line_refusal(
        InvalidInputError, lambda: resample_ohlcv(weekly, "1M", source_timeframe="1w")
    )
    assert "weeks do not tile months" in message
    monthly = resample_ohlcv(daily_bars("2024-01-01", "2024-04-01"), "1M")
    for target in ("1d", "1w"):
        with pytest.raises(InvalidInputError, match="finer than") as caught:
            resample_ohlcv(monthly, target, source_timeframe="1M")
        assert "\n" not in str(caught.value)


def test_a_missing_month_is_reported_as_a_gap() -> None:
    months = pd.date_range("2023-10-01", "2024-06-01", freq="MS", tz="UTC")
    frame = bars_from_closes(np.arange(1.0, len(months) + 1), frequency="1D")
    frame.index = pd.DatetimeIndex(months.as_unit("ns"), name="time", freq=None)
    holey = frame.drop(utc("2024-02-01", "2024-03-01") + utc("2023-12-01"))
    report = gap_report(holey, "1M")
    assert list(report["gap_start"]) == utc("2023-12-01", "2024-02-01")
    assert list(report["gap_end"]) == utc("2024-01-01", "2024-04-01")
    assert list(report["missing_bars"]) == [1, 2]
    assert list(report["duration"]) == [pd.Timedelta(days=31), pd.Timedelta(days=60)]


def test_monthly_bars_have_twelve_periods_a_year_even_when_few() -> None:
    for start, count in (("2024-02-01", 4), ("2020-01-01", 60), ("2024-01-01", 2)):
        months = pd.date_range(start, periods=count, freq="MS", tz="UTC")
        assert annualisation(pd.DatetimeIndex(months)) == ("ME", 12.0)
    months = pd.date_range("2021-01-01", periods=36, freq="MS", tz="UTC")
    closes = 100 * np.cumprod(1 + np.sin(np.arange(36)) / 50)
    frame = bars_from_closes(closes, frequency="1D", spread=0.0)
    frame.index = pd.DatetimeIndex(months.as_unit("ns"), name="time", freq=None)
    entries = np.zeros(36, dtype=bool)
    entries[0] = True
    result = run_backtest(frame, Signals.from_series(entries))
    equity = result.equity.to_numpy()
    returns = equity[1:] / equity[:-1] - 1
    expected = returns.mean() / returns.std(ddof=1) * np.sqrt(12)
    assert result.stats["sharpe"] == pytest.approx(expected, rel=1e-9)


def test_shifting_by_months_clamps_the_day_as_pandas_does() -> None:
    moments = utc("2024-03-31 10:00", "2024-01-31", "2023-12-15 06:30", "1969-12-31 23:00")
    for moment in moments:
        for bars in (-13, -1, 1, 2, 25):
            assert MONTH.shift(moment, bars) == moment + pd.DateOffset(months=bars)
    starts = np.array([moment.value for moment in utc("2024-01-01", "2024-01-01", "2024-03-01")])
    later = np.array([moment.value for moment in utc("2024-02-01", "2024-01-31", "2025-03-01")])
    assert list(MONTH.bars_between(starts, later)) == [1, 0, 12]


def test_monthly_sample_bars_are_cached_apart_from_minutes_and_match_daily_ones(
    settings_in: Settings,
) -> None:
    window = {"start": "2024-01-01", "end": "2024-07-01", "settings": settings_in}
    first = load_bars("sample:BTC/USDT", timeframe="1M", **window)
    again = load_bars("sample:BTC/USDT", timeframe="1M", **window)
    assert not first.cache_hit
    assert again.cache_hit
    assert first.cache_path is not None
    assert first.cache_path.name == "timeframe=1mo"
    assert list(first.frame.index) == list(
        pd.date_range("2024-01-01", "2024-06-01", freq="MS", tz="UTC")
    )
    daily = load_bars("sample:BTC/USDT", timeframe="1d", **window).frame
    pd.testing.assert_frame_equal(again.frame, resample_ohlcv(daily, "1M"), check_freq=False)
    minutes = load_bars(
        "sample:BTC/USDT",
        timeframe="1m",
        start="2024-01-01",
        end="2024-01-01 01:00",
        settings=settings_in,
    )
    assert minutes.cache_path is not None
    assert minutes.cache_path != first.cache_path
