"""Walk-forward training with LightGBM's native API: per-fold scores and one final model.

Each fold fits on its training block, stops early on its validation block and
predicts its test block, which no label it was fitted or stopped on reaches
(see :mod:`quantdesk.features.splits`). The test predictions, stitched, are
the out-of-sample predictions a strategy may trade on. The final model, for
predicting new bars, is fitted the same way on the latest labelled bars.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import lightgbm
import numpy as np
import pandas as pd

from quantdesk.engine import BacktestConfig, run_backtest
from quantdesk.errors import InvalidInputError
from quantdesk.features import (
    FeatureSet,
    check_causal,
    forward_return_labels,
    get_feature_set,
    walk_forward_splits,
)
from quantdesk.features.splits import MINIMUM_TRAIN, MINIMUM_VALIDATION, Split
from quantdesk.learning.config import TrainingConfig
from quantdesk.learning.metrics import classification_scores, regression_scores
from quantdesk.strategies.ml_predictive import MlPredictive

BACKTEST_KEYS = ("total_return_pct", "sharpe", "max_drawdown_pct", "n_trades", "win_rate_pct")
"""The out-of-sample backtest statistics kept per fold."""

ProgressCallback = Callable[[int, int], None]


@dataclass(frozen=True)
class FoldReport:
    """One fold: where its blocks lie, how many rounds it kept, and its test scores.

    Attributes
    ----------
    fold
        Its number, from 0.
    train_start, train_end, test_start, test_end
        The first and last bar of its training and test blocks.
    rounds
        Boosting rounds kept by early stopping.
    scores
        ``auc``, ``accuracy``, ``log_loss`` (classification) or ``rmse``, ``auc``
        (regression), on the test block's labelled bars.
    backtest
        :data:`BACKTEST_KEYS` of ``ml_predictive`` (default thresholds) trading
        the fold's predictions on its test block (classification only, else empty).
    """

    fold: int
    train_start: pd.Timestamp
    train_end: pd.Timestamp
    test_start: pd.Timestamp
    test_end: pd.Timestamp
    rounds: int
    scores: dict[str, float]
    backtest: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True, eq=False)
class TrainedModel:
    """A model, how it was made and how it did out of sample.

    Attributes
    ----------
    model_text
        The final LightGBM model as text (``Booster.model_to_string``).
    feature_set, feature_version, feature_names
        The features it reads, in order.
    config
        How it was trained.
    folds
        One report per walk-forward fold.
    out_of_sample
        The folds' test predictions on the data's index, NaN outside the test blocks.
    importance
        The final model's ``gain`` and ``split`` importance per feature.
    training_start, training_end
        The first and last bar the final model was fitted or stopped on.
    lightgbm_seconds
        Time spent in ``lightgbm.train`` alone, every fold and the final fit.
    """

    model_text: str = field(repr=False)
    feature_set: str
    feature_version: int
    feature_names: tuple[str, ...]
    config: TrainingConfig
    folds: tuple[FoldReport, ...]
    out_of_sample: pd.Series = field(repr=False)
    importance: pd.DataFrame = field(repr=False)
    training_start: pd.Timestamp
    training_end: pd.Timestamp
    lightgbm_seconds: float

    @property
    def scores(self) -> dict[str, float]:
        """Each test score, averaged over the folds."""
        names = self.folds[0].scores
        return {
            name: float(np.nanmean([fold.scores[name] for fold in self.folds])) for name in names
        }

    def booster(self) -> lightgbm.Booster:
        """The final model, loaded from :attr:`model_text`."""
        return lightgbm.Booster(model_str=self.model_text)

    def predict(self, features: pd.DataFrame) -> pd.Series:
        """The final model's predictions (probabilities of an up move, or returns).

        Parameters
        ----------
        features
            Frames from the same feature set; its columns are matched by name.

        Raises
        ------
        InvalidInputError
            If a feature the model reads is missing.
        """
        return predict_with(self.booster(), self.feature_names, features)


def predict_with(
    booster: lightgbm.Booster, feature_names: tuple[str, ...], features: pd.DataFrame
) -> pd.Series:
    """``booster``'s predictions for each row of ``features``, on its index.

    Raises
    ------
    InvalidInputError
        If a feature the model reads is missing.
    """
    missing = [name for name in feature_names if name not in features.columns]
    if missing:
        raise InvalidInputError(
            f"the features lack {missing[0]!r}, which the model reads; compute them with "
            "the feature set it was trained on"
        )
    values = features.loc[:, list(feature_names)].to_numpy(dtype=np.float64)
    return pd.Series(booster.predict(values), index=features.index, name="prediction")


def train_model(
    frame: pd.DataFrame,
    feature_set: str | FeatureSet = "default",
    config: TrainingConfig | None = None,
    *,
    backtest_config: BacktestConfig | None = None,
    on_progress: ProgressCallback | None = None,
) -> TrainedModel:
    """Train walk-forward on ``frame``: per-fold out-of-sample scores and a final model.

    Parameters
    ----------
    frame
        Canonical OHLCV bars in time order.
    feature_set
        A registered set's name or a :class:`~quantdesk.features.FeatureSet`.
    config
        How to train; ``TrainingConfig()`` when None.
    backtest_config
        The trading rules of each fold's out-of-sample backtest; ``BacktestConfig()`` when None.
    on_progress
        Called with (fits done, fits in all) after each fold and the final fit.

    Returns
    -------
    TrainedModel
        The model, its fold reports and out-of-sample predictions.

    Raises
    ------
    InvalidInputError
        If the features read the future, or the data is too short for the
        horizon and folds (the message says how many bars are needed).
    """
    prepared = prepare_training(frame, feature_set, config)
    total = prepared.fits
    fits: list[FoldFit | FinalFit] = []
    for fold in range(len(prepared.splits)):
        fits.append(fit_fold(prepared, fold, backtest_config))
        if on_progress is not None:
            on_progress(len(fits), total)
    fits.append(fit_final(prepared))
    if on_progress is not None:
        on_progress(total, total)
    return assemble_model(prepared, fits)


@dataclass(frozen=True, eq=False)
class PreparedTraining:
    """Bars turned into what every fit reads: features, labels and the walk-forward splits.

    Attributes
    ----------
    frame
        The bars.
    feature_set, config
        The features and how to train.
    values, labels
        The feature matrix (rows are bars) and each bar's label (NaN where unknown).
    usable
        The bars with a label and at least one feature.
    names
        The feature columns, in order.
    splits
        The walk-forward folds.
    """

    frame: pd.DataFrame = field(repr=False)
    feature_set: FeatureSet
    config: TrainingConfig
    values: np.ndarray = field(repr=False)
    labels: np.ndarray = field(repr=False)
    usable: np.ndarray = field(repr=False)
    names: tuple[str, ...]
    splits: tuple[Split, ...] = field(repr=False)

    @property
    def fits(self) -> int:
        """How many models training fits: one per fold and the final one."""
        return len(self.splits) + 1


@dataclass(frozen=True, eq=False)
class FoldFit:
    """One fold's report, its test block's predictions and the time ``lightgbm.train`` took."""

    report: FoldReport
    predictions: np.ndarray = field(repr=False)
    seconds: float


@dataclass(frozen=True, eq=False)
class FinalFit:
    """The final model's text and importance, the bars it was fitted on, and its fitting time."""

    model_text: str = field(repr=False)
    importance: pd.DataFrame = field(repr=False)
    training_start: pd.Timestamp
    training_end: pd.Timestamp
    seconds: float


