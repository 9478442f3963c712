"""The built-in strategies on constructed prices whose right signals are known."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from quantdesk.indicators import atr
from quantdesk.strategies import Signals, Strategy, crossed_above, crossed_below
from quantdesk.strategies.bollinger_breakout import BollingerBreakout
from quantdesk.strategies.breakout_scalping import BreakoutScalping
from quantdesk.strategies.rsi_reversion import RsiReversion
from quantdesk.strategies.sma_cross import SmaCross
from tests.frames import bars_from_closes

SIGNAL_NAMES = ("long_entries", "long_exits", "short_entries", "short_exits")


def signal_bars(signals: Signals) -> dict[str, list[int]]:
    """The bar positions of each kind of signal."""
    return {name: np.flatnonzero(getattr(signals, name)).tolist() for name in SIGNAL_NAMES}


def no_signals() -> dict[str, list[int]]:
    return {name: [] for name in SIGNAL_NAMES}


def alternating(bars: int, low: float = 100.0, high: float = 101.0) -> np.ndarray:
    """Closes that swing between two prices: a quiet range with a steady band."""
    return np.where(np.arange(bars) % 2 == 0, low, high)


# crossings ---------------------------------------------------------------------------------


def test_crossings_are_strict_on_both_bars() -> None:
    values = np.array([1.0, 3.0, 2.0, 2.0, 3.0, 1.0, np.nan, 3.0])
    reference = np.full(8, 2.0)
    assert np.flatnonzero(crossed_above(values, reference)).tolist() == [1]
    assert np.flatnonzero(crossed_below(values, reference)).tolist() == [5]
    assert np.flatnonzero(crossed_above(values, 2.0)).tolist() == [1]
    assert not crossed_above(values[:1], 2.0).any()


def test_crossings_refuse_mismatched_lengths() -> None:
    with pytest.raises(ValueError, match="compare 3 values with 2"):
        crossed_above(np.ones(3), np.ones(2))


# sma_cross ---------------------------------------------------------------------------------


def test_sma_cross_enters_on_the_cross_up_and_exits_on_the_cross_down() -> None:
    # fast (2 bars): -, 11.5, 10.5, 11.5, 13.5, 11.5, 8.5, 10.0
    # slow (3 bars): -, -, 11.0, 11.33, 12.33, 12.0, 10.33, 9.67
    frame = bars_from_closes([12, 11, 10, 13, 14, 9, 8, 12])
    assert signal_bars(SmaCross(fast=2, slow=3).signals(frame)) == {
        "long_entries": [3, 7],
        "long_exits": [5],
        "short_entries": [],
        "short_exits": [],
    }


def test_sma_cross_with_short_reverses_on_every_cross() -> None:
    frame = bars_from_closes([12, 11, 10, 13, 14, 9, 8, 12])
    assert signal_bars(SmaCross(fast=2, slow=3, short=True).signals(frame)) == {
        "long_entries": [3, 7],
        "long_exits": [5],
        "short_entries": [5],
        "short_exits": [3, 7],
    }


def test_sma_cross_needs_the_fast_average_strictly_below_first() -> None:
    # Both averages are 10 on bar 2, so the rise on bar 3 starts from a tie: no cross.
    frame = bars_from_closes([10, 10, 10, 13, 14])
    assert signal_bars(SmaCross(fast=2, slow=3, short=True).signals(frame)) == no_signals()


@pytest.mark.parametrize(
    "closes",
    [np.full(60, 100.0), np.linspace(100, 160, 60), np.linspace(160, 100, 60)],
    ids=["flat", "rising", "falling"],
)
def test_sma_cross_gives_no_signal_without_a_cross(closes: np.ndarray) -> None:
    frame = bars_from_closes(closes)
    assert signal_bars(SmaCross(short=True).signals(frame)) == no_signals()


# rsi_reversion -----------------------------------------------------------------------------

# After a steady fall, RSI (14) is 0; k bars into a steady rise by the same step it is
# 100 * (1 - (13/14) ** k): 7.1, 13.8, 19.9, 25.7, 31.0 (k = 5, through 30), ...,
# 48.7, 52.3 (k = 10, through 50). A steady rise after a steady climb mirrors it.
FALL_THEN_RISE = np.r_[100.0 - np.arange(21), 81.0 + np.arange(15)]
RISE_THEN_FALL = np.r_[100.0 + np.arange(21), 119.0 - np.arange(15)]


def test_rsi_reversion_buys_the_turn_out_of_oversold_and_exits_at_the_exit_level() -> None:
    signals = RsiReversion().signals(bars_from_closes(FALL_THEN_RISE))
    assert signal_bars(signals) == {
        "long_entries": [25],
        "long_exits": [30],
        "short_entries": [],
        "short_exits": [],
    }


def test_rsi_reversion_exit_level_can_be_overbought() -> None:
    signals = RsiReversion(exit_level=60.0).signals(bars_from_closes(FALL_THEN_RISE))
    assert signal_bars(signals)["long_exits"] == [33]


def test_rsi_reversion_short_side_mirrors_the_long_side() -> None:
    frame = bars_from_closes(RISE_THEN_FALL)
    assert signal_bars(RsiReversion(short=True).signals(frame)) == {
        "long_entries": [],
        "long_exits": [],
        "short_entries": [25],
        "short_exits": [30],
    }
    assert signal_bars(RsiReversion().signals(frame)) == no_signals()


def test_rsi_reversion_gives_no_signal_in_a_steady_trend() -> None:
    frame = bars_from_closes(np.linspace(100, 140, 60))
    assert signal_bars(RsiReversion(short=True).signals(frame)) == no_signals()


# bollinger_breakout ------------------------------------------------------------------------

# A quiet swing between 100 and 101 keeps the bands at 99.5 / 100.5 / 101.5; the jump to 110
# on bar 30 is above the new upper band (105.2), and the fall to 100 on bar 33 is below
# the middle (101.9).
BREAK_UP = np.r_[alternating(30), [110.0, 110.0, 110.0, 100.0, 100.0]]
BREAK_DOWN = np.r_[alternating(30), [91.0, 91.0, 91.0, 101.0, 101.0]]


def first_after(bars: list[int], bar: int) -> int:
    return next(position for position in bars if position > bar)


def test_bollinger_breakout_enters_above_the_upper_band_and_exits_at_the_middle() -> None:
    found = signal_bars(BollingerBreakout().signals(bars_from_closes(BREAK_UP)))
    assert found["long_entries"] == [30]
    assert first_after(found["long_exits"], 30) == 33
    assert found["short_entries"] == found["short_exits"] == []


def test_bollinger_breakout_short_side() -> None:
    found = signal_bars(BollingerBreakout(short=True).signals(bars_from_closes(BREAK_DOWN)))
    assert found["short_entries"] == [30]
    assert first_after(found["short_exits"], 30) == 33
    assert found["long_entries"] == []
    assert (
        signal_bars(BollingerBreakout().signals(bars_from_closes(BREAK_DOWN)))["short_entries"]
        == []
    )


def test_bollinger_breakout_gives_no_entry_inside_the_bands() -> None:
    found = signal_bars(BollingerBreakout(short=True).signals(bars_from_closes(alternating(60))))
    assert found["long_entries"] == found["short_entries"] == []


# breakout_scalping -------------------------------------------------------------------------

# Quiet bars swing between 100 and 101, so highs reach 101.5 and lows 99.5 (spread 0.5).


def breakout_frame(breakout_close: float, breakout_volume: float) -> pd.DataFrame:
    closes = np.r_[alternating(30), [breakout_close], alternating(5)]
    volume = np.full(len(closes), 1_000.0)
    volume[30] = breakout_volume
    return bars_from_closes(closes, volume=volume)


def test_breakout_scalping_buys_a_loud_break_with_atr_stop_target_and_time_exit() -> None:
    frame = breakout_frame(103.0, 3_000.0)
    strategy = BreakoutScalping(stop_atr=1.5, target_atr=3.0, maximum_bars_held=7)
    signals = strategy.signals(frame)
    assert signal_bars(signals) == {
        "long_entries": [30],
        "long_exits": [],
        "short_entries": [],
        "short_exits": [],
    }
    average_range = atr(frame, 14).to_numpy()
    assert signals.stop_distances is not None
    assert signals.target_distances is not None
    assert signals.stop_distances[30] == pytest.approx(1.5 * average_range[30])
    assert signals.target_distances[30] == pytest.approx(3.0 * average_range[30])
    assert np.isnan(signals.stop_distances[:14]).all()
    assert signals.maximum_bars_held == 7


def test_breakout_scalping_needs_volume_above_the_factor() -> None:
    quiet = breakout_frame(103.0, 1_400.0)
    assert signal_bars(BreakoutScalping().signals(quiet)) == no_signals()
    assert signal_bars(BreakoutScalping(volume_factor=1.2).signals(quiet))["long_entries"] == [30]
    assert signal_bars(BreakoutScalping(volume_factor=0).signals(quiet))["long_entries"] == [30]
    exactly = breakout_frame(103.0, 1_500.0)
    assert signal_bars(BreakoutScalping().signals(exactly)) == no_signals()


def test_breakout_scalping_needs_a_close_beyond_the_range() -> None:
    inside = breakout_frame(101.4, 5_000.0)
    assert signal_bars(BreakoutScalping(short=True).signals(inside)) == no_signals()


def test_breakout_scalping_short_side() -> None:
    frame = breakout_frame(97.0, 3_000.0)
    assert signal_bars(BreakoutScalping().signals(frame)) == no_signals()
    assert signal_bars(BreakoutScalping(short=True).signals(frame))["short_entries"] == [30]


# every built-in ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "strategy",
    [
        SmaCross(short=True),
        RsiReversion(short=True),
        BollingerBreakout(short=True),
        BreakoutScalping(short=True),
    ],
    ids=lambda strategy: strategy.name,
)
def test_built_ins_run_on_sample_data_and_never_enter_both_sides_at_once(
    strategy: Strategy,
) -> None:
    generator = np.random.default_rng(7)
    closes = 100.0 * np.exp(np.cumsum(generator.normal(0.0, 0.01, 2_000)))
    volume = generator.lognormal(7.0, 0.5, 2_000)
    frame = bars_from_closes(closes, volume=volume)
    signals = strategy.signals(frame)
    assert len(signals) == len(frame)
    assert signals.long_entries.any()
    assert signals.short_entries.any()
    assert not (signals.long_entries & signals.short_entries).any()
