"""Models that learn from bars: LightGBM trained walk-forward (pure computation, no I/O).

>>> from quantdesk.learning import TrainingConfig, train_model
>>> model = train_model(frame, "default", TrainingConfig(horizon=4))  # doctest: +SKIP
>>> model.scores, model.importance.head()                             # doctest: +SKIP
"""

from __future__ import annotations

from quantdesk.learning.config import TrainingConfig
from quantdesk.learning.training import FoldReport, TrainedModel, predict_with, train_model

__all__ = ["FoldReport", "TrainedModel", "TrainingConfig", "predict_with", "train_model"]
