"""The Parquet cache: layout, round trips, merging, coverage, listing and damaged files."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pandas.testing import assert_frame_equal

from quantdesk.config import Settings
from quantdesk.core.frame import empty_ohlcv, is_canonical
from quantdesk.core.time_range import TimeRange
from quantdesk.core.timeframe import Timeframe
from quantdesk.data.cache import CacheEntry, CacheKey, ParquetStore
from quantdesk.data.cache.layout import escape_name, unescape_name
from quantdesk.errors import CacheError, InvalidInputError
from tests.frames import bars_from_closes

HOURLY = CacheKey.of("sample", "BTC/USDT", "1h")
MINUTELY = CacheKey.of("sample", "BTC/USDT", "1m")


def hourly_bars(start: str, periods: int, *, level: float = 100.0) -> pd.DataFrame:
    """Hourly bars whose closes climb from ``level``, so every row is distinct."""
    return bars_from_closes(level + np.arange(periods) * 0.01, start=start, frequency="1h")


def span(start: str, end: str) -> TimeRange:
    return TimeRange.of(start, end)


def data_files(store: ParquetStore, key: CacheKey) -> list[str]:
    return sorted(name for name in os.listdir(store.path(key)) if name.endswith(".parquet"))


@pytest.fixture
def store(tmp_path: Path) -> ParquetStore:
    return ParquetStore(tmp_path / "cache")


@pytest.fixture
def three_years(store: ParquetStore) -> pd.DataFrame:
    """Hourly bars from mid-2023 to early 2025, saved under ``HOURLY``."""
    frame = hourly_bars("2023-07-01", 14_000)
    store.save(HOURLY, frame, span("2023-07-01", "2025-06-01"))
    return frame


# Layout ---------------------------------------------------------------------------------


def test_series_directory_is_partitioned_by_source_symbol_and_timeframe(
    store: ParquetStore,
) -> None:
    expected = store.root / "ohlcv" / "source=sample" / "symbol=BTC%2FUSDT" / "timeframe=1h"
    assert store.path(HOURLY) == expected


def test_hourly_series_is_split_into_one_file_per_year(
    store: ParquetStore, three_years: pd.DataFrame
) -> None:
    assert data_files(store, HOURLY) == ["2023.parquet", "2024.parquet", "2025.parquet"]


def test_minute_series_is_split_into_one_file_per_month(store: ParquetStore) -> None:
    frame = bars_from_closes(np.linspace(10, 20, 3 * 24 * 60), start="2024-01-30", frequency="1min")
    store.save(MINUTELY, frame, span("2024-01-30", "2024-02-02"))

    assert data_files(store, MINUTELY) == ["2024-01.parquet", "2024-02.parquet"]


def test_from_settings_roots_the_store_at_the_resolved_cache_dir(settings_in: Settings) -> None:
    assert ParquetStore.from_settings(settings_in).root == settings_in.resolved_cache_dir


@pytest.mark.parametrize(
    "symbol", ["..", ".", "../../escape", ".hidden", "a/b\\c", "x\x00y", "ünïcödé €", "%2F", "a b"]
)
def test_any_symbol_stays_inside_the_root_and_reads_back(store: ParquetStore, symbol: str) -> None:
    key = CacheKey.of("sample", symbol, "1d")
    store.save(key, empty_ohlcv(), span("2024-01-01", "2024-01-02"))

    directory = store.path(key)
    assert directory.resolve().is_relative_to((store.root / "ohlcv").resolve())
    assert directory.parent.parent.parent == store.root / "ohlcv"
    assert [entry.key for entry in store.entries()] == [key]


@given(st.text(min_size=1))
def test_escaped_names_are_single_safe_components_and_reversible(name: str) -> None:
    escaped = escape_name(name)

    assert unescape_name(escaped) == name
    assert not escaped.startswith(".")
    assert all(
        character.isascii() and (character.isalnum() or character in "_.-~%")
        for character in escaped
    )


def test_an_overlong_symbol_is_refused_before_touching_the_disk(store: ParquetStore) -> None:
    key = CacheKey.of("sample", "/" * 100, "1h")

    with pytest.raises(InvalidInputError, match="too long"):
        store.save(key, empty_ohlcv(), span("2024-01-01", "2024-01-02"))
    assert not store.root.exists()


# Round trips ----------------------------------------------------------------------------


def test_load_returns_exactly_what_was_saved(
    store: ParquetStore, three_years: pd.DataFrame
) -> None:
    loaded = store.load(HOURLY, span("2023-01-01", "2026-01-01"))

    assert_frame_equal(loaded, three_years, check_exact=True)
    assert is_canonical(loaded)
    assert str(loaded.index.dtype) == "datetime64[ns, UTC]"
    assert loaded.index.name == "time"


@pytest.mark.parametrize(
    ("start", "end"),
    [
        ("2023-12-31 20:00", "2024-01-01 04:00"),  # across one year boundary
        ("2023-12-31", "2025-01-01 01:00"),  # across two
        ("2024-01-01", "2025-01-01"),  # exactly one chunk
        ("2024-03-05 10:30", "2024-03-05 14:30"),  # inside a chunk, not on bar starts
    ],
)
def test_load_of_a_sub_range_equals_the_slice_of_what_was_saved(
    store: ParquetStore, three_years: pd.DataFrame, start: str, end: str
) -> None:
    time_range = span(start, end)
    expected = three_years[
        (three_years.index >= time_range.start) & (three_years.index < time_range.end)
    ]

    loaded = store.load(HOURLY, time_range)

    assert len(loaded) > 0
    assert_frame_equal(loaded, expected, check_exact=True)


def test_minute_bars_round_trip_across_a_month_boundary(store: ParquetStore) -> None:
    frame = bars_from_closes(np.linspace(10, 20, 4 * 24 * 60), start="2024-02-28", frequency="1min")
    store.save(MINUTELY, frame, span("2024-02-28", "2024-03-03"))

    loaded = store.load(MINUTELY, span("2024-02-29 23:00", "2024-03-01 01:00"))

    assert_frame_equal(loaded, frame.loc["2024-02-29 23:00":"2024-03-01 00:59"], check_exact=True)
    assert len(loaded) == 120


def test_the_end_of_a_range_is_excluded_and_its_start_included(
    store: ParquetStore, three_years: pd.DataFrame
) -> None:
    loaded = store.load(HOURLY, span("2024-06-01 05:00", "2024-06-01 08:00"))

    assert list(loaded.index.strftime("%H:%M")) == ["05:00", "06:00", "07:00"]


def test_a_range_without_bars_loads_as_the_canonical_empty_frame(
    store: ParquetStore, three_years: pd.DataFrame
) -> None:
    assert_frame_equal(store.load(HOURLY, span("2020-01-01", "2021-01-01")), empty_ohlcv())
    assert_frame_equal(
        store.load(HOURLY, span("2024-06-01 05:10", "2024-06-01 05:50")), empty_ohlcv()
    )


def test_an_unknown_series_loads_empty_and_has_no_coverage(store: ParquetStore) -> None:
    assert_frame_equal(store.load(HOURLY, span("2024-01-01", "2024-02-01")), empty_ohlcv())
    assert store.coverage(HOURLY) == []
    assert store.missing(HOURLY, span("2024-01-01", "2024-02-01")) == [
        span("2024-01-01", "2024-02-01")
    ]


def test_series_with_other_timeframes_or_symbols_stay_apart(
    store: ParquetStore, three_years: pd.DataFrame
) -> None:
    time_range = span("2024-01-01", "2024-02-01")

    assert store.load(CacheKey.of("sample", "BTC/USDT", "4h"), time_range).empty
    assert store.load(CacheKey.of("sample", "ETH/USDT", "1h"), time_range).empty
    assert store.load(CacheKey.of("other", "BTC/USDT", "1h"), time_range).empty


# Merging --------------------------------------------------------------------------------


def test_overlapping_saves_keep_one_row_per_timestamp_and_the_newest_values(
    store: ParquetStore,
) -> None:
    older = hourly_bars("2023-12-30", 72, level=100.0)
    newer = hourly_bars("2023-12-31 12:00", 72, level=500.0)
    store.save(HOURLY, older, span("2023-12-30", "2024-01-02"))
    store.save(HOURLY, newer, span("2023-12-31 12:00", "2024-01-03 12:00"))

    loaded = store.load(HOURLY, span("2023-01-01", "2025-01-01"))

    expected = pd.concat([older[older.index < newer.index[0]], newer])
    assert_frame_equal(loaded, expected, check_exact=True)
    assert loaded.index.is_unique
    assert loaded.index.is_monotonic_increasing


def test_a_save_older_than_the_cached_bars_is_merged_in_time_order(store: ParquetStore) -> None:
    later = hourly_bars("2024-03-01", 48)
    earlier = hourly_bars("2024-02-01", 48, level=300.0)
    store.save(HOURLY, later, span("2024-03-01", "2024-03-03"))
    store.save(HOURLY, earlier, span("2024-02-01", "2024-02-03"))

    loaded = store.load(HOURLY, span("2024-01-01", "2024-04-01"))

    assert_frame_equal(loaded, pd.concat([earlier, later]), check_exact=True)


def test_replace_drops_every_bar_and_range_the_new_frame_does_not_have(
    store: ParquetStore, three_years: pd.DataFrame
) -> None:
    replacement = hourly_bars("2024-05-01", 24, level=900.0)

    store.replace(HOURLY, replacement, span("2024-05-01", "2024-05-02"))

    assert_frame_equal(store.load(HOURLY, span("2020-01-01", "2030-01-01")), replacement)
    assert store.coverage(HOURLY) == [span("2024-05-01", "2024-05-02")]
    assert data_files(store, HOURLY) == ["2024.parquet"]


# Coverage -------------------------------------------------------------------------------


def test_coverage_records_the_whole_range_saved_even_where_it_holds_no_bars(
    store: ParquetStore,
) -> None:
    weekdays = hourly_bars("2024-01-01", 24 * 5)  # Monday to Friday
    store.save(HOURLY, weekdays, span("2024-01-01", "2024-01-08"))  # the whole week

    assert store.coverage(HOURLY) == [span("2024-01-01", "2024-01-08")]
    assert store.missing(HOURLY, span("2024-01-06", "2024-01-08")) == []
    assert store.load(HOURLY, span("2024-01-06", "2024-01-08")).empty


def test_an_empty_frame_records_coverage_and_creates_no_data_file(store: ParquetStore) -> None:
    store.save(HOURLY, empty_ohlcv(), span("2024-01-06", "2024-01-08"))

    assert store.coverage(HOURLY) == [span("2024-01-06", "2024-01-08")]
    assert data_files(store, HOURLY) == []


def test_coverage_is_merged_and_missing_lists_the_gaps(store: ParquetStore) -> None:
    store.save(HOURLY, empty_ohlcv(), span("2024-03-01", "2024-04-01"))
    store.save(HOURLY, empty_ohlcv(), span("2024-01-01", "2024-02-01"))
    store.save(HOURLY, empty_ohlcv(), span("2024-01-15", "2024-02-10"))
    store.save(HOURLY, empty_ohlcv(), span("2024-04-01", "2024-04-05"))  # touches the first

    assert store.coverage(HOURLY) == [
        span("2024-01-01", "2024-02-10"),
        span("2024-03-01", "2024-04-05"),
    ]
    assert store.missing(HOURLY, span("2023-12-01", "2024-05-01")) == [
        span("2023-12-01", "2024-01-01"),
        span("2024-02-10", "2024-03-01"),
        span("2024-04-05", "2024-05-01"),
    ]


def test_coverage_survives_a_new_store_on_the_same_root(
    store: ParquetStore, three_years: pd.DataFrame
) -> None:
    reopened = ParquetStore(store.root)

    assert reopened.coverage(HOURLY) == [span("2023-07-01", "2025-06-01")]
    assert_frame_equal(reopened.load(HOURLY, span("2020-01-01", "2030-01-01")), three_years)


def test_coverage_keeps_nanosecond_precision(store: ParquetStore) -> None:
    precise = TimeRange(
        pd.Timestamp("2024-01-01 00:00:00.000000001", tz="UTC"),
        pd.Timestamp("2024-01-02 00:00:00.999999999", tz="UTC"),
    )
    store.save(HOURLY, empty_ohlcv(), precise)

    assert ParquetStore(store.root).coverage(HOURLY) == [precise]


# Refused input --------------------------------------------------------------------------


def not_canonical_frames() -> list[pd.DataFrame]:
    frame = hourly_bars("2024-01-01", 5)
    naive = frame.tz_localize(None)
    integers = frame.astype({"volume": "int64"})
    reversed_rows = frame.iloc[::-1]
    renamed = frame.rename_axis("date")
    extra = frame.assign(trades=1.0)
    return [naive, integers, reversed_rows, renamed, extra]


@pytest.mark.parametrize("frame", not_canonical_frames())
def test_save_refuses_a_frame_that_is_not_canonical(
    store: ParquetStore, frame: pd.DataFrame
) -> None:
    with pytest.raises(InvalidInputError, match="validate_ohlcv") as raised:
        store.save(HOURLY, frame, span("2024-01-01", "2024-01-02"))

    assert "\n" not in str(raised.value)
    assert not store.root.exists()


def test_save_refuses_invalid_values(store: ParquetStore) -> None:
    frame = hourly_bars("2024-01-01", 5)
    frame.iloc[2, 3] = np.nan

    with pytest.raises(InvalidInputError, match="NaN"):
        store.save(HOURLY, frame, span("2024-01-01", "2024-01-02"))
    assert not store.root.exists()


@pytest.mark.parametrize(
    ("start", "end", "first_outside"),
    [
        ("2024-01-01 01:00", "2024-01-02", "2024-01-01 00:00:00+00:00"),
        ("2024-01-01", "2024-01-01 04:00", "2024-01-01 04:00:00+00:00"),  # the end is excluded
    ],
)
def test_save_refuses_bars_outside_the_covered_range(
    store: ParquetStore, start: str, end: str, first_outside: str
) -> None:
    frame = hourly_bars("2024-01-01", 5)

    with pytest.raises(InvalidInputError, match="outside the covered range") as raised:
        store.save(HOURLY, frame, span(start, end))

    assert first_outside in str(raised.value)
    assert "\n" not in str(raised.value)
    assert store.coverage(HOURLY) == []


def test_keys_and_ranges_of_the_wrong_type_are_refused(store: ParquetStore) -> None:
    frame = hourly_bars("2024-01-01", 5)
    with pytest.raises(InvalidInputError, match="CacheKey"):
        store.load(("sample", "BTC/USDT", "1h"), span("2024-01-01", "2024-01-02"))  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="TimeRange"):
        store.save(HOURLY, frame, ("2024-01-01", "2024-01-02"))  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="DataFrame"):
        store.save(HOURLY, frame.to_numpy(), span("2024-01-01", "2024-01-02"))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("source", "symbol", "timeframe"),
    [
        ("", "BTC/USDT", Timeframe.parse("1h")),
        ("sample", "", Timeframe.parse("1h")),
        ("sample", "BTC/USDT", "1h"),
    ],
)
def test_a_cache_key_refuses_empty_names_and_untyped_timeframes(
    source: str, symbol: str, timeframe: Timeframe
) -> None:
    with pytest.raises(InvalidInputError):
        CacheKey(source, symbol, timeframe)


def test_cache_key_of_parses_the_timeframe() -> None:
    assert CacheKey.of("sample", "BTC/USDT", "60m") == HOURLY


# Listing and removal --------------------------------------------------------------------


def test_entries_describe_every_series(store: ParquetStore, three_years: pd.DataFrame) -> None:
    weekend = CacheKey.of("csv", "data/goog.csv", "1d")
    store.save(weekend, empty_ohlcv(), span("2024-01-06", "2024-01-08"))

    entries = store.entries()

    files = [path for path in store.path(HOURLY).iterdir() if path.is_file()]
    assert entries == [
        CacheEntry(
            key=weekend,
            rows=0,
            first=None,
            last=None,
            size_bytes=entries[0].size_bytes,
            coverage=(span("2024-01-06", "2024-01-08"),),
        ),
        CacheEntry(
            key=HOURLY,
            rows=len(three_years),
            first=three_years.index[0],
            last=three_years.index[-1],
            size_bytes=sum(path.stat().st_size for path in files),
            coverage=(span("2023-07-01", "2025-06-01"),),
        ),
    ]
    assert entries[1].size_bytes > 100_000


def test_entries_of_an_empty_root_are_empty(store: ParquetStore) -> None:
    assert store.entries() == []


def test_remove_deletes_bars_and_coverage_of_that_series_only(
    store: ParquetStore, three_years: pd.DataFrame
) -> None:
    other = CacheKey.of("sample", "ETH/USDT", "1h")
    store.save(other, hourly_bars("2024-01-01", 10), span("2024-01-01", "2024-01-02"))

    store.remove(HOURLY)

    assert store.load(HOURLY, span("2020-01-01", "2030-01-01")).empty
    assert store.coverage(HOURLY) == []
    assert data_files(store, HOURLY) == []
    assert [entry.key for entry in store.entries()] == [other]
    assert len(store.load(other, span("2024-01-01", "2024-01-02"))) == 10


def test_removing_an_unknown_series_does_nothing(store: ParquetStore) -> None:
    store.remove(HOURLY)

    assert not store.root.exists()


def test_a_removed_series_can_be_saved_again(
    store: ParquetStore, three_years: pd.DataFrame
) -> None:
    store.remove(HOURLY)
    frame = hourly_bars("2024-02-01", 5)
    store.save(HOURLY, frame, span("2024-02-01", "2024-02-02"))

    assert_frame_equal(store.load(HOURLY, span("2020-01-01", "2030-01-01")), frame)
    assert store.coverage(HOURLY) == [span("2024-02-01", "2024-02-02")]


# Damaged files --------------------------------------------------------------------------


def test_a_load_opens_only_the_chunk_files_its_range_needs(
    store: ParquetStore, three_years: pd.DataFrame
) -> None:
    directory = store.path(HOURLY)
    (directory / "2023.parquet").write_bytes(b"not parquet at all")
    (directory / "2025.parquet").write_bytes(b"not parquet at all")

    loaded = store.load(HOURLY, span("2024-01-01", "2025-01-01"))

    assert_frame_equal(loaded, three_years.loc["2024"], check_exact=True)
    with pytest.raises(CacheError, match=r"2023\.parquet"):
        store.load(HOURLY, span("2023-12-31 23:00", "2024-01-01 01:00"))
    with pytest.raises(CacheError, match=r"2025\.parquet"):
        store.load(HOURLY, span("2024-12-31 23:00", "2025-01-01 01:00"))


def assert_one_line_cache_error(raised: pytest.ExceptionInfo[CacheError], path: Path) -> None:
    message = str(raised.value)
    assert type(raised.value) is CacheError
    assert str(path) in message
    assert "quantdesk data rm sample:BTC/USDT --timeframe 1h" in message
    assert "\n" not in message
    assert raised.value.__cause__ is None
    assert raised.value.__suppress_context__


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda content: b"garbage" * 100, id="garbage"),
        pytest.param(lambda content: content[: len(content) // 2], id="truncated"),
        pytest.param(lambda content: b"", id="empty"),
        pytest.param(lambda content: content[:100] + b"\x00" * 500 + content[600:], id="zeroed"),
    ],
)
def test_a_damaged_chunk_file_gives_a_one_line_cache_error(
    store: ParquetStore, three_years: pd.DataFrame, damage: object
) -> None:
    path = store.path(HOURLY) / "2024.parquet"
    path.write_bytes(damage(path.read_bytes()))  # type: ignore[operator]

    with pytest.raises(CacheError) as raised:
        store.load(HOURLY, span("2024-02-01", "2024-03-01"))

    assert_one_line_cache_error(raised, path)


def test_a_chunk_file_with_other_columns_gives_a_cache_error(
    store: ParquetStore, three_years: pd.DataFrame
) -> None:
    path = store.path(HOURLY) / "2024.parquet"
    pd.DataFrame({"time": [1, 2], "price": [1.0, 2.0]}).to_parquet(path)

    with pytest.raises(CacheError, match="unexpected columns") as raised:
        store.load(HOURLY, span("2024-02-01", "2024-03-01"))

    assert_one_line_cache_error(raised, path)


def test_a_damaged_chunk_file_is_reported_when_saving_into_it(
    store: ParquetStore, three_years: pd.DataFrame
) -> None:
    path = store.path(HOURLY) / "2024.parquet"
    path.write_bytes(b"garbage")

    with pytest.raises(CacheError) as raised:
        store.save(HOURLY, hourly_bars("2024-02-01", 3), span("2024-02-01", "2024-02-02"))

    assert_one_line_cache_error(raised, path)


def test_a_damaged_chunk_file_is_reported_when_listing(
    store: ParquetStore, three_years: pd.DataFrame
) -> None:
    path = store.path(HOURLY) / "2024.parquet"
    path.write_bytes(b"garbage")

    with pytest.raises(CacheError) as raised:
        store.entries()

    assert_one_line_cache_error(raised, path)


@pytest.mark.parametrize(
    "content",
    [
        b"{not json",
        b"\xff\xfe",
        json.dumps({"format": 99, "ranges": []}).encode(),
        json.dumps({"format": 1, "ranges": [["2024-02-01", "2024-01-01"]]}).encode(),
        json.dumps({"format": 1, "ranges": [["yesterday", "today"]]}).encode(),
        json.dumps({"format": 1, "ranges": "all"}).encode(),
        json.dumps([1, 2]).encode(),
    ],
)
def test_a_damaged_coverage_file_gives_a_one_line_cache_error(
    store: ParquetStore, three_years: pd.DataFrame, content: bytes
) -> None:
    path = store.path(HOURLY) / "coverage.json"
    path.write_bytes(content)

    with pytest.raises(CacheError, match="coverage file") as raised:
        store.missing(HOURLY, span("2024-01-01", "2024-02-01"))

    assert_one_line_cache_error(raised, path)


def test_a_removal_clears_damaged_files(store: ParquetStore, three_years: pd.DataFrame) -> None:
    (store.path(HOURLY) / "2024.parquet").write_bytes(b"garbage")
    (store.path(HOURLY) / "coverage.json").write_bytes(b"garbage")

    store.remove(HOURLY)

    assert store.entries() == []
    assert store.load(HOURLY, span("2020-01-01", "2030-01-01")).empty


def test_files_that_are_not_chunks_are_ignored(
    store: ParquetStore, three_years: pd.DataFrame
) -> None:
    directory = store.path(HOURLY)
    (directory / ".2024.parquet.0123abcd.tmp").write_bytes(b"half-written")
    (directory / "notes.txt").write_text("mine")
    (directory / "2024-01.parquet").write_bytes(b"a monthly name in a yearly series")

    loaded = store.load(HOURLY, span("2020-01-01", "2030-01-01"))

    assert_frame_equal(loaded, three_years, check_exact=True)


def test_directories_that_name_no_series_are_left_out_of_the_entries(
    store: ParquetStore, three_years: pd.DataFrame
) -> None:
    series = store.root / "ohlcv" / "source=sample"
    (series / "symbol=BTC%2FUSDT" / "timeframe=60m").mkdir()  # not the canonical "1h"
    (series / "symbol=BTC%2FUSDT" / "timeframe=1month").mkdir()
    (series / "symbol=.." / "timeframe=1h").mkdir(parents=True)  # not how ".." is escaped
    (store.root / "ohlcv" / "scratch").mkdir()

    assert [entry.key for entry in store.entries()] == [HOURLY]
