"""The engine against backtesting.py: same trades, same equity, same statistics.

backtesting.py's fill model is the engine's default, so on the same bars and
the same decisions both must produce identical trades and equity. The
strategies below are written for backtesting.py the way its documentation
writes them; the engine gets signals computed independently with pandas.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import pytest
from backtesting import Backtest, Strategy
from backtesting._stats import compute_stats
from backtesting.lib import crossover
from backtesting.test import GOOG, SMA

from quantdesk.core.frame import validate_ohlcv
from quantdesk.engine import BacktestConfig, BacktestResult, run_backtest
from quantdesk.errors import DataRepairWarning
from quantdesk.strategies.signals import Signals
from tests.frames import bars_from_closes

RELATIVE = 1e-9


class SmaCross(Strategy):
    """backtesting.py's example: on a cross up close and buy, on a cross down close and sell."""

    fast = 10
    slow = 20

    def init(self) -> None:
        self.fast_average = self.I(SMA, self.data.Close, self.fast)
        self.slow_average = self.I(SMA, self.data.Close, self.slow)

    def next(self) -> None:
        if crossover(self.fast_average, self.slow_average):
            self.position.close()
            self.buy()
        elif crossover(self.slow_average, self.fast_average):
            self.position.close()
            self.sell()


class SmaCrossLongOnly(SmaCross):
    """Long only: a cross up buys, a cross down only closes."""

    def next(self) -> None:
        if crossover(self.fast_average, self.slow_average):
            self.buy()
        elif crossover(self.slow_average, self.fast_average):
            self.position.close()


class SmaCrossHalfEquity(SmaCrossLongOnly):
    """Long only, each entry spending half the equity."""

    def next(self) -> None:
        if crossover(self.fast_average, self.slow_average):
            self.buy(size=0.5)
        elif crossover(self.slow_average, self.fast_average):
            self.position.close()


def goog_frame() -> pd.DataFrame:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataRepairWarning)
        return validate_ohlcv(GOOG, timezone="UTC")


def crosses(close: pd.Series, fast: int = 10, slow: int = 20) -> tuple[np.ndarray, np.ndarray]:
    """Strict crossovers of two simple moving averages: (fast crosses up, fast crosses down)."""
    fast_average = close.rolling(fast).mean().to_numpy()
    slow_average = close.rolling(slow).mean().to_numpy()
    up = np.zeros(len(close), dtype=bool)
    down = np.zeros(len(close), dtype=bool)
    up[1:] = (fast_average[:-1] < slow_average[:-1]) & (fast_average[1:] > slow_average[1:])
    down[1:] = (slow_average[:-1] < fast_average[:-1]) & (slow_average[1:] > fast_average[1:])
    return up, down


def reversal_signals(frame: pd.DataFrame) -> Signals:
    up, down = crosses(frame["close"])
    return Signals.from_series(up, short_entries=down)


def long_only_signals(frame: pd.DataFrame) -> Signals:
    up, down = crosses(frame["close"])
    return Signals.from_series(up, long_exits=down)


@pytest.fixture(autouse=True)
def _quiet_backtesting() -> Iterator[None]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def run_reference(data: pd.DataFrame, strategy: type[Strategy], **options: Any) -> pd.Series:
    return Backtest(data, strategy, cash=10_000, **options).run()


def assert_same_trades(ours: pd.DataFrame, reference: pd.DataFrame) -> None:
    assert len(ours) == len(reference)
    np.testing.assert_array_equal(ours["size"], reference["Size"].astype(float))
    np.testing.assert_array_equal(ours["entry_bar"], reference["EntryBar"])
    np.testing.assert_array_equal(ours["exit_bar"], reference["ExitBar"])
    np.testing.assert_array_equal(ours["entry_price"], reference["EntryPrice"])
    np.testing.assert_array_equal(ours["exit_price"], reference["ExitPrice"])
    np.testing.assert_allclose(ours["pnl"], reference["PnL"], rtol=RELATIVE)
    np.testing.assert_allclose(ours["commission"], reference["Commission"], rtol=RELATIVE)
    np.testing.assert_allclose(ours["return_pct"], reference["ReturnPct"] * 100, rtol=RELATIVE)


def assert_same_equity(ours: BacktestResult, reference: pd.Series) -> None:
    expected = reference["_equity_curve"]["Equity"].to_numpy()
    np.testing.assert_allclose(ours.equity.to_numpy(), expected, rtol=RELATIVE, atol=0)


