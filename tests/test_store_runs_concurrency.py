"""20 users save 50 runs each, all at once: nothing lost, duplicated or mixed up."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pandas as pd
import pytest

from quantdesk.store.runs import RunInfo, list_runs, load_run, save_run
from tests.saved_runs import owned_row_counts, small_result

USERS = 20
SAVES_PER_USER = 50


def cash_of(user_number: int, run_number: int) -> float:
    """A starting cash unique to each run, so every equity curve differs."""
    return 10_000.0 + 100.0 * user_number + run_number


@pytest.mark.slow
def test_parallel_saves_by_many_users_stay_apart(
    database_user: Callable[..., Any], postgres_server: Any
) -> None:
    users = [database_user(f"crowd{number}") for number in range(USERS)]
    start_together = threading.Barrier(USERS)

    def save_all(user_number: int) -> list[RunInfo]:
        user = users[user_number]
        start_together.wait()
        return [
            save_run(
                small_result(
                    run_number,
                    bars=120,
                    cash=cash_of(user_number, run_number),
                    parameters={"user": user.name, "run": run_number},
                ),
                name=f"{user.name}/{run_number}",
                settings=user.settings,
            )
            for run_number in range(SAVES_PER_USER)
        ]

    with ThreadPoolExecutor(max_workers=USERS) as pool:
        saved = list(pool.map(save_all, range(USERS)))

    every_id = [info.id for infos in saved for info in infos]
    assert len(set(every_id)) == USERS * SAVES_PER_USER
    for user_number, user in enumerate(users):
        listed = list_runs(limit=None, settings=user.settings)
        assert sorted(info.id for info in listed) == sorted(info.id for info in saved[user_number])
        assert sorted(info.name or "" for info in listed) == sorted(
            f"{user.name}/{run_number}" for run_number in range(SAVES_PER_USER)
        )
        assert owned_row_counts(postgres_server.superuser_url, user.name) == {
            "backtests": SAVES_PER_USER,
            "backtest_equity": SAVES_PER_USER,
            "backtest_trades": SAVES_PER_USER,
        }
        for info in listed:
            run = load_run(info.id, settings=user.settings)
            run_number = int(str(info.name).rsplit("/", 1)[1])
            assert run.parameters == {"user": user.name, "run": run_number}
            assert run.config.cash == cash_of(user_number, run_number)
            expected = small_result(run_number, bars=120, cash=cash_of(user_number, run_number))
            pd.testing.assert_series_equal(run.equity, expected.equity, check_exact=True)
            pd.testing.assert_frame_equal(run.trades, expected.trades, check_exact=True)
