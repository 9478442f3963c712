"""The saved-run codec: equity, trades and values come back exactly as they went in."""

from __future__ import annotations

import datetime
import json
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

import quantdesk
from quantdesk.engine import STAT_KEYS, BacktestResult
from quantdesk.errors import InvalidInputError, StoreError
from quantdesk.store.run_codec import (
    decode_equity,
    decode_equity_and_close,
    decode_trades,
    decode_values,
    encode_equity,
    encode_trades,
    encode_values,
)
from tests.saved_runs import assert_same_values


def through_json(values: dict[str, object]) -> dict[str, object]:
    """Encode, write strict JSON, read it back and decode."""
    text = json.dumps(encode_values(values), allow_nan=False)
    return decode_values(json.loads(text), order=list(values))


@pytest.fixture(scope="module")
def result() -> BacktestResult:
    return quantdesk.backtest(
        "sma_cross",
        "sample:BTC/USDT",
        timeframe="1h",
        start="2024-01-01",
        end="2024-03-01",
        fast=5,
        slow=20,
        short=True,
        lot_size=1e-8,
    )


def curve(
    points: int = 1_000,
    *,
    timezone: str | None = "UTC",
    unit: str = "ns",
    name: str | None = "equity",
    index_name: str | None = "time",
) -> pd.Series:
    times = pd.date_range("2024-01-01", periods=points, freq="1min", tz=timezone, name=index_name)
    index = pd.DatetimeIndex(times.as_unit(unit), freq=None)
    values = 10_000 * np.exp(np.cumsum(np.random.default_rng(7).normal(0, 1e-3, points)))
    return pd.Series(values, index=index, name=name)


def test_a_backtest_equity_curve_round_trips_exactly(result: BacktestResult) -> None:
    decoded = decode_equity(encode_equity(result.equity))
    pd.testing.assert_series_equal(decoded, result.equity, check_exact=True, check_freq=True)
    assert decoded.index.tz == datetime.UTC
    assert decoded.index.dtype == result.equity.index.dtype


@pytest.mark.parametrize(
    "series",
    [
        curve(timezone="Europe/Berlin"),
        curve(timezone=None),
        curve(unit="us"),
        curve(unit="s"),
        curve(name=None, index_name=None),
        curve(0),
        curve(1),
    ],
    ids=["berlin", "naive", "microseconds", "seconds", "unnamed", "empty", "one-point"],
)
def test_equity_curves_keep_time_zone_unit_and_names(series: pd.Series) -> None:
    decoded = decode_equity(encode_equity(series))
    pd.testing.assert_series_equal(decoded, series, check_exact=True, check_freq=True)
    assert str(decoded.index.tz) == str(series.index.tz)


def test_an_index_frequency_is_restored() -> None:
    series = pd.Series(
        np.arange(10.0), index=pd.date_range("2024-01-01", periods=10, freq="1h", tz="UTC")
    )
    decoded = decode_equity(encode_equity(series))
    pd.testing.assert_series_equal(decoded, series, check_exact=True, check_freq=True)
    assert decoded.index.freq == series.index.freq


def test_special_floats_in_an_equity_curve_keep_their_bits() -> None:
    values = [0.0, -0.0, math.nan, math.inf, -math.inf, 5e-324, 1.7976931348623157e308]
    index = pd.date_range("2024-01-01", periods=len(values), freq="1D", tz="UTC")
    series = pd.Series(values, index=pd.DatetimeIndex(index, freq=None), name="equity")
    decoded = decode_equity(encode_equity(series))
    assert decoded.to_numpy().view(np.int64).tolist() == series.to_numpy().view(np.int64).tolist()


def test_a_million_point_curve_is_compact() -> None:
    series = curve(1_000_000)
    data = encode_equity(series)
    assert len(data) < 7 * 1_000_000
    pd.testing.assert_series_equal(decode_equity(data), series, check_exact=True)


def test_the_closes_round_trip_with_the_equity(result: BacktestResult) -> None:
    equity, close = decode_equity_and_close(encode_equity(result.equity, close=result.close))
    pd.testing.assert_series_equal(equity, result.equity, check_exact=True, check_freq=True)
    assert close is not None
    pd.testing.assert_series_equal(close, result.close, check_exact=True, check_freq=True)
    assert close.name == "close"


def test_a_curve_saved_without_closes_decodes_with_none() -> None:
    series = curve(50)
    equity, close = decode_equity_and_close(encode_equity(series))
    pd.testing.assert_series_equal(equity, series, check_exact=True)
    assert close is None


def test_closes_on_another_index_are_refused() -> None:
    series = curve(50)
    shifted = pd.Series(
        np.linspace(1.0, 2.0, 50), index=series.index + pd.Timedelta(minutes=1), name="close"
    )
    with pytest.raises(InvalidInputError, match="equity curve's index") as caught:
        encode_equity(series, close=shifted)
    assert "\n" not in str(caught.value)
    with pytest.raises(InvalidInputError, match="float64"):
        encode_equity(series, close=pd.Series(range(50), index=series.index))


@pytest.mark.parametrize(
    "bad",
    [
        pd.Series([1, 2, 3]),
        pd.Series([1.0, 2.0], index=[0, 1]),
        pd.DataFrame({"equity": [1.0]}),
        [1.0, 2.0],
        pd.Series(
            [1.0], index=pd.DatetimeIndex(["2024-01-01"], tz="UTC", name="time"), name=("a", 1)
        ),
    ],
    ids=["integers", "no-times", "frame", "list", "tuple-name"],
)
def test_what_is_not_an_equity_curve_is_refused(bad: object) -> None:
    with pytest.raises(InvalidInputError) as caught:
        encode_equity(bad)  # type: ignore[arg-type]
    assert "\n" not in str(caught.value)


