"""A saved run loads back as a BacktestResult: it plots, saves again and keeps its listing."""

from __future__ import annotations

import pickle
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import text

import quantdesk
from quantdesk.engine import BacktestResult
from quantdesk.errors import SavedDataMissingError
from quantdesk.store.connection import engine_for
from quantdesk.store.run_codec import encode_equity
from quantdesk.store.runs import SavedRun, load_run, save_run
from tests.saved_runs import assert_run_matches, small_result


@pytest.fixture
def user(database_user: Callable[..., Any]) -> Any:
    return database_user("results")


def test_a_loaded_run_is_a_result_with_its_listing(user: Any) -> None:
    result = small_result(21, data_address="sample:BTC/USDT")
    info = save_run(result, name="as a result", settings=user.settings)
    run = quantdesk.load_run(info.id, settings=user.settings)
    assert isinstance(run, BacktestResult)
    assert isinstance(run, SavedRun)
    assert run.run_info == info
    assert run.id == info.id
    assert run.data_address == "sample:BTC/USDT"
    assert_run_matches(run, result)
    assert str(info.id) in repr(run)
    assert "as a result" in repr(run)


def test_a_loaded_run_plots_its_saved_closes(user: Any) -> None:
    import holoviews  # a dependency; imported here so collecting the tests stays quick

    result = small_result(22)
    run = load_run(save_run(result, settings=user.settings).id, settings=user.settings)
    price, equity, drawdown = list(run.plot())
    assert isinstance(price, holoviews.Overlay)
    (close_curve, *markers) = list(price)
    np.testing.assert_array_equal(close_curve.dimension_values("price"), result.close.to_numpy())
    np.testing.assert_array_equal(equity.dimension_values("equity"), result.equity.to_numpy())
    np.testing.assert_array_equal(
        drawdown.dimension_values("drawdown_pct"), result.drawdown.to_numpy() * 100.0
    )
    entries = sum(len(marker) for marker in markers[:2])
    assert entries == len(result.trades) + (result.open_position is not None)


def test_a_loaded_run_saves_again_as_a_new_identical_run(user: Any) -> None:
    result = small_result(23)
    first = load_run(save_run(result, settings=user.settings).id, settings=user.settings)
    again = first.save(name="again", settings=user.settings)
    assert again.id != first.id
    reloaded = load_run(again.id, settings=user.settings)
    assert_run_matches(reloaded, result)
    assert reloaded.run_info.name == "again"


def test_a_pickled_run_keeps_its_parts_and_listing(user: Any) -> None:
    result = small_result(24)
    run = load_run(save_run(result, settings=user.settings).id, settings=user.settings)
    copy = pickle.loads(pickle.dumps(run))
    assert copy.run_info == run.run_info
    assert_run_matches(copy, result)


def test_a_run_saved_before_closes_were_kept_loads_and_names_the_fix_to_plot(
    user: Any, postgres_server: Any
) -> None:
    result = small_result(25)
    info = save_run(result, settings=user.settings)
    with engine_for(postgres_server.superuser_url).begin() as connection:
        connection.execute(
            text("UPDATE quantdesk.backtest_equity SET data = :data WHERE backtest_id = :id"),
            {"data": encode_equity(result.equity), "id": info.id},
        )
    run = load_run(info.id, settings=user.settings)
    assert not run.close_saved
    pd.testing.assert_series_equal(run.equity, result.equity, check_exact=True)
    pd.testing.assert_frame_equal(run.trades, result.trades, check_exact=True)
    pd.testing.assert_series_equal(run.stats, result.stats)
    assert run.close.index.equals(result.equity.index)
    assert run.close.isna().all()
    with pytest.raises(SavedDataMissingError, match=r"result\.save\(\)") as caught:
        run.plot()
    assert "\n" not in str(caught.value)
    assert str(info.id) in str(caught.value)
    saved_again = load_run(run.save(settings=user.settings).id, settings=user.settings)
    assert not saved_again.close_saved