def prepare_training(
    frame: pd.DataFrame,
    feature_set: str | FeatureSet = "default",
    config: TrainingConfig | None = None,
) -> PreparedTraining:
    """Check the bars and features and compute what the fits read.

    Raises
    ------
    InvalidInputError
        If the features read the future, or the data is too short for the
        horizon and folds (the message says how many bars are needed).
    """
    config = TrainingConfig() if config is None else config
    chosen = get_feature_set(feature_set)
    splits = walk_forward_splits(
        len(frame), config.folds, config.horizon, embargo=config.embargo, anchored=config.anchored
    )
    check_causal(chosen, frame)
    features = chosen.compute(frame)
    values = features.to_numpy(dtype=np.float64)
    labels = forward_return_labels(frame, config.horizon, config.kind).to_numpy()
    usable = ~np.isnan(labels) & ~np.all(np.isnan(values), axis=1)
    _final_blocks(len(frame), usable, config)
    return PreparedTraining(
        frame=frame,
        feature_set=chosen,
        config=config,
        values=values,
        labels=labels,
        usable=usable,
        names=tuple(features.columns),
        splits=tuple(splits),
    )


def fit_fold(
    prepared: PreparedTraining, fold: int, backtest_config: BacktestConfig | None = None
) -> FoldFit:
    """Fit fold ``fold`` on its training block, stop on its validation block, score its test."""
    split = prepared.splits[fold]
    config, frame = prepared.config, prepared.frame
    train = _usable(split.train, prepared.usable)
    validation = _usable(split.validation, prepared.usable)
    booster, seconds = _fit(prepared, train, validation)
    predictions = np.asarray(booster.predict(prepared.values[split.test]), dtype=np.float64)
    scored = _usable(split.test, prepared.usable)
    tested = np.full(len(frame), np.nan)
    tested[split.test] = predictions
    report = FoldReport(
        fold=split.fold,
        train_start=frame.index[split.train[0]],
        train_end=frame.index[split.train[-1]],
        test_start=frame.index[split.test[0]],
        test_end=frame.index[split.test[-1]],
        rounds=booster.current_iteration(),
        scores=_scores(config, prepared.labels[scored], tested[scored]),
        backtest=_fold_backtest(frame.iloc[split.test], predictions, config, backtest_config),
    )
    return FoldFit(report=report, predictions=predictions, seconds=seconds)


