"""quantdesk.train: walk-forward training as a job on a real Dask cluster, registered when done."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest
from distributed import Client, LocalCluster

import quantdesk
from quantdesk.compute.trackers import close_shared_trackers
from quantdesk.errors import InvalidInputError
from quantdesk.learning import TrainingConfig, train_model
from quantdesk.strategies.ml_predictive import MlPredictive
from tests.test_learning import autocorrelated, bars_from_returns

FAST = TrainingConfig(folds=2, max_rounds=40)
SPAN = {"timeframe": "1h", "start": "2024-01-01", "end": "2024-04-01"}


@pytest.fixture(scope="module")
def client() -> Iterator[Client]:
    with (
        LocalCluster(
            n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        Client(cluster, set_as_default=False) as connected,
    ):
        yield connected
        close_shared_trackers()


def test_a_training_job_registers_its_model_with_its_completion(
    client: Client, database_user: Callable[..., Any]
) -> None:
    alice = database_user("train_alice")
    job = quantdesk.train(
        "sample:BTC/USDT", config=FAST, client=client, settings=alice.settings, **SPAN
    )
    trained = job.result(timeout=300)
    assert job.status == "completed"
    assert job.progress == 1.0
    (record,) = quantdesk.list_models(settings=alice.settings)
    assert record.training_end == trained.training_end
    assert quantdesk.get_model(record.id, settings=alice.settings).model_text == trained.model_text
    # The registered model is the one predict then reuses.
    report = quantdesk.predict("sample:BTC/USDT", config=FAST, settings=alice.settings, **SPAN)
    assert not report.trained
    assert report.model_id == record.id


def test_a_frame_trains_on_the_cluster_as_it_does_here(client: Client) -> None:
    frame = bars_from_returns(autocorrelated(3_000, 0.5, seed=21), seed=21)
    job = quantdesk.train(frame, config=FAST, client=client, record=False)
    remote = job.result(timeout=300)
    local = train_model(frame, "default", FAST)
    assert remote.model_text == local.model_text
    np.testing.assert_array_equal(remote.out_of_sample.to_numpy(), local.out_of_sample.to_numpy())
    assert remote.folds == local.folds


def test_each_fold_is_a_task_so_progress_moves_fold_by_fold(client: Client) -> None:
    frame = bars_from_returns(autocorrelated(3_000, 0.5, seed=23), seed=23)
    config = TrainingConfig(folds=3, max_rounds=40)
    job = quantdesk.train(frame, config=config, client=client, record=False)
    trained = job.result(timeout=300)
    finished = job.partial_results()
    assert [index for index, _ in finished] == [0, 1, 2, 3]
    assert [fit.report.fold for _, fit in finished[:3]] == [0, 1, 2]
    assert finished[3][1].model_text == trained.model_text
    assert len(trained.folds) == 3


def test_too_little_data_is_refused_before_anything_is_queued(client: Client) -> None:
    frame = bars_from_returns(autocorrelated(200, 0.5, seed=24), seed=24)
    with pytest.raises(InvalidInputError, match="the data has 200"):
        quantdesk.train(frame, config=FAST, client=client, record=False)


def test_registering_a_frame_without_its_address_is_refused(client: Client) -> None:
    frame = bars_from_returns(autocorrelated(3_000, 0.5, seed=22), seed=22)
    with pytest.raises(InvalidInputError, match="needs a database"):
        quantdesk.train(frame, config=FAST, client=client, record=False, save=True)


def test_a_sweep_of_its_thresholds_trades_one_walk_forward_model(client: Client) -> None:
    frame = bars_from_returns(autocorrelated(3_000, 0.5, seed=25), seed=25)
    job = quantdesk.sweep(
        "ml_predictive",
        frame,
        {"entry": [0.55, 0.6, 0.65]},
        client=client,
        record=False,
        lot_size=1e-8,
    )
    result = job.result(timeout=300)
    model = train_model(frame)
    for entry, trades in zip(result.rows["entry"], result.rows["n_trades"], strict=True):
        alone = quantdesk.backtest(
            MlPredictive(predictions=model.out_of_sample, entry=entry), frame, lot_size=1e-8
        )
        assert trades == alone.stats["n_trades"]
    assert result.rows["n_trades"].iloc[0] > result.rows["n_trades"].iloc[-1] > 0
