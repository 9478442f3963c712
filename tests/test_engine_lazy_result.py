"""The parts of a result computed on first access: same values, kept, frozen, picklable."""

from __future__ import annotations

import dataclasses
import pickle

import numpy as np
import pandas as pd
import pytest

from quantdesk.engine import BacktestConfig, BacktestResult, data_fingerprint, run_backtest
from quantdesk.engine.stats import compute_statistics, drawdown_fraction
from quantdesk.strategies.signals import Signals
from tests.frames import bars_from_closes

CLOSES = 100 * np.exp(np.cumsum(np.random.default_rng(7).normal(0, 0.01, 3_000)))
BARS = bars_from_closes(CLOSES, frequency="1h", spread=0.2)
BAR = np.arange(len(BARS))
SIGNALS = Signals.from_series(BAR % 50 == 0, short_entries=BAR % 50 == 25)
CONFIG = BacktestConfig(commission=0.001)
COMPUTED_ON_DEMAND = ("trades", "drawdown", "stats", "data_fingerprint")


def fresh_result(frame: pd.DataFrame = BARS) -> BacktestResult:
    return run_backtest(frame, SIGNALS, CONFIG, parameters={"every": 50}, strategy_name="every")


def test_the_parts_equal_their_definitions() -> None:
    result = fresh_result()
    equity = result.equity.to_numpy()
    expected_drawdown = drawdown_fraction(equity, CONFIG.cash)
    np.testing.assert_array_equal(result.drawdown.to_numpy(), expected_drawdown)
    assert result.drawdown.name == "drawdown"
    assert result.drawdown.index.equals(BARS.index)
    position = result.open_position
    assert dict(result.stats) == compute_statistics(
        equity=result.equity,
        trades=result.trades,
        close=BARS["close"].to_numpy(),
        initial_cash=CONFIG.cash,
        open_entry_bar=None if position is None else position.entry_bar,
        open_commission=0.0 if position is None else position.commission,
        periods_per_year=None,
    )
    assert result.data_fingerprint == data_fingerprint(BARS)
    pd.testing.assert_series_equal(result.close, BARS["close"])


def test_each_part_is_computed_once() -> None:
    result = fresh_result()
    for name in COMPUTED_ON_DEMAND:
        assert getattr(result, name) is getattr(result, name)


def test_the_result_stays_frozen() -> None:
    result = fresh_result()
    for name in (*COMPUTED_ON_DEMAND, "equity", "config"):
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(result, name, None)
    assert not result.stats.empty
    with pytest.raises(dataclasses.FrozenInstanceError):
        del result.stats


def test_later_changes_to_the_frame_do_not_reach_the_result() -> None:
    frame = BARS.copy()
    result = fresh_result(frame)
    frame.iloc[10, frame.columns.get_loc("volume")] = 123.0
    frame.iloc[20, frame.columns.get_loc("close")] *= 1.001
    frame["open"] = frame["open"] * 1.0001
    assert result.data_fingerprint == data_fingerprint(BARS)
    pd.testing.assert_series_equal(result.close, BARS["close"])
    pd.testing.assert_series_equal(result.stats, fresh_result().stats)


def test_a_pickled_result_carries_every_part() -> None:
    for touched in ((), COMPUTED_ON_DEMAND, ("stats",)):
        result = fresh_result()
        for name in touched:
            getattr(result, name)
        copy = pickle.loads(pickle.dumps(result))
        reference = fresh_result()
        pd.testing.assert_series_equal(copy.stats, reference.stats)
        pd.testing.assert_frame_equal(copy.trades, reference.trades)
        pd.testing.assert_series_equal(copy.drawdown, reference.drawdown)
        pd.testing.assert_series_equal(copy.equity, reference.equity)
        assert copy.data_fingerprint == reference.data_fingerprint
        assert copy.parameters == {"every": 50}
        assert repr(copy) == repr(reference)


def test_a_pickled_result_leaves_the_bars_behind() -> None:
    result = fresh_result()
    payload = len(pickle.dumps(result))
    parts = (result.equity, result.drawdown, result.close, result.trades, result.stats)
    assert payload < len(pickle.dumps(parts)) + 2_000
