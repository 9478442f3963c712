"""The engine's one-pass price check agrees with the validator, value for value.

``prepare_prices`` checks a canonical frame with a compiled scan and asks
``validate_ohlcv`` for its one-line message only when the scan finds a
problem; both must refuse exactly the same frames, with the same words.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from quantdesk.core.frame import OHLCV_COLUMNS, validate_ohlcv
from quantdesk.engine import prepare_prices, run_backtest
from quantdesk.engine.runner import _kernel_array
from quantdesk.engine.scans import prices_are_valid_nb
from quantdesk.errors import DataValidationError, InvalidInputError
from quantdesk.strategies.signals import Signals
from tests.frames import bars_from_closes

BARS = bars_from_closes(100 + 5 * np.sin(np.arange(40) / 3.0), spread=0.5)
SPOILERS = (np.nan, np.inf, -np.inf, 0.0, -0.0, -1.0, 1e-300, 5e-324, 1.0, 1e9)


def spoiled(changes: list[tuple[int, str, float]]) -> pd.DataFrame:
    frame = BARS.copy()
    for row, column, value in changes:
        frame.iloc[row, frame.columns.get_loc(column)] = value
    return frame


def validator_message(frame: pd.DataFrame) -> str | None:
    try:
        validate_ohlcv(frame)
    except DataValidationError as error:
        return str(error)
    return None


def scan_says_valid(frame: pd.DataFrame) -> bool:
    columns = [np.ascontiguousarray(frame[name].to_numpy()).copy() for name in OHLCV_COLUMNS]
    return bool(prices_are_valid_nb(*columns))


def test_a_clean_frame_passes_both() -> None:
    assert scan_says_valid(BARS)
    assert validator_message(BARS) is None


@pytest.mark.parametrize("column", OHLCV_COLUMNS)
@pytest.mark.parametrize("value", SPOILERS)
def test_one_spoiled_value_is_judged_alike(column: str, value: float) -> None:
    frame = spoiled([(7, column, value)])
    message = validator_message(frame)
    assert scan_says_valid(frame) == (message is None)
    if message is not None:
        with pytest.raises(InvalidInputError) as error:
            prepare_prices(frame)
        assert str(error.value) == message


def test_random_spoilings_are_judged_alike() -> None:
    generator = np.random.default_rng(11)
    for _ in range(300):
        changes = [
            (
                int(generator.integers(len(BARS))),
                str(generator.choice(OHLCV_COLUMNS)),
                float(generator.choice(SPOILERS)),
            )
            for _ in range(int(generator.integers(1, 4)))
        ]
        frame = spoiled(changes)
        message = validator_message(frame)
        assert scan_says_valid(frame) == (message is None), changes
        if message is not None:
            with pytest.raises(InvalidInputError) as error:
                run_backtest(frame, Signals.from_series(np.zeros(len(frame), dtype=bool)))
            assert str(error.value) == message, changes


def test_bars_on_the_edge_of_the_range_pass() -> None:
    frame = BARS.copy()
    frame["open"] = frame["low"]
    frame["close"] = frame["high"]
    frame["volume"] = 0.0
    assert scan_says_valid(frame)
    assert validator_message(frame) is None
    flat = BARS.copy()
    for column in ("open", "high", "low", "close"):
        flat[column] = 100.0
    assert scan_says_valid(flat)


def test_prepared_prices_are_read_only_views_of_contiguous_columns() -> None:
    frame = BARS.copy()
    prices = prepare_prices(frame)
    for name in ("open", "high", "low", "close"):
        values = getattr(prices, name)
        assert np.shares_memory(values, frame[name].to_numpy())
        assert not values.flags.writeable
    before = frame.copy()
    run_backtest(frame, Signals.from_series(np.r_[True, np.zeros(len(frame) - 1, dtype=bool)]))
    pd.testing.assert_frame_equal(frame, before)


def test_later_changes_to_the_frame_do_not_reach_prepared_prices() -> None:
    frame = BARS.copy()
    prices = prepare_prices(frame)
    frame.iloc[3, frame.columns.get_loc("close")] = 1e6
    frame["open"] = frame["open"] * 2.0
    for name in ("open", "high", "low", "close"):
        np.testing.assert_array_equal(getattr(prices, name), BARS[name].to_numpy())


def test_strided_and_read_only_columns_give_the_same_result() -> None:
    bar = np.arange(len(BARS))
    signals = Signals.from_series(bar % 7 == 0, short_entries=bar % 7 == 3)
    reference = run_backtest(BARS, signals)
    rows = BARS.to_numpy().copy()
    strided = pd.DataFrame(rows, index=BARS.index, columns=BARS.columns, copy=False)
    assert not strided["close"].to_numpy().flags.c_contiguous
    columns = {name: BARS[name].to_numpy().copy() for name in OHLCV_COLUMNS}
    for values in columns.values():
        values.flags.writeable = False
    read_only = pd.DataFrame(columns, index=BARS.index, copy=False)
    for frame in (strided, read_only):
        prices = prepare_prices(frame)
        assert not prices.close.flags.writeable
        assert np.shares_memory(_kernel_array(prices.close), prices.close)
        result = run_backtest(frame, signals)
        pd.testing.assert_series_equal(result.equity, reference.equity)
        pd.testing.assert_frame_equal(result.trades, reference.trades)
        assert result.data_fingerprint == reference.data_fingerprint
