"""Predictions with auto-train: reuse the latest fitting model, or train and register one.

``predict("sample:BTC/USDT", timeframe="1h")`` loads the bars, looks among
your registered models for one trained on the same address, timeframe,
feature set (and version) and parameters whose training bars are unchanged
and that the data has not outrun by more than ``max_age``; it reuses that
model (through an in-process LRU of loaded boosters) or trains a new one
walk-forward and registers it. The latest bars' probabilities and signals are
returned and stored, linked to the model.
"""

from __future__ import annotations

import math
import threading
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import lightgbm
import pandas as pd

from quantdesk.api.backtest import request_bars
from quantdesk.api.research import tracker_for
from quantdesk.compute.jobs import Job
from quantdesk.compute.training_jobs import submit_training
from quantdesk.config import Settings
from quantdesk.core.time_range import TimeLike
from quantdesk.data.loader import load_bars
from quantdesk.engine import BacktestConfig
from quantdesk.engine.result import data_fingerprint
from quantdesk.errors import InvalidInputError
from quantdesk.features import FeatureSet, get_feature_set
from quantdesk.learning import TrainingConfig, predict_with, train_model
from quantdesk.store import model_registry
from quantdesk.store.connection import user_url
from quantdesk.store.model_registry import ModelRecord, StoredModel

__all__ = [
    "DEFAULT_MAX_AGE",
    "ModelRecord",
    "PredictionReport",
    "StoredModel",
    "TrainingConfig",
    "get_model",
    "list_models",
    "predict",
    "remove_model",
    "reusable_model",
    "train",
]

DEFAULT_MAX_AGE = "7D"
"""How far the data may run past a model's training end before it is retrained."""
BOOSTERS_KEPT = 8
ENTRY_PROBABILITY = 0.55
EXIT_PROBABILITY = 0.45


