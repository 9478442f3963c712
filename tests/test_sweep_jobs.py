"""``quantdesk.submit`` and ``quantdesk.sweep`` on a real Dask cluster, recorded in PostgreSQL."""

from __future__ import annotations

import math
import socket
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pandas as pd
import psycopg
import pytest
from distributed import Client, LocalCluster

import quantdesk
from quantdesk.compute.trackers import close_shared_trackers
from quantdesk.config import Settings
from quantdesk.engine import STAT_KEYS, BacktestConfig
from quantdesk.errors import InvalidInputError, SchedulerUnavailableError
from quantdesk.research import (
    SweepResult,
    WalkForwardResult,
    parse_parameter_space,
    run_sweep,
    run_walk_forward,
)
from quantdesk.store.jobs import get_job, job_result
from tests.frames import sample_bars
from tests.test_store_isolation import connect

CONFIG = BacktestConfig(lot_size=1e-8, commission=0.001)
SWEPT = {"fast": "5:20:5", "slow": "10:40:10"}


@pytest.fixture(scope="module")
def client() -> Iterator[Client]:
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        Client(cluster, set_as_default=False) as connected,
    ):
        yield connected
        close_shared_trackers()


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return sample_bars("BTC/USDT", "1h", "2024-01-01", "2024-02-15")


@pytest.fixture
def user(database_user: Callable[..., Any]) -> Any:
    return database_user("sweep_jobs")


def in_process(frame: pd.DataFrame, **keywords: Any) -> SweepResult:
    space = parse_parameter_space("sma_cross", SWEPT)
    return run_sweep(frame, "sma_cross", space, CONFIG, **keywords)


def same_table(mine: pd.DataFrame, theirs: pd.DataFrame) -> None:
    assert list(mine.columns) == list(theirs.columns)
    assert len(mine) == len(theirs)
    for column in mine.columns:
        pd.testing.assert_series_equal(mine[column], theirs[column], check_names=False)


def test_a_sweep_on_the_cluster_equals_the_sweep_in_this_process(
    client: Client, frame: pd.DataFrame
) -> None:
    job = quantdesk.sweep(
        "sma_cross", frame, SWEPT, config=CONFIG, client=client, record=False, chunk_size=3
    )
    result = job.result(timeout=120)
    expected = in_process(frame)
    assert job.status == "completed"
    assert job.progress == 1.0
    same_table(result.rows, expected.rows)
    assert result.skipped == expected.skipped
    # fast >= slow is refused: 5/10 ... 20/40 gives (10,10), (15,10), (20,10), (20,20).
    assert result.skipped == 4
    assert result.best_parameters == expected.best_parameters


def test_the_best_is_the_largest_objective_among_the_combinations_that_ran(
    client: Client, frame: pd.DataFrame
) -> None:
    result = quantdesk.sweep(
        "sma_cross",
        frame,
        SWEPT,
        objective="total_return_pct",
        constraints=["n_trades >= 3"],
        config=CONFIG,
        client=client,
        record=False,
    ).result(timeout=120)
    table = result.rows
    eligible = table[~table["skipped"] & (table["n_trades"] >= 3)]
    assert len(eligible) > 0
    best_row = int(np.argmax(eligible["total_return_pct"].to_numpy()))
    assert result.best_parameters == {
        "fast": int(eligible["fast"].iloc[best_row]),
        "slow": int(eligible["slow"].iloc[best_row]),
    }


def test_a_random_sweep_evaluates_the_seeded_sample(client: Client, frame: pd.DataFrame) -> None:
    result = quantdesk.sweep(
        "sma_cross", frame, SWEPT, random=5, seed=7, config=CONFIG, client=client, record=False
    ).result(timeout=120)
    space = parse_parameter_space("sma_cross", SWEPT)
    sample = space.random(5, seed=7)
    expected = run_sweep(frame, "sma_cross", sample, CONFIG)
    assert len(result.rows) == 5
    same_table(result.rows, expected.rows)


def test_a_walk_forward_on_the_cluster_equals_the_one_in_this_process(
    client: Client, frame: pd.DataFrame
) -> None:
    job = quantdesk.sweep(
        "sma_cross",
        frame,
        SWEPT,
        walk_forward=3,
        anchored=True,
        config=CONFIG,
        client=client,
        record=False,
    )
    result = job.result(timeout=120)
    expected = run_walk_forward(
        frame,
        "sma_cross",
        parse_parameter_space("sma_cross", SWEPT),
        CONFIG,
        folds=3,
        anchored=True,
    )
    assert isinstance(result, WalkForwardResult)
    assert job.kind == "walk_forward"
    assert [fold.parameters for fold in result.folds] == [
        fold.parameters for fold in expected.folds
    ]
    assert [fold.window for fold in result.folds] == [fold.window for fold in expected.folds]
    assert all(fold.window.in_start == 0 for fold in result.folds)
    pd.testing.assert_series_equal(result.equity, expected.equity)


