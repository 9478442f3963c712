"""Indicators: golden equality with TA-Lib, alignment, naming, the registry and errors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest
import talib

from quantdesk.core.frame import validate_ohlcv
from quantdesk.errors import InvalidInputError, UnknownNameError
from quantdesk.indicators import (
    INDICATORS,
    adx,
    atr,
    bollinger_bands,
    cci,
    compute_indicator,
    directional_movement,
    ema,
    macd,
    mfi,
    minus_di,
    momentum,
    natr,
    obv,
    parameter_names,
    plus_di,
    roc,
    rsi,
    sma,
    stochastic,
    williams_r,
    wma,
)


def random_walk_frame(bars: int = 300, seed: int = 7) -> pd.DataFrame:
    """A canonical frame whose close is a random walk with plausible bars around it."""
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, bars)))
    open_ = np.r_[close[0], close[:-1]]
    high = np.maximum(open_, close) * (1 + rng.uniform(0, 0.005, bars))
    low = np.minimum(open_, close) * (1 - rng.uniform(0, 0.005, bars))
    volume = rng.uniform(500, 1500, bars).round()
    index = pd.date_range("2024-01-01", periods=bars, freq="h", tz="UTC", name="time")
    raw = pd.DataFrame(
        {"open": open_, "high": high, "low": low, "close": close, "volume": volume}, index=index
    )
    return validate_ohlcv(raw)


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return random_walk_frame()


def _arrays(frame: pd.DataFrame) -> dict[str, np.ndarray]:
    return {column: frame[column].to_numpy() for column in frame.columns}


# (call on our side, expected name, TA-Lib reference on the same arrays)
SERIES_CASES: list[tuple[str, Callable[[pd.DataFrame], pd.Series], str, Callable[..., Any]]] = [
    ("sma", lambda f: sma(f, 20), "sma_20", lambda a: talib.SMA(a["close"], 20)),
    ("ema", lambda f: ema(f, 10), "ema_10", lambda a: talib.EMA(a["close"], 10)),
    ("wma", lambda f: wma(f, 15), "wma_15", lambda a: talib.WMA(a["close"], 15)),
    ("rsi", lambda f: rsi(f, 14), "rsi_14", lambda a: talib.RSI(a["close"], 14)),
    (
        "atr",
        lambda f: atr(f, 14),
        "atr_14",
        lambda a: talib.ATR(a["high"], a["low"], a["close"], 14),
    ),
    (
        "natr",
        lambda f: natr(f, 7),
        "natr_7",
        lambda a: talib.NATR(a["high"], a["low"], a["close"], 7),
    ),
    (
        "adx",
        lambda f: adx(f, 14),
        "adx_14",
        lambda a: talib.ADX(a["high"], a["low"], a["close"], 14),
    ),
    (
        "plus_di",
        lambda f: plus_di(f, 14),
        "plus_di_14",
        lambda a: talib.PLUS_DI(a["high"], a["low"], a["close"], 14),
    ),
    (
        "minus_di",
        lambda f: minus_di(f, 14),
        "minus_di_14",
        lambda a: talib.MINUS_DI(a["high"], a["low"], a["close"], 14),
    ),
    ("obv", obv, "obv", lambda a: talib.OBV(a["close"], a["volume"])),
    (
        "cci",
        lambda f: cci(f, 20),
        "cci_20",
        lambda a: talib.CCI(a["high"], a["low"], a["close"], 20),
    ),
    (
        "williams_r",
        lambda f: williams_r(f, 14),
        "williams_r_14",
        lambda a: talib.WILLR(a["high"], a["low"], a["close"], 14),
    ),
    (
        "mfi",
        lambda f: mfi(f, 14),
        "mfi_14",
        lambda a: talib.MFI(a["high"], a["low"], a["close"], a["volume"], 14),
    ),
    ("roc", lambda f: roc(f, 10), "roc_10", lambda a: talib.ROC(a["close"], 10)),
    ("momentum", lambda f: momentum(f, 5), "momentum_5", lambda a: talib.MOM(a["close"], 5)),
]


@pytest.mark.parametrize(
    ("call", "name", "reference"),
    [case[1:] for case in SERIES_CASES],
    ids=[case[0] for case in SERIES_CASES],
)
def test_series_indicators_equal_talib_and_align(
    frame: pd.DataFrame,
    call: Callable[[pd.DataFrame], pd.Series],
    name: str,
    reference: Callable[..., Any],
) -> None:
    result = call(frame)
    assert isinstance(result, pd.Series)
    assert result.name == name
    assert result.dtype == np.float64
    assert result.index.equals(frame.index)
    np.testing.assert_array_equal(result.to_numpy(), reference(_arrays(frame)))
    assert result.notna().any()


FRAME_CASES: list[
    tuple[str, Callable[[pd.DataFrame], pd.DataFrame], list[str], Callable[..., Any]]
] = [
    (
        "macd",
        lambda f: macd(f, 12, 26, 9),
        ["macd", "signal", "histogram"],
        lambda a: talib.MACD(a["close"], 12, 26, 9),
    ),
    (
        "bollinger_bands",
        lambda f: bollinger_bands(f, 20, 2.5),
        ["upper", "middle", "lower"],
        lambda a: talib.BBANDS(a["close"], 20, 2.5, 2.5, 0),
    ),
    (
        "stochastic",
        lambda f: stochastic(f, 14, 3, 3),
        ["k", "d"],
        lambda a: talib.STOCH(a["high"], a["low"], a["close"], 14, 3, 0, 3, 0),
    ),
    (
        "directional_movement",
        lambda f: directional_movement(f, 10),
        ["adx", "plus_di", "minus_di"],
        lambda a: (
            talib.ADX(a["high"], a["low"], a["close"], 10),
            talib.PLUS_DI(a["high"], a["low"], a["close"], 10),
            talib.MINUS_DI(a["high"], a["low"], a["close"], 10),
        ),
    ),
]


@pytest.mark.parametrize(
    ("call", "columns", "reference"),
    [case[1:] for case in FRAME_CASES],
    ids=[case[0] for case in FRAME_CASES],
)
def test_frame_indicators_equal_talib_and_align(
    frame: pd.DataFrame,
    call: Callable[[pd.DataFrame], pd.DataFrame],
    columns: list[str],
    reference: Callable[..., Any],
) -> None:
    result = call(frame)
    assert list(result.columns) == columns
    assert result.index.equals(frame.index)
    assert (result.dtypes == np.float64).all()
    for column, expected in zip(columns, reference(_arrays(frame)), strict=True):
        np.testing.assert_array_equal(result[column].to_numpy(), expected)


def test_defaults_match_the_documented_talib_defaults(frame: pd.DataFrame) -> None:
    arrays = _arrays(frame)
    np.testing.assert_array_equal(sma(frame).to_numpy(), talib.SMA(arrays["close"], 20))
    np.testing.assert_array_equal(rsi(frame).to_numpy(), talib.RSI(arrays["close"], 14))
    expected_macd = talib.MACD(arrays["close"], 12, 26, 9)
    np.testing.assert_array_equal(macd(frame)["signal"].to_numpy(), expected_macd[1])
    expected_bands = talib.BBANDS(arrays["close"], 20, 2.0, 2.0, 0)
    np.testing.assert_array_equal(bollinger_bands(frame)["lower"].to_numpy(), expected_bands[2])


def test_single_input_indicators_read_the_chosen_column(frame: pd.DataFrame) -> None:
    from_frame = ema(frame, 10, column="open")
    np.testing.assert_array_equal(from_frame.to_numpy(), talib.EMA(frame["open"].to_numpy(), 10))
    assert not np.array_equal(from_frame.to_numpy(), ema(frame, 10).to_numpy(), equal_nan=True)


def test_a_series_is_used_as_it_is_and_keeps_its_index(frame: pd.DataFrame) -> None:
    series = pd.Series(frame["close"].to_numpy(), index=pd.RangeIndex(100, 100 + len(frame)))
    result = rsi(series, 14)
    assert result.index.equals(series.index)
    np.testing.assert_array_equal(result.to_numpy(), rsi(frame, 14).to_numpy())


def test_indicators_chain_through_leading_nans(frame: pd.DataFrame) -> None:
    smoothed = sma(rsi(frame, 14), 5)
    expected = talib.SMA(talib.RSI(frame["close"].to_numpy(), 14), 5)
    np.testing.assert_array_equal(smoothed.to_numpy(), expected)
    assert smoothed.iloc[:18].isna().all()
    assert smoothed.iloc[18:].notna().all()


def test_integer_series_are_read_as_float() -> None:
    series = pd.Series(np.arange(1, 31), name="count")
    np.testing.assert_array_equal(sma(series, 3).to_numpy(), talib.SMA(np.arange(1.0, 31.0), 3))


def test_the_input_is_not_modified(frame: pd.DataFrame) -> None:
    before = frame.copy()
    macd(frame)
    stochastic(frame)
    pd.testing.assert_frame_equal(frame, before)


@pytest.mark.parametrize("period", [0, -3])
def test_period_below_one_is_refused(frame: pd.DataFrame, period: int) -> None:
    with pytest.raises(InvalidInputError, match=r"period must be a whole number >= 1"):
        sma(frame, period)


@pytest.mark.parametrize("period", [2.5, True, "14", None])
def test_period_that_is_not_a_whole_number_is_refused(frame: pd.DataFrame, period: Any) -> None:
    with pytest.raises(InvalidInputError, match="period must be a whole number"):
        rsi(frame, period)


def test_numpy_integer_periods_are_accepted(frame: pd.DataFrame) -> None:
    assert sma(frame, np.int64(5)).name == "sma_5"


def test_rsi_needs_a_period_of_at_least_two(frame: pd.DataFrame) -> None:
    with pytest.raises(InvalidInputError, match=">= 2"):
        rsi(frame, 1)


def test_period_longer_than_the_data_is_refused(frame: pd.DataFrame) -> None:
    short = frame.iloc[:10]
    with pytest.raises(InvalidInputError, match=r"needs at least 20 bars, the data has 10"):
        sma(short, 20)
    with pytest.raises(InvalidInputError, match="use a shorter period"):
        adx(frame.iloc[:27], 14)
    assert adx(frame.iloc[:28], 14).notna().sum() == 1


def test_empty_data_is_refused(frame: pd.DataFrame) -> None:
    with pytest.raises(InvalidInputError, match="the data has 0"):
        obv(frame.iloc[:0])


def test_unknown_column_names_the_close_match(frame: pd.DataFrame) -> None:
    with pytest.raises(UnknownNameError, match=r"unknown column 'clsoe'; did you mean 'close'\?"):
        sma(frame, 5, column="clsoe")


def test_frame_without_the_needed_columns_is_refused(frame: pd.DataFrame) -> None:
    with pytest.raises(UnknownNameError, match="'volume'"):
        mfi(frame.drop(columns="volume"))


def test_multi_input_indicators_refuse_a_series(frame: pd.DataFrame) -> None:
    with pytest.raises(InvalidInputError, match="atr needs a frame with columns high, low, close"):
        atr(frame["close"])


def test_a_series_refuses_a_column(frame: pd.DataFrame) -> None:
    with pytest.raises(InvalidInputError, match="column='open' applies to frames"):
        sma(frame["close"], 5, column="open")


def test_non_numeric_data_is_refused() -> None:
    with pytest.raises(InvalidInputError, match="must be numeric"):
        sma(pd.Series(["a", "b", "c"]), 2)
    with pytest.raises(InvalidInputError, match="needs a pandas DataFrame or Series, got list"):
        sma([1.0, 2.0, 3.0], 2)  # type: ignore[arg-type]


def test_macd_refuses_a_fast_period_not_shorter_than_the_slow(frame: pd.DataFrame) -> None:
    with pytest.raises(
        InvalidInputError, match=r"fast_period \(26\) must be shorter than slow_period"
    ):
        macd(frame, 26, 12)


@pytest.mark.parametrize("deviations", [0, -1.0, float("nan"), float("inf")])
def test_bollinger_bands_refuse_bad_widths(frame: pd.DataFrame, deviations: float) -> None:
    with pytest.raises(InvalidInputError, match="deviations must be"):
        bollinger_bands(frame, 20, deviations)


def test_registry_names_every_public_indicator() -> None:
    expected = {
        "sma", "ema", "wma", "rsi", "macd", "stochastic", "cci", "williams_r", "roc",
        "momentum", "bollinger_bands", "atr", "natr", "adx", "plus_di", "minus_di",
        "directional_movement", "obv", "mfi",
    }  # fmt: skip
    assert set(INDICATORS) == expected
    for name, function in INDICATORS.items():
        assert function.__name__ == name


def test_registry_is_read_only() -> None:
    with pytest.raises(TypeError):
        INDICATORS["mine"] = sma  # type: ignore[index]


def test_compute_indicator_matches_the_direct_call(frame: pd.DataFrame) -> None:
    pd.testing.assert_series_equal(compute_indicator(frame, "rsi", period=7), rsi(frame, 7))
    pd.testing.assert_frame_equal(
        compute_indicator(frame, "macd", fast_period=5, slow_period=13), macd(frame, 5, 13)
    )
    pd.testing.assert_series_equal(compute_indicator(frame, "obv"), obv(frame))


def test_compute_indicator_names_close_matches_on_a_miss(frame: pd.DataFrame) -> None:
    with pytest.raises(
        UnknownNameError, match=r"unknown indicator 'rsii'; did you mean 'rsi'\?"
    ) as caught:
        compute_indicator(frame, "rsii")
    assert caught.value.kind == "indicator"
    assert caught.value.options == sorted(INDICATORS)


def test_compute_indicator_refuses_unknown_parameters(frame: pd.DataFrame) -> None:
    with pytest.raises(
        UnknownNameError, match=r"unknown rsi parameter 'perod'; did you mean 'period'\?"
    ):
        compute_indicator(frame, "rsi", perod=3)
    with pytest.raises(InvalidInputError, match="'obv' takes no parameters"):
        compute_indicator(frame, "obv", period=3)


def test_parameter_names_follow_the_signatures() -> None:
    assert parameter_names("macd") == ("fast_period", "slow_period", "signal_period", "column")
    assert parameter_names("obv") == ()
