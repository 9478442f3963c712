"""How a model is trained: labels, walk-forward folds and LightGBM's parameters."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import model_validator

from quantdesk.core.strict_config import StrictConfig


class TrainingConfig(StrictConfig):
    """Training settings; frozen and strict, unknown fields and bad values refused in one line.

    Fields
    ------
    horizon
        Bars ahead the label looks, at least 1; also the purge between blocks.
    kind
        ``"classification"`` (up or not, the default) or ``"regression"`` (the return).
    folds
        Walk-forward test blocks, at least 1.
    anchored
        Train each fold on everything before it (default) or on a rolling window.
    embargo
        Bars left out between validation and test; the horizon when unset, never less.
    learning_rate, num_leaves, min_data_in_leaf, feature_fraction, lambda_l2
        LightGBM's parameters of the same names.
    max_rounds
        Boosting rounds at most; early stopping usually ends sooner.
    early_stopping_rounds
        Rounds without improvement on the validation block before stopping.
    seed
        Every random choice LightGBM makes; the same seed and data give the same model.
    threads
        LightGBM's threads; 1 keeps a Dask worker to its one core.
    """

    horizon: int = 1
    kind: Literal["classification", "regression"] = "classification"
    folds: int = 5
    anchored: bool = True
    embargo: int | None = None
    learning_rate: float = 0.05
    num_leaves: int = 15
    min_data_in_leaf: int = 50
    feature_fraction: float = 0.9
    lambda_l2: float = 1.0
    max_rounds: int = 400
    early_stopping_rounds: int = 30
    seed: int = 7
    threads: int = 1

    def __init__(self, **values: Any) -> None:
        # Declared so type checkers take any keywords: StrictConfig checks them.
        super().__init__(**values)

    @model_validator(mode="after")
    def _check_values(self) -> TrainingConfig:
        for name in ("horizon", "folds", "num_leaves", "min_data_in_leaf", "max_rounds", "threads"):
            if getattr(self, name) < 1:
                raise ValueError(
                    f"TrainingConfig.{name} must be 1 or more; got {getattr(self, name)}"
                )
        if self.num_leaves < 2:
            raise ValueError(f"TrainingConfig.num_leaves must be 2 or more; got {self.num_leaves}")
        if self.early_stopping_rounds < 1:
            raise ValueError(
                "TrainingConfig.early_stopping_rounds must be 1 or more; "
                f"got {self.early_stopping_rounds}"
            )
        if self.embargo is not None and self.embargo < self.horizon:
            raise ValueError(
                f"TrainingConfig.embargo of {self.embargo} bars is shorter than the horizon "
                f"({self.horizon}); use at least {self.horizon}"
            )
        if not 0 < self.learning_rate <= 1:
            raise ValueError(
                f"TrainingConfig.learning_rate is in (0, 1], e.g. 0.05; got {self.learning_rate}"
            )
        if not 0 < self.feature_fraction <= 1:
            raise ValueError(
                f"TrainingConfig.feature_fraction is in (0, 1]; got {self.feature_fraction}"
            )
        if self.lambda_l2 < 0:
            raise ValueError(f"TrainingConfig.lambda_l2 must be 0 or more; got {self.lambda_l2}")
        return self

    def lightgbm_parameters(self) -> dict[str, Any]:
        """The parameters for ``lightgbm.train``, deterministic for the seed.

        Returns
        -------
        dict
            LightGBM's names and values.
        """
        return {
            "objective": "binary" if self.kind == "classification" else "regression",
            "metric": "binary_logloss" if self.kind == "classification" else "l2",
            "learning_rate": self.learning_rate,
            "num_leaves": self.num_leaves,
            "min_data_in_leaf": self.min_data_in_leaf,
            "feature_fraction": self.feature_fraction,
            "lambda_l2": self.lambda_l2,
            "seed": self.seed,
            "deterministic": True,
            "force_row_wise": True,
            "num_threads": self.threads,
            "verbosity": -1,
        }
