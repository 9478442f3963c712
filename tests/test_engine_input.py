"""Refusals: every bad config or input gives one line naming the problem and the fix."""

from __future__ import annotations

import pickle
import re
import warnings

import numpy as np
import pandas as pd
import pytest

from quantdesk.core.frame import validate_ohlcv
from quantdesk.engine import BacktestConfig, prepare_prices, run_backtest, simulate_equity
from quantdesk.errors import ConfigurationError, DataRepairWarning, InvalidInputError
from quantdesk.strategies.signals import Signals
from tests.frames import bars_from_closes

FRAME = bars_from_closes([100.0, 101.0, 102.0, 101.0, 103.0, 104.0])
SIGNALS = Signals.from_series(np.array([True, False, False, True, False, False]))


def one_line(error: pytest.ExceptionInfo[BaseException]) -> str:
    message = str(error.value)
    assert "\n" not in message
    return message


def test_config_defaults() -> None:
    config = BacktestConfig()
    assert (config.cash, config.commission, config.fixed_fee, config.slippage) == (
        10_000,
        0,
        0,
        0,
    )
    assert (config.lot_size, config.sizing, config.size) == (1.0, "all_in", None)
    assert not config.trade_on_close
    assert not config.finalize_trades
    assert config.stop_loss is None
    assert config.periods_per_year is None


def test_config_is_frozen_and_pickles() -> None:
    config = BacktestConfig(commission=0.001, stop_loss=0.05)
    with pytest.raises(Exception, match="frozen"):
        config.cash = 5.0  # type: ignore[misc]
    assert pickle.loads(pickle.dumps(config)) == config


def test_an_unknown_field_names_the_close_match() -> None:
    with pytest.raises(InvalidInputError) as error:
        BacktestConfig(comission=0.001)
    assert one_line(error) == (
        "unknown BacktestConfig field 'comission'; did you mean 'commission'?"
    )
    assert isinstance(error.value, ConfigurationError)


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"cash": -1}, "BacktestConfig.cash must be positive; got -1.0"),
        ({"cash": 0}, "BacktestConfig.cash must be positive"),
        ({"commission": -0.001}, "BacktestConfig.commission is a rate in [0, 1)"),
        ({"commission": 2}, "BacktestConfig.commission is a rate in [0, 1)"),
        ({"fixed_fee": -1}, "BacktestConfig.fixed_fee must be 0 or positive"),
        ({"slippage": -0.1}, "BacktestConfig.slippage is a fraction of price"),
        ({"lot_size": 0}, "BacktestConfig.lot_size must be positive"),
        ({"stop_loss": 1.5}, "BacktestConfig.stop_loss is a fraction of entry price in (0, 1)"),
        ({"trailing_stop": 0}, "BacktestConfig.trailing_stop is a fraction"),
        ({"take_profit": -0.1}, "BacktestConfig.take_profit is a positive fraction"),
        ({"periods_per_year": 0}, "BacktestConfig.periods_per_year must be positive"),
        ({"sizing": "units"}, "sizing='units' needs a size"),
        ({"size": 3}, "size=3.0 is only used with sizing='units', 'cash' or 'equity_fraction'"),
        (
            {"sizing": "equity_fraction", "size": 1.5},
            "BacktestConfig.size is a fraction of equity in (0, 1]",
        ),
        ({"sizing": "kelly"}, "BacktestConfig.sizing: Input should be 'all_in', 'units'"),
        ({"cash": "lots"}, "BacktestConfig.cash: Input should be a valid number"),
        ({"cash": float("nan")}, "BacktestConfig.cash must be positive; got nan"),
    ],
)
def test_bad_values_are_refused_in_one_line(values: dict[str, object], expected: str) -> None:
    with pytest.raises(ConfigurationError) as error:
        BacktestConfig(**values)
    assert expected in one_line(error)


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"cash": "1e4"}, "BacktestConfig.cash: Input should be a valid number; got '1e4'"),
        ({"commission": "0.001"}, "BacktestConfig.commission: Input should be a valid number"),
        ({"cash": True}, "BacktestConfig.cash: Input should be a valid number; got True"),
        ({"trade_on_close": "yes"}, "BacktestConfig.trade_on_close: Input should be a valid"),
        ({"finalize_trades": 1}, "BacktestConfig.finalize_trades: Input should be a valid"),
        ({"stop_loss": "0.05"}, "BacktestConfig.stop_loss: Input should be a valid number"),
    ],
)
def test_values_are_not_coerced(values: dict[str, object], expected: str) -> None:
    with pytest.raises(ConfigurationError) as error:
        BacktestConfig(**values)
    assert expected in one_line(error)


def test_numbers_of_any_kind_are_taken() -> None:
    config = BacktestConfig(
        cash=np.int64(5_000), stop_loss=np.float64(0.05), trade_on_close=np.True_
    )
    assert (config.cash, config.stop_loss, config.trade_on_close) == (5_000.0, 0.05, True)
    assert type(config.cash) is float
    assert type(config.trade_on_close) is bool