def fit_final(prepared: PreparedTraining) -> FinalFit:
    """Fit the model that predicts new bars, on the latest labelled bars."""
    train, validation = _final_blocks(len(prepared.frame), prepared.usable, prepared.config)
    booster, seconds = _fit(prepared, train, validation)
    importance = pd.DataFrame(
        {
            "gain": booster.feature_importance(importance_type="gain"),
            "split": booster.feature_importance(importance_type="split"),
        },
        index=pd.Index(prepared.names, name="feature"),
    ).sort_values("gain", ascending=False)
    return FinalFit(
        model_text=booster.model_to_string(),
        importance=importance,
        training_start=prepared.frame.index[train[0]],
        training_end=prepared.frame.index[validation[-1]],
        seconds=seconds,
    )


def assemble_model(prepared: PreparedTraining, fits: Sequence[FoldFit | FinalFit]) -> TrainedModel:
    """The trained model from every fold's fit, in order, then the final one.

    Raises
    ------
    InvalidInputError
        If the fits are not one per fold followed by the final one.
    """
    *given, final = fits
    folds = [fit for fit in given if isinstance(fit, FoldFit)]
    if (
        len(folds) != len(given)
        or len(folds) != len(prepared.splits)
        or not isinstance(final, FinalFit)
    ):
        raise InvalidInputError(
            f"a model assembles from {len(prepared.splits)} fold fits and then the final fit; "
            "pass fit_fold's results in fold order, then fit_final's"
        )
    out_of_sample = np.full(len(prepared.frame), np.nan)
    reports = []
    for split, fit in zip(prepared.splits, folds, strict=True):
        out_of_sample[split.test] = fit.predictions
        reports.append(fit.report)
    return TrainedModel(
        model_text=final.model_text,
        feature_set=prepared.feature_set.name,
        feature_version=prepared.feature_set.version,
        feature_names=prepared.names,
        config=prepared.config,
        folds=tuple(reports),
        out_of_sample=pd.Series(out_of_sample, index=prepared.frame.index, name="prediction"),
        importance=final.importance,
        training_start=final.training_start,
        training_end=final.training_end,
        lightgbm_seconds=sum(fit.seconds for fit in fits),
    )


def _usable(block: np.ndarray, usable: np.ndarray) -> np.ndarray:
    kept: np.ndarray = block[usable[block]]
    return kept


def _final_blocks(
    rows: int, usable: np.ndarray, config: TrainingConfig
) -> tuple[np.ndarray, np.ndarray]:
    labelled = np.flatnonzero(usable)
    length = len(labelled)
    validation_size = max(MINIMUM_VALIDATION, round(0.2 * length))
    validation = labelled[length - validation_size :]
    train = labelled[labelled < validation[0] - config.horizon]
    if len(train) < MINIMUM_TRAIN:
        raise InvalidInputError(
            f"only {len(train)} labelled bars are left to train on, {MINIMUM_TRAIN} needed; "
            "load a longer range"
        )
    return train, validation


def _fit(
    prepared: PreparedTraining, train: np.ndarray, validation: np.ndarray
) -> tuple[lightgbm.Booster, float]:
    values, labels, config = prepared.values, prepared.labels, prepared.config
    training = lightgbm.Dataset(
        values[train], label=labels[train], feature_name=list(prepared.names), free_raw_data=True
    )
    watched = training.create_valid(values[validation], label=labels[validation])
    started = time.perf_counter()
    booster = lightgbm.train(
        config.lightgbm_parameters(),
        training,
        num_boost_round=config.max_rounds,
        valid_sets=[watched],
        callbacks=[lightgbm.early_stopping(config.early_stopping_rounds, verbose=False)],
    )
    seconds = time.perf_counter() - started
    # Keep only the rounds early stopping chose, so the text predicts what was scored.
    kept = lightgbm.Booster(model_str=booster.model_to_string(num_iteration=booster.best_iteration))
    return kept, seconds


def _fold_backtest(
    bars: pd.DataFrame,
    predictions: np.ndarray,
    config: TrainingConfig,
    backtest_config: BacktestConfig | None,
) -> dict[str, float]:
    if config.kind != "classification":
        return {}
    strategy = MlPredictive(predictions=pd.Series(predictions, index=bars.index))
    result = run_backtest(
        bars, strategy.signals(bars), backtest_config, strategy_name=strategy.name
    )
    return {key: float(result.stats[key]) for key in BACKTEST_KEYS}


def _scores(config: TrainingConfig, truth: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    if config.kind == "classification":
        return classification_scores(truth, predicted)
    return regression_scores(truth, predicted)
