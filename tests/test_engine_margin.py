"""Margin and liquidation: leverage by ``margin``, ruin at the level that leaves nothing.

Every expected size, level and equity is worked out here by hand from the
bars; the engine's own formulas are never called.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from quantdesk.engine import BacktestConfig, run_backtest
from quantdesk.errors import ConfigurationError
from quantdesk.strategies.signals import Signals
from tests.test_engine_fills import EPSILON, flat, ohlc, signals

CASH = 10_000.0


def all_in_units(price: float, margin: float = 1.0) -> float:
    """backtesting.py's all-in size: the whole buying power, less one epsilon, in units."""
    return float(np.floor(CASH / margin * (1 - EPSILON) / price))


def test_a_short_is_liquidated_inside_the_bar_that_reaches_its_ruin() -> None:
    frame = ohlc([*flat(100, 2), (150, 250, 140, 160), *flat(160, 3)])
    result = run_backtest(frame, signals(6, short_entries=[0], long_entries=[3]))

    units = all_in_units(100)
    ruin_price = 100 + CASH / units
    trade = result.trades.iloc[0]
    assert len(result.trades) == 1
    assert trade["exit_reason"] == "liquidation"
    assert trade["exit_bar"] == 2
    assert trade["exit_price"] == pytest.approx(ruin_price, rel=1e-12)
    assert result.equity.iloc[2:].tolist() == [0.0] * 4
    assert result.stats["total_return_pct"] == -100.0
    assert result.open_position is None


def test_liquidation_costs_are_paid_from_what_the_position_had_left() -> None:
    frame = ohlc([*flat(100, 2), (150, 250, 140, 160), *flat(160, 3)])
    config = BacktestConfig(commission=0.001, slippage=0.002, fixed_fee=3.0)
    result = run_backtest(frame, signals(6, short_entries=[0]), config)

    trade = result.trades.iloc[0]
    assert trade["exit_reason"] == "liquidation"
    entry = 100 * (1 - 0.002)
    assert trade["entry_price"] == pytest.approx(entry, rel=1e-12)
    gross = trade["size"] * (trade["exit_price"] - entry)
    commissions = 2 * 3.0 + 0.001 * abs(trade["size"]) * (entry + trade["exit_price"])
    assert CASH + gross - commissions == pytest.approx(0.0, abs=1e-6)
    assert 140 < trade["exit_price"] < 250 * (1 + 0.002)
    assert result.equity.iloc[-1] == 0.0


def test_a_gap_past_the_ruin_level_fills_at_the_open_and_the_run_stops_there() -> None:
    frame = ohlc([*flat(100, 2), (300, 320, 290, 310), *flat(100, 3)])
    result = run_backtest(frame, signals(6, short_entries=[0], long_entries=[3]))

    units = all_in_units(100)
    trade = result.trades.iloc[0]
    assert trade["exit_reason"] == "liquidation"
    assert trade["exit_price"] == 300
    left = CASH - units * (300 - 100)
    assert left < 0
    assert result.equity.iloc[2:].tolist() == pytest.approx([left] * 4, rel=1e-12)
    assert len(result.trades) == 1


def test_margin_leverages_the_entry_and_its_profit() -> None:
    frame = ohlc([*flat(100, 2), (100, 112, 99, 110), *flat(110, 2)])
    result = run_backtest(frame, signals(5, long_entries=[0]), BacktestConfig(margin=0.25))

    units = all_in_units(100, margin=0.25)
    assert units == 399
    assert result.open_position is not None
    assert result.open_position.size == units
    assert result.equity.iloc[2] == pytest.approx(CASH + units * 10, rel=1e-12)


