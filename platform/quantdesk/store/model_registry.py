"""The model registry: trained models in ``quantdesk.models`` under the owner's row-level security.

A row keeps what :mod:`quantdesk.learning` needs to reuse a model or tell it is
stale: the feature set and its version, the training parameters, the data
address, timeframe, training range and fingerprint, the per-fold scores and
feature importance, and the LightGBM model text (compressed, in ``artifact``).
Every query runs as the current user's own role, so another user's models are
neither listed nor loadable, whatever is asked.
"""

from __future__ import annotations

import json
import math
import uuid
import zlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pandas as pd
from sqlalchemy import Connection, delete, insert, select

from quantdesk.config import Settings
from quantdesk.errors import ModelNotFoundError
from quantdesk.learning import TrainedModel, TrainingConfig
from quantdesk.store.connection import translated_errors, user_engine
from quantdesk.store.identifiers import checked_id
from quantdesk.store.models import Model, Prediction

MODEL_KIND = "lightgbm"
_LISTING = "quantdesk models list"


@dataclass(frozen=True)
class ModelRecord:
    """A registered model's description, without its text.

    Attributes
    ----------
    id, created_at
        Its id and when it was saved.
    feature_set, feature_version, feature_names
        The features it reads.
    config
        How it was trained.
    data_address, timeframe, data_fingerprint
        The data it learned from.
    training_start, training_end
        The first and last bar it was fitted or stopped on.
    scores, folds, importance
        Out-of-sample scores (averaged and per fold) and the final model's
        gain and split importance per feature.
    """

    id: uuid.UUID
    created_at: datetime
    feature_set: str
    feature_version: int
    feature_names: tuple[str, ...]
    config: TrainingConfig
    data_address: str
    timeframe: str
    data_fingerprint: str
    training_start: pd.Timestamp
    training_end: pd.Timestamp
    scores: dict[str, float | None]
    folds: list[dict[str, Any]] = field(repr=False)
    importance: dict[str, dict[str, float]] = field(repr=False)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields, for ``--json`` output."""
        return {
            "id": str(self.id),
            "created_at": self.created_at.isoformat(),
            "feature_set": self.feature_set,
            "feature_version": self.feature_version,
            "feature_names": list(self.feature_names),
            "parameters": self.config.model_dump(),
            "data_address": self.data_address,
            "timeframe": self.timeframe,
            "data_fingerprint": self.data_fingerprint,
            "training_start": self.training_start.isoformat(),
            "training_end": self.training_end.isoformat(),
            "scores": self.scores,
            "folds": self.folds,
            "importance": self.importance,
        }


@dataclass(frozen=True)
class StoredModel:
    """A registered model with its text."""

    record: ModelRecord
    model_text: str = field(repr=False)


def save_model(
    trained: TrainedModel,
    *,
    data_address: str,
    timeframe: str,
    data_fingerprint: str,
    settings: Settings | None = None,
) -> ModelRecord:
    """Register ``trained`` as the current user's.

    Parameters
    ----------
    trained
        From :func:`quantdesk.learning.train_model`.
    data_address, timeframe
        Where its bars came from (``SOURCE:SYMBOL``) and their timeframe.
    data_fingerprint
        The bars' fingerprint, so changed data makes the model stale.
    settings
        The settings in effect; read from the environment when None.

    Returns
    -------
    ModelRecord
        The saved model's description, with its new id.
    """
    with translated_errors("saving the model"), user_engine(settings).begin() as connection:
        return write_model(
            connection,
            trained,
            data_address=data_address,
            timeframe=timeframe,
            data_fingerprint=data_fingerprint,
        )


def write_model(
    connection: Connection,
    trained: TrainedModel,
    *,
    data_address: str,
    timeframe: str,
    data_fingerprint: str,
) -> ModelRecord:
    """Register ``trained`` on ``connection``, inside the caller's transaction.

    A training job's completion calls it, so the job is never completed
    without its model. The arguments are those of :func:`save_model`.

    Returns
    -------
    ModelRecord
        The saved model's description.
    """
    folds = [
        {
            "fold": report.fold,
            "train_start": report.train_start.isoformat(),
            "train_end": report.train_end.isoformat(),
            "test_start": report.test_start.isoformat(),
            "test_end": report.test_end.isoformat(),
            "rounds": report.rounds,
            "scores": _finite(report.scores),
            "backtest": _finite(report.backtest),
        }
        for report in trained.folds
    ]
    parameters = {
        "training": trained.config.model_dump(),
        "feature_set": trained.feature_set,
        "feature_version": trained.feature_version,
        "feature_names": list(trained.feature_names),
        "training_start": trained.training_start.isoformat(),
        "training_end": trained.training_end.isoformat(),
    }
    metrics = {
        "scores": _finite(trained.scores),
        "folds": folds,
        "importance": {
            name: {"gain": float(row["gain"]), "split": float(row["split"])}
            for name, row in trained.importance.iterrows()
        },
    }
    row = connection.execute(
        insert(Model)
        .values(
            name=f"{trained.feature_set}:{data_address}:{timeframe}",
            kind=MODEL_KIND,
            symbol=data_address,
            timeframe=timeframe,
            parameters=parameters,
            metrics=metrics,
            data_fingerprint=data_fingerprint,
            artifact=zlib.compress(trained.model_text.encode()),
        )
        .returning(*_DESCRIBED)
    ).one()
    return _record(row)


def list_models(*, settings: Settings | None = None) -> list[ModelRecord]:
    """The current user's models, newest first.

    Returns
    -------
    list of ModelRecord
        Without their texts.
    """
    with translated_errors("listing models"), user_engine(settings).connect() as connection:
        rows = connection.execute(
            select(*_DESCRIBED)
            .where(Model.kind == MODEL_KIND)
            .order_by(Model.created_at.desc(), Model.id)
        ).all()
    return [_record(row) for row in rows]


def load_model(model_id: uuid.UUID | str, *, settings: Settings | None = None) -> StoredModel:
    """One of the current user's models, with its text.

    Raises
    ------
    ModelNotFoundError
        If the user has no such model (another user's looks the same).
    """
    checked = checked_id(model_id, what="model", listing=_LISTING)
    with translated_errors("loading the model"), user_engine(settings).connect() as connection:
        row = connection.execute(
            select(*_DESCRIBED, Model.artifact).where(Model.id == checked, Model.kind == MODEL_KIND)
        ).one_or_none()
    if row is None or row.artifact is None:
        raise ModelNotFoundError(_missing(checked))
    return StoredModel(_record(row), zlib.decompress(row.artifact).decode())


def delete_model(model_id: uuid.UUID | str, *, settings: Settings | None = None) -> None:
    """Remove one of the current user's models and its stored predictions.

    Raises
    ------
    ModelNotFoundError
        If the user has no such model.
    """
    checked = checked_id(model_id, what="model", listing=_LISTING)
    with translated_errors("removing the model"), user_engine(settings).begin() as connection:
        removed = connection.execute(delete(Model).where(Model.id == checked)).rowcount
    if removed == 0:
        raise ModelNotFoundError(_missing(checked))


def save_predictions(
    model_id: uuid.UUID,
    *,
    data_address: str,
    timeframe: str,
    horizon: int,
    document: dict[str, Any],
    settings: Settings | None = None,
) -> uuid.UUID:
    """Store one request's predictions, linked to the current user's model ``model_id``.

    Returns
    -------
    uuid.UUID
        The stored row's id.
    """
    packed = zlib.compress(json.dumps(document, allow_nan=False).encode())
    with translated_errors("saving the predictions"), user_engine(settings).begin() as connection:
        stored: uuid.UUID = connection.execute(
            insert(Prediction)
            .values(
                model_id=model_id,
                symbol=data_address,
                timeframe=timeframe,
                horizon=horizon,
                data=packed,
            )
            .returning(Prediction.id)
        ).scalar_one()
    return stored


_DESCRIBED = (
    Model.id,
    Model.created_at,
    Model.symbol,
    Model.timeframe,
    Model.parameters,
    Model.metrics,
    Model.data_fingerprint,
)


def _record(row: Any) -> ModelRecord:
    parameters, metrics = row.parameters, row.metrics
    return ModelRecord(
        id=row.id,
        created_at=row.created_at,
        feature_set=parameters["feature_set"],
        feature_version=int(parameters["feature_version"]),
        feature_names=tuple(parameters["feature_names"]),
        config=TrainingConfig(**parameters["training"]),
        data_address=row.symbol,
        timeframe=row.timeframe,
        data_fingerprint=row.data_fingerprint,
        training_start=pd.Timestamp(parameters["training_start"]),
        training_end=pd.Timestamp(parameters["training_end"]),
        scores=metrics["scores"],
        folds=metrics["folds"],
        importance=metrics["importance"],
    )


def _finite(scores: dict[str, float]) -> dict[str, float | None]:
    # JSON has no NaN: a score that could not be computed (one class only) is null.
    return {name: value if math.isfinite(value) else None for name, value in scores.items()}


def _missing(model_id: uuid.UUID) -> str:
    return f"you have no model {model_id}; '{_LISTING}' shows yours"