STATS_DEFINED_ALIKE = {
    "final_equity": "Equity Final [$]",
    "total_return_pct": "Return [%]",
    "return_ann_pct": "Return (Ann.) [%]",
    "volatility_ann_backtesting_py_pct": "Volatility (Ann.) [%]",
    "cagr_pct": "CAGR [%]",
    "sharpe_backtesting_py": "Sharpe Ratio",
    "sortino_backtesting_py": "Sortino Ratio",
    "calmar_backtesting_py": "Calmar Ratio",
    "max_drawdown_pct": "Max. Drawdown [%]",
    "avg_drawdown_pct": "Avg. Drawdown [%]",
    "n_trades": "# Trades",
    "win_rate_pct": "Win Rate [%]",
    "best_trade_pct": "Best Trade [%]",
    "worst_trade_pct": "Worst Trade [%]",
    "avg_trade_pct": "Avg. Trade [%]",
    "profit_factor": "Profit Factor",
    "expectancy_pct": "Expectancy [%]",
    "sqn": "SQN",
}


def assert_same_statistics(ours: BacktestResult, reference: pd.Series) -> None:
    for key, reference_key in STATS_DEFINED_ALIKE.items():
        assert ours.stats[key] == pytest.approx(reference[reference_key], rel=RELATIVE), key
    assert ours.stats["max_drawdown_duration"] == reference["Max. Drawdown Duration"]


@pytest.fixture(scope="module")
def goog() -> pd.DataFrame:
    return goog_frame()


def test_sma_cross_with_reversals_matches_backtesting_py(goog: pd.DataFrame) -> None:
    reference = run_reference(GOOG, SmaCross, commission=0.002)
    ours = run_backtest(goog, reversal_signals(goog), BacktestConfig(commission=0.002))

    assert ours.stats["final_equity"] == pytest.approx(56_263.52, abs=0.01)
    assert ours.stats["n_trades"] == 93
    assert_same_trades(ours.trades, reference["_trades"])
    assert_same_equity(ours, reference)
    assert_same_statistics(ours, reference)
    assert set(ours.trades["exit_reason"]) == {"reversal"}

    still_open = reference["_strategy"].trades
    assert len(still_open) == 1
    assert ours.open_position is not None
    assert ours.open_position.size == still_open[0].size
    assert ours.open_position.entry_bar == still_open[0].entry_bar
    assert ours.open_position.entry_price == still_open[0].entry_price
    open_commission = 0.002 * abs(still_open[0].size) * still_open[0].entry_price
    assert ours.stats["commissions"] == pytest.approx(
        reference["Commissions [$]"] + open_commission, rel=RELATIVE
    )


def test_long_only_sma_cross_matches_backtesting_py(goog: pd.DataFrame) -> None:
    reference = run_reference(GOOG, SmaCrossLongOnly, commission=0.002)
    ours = run_backtest(goog, long_only_signals(goog), BacktestConfig(commission=0.002))

    assert_same_trades(ours.trades, reference["_trades"])
    assert_same_equity(ours, reference)
    assert_same_statistics(ours, reference)
    assert (ours.trades["size"] > 0).all()
    assert set(ours.trades["exit_reason"]) == {"signal"}


@pytest.mark.parametrize("margin", [0.5, 0.8])
def test_leveraged_reversals_match_backtesting_py(goog: pd.DataFrame, margin: float) -> None:
    reference = run_reference(GOOG, SmaCross, commission=0.002, margin=margin)
    ours = run_backtest(
        goog, reversal_signals(goog), BacktestConfig(commission=0.002, margin=margin)
    )

    assert_same_trades(ours.trades, reference["_trades"])
    assert_same_equity(ours, reference)
    unlevered = run_backtest(goog, reversal_signals(goog), BacktestConfig(commission=0.002))
    first_size = unlevered.trades["size"].abs().iloc[0]
    assert ours.trades["size"].abs().iloc[0] == pytest.approx(first_size / margin, abs=1.0)


def test_equity_fraction_sizing_matches_backtesting_py(goog: pd.DataFrame) -> None:
    reference = run_reference(GOOG, SmaCrossHalfEquity, commission=0.002)
    config = BacktestConfig(commission=0.002, sizing="equity_fraction", size=0.5)
    ours = run_backtest(goog, long_only_signals(goog), config)

    assert_same_trades(ours.trades, reference["_trades"])
    assert_same_equity(ours, reference)


