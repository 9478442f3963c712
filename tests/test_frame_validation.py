"""The canonical OHLCV frame: what the validator repairs and what it refuses."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from quantdesk.core.frame import OHLCV_COLUMNS, empty_ohlcv, is_canonical, validate_ohlcv
from quantdesk.errors import DataRepairWarning, DataValidationError
from tests.frames import bars_from_closes


@pytest.fixture
def bars() -> pd.DataFrame:
    return bars_from_closes([100, 101, 102, 101.5, 103, 104])


def validate_quietly(frame: pd.DataFrame, **options: object) -> pd.DataFrame:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return validate_ohlcv(frame, **options)  # type: ignore[arg-type]


def test_a_canonical_frame_passes_unchanged_and_without_warnings(bars: pd.DataFrame) -> None:
    result = validate_quietly(bars)
    pd.testing.assert_frame_equal(result, bars)
    assert is_canonical(result)
    assert result is not bars


def test_input_frame_is_never_modified(bars: pd.DataFrame) -> None:
    shuffled = bars.iloc[::-1].copy()
    before = shuffled.copy()
    with pytest.warns(DataRepairWarning):
        validate_ohlcv(shuffled)
    pd.testing.assert_frame_equal(shuffled, before)


def test_unsorted_rows_are_sorted_with_a_warning(bars: pd.DataFrame) -> None:
    with pytest.warns(DataRepairWarning, match="sorted"):
        result = validate_ohlcv(bars.iloc[[3, 0, 5, 1, 2, 4]])
    pd.testing.assert_frame_equal(result, bars)


def test_duplicate_timestamps_keep_the_last_row(bars: pd.DataFrame) -> None:
    replacement = bars.iloc[[2]].copy()
    replacement["volume"] = 42.0
    with pytest.warns(DataRepairWarning, match="1 duplicate"):
        result = validate_ohlcv(pd.concat([bars, replacement]))
    assert len(result) == len(bars)
    assert result["volume"].iloc[2] == 42.0


def test_integer_columns_become_float64(bars: pd.DataFrame) -> None:
    integers = bars.round().astype({"volume": np.int64, "close": np.int64})
    integers["high"] = np.maximum(integers["high"], integers["close"])
    integers["low"] = np.minimum(integers["low"], integers["close"])
    with pytest.warns(DataRepairWarning, match="float64"):
        result = validate_ohlcv(integers)
    assert all(dtype == np.float64 for dtype in result.dtypes)


def test_capitalised_columns_and_a_time_column_are_accepted(bars: pd.DataFrame) -> None:
    styled = bars.reset_index().rename(columns=str.capitalize)
    styled["Adj Close"] = styled["Close"]
    with pytest.warns(DataRepairWarning, match="renamed"):
        result = validate_ohlcv(styled)
    pd.testing.assert_frame_equal(result, bars)


def test_other_timezones_are_converted_to_utc(bars: pd.DataFrame) -> None:
    eastern = bars.tz_convert("America/New_York")
    with pytest.warns(DataRepairWarning, match="converted timestamps"):
        result = validate_ohlcv(eastern)
    pd.testing.assert_frame_equal(result, bars)


def test_naive_timestamps_need_a_timezone(bars: pd.DataFrame) -> None:
    naive = bars.tz_localize(None)
    with pytest.raises(DataValidationError, match=r"naive.*timezone="):
        validate_ohlcv(naive)
    with pytest.warns(DataRepairWarning, match="naive timestamps as UTC"):
        result = validate_ohlcv(naive, timezone="UTC")
    pd.testing.assert_frame_equal(result, bars)


def test_microsecond_indexes_become_nanoseconds(bars: pd.DataFrame) -> None:
    coarse = bars.copy()
    coarse.index = coarse.index.as_unit("us")
    assert str(validate_ohlcv(coarse).index.dtype) == "datetime64[ns, UTC]"


REFUSALS = [
    ("missing", lambda f: f.drop(columns=["volume"]), "missing column.*volume"),
    (
        "nan price",
        lambda f: f.assign(close=f["close"].where(f.index != f.index[3])),
        "NaN in 'close' at 2024-01-01 03:00",
    ),
    ("high below low", lambda f: f.assign(high=f["low"] - 1), "high < low at 2024-01-01 00:00"),
    (
        "close above high",
        lambda f: f.assign(close=f["high"] + 1),
        "'close' outside \\[low, high\\]",
    ),
    ("open below low", lambda f: f.assign(open=f["low"] - 0.1), "'open' outside"),
    ("zero price", lambda f: f.assign(low=0.0), "'low' <= 0"),
    ("negative price", lambda f: f * -1, "<= 0"),
    ("negative volume", lambda f: f.assign(volume=-1.0), "negative 'volume'"),
    ("infinite", lambda f: f.assign(volume=np.inf), "infinite 'volume'"),
    ("text", lambda f: f.assign(open=["x"] * len(f)), "non-numeric value 'x'"),
    ("empty", lambda f: f.iloc[:0], "empty"),
    ("no index", lambda f: f.reset_index(drop=True), "no DatetimeIndex"),
]


@pytest.mark.parametrize(
    ("change", "message"), [item[1:] for item in REFUSALS], ids=[item[0] for item in REFUSALS]
)
def test_unrepairable_frames_are_refused_in_one_line(
    bars: pd.DataFrame, change: object, message: str
) -> None:
    broken = change(bars)  # type: ignore[operator]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataRepairWarning)
        with pytest.raises(DataValidationError, match=message) as caught:
            validate_ohlcv(broken)
    assert "\n" not in str(caught.value)


def test_refusal_counts_every_bad_row(bars: pd.DataFrame) -> None:
    broken = bars.assign(high=bars["low"] - 1)
    with pytest.raises(DataValidationError, match=r"\(6 rows\)"):
        validate_ohlcv(broken)


def test_empty_frames_pass_only_when_allowed() -> None:
    result = validate_quietly(empty_ohlcv(), allow_empty=True)
    assert result.empty
    assert tuple(result.columns) == OHLCV_COLUMNS
    assert is_canonical(result)


def test_non_frames_are_refused() -> None:
    with pytest.raises(DataValidationError, match="DataFrame"):
        validate_ohlcv([1, 2, 3])  # type: ignore[arg-type]
