"""quantdesk.backtest gives every keyword one meaning: engine option or strategy parameter."""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
import pandas as pd
import pytest

import quantdesk
from quantdesk.core.frame import validate_ohlcv
from quantdesk.engine import BacktestConfig
from quantdesk.errors import InvalidInputError, UnknownNameError
from quantdesk.strategies import Parameter, Signals, Strategy
from tests.frames import bars_from_closes


def ohlc(rows: Sequence[tuple[float, float, float, float]]) -> pd.DataFrame:
    values = np.asarray(rows, dtype=np.float64)
    index = pd.date_range("2024-01-01", periods=len(values), freq="D", tz="UTC", name="time")
    frame = pd.DataFrame(values, columns=["open", "high", "low", "close"], index=index)
    frame["volume"] = 1_000.0
    return validate_ohlcv(frame)


# Entry on bar 1's open at 100. A 5 % stop (95) is passed on bar 2, a 3 % stop
# (97) on bar 2 as well but at its own level, a 20 % stop (80) only on bar 4.
FALLING = ohlc(
    [
        (100, 101, 99, 100),
        (100, 101, 99, 100),
        (100, 100, 94, 96),
        (96, 96, 85, 85),
        (85, 85, 79, 80),
        (80, 80, 80, 80),
    ]
)


RISING = bars_from_closes([100.0 + 0.25 * bar for bar in range(60)])


def first_bar_entry(frame: pd.DataFrame, stop_distances: np.ndarray) -> Signals:
    entries = np.zeros(len(frame), dtype=bool)
    entries[0] = True
    never = np.zeros(len(frame), dtype=bool)
    return Signals(entries, never, never.copy(), never.copy(), stop_distances=stop_distances)


class FractionStop(Strategy):
    """Buy on the first bar with a stop at a fraction of the first close."""

    stop_loss = Parameter(0.2, minimum=0.001, maximum=0.99, description="stop, fraction of close")

    def _signals(self, frame: pd.DataFrame) -> Signals:
        distance = self.stop_loss * float(frame["close"].iloc[0])
        return first_bar_entry(frame, np.full(len(frame), distance))


class NoOwnStop(Strategy):
    """Buy on the first bar; stop distances given, all NaN."""

    def _signals(self, frame: pd.DataFrame) -> Signals:
        return first_bar_entry(frame, np.full(len(frame), np.nan))


class Windowed(Strategy):
    """A strategy whose parameter is named like a loading keyword."""

    start = Parameter(1, minimum=0, description="first bar to trade")

    def _signals(self, frame: pd.DataFrame) -> Signals:
        return first_bar_entry(frame, np.full(len(frame), np.nan))


def one_line(error: pytest.ExceptionInfo[BaseException]) -> str:
    message = str(error.value)
    assert "\n" not in message
    return message


def exit_of(result: quantdesk.BacktestResult) -> tuple[str, int, float]:
    trade = result.trades.iloc[0]
    return str(trade["exit_reason"]), int(trade["exit_bar"]), float(trade["exit_price"])


def test_a_name_with_both_meanings_is_refused_naming_both() -> None:
    with pytest.raises(InvalidInputError) as error:
        quantdesk.backtest(FractionStop, FALLING, stop_loss=0.05)
    message = one_line(error)
    assert "'stop_loss' is both a BacktestConfig field and a FractionStop parameter" in message
    assert "params={'stop_loss': ...}" in message
    assert "config=BacktestConfig(stop_loss=...)" in message


def test_params_reach_the_strategy_and_config_the_engine() -> None:
    mine = quantdesk.backtest(FractionStop, FALLING, params={"stop_loss": 0.03})
    assert mine.parameters == {"stop_loss": 0.03}
    assert mine.config.stop_loss is None
    assert exit_of(mine) == ("stop_loss", 2, 97.0)  # 100 - 0.03 * 100
    engine = quantdesk.backtest(FractionStop, FALLING, config=BacktestConfig(stop_loss=0.05))
    assert engine.config.stop_loss == 0.05
    # The strategy's own finite stop (20 % of 100, so 80) wins over the config's.
    assert exit_of(engine) == ("stop_loss", 4, 80.0)
    instance = quantdesk.backtest(FractionStop(stop_loss=0.03), FALLING)
    assert exit_of(instance) == ("stop_loss", 2, 97.0)


def test_the_config_stop_applies_when_the_strategy_sets_none() -> None:
    result = quantdesk.backtest(NoOwnStop, FALLING, stop_loss=0.05)
    assert exit_of(result) == ("stop_loss", 2, 95.0)  # 100 * (1 - 0.05)
    trade = result.trades.iloc[0]
    assert trade["pnl"] == pytest.approx(trade["size"] * (95.0 - 100.0), rel=1e-12)
    assert quantdesk.backtest(NoOwnStop, FALLING).trades.empty


@pytest.mark.parametrize(
    ("keyword", "expected"),
    [
        ("comission", "did you mean 'commission'?"),
        ("stop_los", "did you mean 'stop_loss'?"),
        ("fsat", "did you mean 'fast'?"),
    ],
)
def test_an_unknown_keyword_gets_close_matches_from_both_sets(keyword: str, expected: str) -> None:
    frame = RISING
    with pytest.raises(UnknownNameError) as error:
        quantdesk.backtest("sma_cross", frame, **{keyword: 0.001})
    message = one_line(error)
    assert message.startswith(f"unknown sma_cross parameter or BacktestConfig field '{keyword}'")
    assert message.endswith(expected)


def test_params_and_config_are_checked() -> None:
    frame = RISING
    with pytest.raises(InvalidInputError) as twice:
        quantdesk.backtest("sma_cross", frame, params={"fast": 5}, fast=6)
    assert "given twice" in one_line(twice)
    with pytest.raises(InvalidInputError) as engine_name:
        quantdesk.backtest("sma_cross", frame, params={"commission": 0.01})
    assert "pass commission=... as a keyword" in one_line(engine_name)
    with pytest.raises(UnknownNameError, match="did you mean 'fast'"):
        quantdesk.backtest("sma_cross", frame, params={"fsat": 5})
    with pytest.raises(InvalidInputError, match="config must be a BacktestConfig"):
        quantdesk.backtest("sma_cross", frame, config={"cash": 5})  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match=re.escape("BacktestConfig.cash must be positive")):
        quantdesk.backtest("sma_cross", frame, config=BacktestConfig(), cash=-1.0)


def test_engine_keywords_change_a_given_config() -> None:
    frame = RISING
    result = quantdesk.backtest(
        "sma_cross", frame, config=BacktestConfig(commission=0.01), cash=5_000.0, fast=5
    )
    assert result.config == BacktestConfig(commission=0.01, cash=5_000.0)
    assert result.parameters["fast"] == 5


def test_a_parameter_named_like_a_loading_keyword_goes_in_params() -> None:
    with pytest.raises(InvalidInputError) as error:
        quantdesk.backtest(Windowed, FALLING, start=3)
    assert "pass the parameter as params={'start': ...}" in one_line(error)
    assert quantdesk.backtest(Windowed, FALLING, params={"start": 3}).parameters == {"start": 3}