def test_a_leveraged_long_is_liquidated_where_its_loss_uses_up_the_equity() -> None:
    frame = ohlc([*flat(100, 2), (90, 95, 70, 80), *flat(80, 2)])
    result = run_backtest(frame, signals(5, long_entries=[0]), BacktestConfig(margin=0.25))

    units = all_in_units(100, margin=0.25)
    trade = result.trades.iloc[0]
    assert trade["exit_reason"] == "liquidation"
    assert trade["exit_price"] == pytest.approx(100 - CASH / units, rel=1e-12)
    assert result.equity.iloc[-1] == 0.0


@pytest.mark.parametrize(
    ("stop_loss", "reason", "exit_price"),
    [(0.2, "stop_loss", 80.0), (0.3, "liquidation", 100 - CASH / 399)],
)
def test_the_nearer_of_stop_and_ruin_closes_the_position(
    stop_loss: float, reason: str, exit_price: float
) -> None:
    frame = ohlc([*flat(100, 2), (90, 95, 65, 70), *flat(70, 2)])
    config = BacktestConfig(margin=0.25, stop_loss=stop_loss)
    result = run_backtest(frame, signals(5, long_entries=[0]), config)

    trade = result.trades.iloc[0]
    assert trade["exit_reason"] == reason
    assert trade["exit_price"] == pytest.approx(exit_price, rel=1e-12)


def test_a_long_without_leverage_is_never_liquidated_by_a_fall() -> None:
    frame = ohlc([*flat(100, 2), (100, 100, 1, 2), *flat(2, 2)])
    result = run_backtest(frame, signals(5, long_entries=[0]))

    units = all_in_units(100)
    assert result.trades.empty
    assert result.equity.iloc[-1] == pytest.approx(CASH - units * 98, rel=1e-12)


@pytest.mark.parametrize("seed", range(12))
def test_without_gaps_equity_never_goes_below_zero(seed: int) -> None:
    random = np.random.default_rng(seed)
    bars = 400
    close = 100 * np.exp(np.cumsum(random.normal(0, 0.06, bars)))
    open_ = np.r_[100.0, close[:-1]]
    high = np.maximum(open_, close) * (1 + random.uniform(0, 0.05, bars))
    low = np.minimum(open_, close) * (1 - random.uniform(0, 0.05, bars))
    frame = ohlc(list(zip(open_, high, low, close, strict=True)))
    long_entries = random.random(bars) < 0.05
    short_entries = (random.random(bars) < 0.05) & ~long_entries
    config = BacktestConfig(
        margin=float(random.choice([1.0, 0.5, 0.2, 0.05])),
        commission=float(random.choice([0.0, 0.001])),
        slippage=float(random.choice([0.0, 0.002])),
        trade_on_close=bool(random.integers(2)),
    )
    flags = np.zeros(bars, dtype=bool)
    result = run_backtest(frame, Signals(long_entries, flags, short_entries, flags), config)

    assert result.equity.min() >= 0.0
    ruined = np.flatnonzero(result.equity.to_numpy() == 0.0)
    if ruined.size:
        assert (result.equity.iloc[ruined[0] :] == 0.0).all()
        assert result.trades["exit_reason"].iloc[-1] == "liquidation"


@pytest.mark.parametrize("margin", [0.0, -0.5, 1.5, float("nan")])
def test_a_margin_outside_zero_to_one_is_refused(margin: float) -> None:
    with pytest.raises(ConfigurationError, match=r"margin.*\(0, 1\]"):
        BacktestConfig(margin=margin)
    with pytest.raises(ConfigurationError, match="margin"):
        BacktestConfig().model_copy(update={"margin": margin})


def test_margin_as_text_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="margin"):
        BacktestConfig(margin="0.5")  # type: ignore[arg-type]


def test_exit_reasons_name_liquidation() -> None:
    frame = ohlc([*flat(100, 2), (150, 250, 140, 160), *flat(160, 1)])
    result = run_backtest(frame, signals(4, short_entries=[0]))
    assert isinstance(result.trades["exit_reason"].dtype, pd.CategoricalDtype)
    assert "liquidation" in result.trades["exit_reason"].cat.categories