def test_a_submitted_backtest_equals_quantdesk_backtest(
    client: Client, frame: pd.DataFrame
) -> None:
    job = quantdesk.submit(
        "sma_cross",
        frame,
        params={"fast": 5, "slow": 30},
        config=CONFIG,
        client=client,
        record=False,
    )
    result = job.result(timeout=120)
    expected = quantdesk.backtest("sma_cross", frame, params={"fast": 5, "slow": 30}, config=CONFIG)
    pd.testing.assert_series_equal(result.equity, expected.equity)
    for key in STAT_KEYS:
        mine, theirs = result.stats[key], expected.stats[key]
        if isinstance(theirs, float) and math.isnan(theirs):
            assert math.isnan(mine)
        else:
            assert mine == theirs


def test_a_recorded_sweep_completes_with_its_results_in_the_same_row_set(
    client: Client, frame: pd.DataFrame, user: Any
) -> None:
    job = quantdesk.sweep(
        "sma_cross", frame, SWEPT, config=CONFIG, client=client, settings=user.settings
    )
    result = job.result(timeout=120)
    info = get_job(job.id, settings=user.settings)
    assert info.status == "completed"
    assert info.kind == "sweep"
    assert info.parameters["combinations"] == 16
    with connect(user.url) as session:
        stored = session.execute(
            "SELECT result FROM quantdesk.job_results WHERE job_id = %s", (job.id,)
        ).fetchone()
    assert stored is not None
    document = stored[0]
    assert len(document["combinations"]) == 16
    assert document["skipped"] == 4
    assert document["best"]["parameters"] == result.best_parameters
    assert job_result(job.id, settings=user.settings) == document


def test_a_recorded_submission_saves_its_run_linked_to_the_job(
    client: Client, frame: pd.DataFrame, user: Any
) -> None:
    job = quantdesk.submit(
        "sma_cross",
        frame,
        params={"fast": 5, "slow": 30},
        config=CONFIG,
        client=client,
        settings=user.settings,
        name="from a job",
    )
    result = job.result(timeout=120)
    with connect(user.url) as session:
        rows = session.execute(
            "SELECT name, final_equity FROM quantdesk.backtests WHERE job_id = %s", (job.id,)
        ).fetchall()
        status = session.execute(
            "SELECT status FROM quantdesk.jobs WHERE id = %s", (job.id,)
        ).fetchone()
    assert rows == [("from a job", pytest.approx(float(result.equity.iloc[-1])))]
    assert status == ("completed",)


def test_another_user_cannot_read_or_forge_a_jobs_results(
    client: Client, frame: pd.DataFrame, database_user: Callable[..., Any]
) -> None:
    alice, bob = database_user("results_alice"), database_user("results_bob")
    job = quantdesk.sweep(
        "sma_cross", frame, {"fast": [5], "slow": [30]}, client=client, settings=alice.settings
    )
    job.result(timeout=120)
    with connect(bob.url) as session:
        assert session.execute("SELECT count(*) FROM quantdesk.job_results").fetchone() == (0,)
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            session.execute(
                "INSERT INTO quantdesk.job_results (owner, job_id, result) VALUES (%s, %s, '{}')",
                (alice.name, job.id),
            )
        assert (
            session.execute(
                "UPDATE quantdesk.job_results SET result = '{}' WHERE job_id = %s", (job.id,)
            ).rowcount
            == 0
        )
    # A result for a job that does not exist (or is bob's) has no row to hang on.
    with (
        connect(alice.url) as session,
        pytest.raises(psycopg.errors.ForeignKeyViolation),
    ):
        session.execute(
            "INSERT INTO quantdesk.job_results (job_id, result) VALUES (%s, '{}')",
            (uuid.uuid4(),),
        )


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_an_unreachable_scheduler_fails_the_job_with_one_line(
    frame: pd.DataFrame, user: Any
) -> None:
    address = f"tcp://127.0.0.1:{closed_port()}"
    settings = user.settings.model_copy(update={"scheduler": address})
    with pytest.raises(SchedulerUnavailableError) as raised:
        quantdesk.sweep("sma_cross", frame, SWEPT, settings=settings)
    message = str(raised.value)
    assert "\n" not in message
    assert address in message
    failed = quantdesk.list_jobs(settings=user.settings)
    assert [(job.kind, job.status) for job in failed] == [("sweep", "failed")]
    assert failed[0].error is not None
    assert address in failed[0].error
    assert str(failed[0].id) in message


def test_bad_sweep_arguments_name_the_fix(client: Client, frame: pd.DataFrame) -> None:
    with pytest.raises(InvalidInputError, match="fast"):
        quantdesk.sweep("sma_cross", frame, {"fats": "5:10:5"}, client=client, record=False)
    with pytest.raises(InvalidInputError, match="sharpe"):
        quantdesk.sweep("sma_cross", frame, SWEPT, objective="sharp", client=client, record=False)
    other = parse_parameter_space("rsi_reversion", {"period": [14]})
    with pytest.raises(InvalidInputError, match="read it for this strategy"):
        quantdesk.sweep("sma_cross", frame, other, client=client, record=False)


def test_without_a_database_a_job_is_not_recorded(
    client: Client, frame: pd.DataFrame, settings_in: Settings
) -> None:
    assert settings_in.database_url is None
    job = quantdesk.sweep(
        "sma_cross", frame, {"fast": [5], "slow": [30]}, client=client, settings=settings_in
    )
    assert job.result(timeout=120).rows.shape[0] == 1
