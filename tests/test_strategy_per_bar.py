"""The per-bar path: numba steps run in a compiled loop, equal to the vectorised path."""

from __future__ import annotations

from collections.abc import Sequence

import numba
import numpy as np
import pandas as pd
import pytest

from quantdesk.errors import InvalidInputError
from quantdesk.indicators import sma
from quantdesk.strategies import (
    LONG_ENTRY,
    LONG_EXIT,
    NO_SIGNAL,
    SHORT_ENTRY,
    SHORT_EXIT,
    Parameter,
    PerBarStrategy,
    get_strategy,
    signals_from_flags,
)
from quantdesk.strategies._bar_loop import run_bar_steps
from quantdesk.strategies.sma_cross import SmaCross
from tests.frames import bars_from_closes

SIGNAL_NAMES = ("long_entries", "long_exits", "short_entries", "short_exits")


@numba.njit(cache=True)
def sma_cross_step(
    bar: int, inputs: np.ndarray, parameters: np.ndarray, state: np.ndarray, side: int
) -> int:
    if bar == 0:
        return NO_SIGNAL
    fast, slow = inputs[0], inputs[1]
    short = parameters[2] != 0.0
    if fast[bar - 1] < slow[bar - 1] and fast[bar] > slow[bar]:
        return LONG_ENTRY | SHORT_EXIT if short else LONG_ENTRY
    if fast[bar - 1] > slow[bar - 1] and fast[bar] < slow[bar]:
        return LONG_EXIT | SHORT_ENTRY if short else LONG_EXIT
    return NO_SIGNAL


class SmaCrossPerBar(PerBarStrategy):
    """sma_cross decided bar by bar: the per-bar twin of the vectorised built-in."""

    name = "test_sma_cross_per_bar"
    fast = Parameter(10, minimum=1, description="bars in the fast average")
    slow = Parameter(20, minimum=2, description="bars in the slow average")
    short = Parameter(False, description="also sell short on a cross down")
    bar_step = sma_cross_step

    @property
    def minimum_bars(self) -> int:
        return self.slow + 1

    def bar_inputs(self, frame: pd.DataFrame) -> Sequence[pd.Series]:
        return sma(frame, self.fast), sma(frame, self.slow)


@numba.njit(cache=True)
def hold_step(
    bar: int, inputs: np.ndarray, parameters: np.ndarray, state: np.ndarray, side: int
) -> int:
    # state[0]: bars held so far; parameters[0]: bars to hold.
    if side == 1:
        state[0] += 1
        if state[0] >= parameters[0]:
            return LONG_EXIT
        return NO_SIGNAL
    state[0] = 0.0
    if bar > 0 and inputs[0, bar] > inputs[0, bar - 1]:
        return LONG_ENTRY
    return NO_SIGNAL


class HoldAfterUpClose(PerBarStrategy):
    """Buy an up close when flat and sell after a fixed number of bars: path-dependent."""

    name = "test_hold_after_up_close"
    hold = Parameter(3, minimum=1, description="bars to hold")
    bar_step = hold_step
    state_size = 1

    def bar_inputs(self, frame: pd.DataFrame) -> Sequence[pd.Series]:
        return (frame["close"],)


@numba.njit(cache=True)
def side_probe_step(
    bar: int, inputs: np.ndarray, parameters: np.ndarray, state: np.ndarray, side: int
) -> int:
    state[bar] = side
    if parameters[0] == 0.0:
        return LONG_EXIT if side == 1 else LONG_ENTRY
    return LONG_ENTRY if side == -1 else SHORT_ENTRY


class SideProbe(PerBarStrategy):
    """Records the side the loop reports; flips in one of two patterns."""

    reverse = Parameter(False, description="reverse each bar instead of entering and exiting")
    bar_step = side_probe_step
    bars = 6

    def initial_state(self) -> np.ndarray:
        return np.full(self.bars, np.nan)

    def bar_inputs(self, frame: pd.DataFrame) -> Sequence[np.ndarray]:
        return ()