@dataclass(frozen=True)
class PredictionReport:
    """What ``predict`` did and found.

    Attributes
    ----------
    model_id
        The model that made the predictions.
    trained
        Whether it was trained for this request (else reused).
    reason
        Why it was trained, or ``"reused"``.
    data_address, timeframe
        The bars predicted.
    latest
        The latest bars' ``probability`` of an up move over the horizon and
        ``signal`` (1 long above 0.55, -1 short below 0.45, else 0).
    scores
        The model's out-of-sample scores.
    seconds
        Time the request took; ``training_seconds`` of it in training, and
        ``lightgbm_seconds`` of that in ``lightgbm.train`` alone (0 when reused).
    """

    model_id: uuid.UUID
    trained: bool
    reason: str
    data_address: str
    timeframe: str
    latest: pd.DataFrame = field(repr=False)
    scores: dict[str, float | None]
    seconds: float
    training_seconds: float
    lightgbm_seconds: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields, for ``--json`` output."""
        return {
            "model_id": str(self.model_id),
            "trained": self.trained,
            "reused": not self.trained,
            "reason": self.reason,
            "data_address": self.data_address,
            "timeframe": self.timeframe,
            "predictions": [
                {
                    "time": moment.isoformat(),
                    "probability": float(probability),
                    "signal": int(signal),
                }
                for moment, probability, signal in zip(
                    self.latest.index,
                    self.latest["probability"],
                    self.latest["signal"],
                    strict=True,
                )
            ],
            "out_of_sample": self.scores,
            "seconds": self.seconds,
            "training_seconds": self.training_seconds,
            "lightgbm_seconds": self.lightgbm_seconds,
        }


def predict(
    address: str,
    *,
    timeframe: str | None = None,
    start: TimeLike | None = None,
    end: TimeLike | None = None,
    feature_set: str | FeatureSet = "default",
    config: TrainingConfig | None = None,
    max_age: str | pd.Timedelta = DEFAULT_MAX_AGE,
    bars: int = 1,
    settings: Settings | None = None,
) -> PredictionReport:
    """The latest predictions for ``address``, from a reused or newly trained model.

    Parameters
    ----------
    address
        ``SOURCE:SYMBOL``, e.g. ``"sample:BTC/USDT"``.
    timeframe, start, end
        The bars to train on and predict, as :func:`quantdesk.load` takes them.
    feature_set
        A registered feature set's name, or a set.
    config
        How to train; ``TrainingConfig()`` when None. A model trained otherwise is not reused.
    max_age
        How far the data may run past a model's training end before it is retrained.
    bars
        How many of the latest bars to return predictions for.
    settings
        The settings in effect; read from the environment when None.

    Returns
    -------
    PredictionReport
        The model used, whether it was trained, and the latest predictions.

    Raises
    ------
    InvalidInputError
        For bad arguments, or data too short to train on (the message says how much is needed).
    """
    started = time.perf_counter()
    if bars < 1:
        raise InvalidInputError(f"bars must be 1 or more, not {bars}")
    age = _checked_age(max_age)
    settings = Settings.load() if settings is None else settings
    chosen = get_feature_set(feature_set)
    config = TrainingConfig() if config is None else config
    loaded = load_bars(address, timeframe=timeframe, start=start, end=end, settings=settings)
    frame = loaded.frame
    data_address, frame_timeframe = str(loaded.address), str(loaded.timeframe)
    records = model_registry.list_models(settings=settings)
    record, reason = reusable_model(
        records, chosen, config, data_address, frame_timeframe, frame, age
    )
    training_seconds = lightgbm_seconds = 0.0
    if record is None:
        training_started = time.perf_counter()
        trained = train_model(frame, chosen, config)
        training_seconds = time.perf_counter() - training_started
        lightgbm_seconds = trained.lightgbm_seconds
        record = model_registry.save_model(
            trained,
            data_address=data_address,
            timeframe=frame_timeframe,
            data_fingerprint=data_fingerprint(
                frame.loc[trained.training_start : trained.training_end]
            ),
            settings=settings,
        )
        booster = lightgbm.Booster(model_str=trained.model_text)
        _BOOSTERS.put(_owner_key(settings), record.id, booster)
    else:
        booster = _booster(record.id, settings)
    features = chosen.compute(frame)
    probabilities = predict_with(booster, record.feature_names, features.iloc[-bars:])
    signals = (probabilities > ENTRY_PROBABILITY).astype(int) - (
        probabilities < EXIT_PROBABILITY
    ).astype(int)
    latest = pd.DataFrame({"probability": probabilities, "signal": signals})
    report = PredictionReport(
        model_id=record.id,
        trained=reason != "reused",
        reason=reason,
        data_address=data_address,
        timeframe=frame_timeframe,
        latest=latest,
        scores=record.scores,
        seconds=time.perf_counter() - started,
        training_seconds=training_seconds,
        lightgbm_seconds=lightgbm_seconds,
    )
    document = report.to_dict()
    model_registry.save_predictions(
        record.id,
        data_address=data_address,
        timeframe=frame_timeframe,
        horizon=config.horizon,
        document={key: document[key] for key in ("predictions", "reason", "trained")},
        settings=settings,
    )
    return report


def train(
    data: pd.DataFrame | str,
    *,
    timeframe: str | None = None,
    start: TimeLike | None = None,
    end: TimeLike | None = None,
    feature_set: str | FeatureSet = "default",
    config: TrainingConfig | None = None,
    backtest_config: BacktestConfig | None = None,
    save: bool | None = None,
    client: Any | None = None,
    record: bool | None = None,
    settings: Settings | None = None,
) -> Job:
    """Train a model walk-forward on the cluster as a job.

    Parameters
    ----------
    data
        Bars, or an address such as ``"sample:BTC/USDT"`` loaded with
        ``timeframe``, ``start`` and ``end``.
    feature_set, config, backtest_config
        As :func:`quantdesk.learning.train_model` takes them.
    save
        Register the model with the job's completion; by default when a
        database is configured and the bars came by address.
    client, record, settings
        As for :func:`quantdesk.sweep`.

    Returns
    -------
    Job
        At once; ``job.result()`` is the :class:`~quantdesk.learning.TrainedModel`.
    """
    settings = Settings.load() if settings is None else settings
    chosen = get_feature_set(feature_set)
    config = TrainingConfig() if config is None else config
    frame, loaded = request_bars(data, timeframe=timeframe, start=start, end=end, settings=settings)
    data_address = None if loaded is None else str(loaded.address)
    frame_timeframe = None if loaded is None else str(loaded.timeframe)
    described = {
        "feature_set": chosen.name,
        "parameters": config.model_dump(),
        "data": data_address,
        "bars": len(frame),
    }
    tracker = tracker_for("train", described, settings, record, client)
    saving = (tracker.records and data_address is not None) if save is None else save
    return submit_training(
        tracker,
        frame,
        chosen,
        config,
        backtest_config,
        data_address=data_address,
        timeframe=frame_timeframe,
        save=saving,
        parameters=described,
    )


def reusable_model(
    records: list[ModelRecord],
    feature_set: FeatureSet,
    config: TrainingConfig,
    data_address: str,
    timeframe: str,
    frame: pd.DataFrame,
    max_age: pd.Timedelta,
) -> tuple[ModelRecord | None, str]:
    """The newest registered model these bars may reuse, else None and why a new one is needed.

    Every model trained on the same address, timeframe and feature set is a
    candidate, newest first, so models trained with other parameters stay
    reusable side by side. When none fits, the reason given is that of the
    newest model with these parameters and features, else the newest model's.

    Returns
    -------
    tuple
        ``(record, "reused")``, or ``(None, reason)``.
    """
    same_data = [
        record
        for record in records
        if record.data_address == data_address
        and record.timeframe == timeframe
        and record.feature_set == feature_set.name
    ]
    if not same_data:
        return None, "no model for this data and feature set"
    reasons = [
        _why_not_reusable(record, feature_set, config, frame, max_age) for record in same_data
    ]
    for record, reason in zip(same_data, reasons, strict=True):
        if reason is None:
            return record, "reused"
    alike = [
        reason
        for record, reason in zip(same_data, reasons, strict=True)
        if record.config == config and record.feature_version == feature_set.version
    ]
    return None, str((alike or reasons)[0])


def _why_not_reusable(
    record: ModelRecord,
    feature_set: FeatureSet,
    config: TrainingConfig,
    frame: pd.DataFrame,
    max_age: pd.Timedelta,
) -> str | None:
    if record.feature_version != feature_set.version:
        return (
            f"feature set {feature_set.name!r} changed (version {record.feature_version} -> "
            f"{feature_set.version})"
        )
    if record.config != config:
        return "training parameters changed"
    training_bars = frame.loc[record.training_start : record.training_end]
    if (
        len(training_bars) == 0
        or training_bars.index[0] != record.training_start
        or training_bars.index[-1] != record.training_end
        or data_fingerprint(training_bars) != record.data_fingerprint
    ):
        return "the bars it was trained on changed"
    outrun = frame.index[-1] - record.training_end
    if outrun > max_age:
        return f"stale: the data runs {outrun} past its training end (max_age {max_age})"
    return None


class _BoosterCache:
    """Loaded boosters by (owner, model id), least recently used dropped past a size."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._entries: OrderedDict[tuple[str, uuid.UUID], lightgbm.Booster] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, owner: str, model_id: uuid.UUID) -> lightgbm.Booster | None:
        with self._lock:
            booster = self._entries.get((owner, model_id))
            if booster is not None:
                self._entries.move_to_end((owner, model_id))
            return booster

    def put(self, owner: str, model_id: uuid.UUID, booster: lightgbm.Booster) -> None:
        with self._lock:
            self._entries[(owner, model_id)] = booster
            self._entries.move_to_end((owner, model_id))
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