def test_risk_free_rate_matches_backtesting_py_variants(goog: pd.DataFrame) -> None:
    reference = run_reference(GOOG, SmaCross, commission=0.002)
    with_rate = compute_stats(
        trades=reference["_trades"],
        equity=reference["_equity_curve"]["Equity"].to_numpy(),
        ohlc_data=GOOG,
        strategy_instance=None,
        risk_free_rate=0.03,
    )
    config = BacktestConfig(commission=0.002, risk_free_rate=0.03)
    ours = run_backtest(goog, reversal_signals(goog), config)

    for key in ("sharpe_backtesting_py", "sortino_backtesting_py"):
        reference_key = STATS_DEFINED_ALIKE[key]
        assert ours.stats[key] == pytest.approx(with_rate[reference_key], rel=RELATIVE), key
        assert ours.stats[key] < reference[reference_key], key


def test_exposure_and_buy_and_hold_differ_only_where_documented(goog: pd.DataFrame) -> None:
    # backtesting.py counts exposure over closed trades only; with finalize_trades the
    # last position is closed and its bars count there too, as they always do here.
    finalized = run_reference(GOOG, SmaCross, commission=0.002, finalize_trades=True)
    ours = run_backtest(goog, reversal_signals(goog), BacktestConfig(commission=0.002))
    assert ours.stats["exposure_pct"] == pytest.approx(finalized["Exposure Time [%]"], rel=RELATIVE)

    # Buy and hold runs from the first close here, from the end of the indicators'
    # warm-up (bar 19 for a 20-bar average) in backtesting.py.
    close = goog["close"].to_numpy()
    assert ours.stats["buy_hold_return_pct"] == pytest.approx(
        (close[-1] / close[0] - 1) * 100, rel=RELATIVE
    )
    reference = run_reference(GOOG, SmaCross, commission=0.002)
    assert reference["Buy & Hold Return [%]"] == pytest.approx(
        (close[-1] / close[19] - 1) * 100, rel=RELATIVE
    )


def test_finalize_trades_matches_backtesting_py_when_the_last_bar_opens_at_its_close(
    goog: pd.DataFrame,
) -> None:
    # backtesting.py closes finalized trades at the last bar's open, the engine at its
    # close; on a last bar whose open equals its close both are the same price.
    data = GOOG.copy()
    data.iloc[-1, data.columns.get_loc("Open")] = data["Close"].iloc[-1]
    frame = goog.copy()
    frame.iloc[-1, frame.columns.get_loc("open")] = frame["close"].iloc[-1]

    reference = run_reference(data, SmaCross, commission=0.002, finalize_trades=True)
    config = BacktestConfig(commission=0.002, finalize_trades=True)
    ours = run_backtest(frame, reversal_signals(frame), config)

    assert_same_trades(ours.trades, reference["_trades"])
    assert_same_equity(ours, reference)
    assert_same_statistics(ours, reference)
    assert ours.open_position is None
    assert ours.stats["n_trades"] == 94
    assert ours.trades["exit_reason"].iloc[-1] == "end"
    assert ours.trades["exit_price"].iloc[-1] == frame["close"].iloc[-1]
    assert ours.stats["commissions"] == pytest.approx(reference["Commissions [$]"], rel=RELATIVE)
    assert ours.stats["exposure_pct"] == pytest.approx(reference["Exposure Time [%]"], rel=RELATIVE)


def test_trade_on_close_matches_backtesting_py(goog: pd.DataFrame) -> None:
    signals = reversal_signals(goog)
    with_costs = run_reference(GOOG, SmaCross, commission=0.002, trade_on_close=True)
    ours = run_backtest(goog, signals, BacktestConfig(commission=0.002, trade_on_close=True))
    assert_same_trades(ours.trades, with_costs["_trades"])
    assert (
        ours.trades["entry_price"].to_numpy()
        == goog["close"].to_numpy()[ours.trades["entry_bar"].to_numpy()]
    ).all()

    # backtesting.py records a bar's equity before that bar's close fills, so its curve
    # lags the commissions by a bar; without commission the curves are equal.
    free = run_reference(GOOG, SmaCross, trade_on_close=True)
    ours_free = run_backtest(goog, signals, BacktestConfig(trade_on_close=True))
    assert_same_trades(ours_free.trades, free["_trades"])
    assert_same_equity(ours_free, free)