@pytest.mark.parametrize(
    ("update", "expected"),
    [
        (
            {"cash": -1, "bogus": 3, "sizing": "martingale"},
            "unknown BacktestConfig field 'bogus'",
        ),
        ({"cash": -1}, "BacktestConfig.cash must be positive; got -1"),
        ({"sizing": "martingale"}, "BacktestConfig.sizing: Input should be 'all_in', 'units'"),
        ({"sizing": "units"}, "sizing='units' needs a size"),
        ({"comission": 0.001}, "did you mean 'commission'?"),
        ({"trade_on_close": "yes"}, "BacktestConfig.trade_on_close: Input should be a valid"),
    ],
)
def test_a_copy_is_validated_like_a_new_config(update: dict[str, object], expected: str) -> None:
    with pytest.raises(ConfigurationError) as error:
        BacktestConfig().model_copy(update=update)
    assert expected in one_line(error)


def test_no_way_around_validation() -> None:
    with pytest.raises(ConfigurationError, match=re.escape("BacktestConfig.cash must be positive")):
        BacktestConfig.model_construct(cash=-1.0)
    with pytest.raises(ConfigurationError, match="unknown BacktestConfig field 'bogus'"):
        BacktestConfig.model_construct(bogus=3)
    with pytest.raises(
        ConfigurationError, match=re.escape("BacktestConfig.slippage is a fraction")
    ):
        BacktestConfig().__replace__(slippage=2.0)  # what copy.replace calls
    with pytest.raises(ValueError, match="sizing"):
        BacktestConfig.model_validate({"sizing": "martingale"})


def test_a_valid_copy_keeps_the_other_fields_and_runs() -> None:
    base = BacktestConfig(commission=0.001, stop_loss=0.05)
    changed = base.model_copy(update={"sizing": "units", "size": 3})
    assert changed == BacktestConfig(commission=0.001, stop_loss=0.05, sizing="units", size=3.0)
    assert changed.model_copy() == changed
    position = run_backtest(FRAME, SIGNALS, changed).open_position
    assert position is not None
    assert position.size == 3.0


def test_signals_of_another_length_are_refused() -> None:
    short = Signals.from_series(np.zeros(5, dtype=bool))
    with pytest.raises(InvalidInputError) as error:
        run_backtest(FRAME, short)
    assert one_line(error) == ("signals cover 5 bars but the data has 6; return one value per bar")


def test_a_long_and_a_short_entry_on_one_bar_are_refused() -> None:
    both = np.array([False, True, False, False, False, False])
    with pytest.raises(InvalidInputError, match="a long and a short entry on the same bar"):
        run_backtest(FRAME, Signals.from_series(both, short_entries=both))


def test_too_little_data_is_refused() -> None:
    with pytest.raises(InvalidInputError) as error:
        run_backtest(FRAME.iloc[:1], Signals.from_series(np.zeros(1, dtype=bool)))
    assert one_line(error) == (
        "a backtest needs at least 2 bars, the frame has 1; load a longer range"
    )


def test_a_frame_that_is_not_canonical_is_refused_with_the_fix() -> None:
    capitalised = FRAME.rename(columns=str.capitalize)
    with pytest.raises(InvalidInputError) as error:
        run_backtest(capitalised, SIGNALS)
    assert "pass it through quantdesk.validate_ohlcv(frame) first" in one_line(error)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataRepairWarning)
        repaired = validate_ohlcv(capitalised)
    assert run_backtest(repaired, SIGNALS).stats["n_trades"] == 0
    naive = FRAME.tz_localize(None)
    with pytest.raises(InvalidInputError, match="not a canonical OHLCV frame"):
        run_backtest(naive, SIGNALS)


def test_invalid_values_in_a_canonical_frame_are_refused() -> None:
    broken = FRAME.copy()
    broken.iloc[2, broken.columns.get_loc("high")] = 1.0
    with pytest.raises(InvalidInputError) as error:
        run_backtest(broken, SIGNALS)
    assert "high < low" in one_line(error)


def test_other_objects_are_refused() -> None:
    with pytest.raises(InvalidInputError, match="expected a pandas DataFrame"):
        run_backtest(FRAME.to_numpy(), SIGNALS)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="signals must be quantdesk"):
        run_backtest(FRAME, np.zeros(6, dtype=bool))  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="config must be a BacktestConfig"):
        run_backtest(FRAME, SIGNALS, {"cash": 5})  # type: ignore[arg-type]


def test_a_wrong_equity_buffer_is_refused() -> None:
    prices = prepare_prices(FRAME)
    with pytest.raises(InvalidInputError, match="equity_out must be"):
        simulate_equity(prices, SIGNALS, out=np.empty(5))
    with pytest.raises(InvalidInputError, match="equity_out must be"):
        simulate_equity(prices, SIGNALS, out=np.empty(6, dtype=np.float32))


def test_read_only_inputs_are_accepted() -> None:
    frame = FRAME.copy()
    entries = np.array([True, False, False, False, False, False])
    entries.flags.writeable = False
    result = run_backtest(frame, Signals(entries, entries, entries & False, entries & False))
    assert isinstance(result.equity, pd.Series)
