"""The dashboards' building blocks without a browser: long charts, forms, one-sentence errors."""

from __future__ import annotations

import time

import holoviews as hv
import numpy as np
import pandas as pd
import pytest

import quantdesk
from quantdesk.errors import InvalidInputError
from quantdesk.strategies import strategy_class
from quantdesk.ui.backtest_charts import CANDLES_SHOWN, backtest_charts, candle_groups
from quantdesk.ui.feedback import error_sentence
from quantdesk.ui.parameter_widgets import ParameterForm, default_sweep_range
from quantdesk.ui.sweeps import objective_grid


@pytest.fixture(scope="module")
def long_bars() -> pd.DataFrame:
    bars = quantdesk.load("sample:BTC/USDT", timeframe="15m", start="2021-01-01", end="2024-01-01")
    assert len(bars) > 100_000
    return bars


def test_candles_merge_any_range_into_at_most_the_limit_and_keep_the_extremes(
    long_bars: pd.DataFrame,
) -> None:
    naive = long_bars.set_axis(long_bars.index.tz_localize(None))
    groups = candle_groups(naive)
    assert len(groups) <= CANDLES_SHOWN
    assert groups["high"].max() == naive["high"].max()
    assert groups["low"].min() == naive["low"].min()
    assert groups["open"].iloc[0] == naive["open"].iloc[0]
    assert groups["close"].iloc[-1] == naive["close"].iloc[-1]
    day = (naive.index[5000], naive.index[5095])
    zoomed = candle_groups(naive, day)
    assert len(zoomed) <= 100
    assert zoomed["start"].iloc[0] <= np.datetime64(day[0])


def test_a_hundred_thousand_bar_backtest_draws_quickly(long_bars: pd.DataFrame) -> None:
    result = quantdesk.backtest("sma_cross", long_bars, lot_size=1e-8)
    started = time.perf_counter()
    hv.render(backtest_charts(result, long_bars, width=1000))
    assert time.perf_counter() - started < 10


def test_the_form_has_one_bounded_widget_per_parameter() -> None:
    form = ParameterForm("rsi_reversion")
    definitions = strategy_class("rsi_reversion").parameter_definitions()
    assert list(form.widgets) == list(definitions)
    assert form.widgets["oversold"].start == 0.0
    assert form.widgets["oversold"].end == 100.0
    assert form.values() == {name: spec.default for name, spec in definitions.items()}


def test_default_sweep_ranges_stay_inside_the_bounds() -> None:
    definitions = strategy_class("rsi_reversion").parameter_definitions()
    assert default_sweep_range(definitions["period"]) == "7:27:5"
    start, stop, _ = (
        float(part) for part in default_sweep_range(definitions["oversold"]).split(":")
    )
    assert 0 <= start <= stop <= 100


def test_the_heatmap_grid_is_empty_where_nothing_was_evaluated_yet() -> None:
    grid = pd.DataFrame({"fast": [5, 5, 10, 10], "slow": [20, 30, 20, 30]})
    done = pd.DataFrame({"fast": [5], "slow": [30], "sharpe": [1.5]})
    cells = objective_grid(done, "fast", "slow", "sharpe", grid)
    assert cells["sharpe"].notna().tolist() == [False, True, False, False]


def test_errors_become_one_sentence_and_never_a_traceback() -> None:
    assert error_sentence(InvalidInputError("bad symbol 'X'; try 'sample:BTC/USDT'\nmore")) == (
        "Bad symbol 'X'; try 'sample:BTC/USDT'"
    )
    unexpected = error_sentence(KeyError("internal detail"))
    assert "KeyError" in unexpected
    assert "internal detail" not in unexpected
