"""Walk-forward LightGBM training: planted signals are found, random walks are not."""

from __future__ import annotations

import itertools

import lightgbm
import numpy as np
import pandas as pd
import pytest

from quantdesk.errors import ConfigurationError, InvalidInputError
from quantdesk.features import get_feature_set, minimum_rows
from quantdesk.learning import TrainingConfig, train_model
from quantdesk.learning.metrics import log_loss, roc_auc
from quantdesk.learning.training import BACKTEST_KEYS

ROWS = 6_000


def bars_from_returns(returns: np.ndarray, seed: int = 0) -> pd.DataFrame:
    """Hourly OHLCV bars whose closes follow ``returns``."""
    generator = np.random.default_rng(seed)
    close = 100.0 * np.exp(np.cumsum(returns))
    opening = np.concatenate([[100.0], close[:-1]])
    wick = np.abs(generator.normal(0, 0.002, size=(2, len(close))))
    index = pd.date_range(
        "2020-01-01", periods=len(close), freq="1h", tz="UTC", name="time"
    ).as_unit("ns")
    return pd.DataFrame(
        {
            "open": opening,
            "high": np.maximum(opening, close) * (1 + wick[0]),
            "low": np.minimum(opening, close) * (1 - wick[1]),
            "close": close,
            "volume": generator.lognormal(3, 0.5, size=len(close)),
        },
        index=index,
    )


def autocorrelated(rows: int, coefficient: float, seed: int) -> np.ndarray:
    """Returns where each bar's return carries ``coefficient`` of the previous one."""
    shocks = np.random.default_rng(seed).normal(0, 0.01, size=rows)
    returns = np.empty(rows)
    returns[0] = shocks[0]
    for position in range(1, rows):
        returns[position] = coefficient * returns[position - 1] + shocks[position]
    return returns


CONFIG = TrainingConfig(horizon=1, folds=3, max_rounds=200)


@pytest.fixture(scope="module")
def planted() -> pd.DataFrame:
    return bars_from_returns(autocorrelated(ROWS, 0.5, seed=1), seed=1)


@pytest.fixture(scope="module")
def random_walk() -> pd.DataFrame:
    return bars_from_returns(np.random.default_rng(2).normal(0, 0.01, size=ROWS), seed=2)


def test_a_planted_signal_is_found_out_of_sample(planted: pd.DataFrame) -> None:
    model = train_model(planted, "default", CONFIG)
    labels = (planted["close"].shift(-1) > planted["close"]).astype(float).to_numpy()
    tested = ~np.isnan(model.out_of_sample.to_numpy())
    tested[-1] = False
    auc = roc_auc(labels[tested], model.out_of_sample.to_numpy()[tested])
    assert auc > 0.6
    assert all(fold.scores["auc"] > 0.58 for fold in model.folds)
    assert model.importance.index[0] in {"return_1", "return_3", "rsi_14", "close_to_sma_20"}


def test_each_fold_backtests_its_out_of_sample_predictions(planted: pd.DataFrame) -> None:
    model = train_model(planted, "default", CONFIG)
    for fold in model.folds:
        assert set(fold.backtest) == set(BACKTEST_KEYS)
        assert fold.backtest["n_trades"] > 10
    # Planted momentum traded out of sample makes money in most folds.
    assert sum(fold.backtest["total_return_pct"] > 0 for fold in model.folds) >= 2
    regression = train_model(planted, "default", CONFIG.model_copy(update={"kind": "regression"}))
    assert all(fold.backtest == {} for fold in regression.folds)


def test_a_random_walk_gives_no_edge(random_walk: pd.DataFrame) -> None:
    model = train_model(random_walk, "default", CONFIG)
    assert 0.46 < model.scores["auc"] < 0.54
    assert model.scores["accuracy"] < 0.54


def test_out_of_sample_predictions_cover_only_the_test_blocks(planted: pd.DataFrame) -> None:
    model = train_model(planted, "default", CONFIG)
    predicted = model.out_of_sample.dropna()
    first_test = model.folds[0].test_start
    assert predicted.index[0] == first_test
    assert predicted.index[-1] == planted.index[-1]
    for fold in model.folds:
        assert fold.train_end < fold.test_start
        assert 1 <= fold.rounds <= CONFIG.max_rounds
    assert model.training_end <= planted.index[-1 - CONFIG.horizon]


def test_the_model_text_round_trips_to_the_same_predictions(planted: pd.DataFrame) -> None:
    model = train_model(planted, "default", CONFIG)
    features = get_feature_set("default").compute(planted)
    mine = model.predict(features).to_numpy()
    reloaded = lightgbm.Booster(model_str=model.model_text)
    theirs = reloaded.predict(features.loc[:, list(model.feature_names)].to_numpy())
    np.testing.assert_array_equal(mine, theirs)
    assert ((mine > 0) & (mine < 1)).all()


def test_the_same_seed_gives_the_same_model(random_walk: pd.DataFrame) -> None:
    first = train_model(random_walk.iloc[:3_000], "default", CONFIG)
    second = train_model(random_walk.iloc[:3_000], "default", CONFIG)
    assert first.model_text == second.model_text


def test_regression_scores_returns(planted: pd.DataFrame) -> None:
    model = train_model(planted, "default", CONFIG.model_copy(update={"kind": "regression"}))
    assert set(model.scores) == {"rmse", "auc"}
    assert model.scores["auc"] > 0.58


def test_too_little_data_names_how_much_is_needed(planted: pd.DataFrame) -> None:
    needed = minimum_rows(5, 24)
    with pytest.raises(InvalidInputError, match=f"need at least {needed:,} bars, the data has 500"):
        train_model(planted.iloc[:500], "default", TrainingConfig(horizon=24, folds=5))


def test_training_configs_refuse_unknown_fields_and_bad_copies() -> None:
    with pytest.raises(ConfigurationError, match="did you mean 'horizon'"):
        TrainingConfig(horizn=4)
    with pytest.raises(ConfigurationError, match="learning_rate"):
        CONFIG.model_copy(update={"learning_rate": 0.0})
    with pytest.raises(ConfigurationError, match="at least 4"):
        TrainingConfig(horizon=4, embargo=2)


def test_auc_is_the_share_of_ordered_pairs() -> None:
    generator = np.random.default_rng(3)
    labels = generator.integers(0, 2, size=300).astype(bool)
    scores = np.round(generator.normal(size=300) + labels * 0.5, 1)  # ties on purpose
    pairs = [
        1.0 if high > low else 0.5 if high == low else 0.0
        for high, low in itertools.product(scores[labels], scores[~labels])
    ]
    assert roc_auc(labels, scores) == pytest.approx(np.mean(pairs), abs=1e-12)


def test_log_loss_is_the_mean_negative_log_likelihood() -> None:
    labels = np.array([1.0, 0.0, 1.0])
    probabilities = np.array([0.9, 0.2, 0.6])
    expected = -(np.log(0.9) + np.log(0.8) + np.log(0.6)) / 3
    assert log_loss(labels, probabilities) == pytest.approx(expected, rel=1e-12)