def test_trades_round_trip_with_dtypes_categories_and_time_zones(result: BacktestResult) -> None:
    assert len(result.trades) > 10
    decoded, extra = decode_trades(encode_trades(result.trades))
    pd.testing.assert_frame_equal(decoded, result.trades, check_exact=True)
    pd.testing.assert_index_equal(
        decoded["exit_reason"].cat.categories, result.trades["exit_reason"].cat.categories
    )
    assert decoded["entry_time"].dt.tz == datetime.UTC
    assert extra == {}


def test_an_empty_trades_table_keeps_its_columns_and_categories(result: BacktestResult) -> None:
    empty = result.trades.iloc[:0]
    decoded, _ = decode_trades(encode_trades(empty))
    pd.testing.assert_frame_equal(decoded, empty, check_exact=True)
    assert list(decoded["exit_reason"].cat.categories) == list(empty["exit_reason"].cat.categories)


def test_trades_carry_an_extra_document(result: BacktestResult) -> None:
    extra = {"position": encode_values({"when": pd.Timestamp("2024-02-01", tz="UTC")}), "n": [1]}
    _, decoded = decode_trades(encode_trades(result.trades, extra=extra))
    assert decoded == json.loads(json.dumps(extra))


def test_unstorable_trade_columns_are_refused() -> None:
    with pytest.raises(InvalidInputError, match="trades table cannot be saved"):
        encode_trades(pd.DataFrame({"mixed": [1, "a", object()]}))


@pytest.mark.parametrize("decode", [decode_equity, decode_trades])
def test_damaged_bytes_give_a_store_error(decode: object) -> None:
    with pytest.raises(StoreError, match="save the run again"):
        decode(b"not parquet at all")  # type: ignore[operator]


def test_backtest_statistics_round_trip_in_order(result: BacktestResult) -> None:
    decoded = decode_values(
        json.loads(json.dumps(encode_values(result.stats), allow_nan=False)), order=STAT_KEYS
    )
    assert_same_values(decoded, dict(result.stats))


SPECIAL_VALUES: dict[str, object] = {
    "nan": math.nan,
    "infinity": math.inf,
    "minus_infinity": -math.inf,
    "minus_zero": -0.0,
    "zero": 0.0,
    "integral_float": 1e16,
    "huge": 1.5e300,
    "tiny": 5e-324,
    "tenth": 0.1,
    "one": 1.0,
    "integer": 10,
    "big_integer": 2**80,
    "true": True,
    "none": None,
    "text": "x'; DROP TABLE quantdesk.backtests; --",
    "duration": pd.Timedelta("314 days 12:00:00.000000001"),
    "duration_in_seconds": pd.Timedelta(5, unit="s").as_unit("s"),
    "not_a_time": pd.NaT,
    # 02:30 on this day happens twice in Berlin; this is the first one.
    "berlin_time": pd.Timestamp("2024-10-27 00:30:00.000000001", tz="UTC").tz_convert(
        "Europe/Berlin"
    ),
    "utc_time": pd.Timestamp("2024-01-01", tz="UTC").as_unit("ns"),
    "naive_time": pd.Timestamp("2024-01-01 12:00").as_unit("s"),
    "offset_time": pd.Timestamp(
        "2024-01-01 12:00", tz=datetime.timezone(datetime.timedelta(hours=5))
    ),
}


def test_special_values_round_trip_through_strict_json() -> None:
    assert_same_values(through_json(SPECIAL_VALUES), SPECIAL_VALUES)


def test_numpy_scalars_come_back_as_python_scalars() -> None:
    decoded = through_json({"float": np.float64(2.5), "int": np.int64(3), "bool": np.bool_(True)})
    assert_same_values(decoded, {"float": 2.5, "int": 3, "bool": True})


@given(st.lists(st.floats(allow_nan=True, allow_infinity=True), min_size=1, max_size=50))
def test_every_float_round_trips_bit_for_bit(values: list[float]) -> None:
    named = {f"value_{position}": value for position, value in enumerate(values)}
    assert_same_values(through_json(named), named)


def test_plain_json_numbers_are_written_with_a_decimal_point_or_tagged() -> None:
    """What jsonb might turn into an integer is tagged, so it comes back a float."""
    encoded = encode_values({"integral": 1e16, "small": 1e15, "fraction": 1e-7})
    assert encoded["integral"] == {"$float": "1e+16"}
    assert json.dumps(encoded["small"]) == "1000000000000000.0"
    assert encoded["fraction"] == 1e-7


def test_the_order_puts_known_names_first() -> None:
    decoded = decode_values({"b": 1, "z": 2, "a": 3}, order=["a", "b", "missing"])
    assert list(decoded) == ["a", "b", "z"]


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"list": [1, 2]}, "'list' is a list, which cannot be saved"),
        ({"object": object()}, "cannot be saved"),
        ({"text": "a\x00b"}, "NUL character"),
        ({"a\x00b": 1}, "NUL character"),
        ({1: 1}, "names must be text"),
    ],
    ids=["list", "object", "nul-value", "nul-name", "integer-name"],
)
def test_values_that_cannot_be_saved_are_refused(values: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidInputError, match=message) as caught:
        encode_values(values, kind="parameter")
    assert "\n" not in str(caught.value)


def test_a_malformed_tag_gives_a_store_error() -> None:
    with pytest.raises(StoreError, match="'sharpe' is malformed"):
        decode_values({"sharpe": {"$timedelta": "soon"}})
