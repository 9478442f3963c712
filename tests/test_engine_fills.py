"""The fill model on small hand-made bars: when, at what price and how much."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import pytest

from quantdesk.core.frame import validate_ohlcv
from quantdesk.engine import BacktestConfig, run_backtest
from quantdesk.errors import NoTradesWarning
from quantdesk.strategies.signals import Signals

EPSILON = np.finfo(float).eps


def ohlc(rows: Sequence[tuple[float, float, float, float]]) -> pd.DataFrame:
    """A canonical daily frame from (open, high, low, close) rows."""
    values = np.asarray(rows, dtype=np.float64)
    index = pd.date_range("2024-01-01", periods=len(values), freq="D", tz="UTC", name="time")
    frame = pd.DataFrame(values, columns=["open", "high", "low", "close"], index=index)
    frame["volume"] = 1_000.0
    return validate_ohlcv(frame)


def flat(price: float, bars: int) -> list[tuple[float, float, float, float]]:
    return [(price, price, price, price)] * bars


def at(bars: int, *positions: int) -> np.ndarray:
    values = np.zeros(bars, dtype=bool)
    values[list(positions)] = True
    return values


def signals(
    bars: int,
    *,
    long_entries: Sequence[int] = (),
    long_exits: Sequence[int] = (),
    short_entries: Sequence[int] = (),
    short_exits: Sequence[int] = (),
    **extra: object,
) -> Signals:
    return Signals(
        at(bars, *long_entries),
        at(bars, *long_exits),
        at(bars, *short_entries),
        at(bars, *short_exits),
        **extra,
    )


STEPS = ohlc([(100 + bar, 100.5 + bar, 99.5 + bar, 100.25 + bar) for bar in range(10)])


def test_an_order_fills_at_the_next_open() -> None:
    result = run_backtest(STEPS, signals(10, long_entries=[1], long_exits=[4]))
    trade = result.trades.iloc[0]
    assert (trade["entry_bar"], trade["exit_bar"]) == (2, 5)
    assert trade["entry_price"] == STEPS["open"].iloc[2]
    assert trade["exit_price"] == STEPS["open"].iloc[5]
    assert trade["entry_time"] == STEPS.index[2]
    assert trade["exit_reason"] == "signal"


def test_an_order_decided_on_the_last_bar_never_fills() -> None:
    for config in (BacktestConfig(), BacktestConfig(trade_on_close=True)):
        result = run_backtest(STEPS, signals(10, long_entries=[9]), config)
        assert result.trades.empty
        assert result.open_position is None
        assert (result.equity == 10_000).all()


def test_trade_on_close_fills_at_the_signal_bars_close() -> None:
    config = BacktestConfig(trade_on_close=True)
    result = run_backtest(STEPS, signals(10, long_entries=[1], long_exits=[4]), config)
    trade = result.trades.iloc[0]
    assert (trade["entry_bar"], trade["exit_bar"]) == (1, 4)
    assert trade["entry_price"] == STEPS["close"].iloc[1]
    assert trade["exit_price"] == STEPS["close"].iloc[4]


def test_all_in_keeps_backtesting_pys_sliver_of_equity_back() -> None:
    # 10,000 at exactly 100 would buy 100 units; all-in spends (1 - eps) of equity.
    frame = ohlc(flat(100.0, 4))
    result = run_backtest(frame, signals(4, long_entries=[0]))
    assert result.open_position is not None
    assert result.open_position.size == 99


def test_all_in_size_pays_for_commission_and_fee() -> None:
    frame = ohlc(flat(37.0, 4))
    config = BacktestConfig(commission=0.01, fixed_fee=5.0)
    result = run_backtest(frame, signals(4, long_entries=[0]), config)
    assert result.open_position is not None
    units = result.open_position.size
    assert units == np.floor((10_000 * (1 - EPSILON) - 5.0) / (37.0 * 1.01))
    assert units * 37.0 * 1.01 + 5.0 <= 10_000
    assert (units + 1) * 37.0 * 1.01 + 5.0 > 10_000


def test_commission_and_fee_are_charged_at_entry_and_exit() -> None:
    config = BacktestConfig(commission=0.002, fixed_fee=1.5)
    result = run_backtest(STEPS, signals(10, long_entries=[1], long_exits=[4]), config)
    trade = result.trades.iloc[0]
    size, entry, exit_ = trade["size"], trade["entry_price"], trade["exit_price"]
    expected = 0.002 * size * entry + 1.5 + 0.002 * size * exit_ + 1.5
    assert trade["commission"] == pytest.approx(expected, rel=1e-12)
    assert trade["pnl"] == pytest.approx(size * (exit_ - entry) - expected, rel=1e-12)
    assert result.stats["final_equity"] == pytest.approx(10_000 + trade["pnl"], rel=1e-12)
    assert result.stats["commissions"] == pytest.approx(expected, rel=1e-12)


def test_a_reversal_is_two_trades_sized_on_the_equity_left() -> None:
    config = BacktestConfig(commission=0.001)
    result = run_backtest(STEPS, signals(10, long_entries=[1], short_entries=[4]), config)
    first = result.trades.iloc[0]
    assert first["exit_reason"] == "reversal"
    assert first["exit_bar"] == 5
    position = result.open_position
    assert position is not None
    assert position.size < 0
    assert position.entry_bar == 5
    equity_after_close = 10_000 + first["pnl"]
    price = STEPS["open"].iloc[5]
    unit_cost = price + price * 0.001
    assert -position.size == np.floor(equity_after_close * (1 - EPSILON) / unit_cost)


def test_an_exit_and_an_opposite_entry_on_one_bar_close_by_signal_then_reverse() -> None:
    result = run_backtest(STEPS, signals(10, long_entries=[1], long_exits=[4], short_entries=[4]))
    assert result.trades["exit_reason"].tolist() == ["signal"]
    assert result.open_position is not None
    assert result.open_position.size < 0


def test_an_entry_and_an_exit_of_one_side_on_one_bar_keep_or_open_the_position() -> None:
    held = run_backtest(STEPS, signals(10, long_entries=[1, 4], long_exits=[4]))
    assert held.trades.empty
    assert held.open_position is not None
    assert held.open_position.entry_bar == 2
    opened = run_backtest(STEPS, signals(10, long_entries=[3], long_exits=[3]))
    assert opened.open_position is not None
    assert opened.open_position.entry_bar == 4


def test_an_entry_of_the_side_held_does_nothing() -> None:
    result = run_backtest(STEPS, signals(10, long_entries=[1, 2, 3, 5], long_exits=[7]))
    assert len(result.trades) == 1
    assert result.trades["entry_bar"].iloc[0] == 2
    assert result.open_position is None


def test_an_order_that_cannot_be_afforded_is_skipped() -> None:
    frame = ohlc(flat(100.0, 6))
    too_many = BacktestConfig(sizing="units", size=101)
    assert run_backtest(frame, signals(6, long_entries=[0]), too_many).open_position is None
    too_much = BacktestConfig(sizing="cash", size=10_001)
    assert run_backtest(frame, signals(6, long_entries=[0]), too_much).open_position is None
    expensive = ohlc(flat(20_000.0, 6))
    with pytest.warns(NoTradesWarning, match="one lot of 1 at 20,000.00 costs more"):
        all_in = run_backtest(expensive, signals(6, long_entries=[0]))
    assert all_in.open_position is None
    assert all_in.trades.empty


def open_size(frame: pd.DataFrame, config: BacktestConfig) -> float:
    """The size of the position one entry on the first bar leaves open."""
    result = run_backtest(frame, signals(len(frame), long_entries=[0]), config)
    return 0.0 if result.open_position is None else result.open_position.size


def test_units_cash_and_fraction_sizing() -> None:
    frame = ohlc(flat(40.0, 6))
    assert open_size(frame, BacktestConfig(sizing="units", size=7.9)) == 7
    spend = BacktestConfig(sizing="cash", size=1_000, commission=0.01)
    assert open_size(frame, spend) == 24  # 1000 / 40.4
    assert open_size(frame, BacktestConfig(sizing="equity_fraction", size=0.25)) == 62


def test_fractional_lots() -> None:
    frame = ohlc(flat(43_210.0, 4))
    config = BacktestConfig(lot_size=1e-4, commission=0.001)
    result = run_backtest(frame, signals(4, long_entries=[0]), config)
    assert result.open_position is not None
    size = result.open_position.size
    assert size == pytest.approx(0.2311, abs=1e-12)
    assert size * 43_210 * 1.001 <= 10_000


def test_slippage_worsens_market_fills_at_entry_and_exit() -> None:
    config = BacktestConfig(slippage=0.001)
    long = run_backtest(STEPS, signals(10, long_entries=[1], long_exits=[4]), config).trades.iloc[0]
    assert long["entry_price"] == pytest.approx(STEPS["open"].iloc[2] * 1.001, rel=1e-15)
    assert long["exit_price"] == pytest.approx(STEPS["open"].iloc[5] * 0.999, rel=1e-15)
    short = run_backtest(STEPS, signals(10, short_entries=[1], short_exits=[4]), config)
    trade = short.trades.iloc[0]
    assert trade["size"] < 0
    assert trade["entry_price"] == pytest.approx(STEPS["open"].iloc[2] * 0.999, rel=1e-15)
    assert trade["exit_price"] == pytest.approx(STEPS["open"].iloc[5] * 1.001, rel=1e-15)


STOP_BARS = ohlc(
    [
        (100, 101, 99, 100),
        (100, 101, 99, 100),  # entry fills here at 100
        (100, 100.5, 98, 99),  # low 98 touches a 2 % stop at 98
        (99, 99, 99, 99),
        (99, 99, 99, 99),
    ]
)


def test_a_stop_loss_fills_at_its_level_inside_the_bar() -> None:
    config = BacktestConfig(stop_loss=0.02)
    trade = run_backtest(STOP_BARS, signals(5, long_entries=[0]), config).trades.iloc[0]
    assert trade["exit_reason"] == "stop_loss"
    assert trade["exit_bar"] == 2
    assert trade["exit_price"] == 98.0


def test_a_stop_loss_gapped_through_fills_at_the_open() -> None:
    frame = ohlc([(100, 101, 99, 100), (100, 101, 99, 100), (95, 96, 94, 95), (95, 95, 95, 95)])
    trade = run_backtest(frame, signals(4, long_entries=[0]), BacktestConfig(stop_loss=0.02))
    assert trade.trades.iloc[0]["exit_price"] == 95.0
    short = run_backtest(
        ohlc([(100, 101, 99, 100), (100, 101, 99, 100), (105, 106, 104, 105), (105,) * 4]),
        signals(4, short_entries=[0]),
        BacktestConfig(stop_loss=0.02),
    )
    assert short.trades.iloc[0]["exit_price"] == 105.0
    assert short.trades.iloc[0]["exit_reason"] == "stop_loss"


def test_a_take_profit_fills_at_its_level_or_a_better_open_without_slippage() -> None:
    frame = ohlc([(100, 101, 99, 100), (100, 101, 99, 100), (101, 106, 100, 104), (104,) * 4])
    config = BacktestConfig(take_profit=0.05, slippage=0.001)
    trade = run_backtest(frame, signals(4, long_entries=[0]), config).trades.iloc[0]
    assert trade["exit_reason"] == "take_profit"
    assert trade["exit_price"] == pytest.approx(100 * 1.001 * 1.05, rel=1e-15)
    gap = ohlc([(100, 101, 99, 100), (100, 101, 99, 100), (110, 111, 109, 110), (110,) * 4])
    gapped = run_backtest(gap, signals(4, long_entries=[0]), BacktestConfig(take_profit=0.05))
    assert gapped.trades.iloc[0]["exit_price"] == 110.0


def test_when_stop_and_target_lie_in_one_bar_the_stop_is_taken() -> None:
    frame = ohlc([(100, 101, 99, 100), (100, 101, 99, 100), (100, 110, 90, 100), (100,) * 4])
    config = BacktestConfig(stop_loss=0.05, take_profit=0.05)
    trade = run_backtest(frame, signals(4, long_entries=[0]), config).trades.iloc[0]
    assert trade["exit_reason"] == "stop_loss"
    assert trade["exit_price"] == 95.0


def test_the_trailing_stop_trails_earlier_highs() -> None:
    frame = ohlc(
        [
            (100, 100, 100, 100),
            (100, 101, 99.5, 100),  # entry at 100; trail at 95 and rises with each high
            (101, 108, 100, 107),  # the bar's own high does not move this bar's level
            (107, 109, 104, 105),  # level 108 - 5 = 103, not touched
            (105, 106, 102, 103),  # level 109 - 5 = 104, touched
            (103,) * 4,
        ]
    )
    config = BacktestConfig(trailing_stop=0.05)
    trade = run_backtest(frame, signals(6, long_entries=[0]), config).trades.iloc[0]
    assert trade["exit_reason"] == "trailing_stop"
    assert trade["exit_bar"] == 4
    assert trade["exit_price"] == 104.0


def test_the_nearer_of_stop_loss_and_trailing_stop_names_the_exit() -> None:
    frame = ohlc([(100,) * 4, (100, 100, 100, 100), (100, 120, 100, 119), (119, 119, 90, 95)])
    config = BacktestConfig(stop_loss=0.05, trailing_stop=0.1)
    trade = run_backtest(frame, signals(4, long_entries=[0]), config).trades.iloc[0]
    assert trade["exit_reason"] == "trailing_stop"
    assert trade["exit_price"] == 110.0


def test_finite_distances_from_the_signals_win_over_the_config() -> None:
    stop_distances = np.full(5, np.nan)
    stop_distances[0] = 1.0
    distant = signals(5, long_entries=[0], stop_distances=stop_distances)
    result = run_backtest(STOP_BARS, distant, BacktestConfig(stop_loss=0.5))
    trade = result.trades.iloc[0]
    assert trade["exit_reason"] == "stop_loss"
    assert trade["exit_price"] == 99.0  # 1 below the entry at 100, read on the signal bar


@pytest.mark.parametrize(
    ("kind", "option", "expected"),
    [
        # Entry at bar 1's open, 100; bar 2's low 98 reaches 100 * (1 - 0.02).
        ("stop_distances", {"stop_loss": 0.02}, ("stop_loss", 2, 98.0)),
        # Bar 1's high 101 reaches 100 * (1 + 0.005) on the entry bar.
        ("target_distances", {"take_profit": 0.005}, ("take_profit", 1, 100.5)),
        # On bar 2 the best price so far is bar 1's high 101; 101 - 0.02 * 100 = 99.
        ("trailing_distances", {"trailing_stop": 0.02}, ("trailing_stop", 2, 99.0)),
    ],
)
def test_all_nan_distances_mean_none_and_the_config_applies(
    kind: str, option: dict[str, float], expected: tuple[str, int, float]
) -> None:
    none_given = signals(5, long_entries=[0], **{kind: np.full(5, np.nan)})
    trade = run_backtest(STOP_BARS, none_given, BacktestConfig(**option)).trades.iloc[0]
    assert (trade["exit_reason"], trade["exit_bar"], trade["exit_price"]) == expected
    assert trade["pnl"] == pytest.approx(trade["size"] * (expected[2] - 100.0), rel=1e-12)


def test_a_nan_distance_on_one_entry_falls_back_to_the_config_on_that_entry_only() -> None:
    frame = ohlc(
        [
            (100, 101, 99, 100),
            (100, 100.2, 99.8, 100),  # first entry fills at 100; its own stop 0.5 below
            (100, 100, 99, 99.2),  # low 99 passes 99.5; the config's 90 is far away
            (99.2, 99.2, 99.2, 99.2),
            (100, 100, 100, 100),  # second entry fills at 100, its distance NaN
            (100, 100, 89, 89),  # low 89 passes the config's 10 %: 100 * 0.9 = 90
            (89, 89, 89, 89),
        ]
    )
    stop_distances = np.full(7, np.nan)
    stop_distances[0] = 0.5
    both = signals(7, long_entries=[0, 3], stop_distances=stop_distances)
    trades = run_backtest(frame, both, BacktestConfig(stop_loss=0.1)).trades
    assert list(trades["exit_reason"]) == ["stop_loss", "stop_loss"]
    assert list(trades["entry_bar"]) == [1, 4]
    assert list(trades["exit_price"]) == [99.5, 90.0]


@pytest.mark.parametrize("trade_on_close", [False, True])
def test_a_time_exit_comes_that_many_bars_after_the_entry_bar(trade_on_close: bool) -> None:
    timed = signals(10, long_entries=[1], maximum_bars_held=3)
    result = run_backtest(STEPS, timed, BacktestConfig(trade_on_close=trade_on_close))
    trade = result.trades.iloc[0]
    assert trade["exit_reason"] == "time"
    assert trade["exit_bar"] - trade["entry_bar"] == 3


def test_an_open_position_is_reported_and_marked_to_the_last_close() -> None:
    result = run_backtest(STEPS, signals(10, long_entries=[1]), BacktestConfig(commission=0.001))
    assert result.trades.empty
    position = result.open_position
    assert position is not None
    last_close = STEPS["close"].iloc[-1]
    assert position.last_price == last_close
    assert result.stats["final_equity"] == pytest.approx(10_000 + position.unrealized_pnl)
    assert result.stats["n_trades"] == 0


def test_finalize_trades_closes_at_the_last_close() -> None:
    config = BacktestConfig(finalize_trades=True, commission=0.001)
    result = run_backtest(STEPS, signals(10, short_entries=[1]), config)
    assert result.open_position is None
    trade = result.trades.iloc[0]
    assert trade["exit_reason"] == "end"
    assert trade["exit_bar"] == 9
    assert trade["exit_price"] == STEPS["close"].iloc[-1]
    assert result.stats["final_equity"] == pytest.approx(10_000 + trade["pnl"], rel=1e-12)


def test_a_gap_past_ruin_liquidates_at_the_open_and_ends_the_trading() -> None:
    rows = [(100,) * 4, (100,) * 4, (150, 150, 150, 150), (250, 250, 250, 250), (100,) * 4]
    frame = ohlc(rows)
    result = run_backtest(frame, signals(5, short_entries=[0], long_entries=[3]))
    trade = result.trades.iloc[0]
    units = np.floor(10_000 * (1 - EPSILON) / 100)
    assert trade["exit_reason"] == "liquidation"
    assert trade["exit_bar"] == 3
    assert trade["exit_price"] == 250
    assert result.equity.iloc[3] == pytest.approx(10_000 - units * 150, rel=1e-12)
    assert result.open_position is None
    assert len(result.trades) == 1
    assert (result.equity.iloc[3:] == result.equity.iloc[3]).all()
