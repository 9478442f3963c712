"""No strategy looks ahead: signals on a prefix of the data equal the prefix of the signals."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from quantdesk.strategies import Signals, Strategy
from quantdesk.strategies.bollinger_breakout import BollingerBreakout
from quantdesk.strategies.breakout_scalping import BreakoutScalping
from quantdesk.strategies.rsi_reversion import RsiReversion
from quantdesk.strategies.sma_cross import SmaCross
from tests.frames import bars_from_closes
from tests.test_strategy_per_bar import HoldAfterUpClose, SmaCrossPerBar

BOOLEAN_ARRAYS = ("long_entries", "long_exits", "short_entries", "short_exits")
DISTANCE_ARRAYS = ("stop_distances", "target_distances", "trailing_distances")


def market(seed: int, bars: int) -> pd.DataFrame:
    """A random walk with bursts of volume, so every built-in finds something to do."""
    generator = np.random.default_rng(seed)
    closes = 100.0 * np.exp(np.cumsum(generator.normal(0.0, 0.015, bars)))
    volume = generator.lognormal(7.0, 0.6, bars)
    return bars_from_closes(closes, volume=volume, spread=0.3)


def sma_crosses() -> st.SearchStrategy[Strategy]:
    return st.tuples(st.integers(1, 15), st.integers(1, 25), st.booleans()).map(
        lambda values: SmaCross(fast=values[0], slow=values[0] + values[1], short=values[2])
    )


def rsi_reversions() -> st.SearchStrategy[Strategy]:
    return st.tuples(st.integers(2, 20), st.floats(10, 40), st.floats(60, 90), st.booleans()).map(
        lambda values: RsiReversion(
            period=values[0], oversold=values[1], overbought=values[2], short=values[3]
        )
    )


def bollinger_breakouts() -> st.SearchStrategy[Strategy]:
    return st.tuples(st.integers(2, 30), st.floats(0.5, 3.0), st.booleans()).map(
        lambda values: BollingerBreakout(period=values[0], deviations=values[1], short=values[2])
    )


def breakout_scalpers() -> st.SearchStrategy[Strategy]:
    return st.tuples(
        st.integers(1, 30), st.floats(0.0, 2.0), st.integers(1, 20), st.booleans()
    ).map(
        lambda values: BreakoutScalping(
            lookback=values[0], volume_factor=values[1], atr_period=values[2], short=values[3]
        )
    )


def per_bar_strategies() -> st.SearchStrategy[Strategy]:
    return st.one_of(
        st.tuples(st.integers(1, 10), st.integers(1, 20), st.booleans()).map(
            lambda values: SmaCrossPerBar(
                fast=values[0], slow=values[0] + values[1], short=values[2]
            )
        ),
        st.integers(1, 8).map(lambda hold: HoldAfterUpClose(hold=hold)),
    )


def assert_prefix_equal(prefix: Signals, full: Signals, length: int) -> None:
    for name in BOOLEAN_ARRAYS:
        np.testing.assert_array_equal(getattr(prefix, name), getattr(full, name)[:length], name)
    for name in DISTANCE_ARRAYS:
        short, long = getattr(prefix, name), getattr(full, name)
        assert (short is None) == (long is None), name
        if short is not None:
            np.testing.assert_array_equal(short, long[:length], name)
    assert prefix.maximum_bars_held == full.maximum_bars_held


@settings(max_examples=60)
@given(
    strategy=st.one_of(
        sma_crosses(),
        rsi_reversions(),
        bollinger_breakouts(),
        breakout_scalpers(),
        per_bar_strategies(),
    ),
    seed=st.integers(0, 2**32 - 1),
    extra_bars=st.integers(0, 200),
    cut=st.floats(0.0, 1.0),
)
def test_signals_never_look_ahead(
    strategy: Strategy, seed: int, extra_bars: int, cut: float
) -> None:
    frame = market(seed, strategy.minimum_bars + extra_bars)
    full = strategy.signals(frame)
    length = strategy.minimum_bars + round(cut * extra_bars)
    prefix = strategy.signals(frame.iloc[:length])
    assert_prefix_equal(prefix, full, length)


class Peeking(Strategy):
    """Buys before a rise it cannot know about yet: the check below must catch it."""

    def _signals(self, frame: pd.DataFrame) -> Signals:
        close = frame["close"]
        return Signals.from_series((close.shift(-1) > close).to_numpy())


def test_the_prefix_check_catches_a_strategy_that_peeks() -> None:
    frame = market(3, 50)
    full = Peeking().signals(frame)
    assert any(
        not np.array_equal(
            Peeking().signals(frame.iloc[:length]).long_entries, full.long_entries[:length]
        )
        for length in range(1, 51)
    )