@numba.njit(cache=True)
def bad_flag_step(
    bar: int, inputs: np.ndarray, parameters: np.ndarray, state: np.ndarray, side: int
) -> int:
    return 16 if bar == 2 else NO_SIGNAL


@numba.njit(cache=True)
def short_arity_step(bar: int, inputs: np.ndarray) -> int:
    return NO_SIGNAL


@numba.njit
def untypable_step(
    bar: int, inputs: np.ndarray, parameters: np.ndarray, state: np.ndarray, side: int
) -> int:
    return inputs.no_such_attribute  # type: ignore[attr-defined, no-any-return]


def random_walk(bars: int, seed: int) -> pd.DataFrame:
    generator = np.random.default_rng(seed)
    return bars_from_closes(100.0 * np.exp(np.cumsum(generator.normal(0.0, 0.01, bars))))


def assert_same_signals(left: object, right: object) -> None:
    for name in SIGNAL_NAMES:
        np.testing.assert_array_equal(getattr(left, name), getattr(right, name), err_msg=name)


@pytest.mark.parametrize("short", [False, True])
@pytest.mark.parametrize(("fast", "slow"), [(10, 20), (5, 8), (3, 50)])
def test_the_per_bar_twin_equals_the_vectorised_sma_cross(
    fast: int, slow: int, short: bool
) -> None:
    frame = random_walk(3_000, seed=fast * 100 + slow)
    per_bar = SmaCrossPerBar(fast=fast, slow=slow, short=short).signals(frame)
    vectorised = SmaCross(fast=fast, slow=slow, short=short).signals(frame)
    assert vectorised.long_entries.sum() > 10
    assert_same_signals(per_bar, vectorised)


def test_the_per_bar_twin_equals_the_vectorised_sma_cross_on_goog() -> None:
    test_data = pytest.importorskip("backtesting.test")
    frame = test_data.GOOG.rename(columns=str.lower).astype(float)
    for short in (False, True):
        assert_same_signals(
            SmaCrossPerBar(short=short).signals(frame), SmaCross(short=short).signals(frame)
        )


def test_a_per_bar_strategy_is_registered_and_found_by_name() -> None:
    strategy = get_strategy("test_sma_cross_per_bar", fast=5)
    assert isinstance(strategy, SmaCrossPerBar)
    assert strategy.bar_parameters().tolist() == [5.0, 20.0, 0.0]


def test_state_carries_from_bar_to_bar() -> None:
    # Up closes on bars 1, 2, 3, 5, 6, 7, 8, 9; each entry is held for three bars.
    closes = [10, 11, 12, 13, 12, 13, 14, 15, 16, 17, 18]
    flags = HoldAfterUpClose().bar_flags(bars_from_closes(closes))
    assert np.flatnonzero(flags == LONG_ENTRY).tolist() == [1, 5, 9]
    assert np.flatnonzero(flags == LONG_EXIT).tolist() == [4, 8]
    held_two = HoldAfterUpClose(hold=2).bar_flags(bars_from_closes(closes))
    assert np.flatnonzero(held_two == LONG_ENTRY).tolist() == [1, 5, 8]


def test_the_loop_reports_the_side_the_signals_imply() -> None:
    frame = bars_from_closes(np.linspace(100, 105, SideProbe.bars))
    probe = SideProbe()
    flags = probe.bar_flags(frame)
    assert flags.tolist() == [LONG_ENTRY, LONG_EXIT] * 3
    reversing = SideProbe(reverse=True)
    assert reversing.bar_flags(frame).tolist() == [SHORT_ENTRY, LONG_ENTRY] * 3


def test_the_step_sees_the_side_left_by_the_bars_before() -> None:
    # SideProbe writes the side it is given into state[bar]; run the loop directly to read it.
    inputs = np.zeros((0, SideProbe.bars))
    state = np.full(SideProbe.bars, np.nan)
    run_bar_steps(side_probe_step, inputs, np.array([1.0]), state)
    assert state.tolist() == [0, -1, 1, -1, 1, -1]
    state = np.full(SideProbe.bars, np.nan)
    run_bar_steps(side_probe_step, inputs, np.array([0.0]), state)
    assert state.tolist() == [0, 1, 0, 1, 0, 1]


