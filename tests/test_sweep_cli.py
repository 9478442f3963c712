"""``quantdesk sweep`` as a person types it, on a real Dask cluster named by QUANTDESK_SCHEDULER."""

from __future__ import annotations

import json
import math
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from distributed import LocalCluster

import quantdesk
from quantdesk.compute.trackers import close_shared_trackers
from quantdesk.engine import BacktestConfig
from quantdesk.errors import InvalidInputError
from tests.command_line import run_quantdesk
from tests.test_store_runs_cli import runner_for

DATA = ("--data", "sample:BTC/USDT", "-t", "1h", "--start", "2024-01-01", "--end", "2024-02-15")
RULES = ("--commission", "0.001", "--lot-size", "1e-8")
GRID = ("-p", "fast=5:20:5", "-p", "slow=10:40:10")
CONFIG = BacktestConfig(commission=0.001, lot_size=1e-8)


@pytest.fixture(scope="module")
def scheduler() -> Iterator[str]:
    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        yield cluster.scheduler_address
        close_shared_trackers()


@pytest.fixture
def sweep(scheduler: str, tmp_path: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    def run(*words: str) -> subprocess.CompletedProcess[str]:
        return run_quantdesk(
            "sweep",
            *words,
            data_dir=tmp_path,
            extra_environment={"QUANTDESK_SCHEDULER": scheduler},
        )

    return run


def brute_force(tmp_path: Path) -> dict[tuple[int, int], float | None]:
    """Each grid point's Sharpe ratio through ``quantdesk.backtest``; None where refused."""
    frame = quantdesk.load(
        "sample:BTC/USDT",
        timeframe="1h",
        start="2024-01-01",
        end="2024-02-15",
        settings=quantdesk.Settings(data_dir=tmp_path),
    )
    found: dict[tuple[int, int], float | None] = {}
    for fast in range(5, 21, 5):
        for slow in range(10, 41, 10):
            try:
                result = quantdesk.backtest(
                    "sma_cross", frame, params={"fast": fast, "slow": slow}, config=CONFIG
                )
            except InvalidInputError:
                found[fast, slow] = None
                continue
            found[fast, slow] = float(result.stats["sharpe"])
    return found


def test_json_lists_every_combination_the_skipped_count_and_the_best(
    sweep: Callable[..., subprocess.CompletedProcess[str]], tmp_path: Path
) -> None:
    done = sweep("sma_cross", *DATA, *GRID, *RULES, "--json")
    assert done.returncode == 0, done.stderr
    printed = json.loads(done.stdout)
    expected = brute_force(tmp_path)
    combinations = {
        (row["parameters"]["fast"], row["parameters"]["slow"]): row
        for row in printed["combinations"]
    }
    assert set(combinations) == set(expected)
    assert printed["skipped"] == sum(value is None for value in expected.values()) == 4
    for point, sharpe in expected.items():
        row = combinations[point]
        assert row["skipped"] is (sharpe is None)
        if sharpe is not None and math.isfinite(sharpe):
            assert row["stats"]["sharpe"] == pytest.approx(sharpe, rel=1e-12)
    ran = {point: sharpe for point, sharpe in expected.items() if sharpe is not None}
    best_point = max(ran, key=lambda point: ran[point])
    assert printed["best"]["parameters"] == {"fast": best_point[0], "slow": best_point[1]}
    assert printed["objective"] == {"key": "sharpe", "direction": "maximise"}
    assert 0 <= printed["overfitting"]["probability"] <= 1
    assert printed["deflated_sharpe"]["trials"] == 12


def test_text_output_ranks_the_best_combinations(
    sweep: Callable[..., subprocess.CompletedProcess[str]],
) -> None:
    done = sweep("sma_cross", *DATA, *GRID, *RULES, "--no-progress")
    assert done.returncode == 0, done.stderr
    assert "16 combinations, 12 run, 4 skipped" in done.stdout
    assert "best (maximise sharpe): fast=" in done.stdout
    assert "deflated Sharpe ratio of the best: " in done.stdout
    assert "probability of backtest overfitting: " in done.stdout


def test_a_random_sweep_and_a_minimised_objective(
    sweep: Callable[..., subprocess.CompletedProcess[str]],
) -> None:
    done = sweep(
        "sma_cross",
        *DATA,
        *GRID,
        *RULES,
        "--random",
        "6",
        "--seed",
        "3",
        "--objective",
        "max_drawdown_pct",
        "--minimise",
        "--json",
    )
    assert done.returncode == 0, done.stderr
    printed = json.loads(done.stdout)
    assert len(printed["combinations"]) == 6
    ran = [row for row in printed["combinations"] if not row["skipped"]]
    # Drawdowns are negative percentages; minimising picks the deepest one.
    deepest = min(ran, key=lambda row: row["stats"]["max_drawdown_pct"])
    assert printed["best"]["parameters"] == deepest["parameters"]


def test_walk_forward_prints_each_fold_and_the_stitched_equity(
    sweep: Callable[..., subprocess.CompletedProcess[str]],
) -> None:
    done = sweep("sma_cross", *DATA, *GRID, *RULES, "--walk-forward", "3", "--anchored", "--json")
    assert done.returncode == 0, done.stderr
    printed = json.loads(done.stdout)
    assert len(printed["folds"]) == 3
    assert all(fold["in_sample"][0] == 0 for fold in printed["folds"])
    assert printed["final_equity"] > 0
    text = sweep("sma_cross", *DATA, *GRID, *RULES, "--walk-forward", "3", "--no-progress")
    assert text.returncode == 0, text.stderr
    assert "3 folds" in text.stdout
    assert "stitched out-of-sample equity" in text.stdout


def test_bad_requests_get_one_line_naming_the_fix(
    sweep: Callable[..., subprocess.CompletedProcess[str]],
) -> None:
    unknown = sweep("sma_cross", *DATA, "-p", "fats=5:10:5")
    assert unknown.returncode != 0
    assert len(unknown.stderr.strip().splitlines()) == 1, unknown.stderr
    assert "fast" in unknown.stderr
    anchored = sweep("sma_cross", *DATA, *GRID, "--anchored")
    assert anchored.returncode == 2
    assert "--walk-forward" in anchored.stderr


def test_a_recorded_sweep_is_a_completed_job(
    scheduler: str, database_user: Callable[..., Any], tmp_path: Path
) -> None:
    user = database_user("cli_sweep")
    run = runner_for(user, tmp_path)
    url = user.url.set(drivername="postgresql").render_as_string(hide_password=False)
    done = run_quantdesk(
        "sweep",
        "sma_cross",
        *DATA,
        "-p",
        "fast=5,10",
        "-p",
        "slow=30",
        "--json",
        data_dir=tmp_path,
        extra_environment={"QUANTDESK_SCHEDULER": scheduler, "QUANTDESK_DATABASE_URL": url},
    )
    assert done.returncode == 0, done.stderr
    job_id = json.loads(done.stdout)["job_id"]
    shown = run("jobs", "show", job_id, "--json")
    assert shown.returncode == 0, shown.stderr
    details = json.loads(shown.stdout)
    assert (details["kind"], details["status"], details["progress"]) == ("sweep", "completed", 1.0)
    assert details["result"]["combinations"] == json.loads(done.stdout)["combinations"]
    text = run("jobs", "show", job_id)
    assert "2 combinations, 0 skipped; best: fast=" in text.stdout
