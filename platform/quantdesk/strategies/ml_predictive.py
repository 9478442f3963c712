"""Trade on a model's out-of-sample predictions: long above a probability, out below another."""

from __future__ import annotations

from typing import Self

import numpy as np
import pandas as pd

from quantdesk.errors import InvalidInputError
from quantdesk.strategies.base import Strategy
from quantdesk.strategies.parameters import Parameter
from quantdesk.strategies.signals import Signals

PREDICTION_COLUMN = "prediction"
"""The frame column holding each bar's predicted probability of an up move."""


class MlPredictive(Strategy):
    """Go long when the predicted probability of an up move passes ``entry``; exit below ``exit``.

    The probabilities are given as ``predictions`` (a series on the bars'
    times, aligned to each frame) or in a frame's ``prediction`` column, and
    must be out of sample: made by a model that saw no label reaching that
    bar, as the walk-forward folds of :func:`quantdesk.learning.train_model`
    give (``MlPredictive(predictions=model.out_of_sample)``).
    ``quantdesk.backtest("ml_predictive", ...)`` without predictions trains
    such a model on the bars first (default features and training). Bars without a
    prediction (NaN: the first fold's training span) never open a position. Without
    ``long_only`` the short side mirrors the long one: short below
    ``1 - entry``, cover above ``1 - exit``.
    """

    name = "ml_predictive"
    description = "Long (or short) on out-of-sample model probabilities past a threshold."
    columns = ("close",)

    entry = Parameter(0.55, minimum=0.5, maximum=1.0, description="probability to go long above")
    exit = Parameter(0.5, minimum=0.0, maximum=1.0, description="probability to exit below")
    long_only = Parameter(True, description="never sell short")

    def __init__(self, predictions: pd.Series | None = None, **parameters: object) -> None:
        super().__init__(**parameters)
        if predictions is not None and not isinstance(predictions, pd.Series):
            raise InvalidInputError(
                f"{self.name}: predictions are a pandas Series on the bars' times, "
                f"not {type(predictions).__name__}"
            )
        self.predictions = predictions

    def has_predictions(self, frame: pd.DataFrame) -> bool:
        """Whether predictions were given, as ``predictions`` or a column of ``frame``."""
        return self.predictions is not None or PREDICTION_COLUMN in frame.columns

    def with_predictions(self, predictions: pd.Series) -> Self:
        """Return a copy trading ``predictions``, with the same parameters."""
        return type(self)(predictions=predictions, **self.parameters)

    def with_parameters(self, **changes: object) -> Self:
        """Return a copy with some parameters changed, keeping the predictions."""
        return type(self)(predictions=self.predictions, **{**self.parameters, **changes})

    def __eq__(self, other: object) -> bool:
        equal = super().__eq__(other)
        if equal is NotImplemented or not equal:
            return equal
        return isinstance(other, MlPredictive) and other.predictions is self.predictions

    __hash__ = Strategy.__hash__

    def validate(self) -> None:
        """Refuse an exit threshold above the entry one."""
        if self.exit > self.entry:
            raise InvalidInputError(
                f"{self.name}: exit ({self.exit}) must not be above entry ({self.entry})"
            )

    @property
    def minimum_bars(self) -> int:
        """Two bars: one to decide on, one to fill at."""
        return 2

    def _probabilities(self, frame: pd.DataFrame) -> np.ndarray:
        if self.predictions is not None:
            aligned: np.ndarray = self.predictions.reindex(frame.index).to_numpy(dtype=np.float64)
            return aligned
        if PREDICTION_COLUMN in frame.columns:
            given: np.ndarray = frame[PREDICTION_COLUMN].to_numpy(dtype=np.float64)
            return given
        raise InvalidInputError(
            f"{self.name} needs predictions: pass MlPredictive(predictions=...) with a model's "
            f"out-of-sample predictions, or a '{PREDICTION_COLUMN}' column"
        )

    def _signals(self, frame: pd.DataFrame) -> Signals:
        probability = self._probabilities(frame)
        known = ~np.isnan(probability)
        if not known.any():
            raise InvalidInputError(
                f"{self.name}: no bar has a prediction; pass a model's out-of-sample "
                "predictions (TrainedModel.out_of_sample) on these bars' times"
            )
        outside = (probability < 0) | (probability > 1)
        if (known & outside).any():
            raise InvalidInputError(
                f"{self.name}: predictions are probabilities in [0, 1]; "
                "train a classification model"
            )
        with np.errstate(invalid="ignore"):
            long_entries = known & (probability > self.entry)
            long_exits = known & (probability < self.exit)
            short_entries = known & (probability < 1 - self.entry) & (not self.long_only)
            short_exits = known & (probability > 1 - self.exit) & (not self.long_only)
        return Signals(
            long_entries=long_entries,
            long_exits=long_exits,
            short_entries=short_entries,
            short_exits=short_exits,
        )