def test_flags_become_signals() -> None:
    flags = np.array([LONG_ENTRY, LONG_EXIT | SHORT_ENTRY, SHORT_EXIT | LONG_ENTRY, NO_SIGNAL])
    signals = signals_from_flags(flags)
    assert signals.long_entries.tolist() == [True, False, True, False]
    assert signals.long_exits.tolist() == [False, True, False, False]
    assert signals.short_entries.tolist() == [False, True, False, False]
    assert signals.short_exits.tolist() == [False, False, True, False]


def test_a_named_per_bar_strategy_needs_a_numba_step() -> None:
    def plain_step(
        bar: int, inputs: np.ndarray, parameters: np.ndarray, state: np.ndarray, side: int
    ) -> int:
        return NO_SIGNAL

    with pytest.raises(InvalidInputError, match=r"bar_step must be a numba function"):

        class Plain(PerBarStrategy):
            name = "test_plain_step"
            bar_step = plain_step

            def bar_inputs(self, frame: pd.DataFrame) -> Sequence[np.ndarray]:
                return ()

    class Missing(PerBarStrategy):
        def bar_inputs(self, frame: pd.DataFrame) -> Sequence[np.ndarray]:
            return ()

    with pytest.raises(InvalidInputError, match=r"Missing\.bar_step must be a numba function"):
        Missing().signals(bars_from_closes([1.0, 2.0]))


def test_unknown_flags_are_refused() -> None:
    class BadFlags(PerBarStrategy):
        bar_step = bad_flag_step

        def bar_inputs(self, frame: pd.DataFrame) -> Sequence[np.ndarray]:
            return ()

    with pytest.raises(InvalidInputError, match="returned 16 at bar 2"):
        BadFlags().signals(bars_from_closes([1.0, 2.0, 3.0, 4.0]))


def test_a_step_with_the_wrong_signature_is_refused() -> None:
    class WrongArity(PerBarStrategy):
        bar_step = short_arity_step

        def bar_inputs(self, frame: pd.DataFrame) -> Sequence[np.ndarray]:
            return ()

    with pytest.raises(InvalidInputError, match="bar_step takes 2 arguments; write it as step"):
        WrongArity().signals(bars_from_closes([1.0, 2.0, 3.0]))


def test_a_step_that_does_not_compile_is_refused_in_one_line() -> None:
    class Untypable(PerBarStrategy):
        bar_step = untypable_step

        def bar_inputs(self, frame: pd.DataFrame) -> Sequence[np.ndarray]:
            return ()

    with pytest.raises(InvalidInputError, match="cannot be compiled as step") as caught:
        Untypable().signals(bars_from_closes([1.0, 2.0, 3.0]))
    assert "\n" not in str(caught.value)


def test_inputs_must_have_one_value_per_bar() -> None:
    class ShortInput(PerBarStrategy):
        bar_step = sma_cross_step

        def bar_inputs(self, frame: pd.DataFrame) -> Sequence[np.ndarray]:
            return (np.zeros(len(frame) - 1),)

    with pytest.raises(InvalidInputError, match=r"bar input 0 has shape \(4,\)"):
        ShortInput().signals(bars_from_closes([1.0, 2.0, 3.0, 4.0, 5.0]))


def test_contradictory_flags_are_refused_by_the_signals_check() -> None:
    @numba.njit
    def both_sides(
        bar: int, inputs: np.ndarray, parameters: np.ndarray, state: np.ndarray, side: int
    ) -> int:
        return LONG_ENTRY | SHORT_ENTRY if bar == 1 else NO_SIGNAL

    class BothSides(PerBarStrategy):
        bar_step = both_sides

        def bar_inputs(self, frame: pd.DataFrame) -> Sequence[np.ndarray]:
            return ()

    with pytest.raises(InvalidInputError, match="a long and a short entry on the same bar"):
        BothSides().signals(bars_from_closes([1.0, 2.0, 3.0]))
