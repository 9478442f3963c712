"""Benchmark predictions: a cached model's prediction in a warm process, and auto-train.

Run ``.venv/bin/python benchmarks/bench_predictions.py`` (about a minute). It
starts quantdesk's embedded PostgreSQL in a temporary directory, adds one
user, and on five years of hourly ``sample:BTC/USDT`` bars (about 43,800)
with the default feature set and ``TrainingConfig()`` (5 walk-forward folds,
horizon 1) times

- ``quantdesk.predict`` the first time: loading the bars, the causality
  check, the features, 5 folds and the final fit, registering the model and
  storing the predictions (auto-train), beside LightGBM's own training time;
- ``quantdesk.predict`` again in the same process, the model reused through
  the registry lookup and the in-process LRU (median of 21 runs);
- auto-train again on the same bars with momentum planted in their returns
  (each hour's log return gains 0.4 of the previous one's), given as a CSV
  file, where the model has something to learn and fits run longer;
- the slowest case: every fit runs all ``max_rounds`` (400), early stopping off.

The targets (issue 12): a prediction with a cached model at most 200 ms, and
auto-train at most 5 s.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

import quantdesk
from private_database import private_database
from quantdesk.learning import TrainingConfig
from quantdesk.store.model_registry import StoredModel
from quantdesk.store.users import add_user
from timing import print_markdown_table

ADDRESS = "sample:BTC/USDT"
SPAN = {"timeframe": "1h", "start": "2019-01-01", "end": "2024-01-01"}
REUSED_RUNS = 21
CACHED_TARGET_SECONDS = 0.2
TRAIN_TARGET_SECONDS = 5.0
PLANTED_MOMENTUM = 0.4


def with_planted_momentum(frame: pd.DataFrame) -> pd.DataFrame:
    """The bars rescaled so each log return carries ``PLANTED_MOMENTUM`` of the one before."""
    returns = np.diff(np.log(frame["close"].to_numpy()), prepend=np.log(frame["close"].iloc[0]))
    planted = returns.copy()
    planted[1:] += PLANTED_MOMENTUM * returns[:-1]
    scale = np.exp(np.cumsum(planted) - np.cumsum(returns))
    rescaled = frame.copy()
    for column in ("open", "high", "low", "close"):
        rescaled[column] = frame[column] * scale
    return rescaled


def mean_rounds(model: StoredModel) -> float:
    return statistics.mean(fold["rounds"] for fold in model.record.folds)


def verdict(seconds: float, target: float) -> str:
    return f"target <= {target:g} s: {'met' if seconds <= target else 'NOT met'}"


def main() -> None:
    """Start a server, train, reuse, and print the table."""
    with private_database("quantdesk-bench-predictions-") as database:
        user = add_user(database.server.admin_url(), "bench_predictor")
        measured = database.settings_for(user.revealed_url())
        bars = len(quantdesk.load(ADDRESS, settings=measured, **SPAN))
        # The bars are cached as Parquet on this first load, as a user's would be.
        first = quantdesk.predict(ADDRESS, settings=measured, **SPAN)
        if not first.trained:
            raise RuntimeError("the first prediction should have trained a model")
        reused = []
        for _ in range(REUSED_RUNS):
            started = time.perf_counter()
            again = quantdesk.predict(ADDRESS, settings=measured, **SPAN)
            reused.append(time.perf_counter() - started)
            if again.trained or again.model_id != first.model_id:
                raise RuntimeError("a repeated prediction should reuse the model")
        cached = statistics.median(reused)
        model = quantdesk.get_model(first.model_id, settings=measured)
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "planted.csv"
            with_planted_momentum(quantdesk.load(ADDRESS, settings=measured, **SPAN)).to_csv(path)
            planted = quantdesk.predict(f"csv:{path}", settings=measured, **SPAN)
            planted_model = quantdesk.get_model(planted.model_id, settings=measured)
            every_round = quantdesk.predict(
                f"csv:{path}",
                config=TrainingConfig(early_stopping_rounds=400),
                settings=measured,
                **SPAN,
            )
        rows = [
            (
                f"auto-train: first quantdesk.predict, {bars:,} hourly bars",
                f"{first.seconds:.2f} s",
                f"{verdict(first.seconds, TRAIN_TARGET_SECONDS)}; training "
                f"{first.training_seconds:.2f} s of it, LightGBM's own "
                f"{first.lightgbm_seconds:.2f} s; "
                f"out-of-sample AUC {model.record.scores['auc']:.3f}: the sample market offers "
                "little to learn, so early stopping ends each fit within a few dozen rounds",
            ),
            (
                f"auto-train with momentum planted ({PLANTED_MOMENTUM} of the last return)",
                f"{planted.seconds:.2f} s",
                f"{verdict(planted.seconds, TRAIN_TARGET_SECONDS)}; LightGBM's own "
                f"{planted.lightgbm_seconds:.2f} s; out-of-sample AUC "
                f"{planted_model.record.scores['auc']:.3f}; {mean_rounds(planted_model):.0f} "
                "rounds per fold on average",
            ),
            (
                "auto-train, every fit all 400 rounds (early stopping off)",
                f"{every_round.seconds:.2f} s",
                f"{verdict(every_round.seconds, TRAIN_TARGET_SECONDS)}; LightGBM's own "
                f"{every_round.lightgbm_seconds:.2f} s: the slowest TrainingConfig() can be",
            ),
            (
                "cached model: quantdesk.predict again, same process",
                f"{cached * 1000:.0f} ms",
                f"median of {REUSED_RUNS}; {verdict(cached, CACHED_TARGET_SECONDS)}",
            ),
            (
                "host load average (1, 5, 15 min) at the end",
                ", ".join(f"{load:.1f}" for load in os.getloadavg()),
                f"{os.cpu_count()} cores",
            ),
        ]
    print_markdown_table(rows)


if __name__ == "__main__":
    main()