class FromSignals(Strategy):
    """Replays precomputed signals under the engine's rules, with stops set from the fill."""

    signals: ClassVar[Signals]
    stop_loss: ClassVar[float]
    take_profit: ClassVar[float]

    def init(self) -> None:
        self.opens = self.data.df["Open"].to_numpy()

    def next(self) -> None:
        i = len(self.data) - 1
        signals, position = self.signals, self.position
        if position.is_long and (
            (signals.long_exits[i] and not signals.long_entries[i]) or signals.short_entries[i]
        ):
            position.close()
        if position.is_short and (
            (signals.short_exits[i] and not signals.short_entries[i]) or signals.long_entries[i]
        ):
            position.close()
        if i + 1 >= len(self.opens):
            return
        fill = self.opens[i + 1]
        stop, target = self.stop_loss * fill, self.take_profit * fill
        if signals.long_entries[i] and not position.is_long:
            self.buy(sl=fill - stop, tp=fill + target)
        elif signals.short_entries[i] and not position.is_short:
            self.sell(sl=fill + stop, tp=fill - target)


def stop_test_bars() -> tuple[pd.DataFrame, np.ndarray]:
    """Bars that wander, with 6 % gaps through levels and wide bars touching both levels.

    Returns the frame and the positions of the gapping bars.
    """
    rng = np.random.default_rng(11)
    closes = 100 * np.exp(np.cumsum(rng.normal(0, 0.015, 400)))
    frame = bars_from_closes(closes, frequency="1D", spread=0.0)
    gaps = np.flatnonzero(rng.uniform(size=len(frame)) < 0.15)
    gaps = gaps[gaps > 0]
    for bar in gaps:
        frame.iloc[bar:, :4] *= 1 + rng.choice([-0.06, 0.06])
    wide = np.where(rng.uniform(size=len(frame)) < 0.15, 0.07, rng.uniform(0.002, 0.03, len(frame)))
    frame["high"] = frame[["open", "close"]].max(axis=1) * (1 + wide)
    frame["low"] = frame[["open", "close"]].min(axis=1) * (1 - wide[::-1])
    return validate_ohlcv(frame), gaps


def stop_test_signals(bar_count: int, gaps: np.ndarray) -> Signals:
    """Random entries and exits, none on bar 0 (backtesting.py starts on bar 1) and no
    entry just before a gap (backtesting.py refuses levels on the wrong side of the close)."""
    rng = np.random.default_rng(5)
    draw = rng.uniform(size=bar_count)
    long_entries = draw < 0.08
    short_entries = (draw > 0.92) & ~long_entries
    exits = rng.uniform(size=bar_count) < 0.03
    for values in (long_entries, short_entries, exits):
        values[0] = False
    long_entries[gaps - 1] = False
    short_entries[gaps - 1] = False
    return Signals(long_entries, exits, short_entries, exits.copy())


def test_stop_loss_and_take_profit_match_backtesting_py() -> None:
    frame, gaps = stop_test_bars()
    signals = stop_test_signals(len(frame), gaps)
    reference_data = frame.rename(columns=str.capitalize).tz_localize(None)
    replay = type(
        "Replay",
        (FromSignals,),
        {"signals": signals, "stop_loss": 0.03, "take_profit": 0.05},
    )
    reference = run_reference(reference_data, replay, commission=0.001)
    config = BacktestConfig(commission=0.001, stop_loss=0.03, take_profit=0.05)
    ours = run_backtest(frame, signals, config)

    assert_same_trades(ours.trades, reference["_trades"])
    assert_same_equity(ours, reference)

    # The case must exercise what it claims to: both exits, fills at a gapping open,
    # and bars whose range holds both levels, where the stop is taken.
    trades = ours.trades
    exit_bars = trades["exit_bar"].to_numpy()
    side = np.sign(trades["size"].to_numpy())
    entry = trades["entry_price"].to_numpy()
    target = entry + side * 0.05 * entry
    stopped = (trades["exit_reason"] == "stop_loss").to_numpy()
    at_open = trades["exit_price"].to_numpy() == frame["open"].to_numpy()[exit_bars]
    target_in_range = (frame["low"].to_numpy()[exit_bars] <= target) & (
        target <= frame["high"].to_numpy()[exit_bars]
    )
    assert (trades["exit_reason"] == "take_profit").sum() >= 3
    assert (stopped & at_open).sum() >= 2
    assert (~stopped & at_open & (trades["exit_reason"] == "take_profit").to_numpy()).sum() >= 1
    assert (stopped & target_in_range).sum() >= 2
