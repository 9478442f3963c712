"""Model training as a job: walk-forward LightGBM on the workers, registered with its completion.

The features, labels and splits are prepared here (so bad data fails at
once) and sent to the workers once; each fold is a task, and so is the final
fit, so the job's progress moves fold by fold and folds run side by side.
Workers need no database or secret. With a recording tracker the model is
registered in the transaction that completes the job, so a completed
training job always has its model and a failed one none.
"""

from __future__ import annotations

import uuid
from typing import Any

import pandas as pd
from sqlalchemy import Connection

from quantdesk.compute.jobs import Job, JobTracker
from quantdesk.engine import BacktestConfig
from quantdesk.engine.result import data_fingerprint
from quantdesk.errors import InvalidInputError
from quantdesk.features import FeatureSet
from quantdesk.learning import TrainedModel, TrainingConfig
from quantdesk.learning.training import (
    FinalFit,
    FoldFit,
    PreparedTraining,
    assemble_model,
    fit_final,
    fit_fold,
    prepare_training,
)
from quantdesk.store.model_registry import write_model


def submit_training(
    tracker: JobTracker,
    frame: pd.DataFrame,
    feature_set: FeatureSet,
    config: TrainingConfig,
    backtest_config: BacktestConfig | None,
    *,
    data_address: str | None,
    timeframe: str | None,
    save: bool,
    parameters: dict[str, Any] | None = None,
) -> Job:
    """Train a model on the cluster as a job, a task per fold and one for the final fit.

    Parameters
    ----------
    tracker
        Follows the job.
    frame
        Canonical OHLCV bars.
    feature_set, config, backtest_config
        As :func:`quantdesk.learning.train_model` takes them.
    data_address, timeframe
        Where the bars came from; needed to register the model.
    save
        Register the model with the job's completion (needs a recording tracker).
    parameters
        What the job row keeps of the request.

    Returns
    -------
    Job
        At once; its result is the :class:`~quantdesk.learning.TrainedModel`.

    Raises
    ------
    InvalidInputError
        Before anything is queued, if the model cannot be registered, the
        features read the future or the data is too short.
    """
    if save and not tracker.records:
        raise InvalidInputError(
            "registering the model needs a database; set QUANTDESK_DATABASE_URL or pass save=False"
        )
    if save and (data_address is None or timeframe is None):
        raise InvalidInputError(
            "registering the model needs to know its data; pass an address such as "
            "'sample:BTC/USDT' instead of a frame, or save=False"
        )
    prepared = prepare_training(frame, feature_set, config)

    def write(connection: Connection, trained: TrainedModel) -> None:
        write_model(
            connection,
            trained,
            data_address=str(data_address),
            timeframe=str(timeframe),
            data_fingerprint=data_fingerprint(
                frame.loc[trained.training_start : trained.training_end]
            ),
        )

    def combine(fits: list[FoldFit | FinalFit]) -> TrainedModel:
        return assemble_model(prepared, fits)

    shared = tracker.share(prepared)
    tasks: list[tuple[Any, tuple[Any, ...]]] = [
        (_fold_task, (shared, fold, backtest_config)) for fold in range(len(prepared.splits))
    ]
    tasks.append((_final_task, (shared,)))
    return tracker.submit(
        "train",
        tasks,
        combine=combine,
        write_results=write if save else None,
        parameters=parameters,
        job_id=uuid.uuid4(),
    )


def _fold_task(
    prepared: PreparedTraining, fold: int, backtest_config: BacktestConfig | None
) -> FoldFit:
    return fit_fold(prepared, fold, backtest_config)


def _final_task(prepared: PreparedTraining) -> FinalFit:
    return fit_final(prepared)
