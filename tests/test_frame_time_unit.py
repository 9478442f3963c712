"""A frame that differs from canonical only in its time unit is converted cheaply.

pandas 3 builds ``datetime64[us, UTC]`` indexes by default (``pd.date_range``),
so such a frame must not take the validator's full rebuild: only its index is
converted (the columns are shared) and its values are still checked exactly as
before. ``quantdesk.backtest`` says so once per call, naming the fix.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import quantdesk
from quantdesk.core.frame import INDEX_NAME, OHLCV_COLUMNS, is_canonical, validate_ohlcv
from quantdesk.errors import DataRepairWarning, DataValidationError
from tests.frames import bars_from_closes

BARS = bars_from_closes(100 + 5 * np.sin(np.arange(60) / 3.0), spread=0.5)


def in_unit(frame: pd.DataFrame, unit: str) -> pd.DataFrame:
    return frame.set_axis(frame.index.as_unit(unit), axis=0)


@pytest.mark.parametrize("unit", ["us", "ms", "s"])
def test_only_the_index_is_converted(unit: str) -> None:
    coarse = in_unit(BARS, unit)
    assert not is_canonical(coarse)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        converted = validate_ohlcv(coarse)
    assert is_canonical(converted)
    assert converted.index.name == INDEX_NAME
    np.testing.assert_array_equal(converted.index.asi8, BARS.index.asi8)
    for column in OHLCV_COLUMNS:
        assert np.shares_memory(converted[column].to_numpy(), coarse[column].to_numpy())
    pd.testing.assert_frame_equal(converted, BARS, check_freq=False)


def test_backtest_on_a_pandas_3_frame_warns_once_and_matches_nanoseconds() -> None:
    index = pd.date_range("2024-01-01", periods=len(BARS), freq="h", tz="UTC", name=INDEX_NAME)
    frame = BARS.set_axis(index, axis=0)
    assert index.unit == "us"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        coarse = quantdesk.backtest("sma_cross", frame, fast=3, slow=8)
    repairs = [str(item.message) for item in caught if item.category is DataRepairWarning]
    assert len(repairs) == 1
    assert "unit='ns'" in repairs[0]
    fine = quantdesk.backtest(
        "sma_cross", frame.set_axis(index.as_unit("ns"), axis=0), fast=3, slow=8
    )
    pd.testing.assert_series_equal(coarse.equity, fine.equity)
    pd.testing.assert_frame_equal(coarse.trades, fine.trades)


SPOILERS = (np.nan, np.inf, -np.inf, 0.0, -1.0, 1e9)


def message(frame: pd.DataFrame) -> str | None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DataRepairWarning)
            validate_ohlcv(frame)
    except DataValidationError as error:
        return str(error)
    return None


def test_a_spoiled_frame_is_refused_with_the_same_words_in_any_unit() -> None:
    generator = np.random.default_rng(7)
    refused = 0
    for _ in range(300):
        frame = BARS.copy()
        for _ in range(int(generator.integers(1, 4))):
            row = int(generator.integers(0, len(frame)))
            column = str(generator.choice(OHLCV_COLUMNS))
            frame.iloc[row, frame.columns.get_loc(column)] = float(generator.choice(SPOILERS))
        expected = message(frame.set_axis(frame.index.as_unit("ns").rename("when"), axis=0))
        # The nanosecond frame under another index name takes the full path.
        assert message(in_unit(frame, "us")) == expected
        refused += expected is not None
    assert refused > 100


def test_backtest_refuses_a_spoiled_pandas_3_frame_with_the_validators_words() -> None:
    index = pd.date_range("2024-01-01", periods=len(BARS), freq="h", tz="UTC", name=INDEX_NAME)
    spoiled = BARS.set_axis(index, axis=0)
    spoiled.iloc[17, spoiled.columns.get_loc("low")] = np.nan
    expected = message(spoiled)
    assert expected is not None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataRepairWarning)
        with pytest.raises(DataValidationError) as refused:
            quantdesk.backtest("sma_cross", spoiled, fast=3, slow=8)
    assert str(refused.value) == expected


def test_the_same_index_is_converted_once_and_another_afresh() -> None:
    coarse = in_unit(BARS, "us")
    first, second = validate_ohlcv(coarse), validate_ohlcv(coarse)
    assert first.index is second.index  # the same index object: its conversion is reused
    other = in_unit(BARS.iloc[1:], "us")
    assert validate_ohlcv(other).index is not first.index
    np.testing.assert_array_equal(validate_ohlcv(other).index.asi8, BARS.index.asi8[1:])
