"""Model training as a job: walk-forward LightGBM on a worker, registered with its completion.

The bars, the feature set and the training settings go to the worker in the
task (it needs no database or secret); the trained model comes back, and with
a recording tracker it is registered in the transaction that completes the
job, so a completed training job always has its model and a failed one none.
"""

from __future__ import annotations

import uuid
from typing import Any

import pandas as pd
from sqlalchemy import Connection

from quantdesk.compute.jobs import Job, JobTracker
from quantdesk.compute.research_jobs import only_result
from quantdesk.engine import BacktestConfig
from quantdesk.engine.result import data_fingerprint
from quantdesk.errors import InvalidInputError
from quantdesk.features import FeatureSet
from quantdesk.learning import TrainedModel, TrainingConfig, train_model
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
    """Train a model on the cluster as a job.

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

    return tracker.submit(
        "train",
        [(_training_task, (frame, feature_set, config, backtest_config))],
        combine=only_result,
        write_results=write if save else None,
        parameters=parameters,
        job_id=uuid.uuid4(),
    )


def _training_task(
    frame: pd.DataFrame,
    feature_set: FeatureSet,
    config: TrainingConfig,
    backtest_config: BacktestConfig | None,
) -> TrainedModel:
    return train_model(frame, feature_set, config, backtest_config=backtest_config)