_BOOSTERS = _BoosterCache(BOOSTERS_KEPT)


def _booster(model_id: uuid.UUID, settings: Settings) -> lightgbm.Booster:
    owner = _owner_key(settings)
    booster = _BOOSTERS.get(owner, model_id)
    if booster is None:
        stored: StoredModel = model_registry.load_model(model_id, settings=settings)
        booster = lightgbm.Booster(model_str=stored.model_text)
        _BOOSTERS.put(owner, model_id, booster)
    return booster


def _owner_key(settings: Settings) -> str:
    # The role the registry was read as: a cached booster is found only by its owner.
    return str(user_url(settings).username)


def _checked_age(max_age: str | pd.Timedelta) -> pd.Timedelta:
    try:
        age = pd.Timedelta(max_age)
    except (TypeError, ValueError):
        raise InvalidInputError(
            f"max_age {max_age!r} is not a duration; write it as '7D', '12h' or '90min'"
        ) from None
    if pd.isna(age) or not math.isfinite(age.total_seconds()) or age < pd.Timedelta(0):
        raise InvalidInputError(f"max_age must be a positive duration, not {max_age!r}")
    return age


def list_models(*, settings: Settings | None = None) -> list[ModelRecord]:
    """Your registered models, newest first, without their texts."""
    return model_registry.list_models(settings=settings)


def get_model(model_id: uuid.UUID | str, *, settings: Settings | None = None) -> StoredModel:
    """One of your models with its text."""
    return model_registry.load_model(model_id, settings=settings)


def remove_model(model_id: uuid.UUID | str, *, settings: Settings | None = None) -> None:
    """Remove one of your models and the predictions it made."""
    model_registry.delete_model(model_id, settings=settings)
