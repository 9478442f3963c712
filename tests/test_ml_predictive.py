"""ml_predictive trades on out-of-sample probabilities only, at its thresholds."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from quantdesk.engine import BacktestConfig, run_backtest
from quantdesk.errors import InvalidInputError
from quantdesk.learning import TrainingConfig, train_model
from quantdesk.strategies import get_strategy
from quantdesk.strategies.ml_predictive import MlPredictive
from tests.command_line import run_quantdesk
from tests.test_learning import autocorrelated, bars_from_returns

CONFIG = BacktestConfig(lot_size=1e-8)


def with_predictions(frame: pd.DataFrame, predictions: np.ndarray) -> pd.DataFrame:
    return frame.assign(prediction=predictions)


@pytest.fixture(scope="module")
def bars() -> pd.DataFrame:
    return bars_from_returns(np.random.default_rng(5).normal(0, 0.01, size=400), seed=5)


def test_signals_follow_the_thresholds_and_ignore_bars_without_a_prediction(
    bars: pd.DataFrame,
) -> None:
    predictions = np.random.default_rng(6).uniform(0, 1, size=len(bars))
    predictions[:100] = np.nan
    signals = get_strategy("ml_predictive", entry=0.6, exit=0.45).signals(
        with_predictions(bars, predictions)
    )
    known = ~np.isnan(predictions)
    np.testing.assert_array_equal(signals.long_entries, known & (predictions > 0.6))
    np.testing.assert_array_equal(signals.long_exits, known & (predictions < 0.45))
    assert not signals.short_entries.any()
    assert not signals.long_entries[:100].any()


def test_without_long_only_the_short_side_mirrors_the_long(bars: pd.DataFrame) -> None:
    predictions = np.random.default_rng(7).uniform(0, 1, size=len(bars))
    signals = get_strategy("ml_predictive", entry=0.6, exit=0.45, long_only=False).signals(
        with_predictions(bars, predictions)
    )
    np.testing.assert_array_equal(signals.short_entries, predictions < 0.4)
    np.testing.assert_array_equal(signals.short_exits, predictions > 0.55)


def test_no_trade_opens_before_the_first_out_of_sample_prediction() -> None:
    frame = bars_from_returns(autocorrelated(4_000, 0.5, seed=8), seed=8)
    model = train_model(frame, "default", TrainingConfig(folds=3, max_rounds=100))
    strategy = MlPredictive(predictions=model.out_of_sample)
    result = run_backtest(frame, strategy.signals(frame), CONFIG)
    assert result.stats["n_trades"] > 10
    first_prediction = model.out_of_sample.first_valid_index()
    assert (result.trades["entry_time"] > first_prediction).all()
    # The planted momentum is worth trading out of sample.
    assert result.stats["total_return_pct"] > 0


def test_predictions_are_aligned_to_the_bars_and_kept_on_copies(bars: pd.DataFrame) -> None:
    predictions = pd.Series(np.linspace(0, 1, len(bars)), index=bars.index)
    strategy = MlPredictive(predictions=predictions.iloc[::-1])  # order does not matter
    signals = strategy.with_parameters(entry=0.9).signals(bars)
    np.testing.assert_array_equal(signals.long_entries, predictions.to_numpy() > 0.9)
    later = strategy.signals(bars.iloc[200:])
    np.testing.assert_array_equal(later.long_entries, predictions.to_numpy()[200:] > 0.55)


def test_missing_or_bad_predictions_name_the_fix(bars: pd.DataFrame) -> None:
    strategy = get_strategy("ml_predictive")
    with pytest.raises(InvalidInputError, match="prediction"):
        strategy.signals(bars)
    with pytest.raises(InvalidInputError, match="no bar has a prediction"):
        strategy.signals(with_predictions(bars, np.full(len(bars), np.nan)))
    with pytest.raises(InvalidInputError, match=r"probabilities in \[0, 1\]"):
        strategy.signals(with_predictions(bars, np.full(len(bars), 2.0)))
    with pytest.raises(InvalidInputError, match="must not be above entry"):
        get_strategy("ml_predictive", entry=0.55, exit=0.6)


@pytest.fixture(scope="module")
def momentum() -> pd.DataFrame:
    return bars_from_returns(autocorrelated(4_000, 0.5, seed=9), seed=9)


def test_backtesting_it_without_predictions_trades_a_walk_forward_model(
    momentum: pd.DataFrame,
) -> None:
    import quantdesk

    result = quantdesk.backtest("ml_predictive", momentum, lot_size=1e-8, entry=0.56)
    model = train_model(momentum)
    expected = run_backtest(
        momentum,
        MlPredictive(predictions=model.out_of_sample, entry=0.56).signals(momentum),
        CONFIG,
    )
    assert result.stats["n_trades"] == expected.stats["n_trades"] > 10
    np.testing.assert_allclose(result.equity.to_numpy(), expected.equity.to_numpy())
    first_prediction = model.out_of_sample.first_valid_index()
    assert (result.trades["entry_time"] > first_prediction).all()
    assert result.parameters["entry"] == 0.56


def test_backtesting_it_on_too_few_bars_names_the_bars_needed(momentum: pd.DataFrame) -> None:
    import quantdesk

    with pytest.raises(InvalidInputError) as raised:
        quantdesk.backtest("ml_predictive", momentum.iloc[:300], lot_size=1e-8)
    message = str(raised.value)
    assert "\n" not in message
    assert "ml_predictive first trains a model" in message
    assert "bars, the data has 300" in message
    assert "MlPredictive(predictions=model.out_of_sample)" in message


def test_the_command_line_backtest_trains_and_trades_it(
    momentum: pd.DataFrame, tmp_path: Path
) -> None:
    path = tmp_path / "momentum.csv"
    momentum.to_csv(path)
    result = run_quantdesk(
        "backtest",
        "ml_predictive",
        "--data",
        f"csv:{path}",
        "--lot-size",
        "1e-8",
        "--json",
        data_dir=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    output = json.loads(result.stdout)
    model = train_model(momentum)
    first_prediction = model.out_of_sample.first_valid_index()
    assert output["stats"]["n_trades"] > 10
    assert all(pd.Timestamp(trade["entry_time"]) > first_prediction for trade in output["trades"])
