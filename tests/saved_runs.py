"""Helpers for the saved-run tests: exact comparisons, small results, row counts."""

from __future__ import annotations

import math
import struct
from typing import Any

import numpy as np
import pandas as pd
import psycopg
from sqlalchemy import URL

from quantdesk.engine import BacktestConfig, BacktestResult, run_backtest
from quantdesk.store.runs import SavedRun
from quantdesk.strategies.signals import Signals
from tests.frames import bars_from_closes

RUN_TABLES = ("backtests", "backtest_equity", "backtest_trades")


def same_value(left: object, right: object) -> bool:
    """Equal and of the same type; floats bit for bit (-0.0 is not 0.0), any NaN equals any NaN."""
    if type(left) is not type(right):
        return False
    if isinstance(left, float) and isinstance(right, float):
        if math.isnan(left) or math.isnan(right):
            return math.isnan(left) and math.isnan(right)
        return struct.pack("<d", left) == struct.pack("<d", right)
    if isinstance(left, pd.Timestamp) and isinstance(right, pd.Timestamp):
        return left == right and str(left.tz) == str(right.tz) and left.unit == right.unit
    if isinstance(left, pd.Timedelta) and isinstance(right, pd.Timedelta):
        return left == right and left.unit == right.unit
    return left is right or left == right


def assert_same_values(decoded: dict[str, Any], expected: dict[str, Any]) -> None:
    """The same names in the same order, each value :func:`same_value`."""
    assert list(decoded) == list(expected)
    for name, value in expected.items():
        assert same_value(decoded[name], value), (name, decoded[name], value)


def assert_run_matches(run: SavedRun, result: BacktestResult) -> None:
    """A loaded run is a result holding exactly what the saved one held."""
    assert isinstance(run, BacktestResult)
    assert run.close_saved
    pd.testing.assert_series_equal(run.equity, result.equity, check_exact=True, check_freq=True)
    pd.testing.assert_series_equal(run.close, result.close, check_exact=True, check_freq=True)
    pd.testing.assert_series_equal(run.stats, result.stats)
    pd.testing.assert_frame_equal(run.trades, result.trades, check_exact=True)
    pd.testing.assert_series_equal(run.drawdown, result.drawdown, check_exact=True)
    assert_same_values(dict(run.stats), dict(result.stats))
    assert_same_values(run.parameters, dict(result.parameters))
    assert run.config == result.config
    assert run.open_position == result.open_position
    assert run.strategy_name == result.strategy_name
    assert run.data_address == result.data_address
    assert run.timeframe == result.timeframe
    assert run.data_fingerprint == result.data_fingerprint
    assert run.engine_version == result.engine_version
    info = run.run_info
    assert run.id == info.id
    assert info.strategy == result.strategy_name
    assert info.timeframe == result.timeframe
    assert info.bar_count == len(result.equity)
    assert info.trade_count == len(result.trades)
    assert same_value(info.final_equity, result.stats["final_equity"])
    assert info.data_fingerprint == result.data_fingerprint
    assert info.engine_version == result.engine_version


def small_result(
    seed: int = 0,
    *,
    bars: int = 300,
    cash: float = 10_000.0,
    parameters: dict[str, object] | None = None,
    strategy_name: str | None = "wave",
    data_address: str | None = None,
) -> BacktestResult:
    """A quick backtest on a seeded random walk, trading each turn of a short average."""
    walk = np.random.default_rng(seed).normal(0, 1, bars).cumsum()
    frame = bars_from_closes(100 + walk - walk.min())
    close = frame["close"]
    rising = (close.rolling(3).mean().diff() > 0).to_numpy()
    turns_up = rising & ~np.r_[False, rising[:-1]]
    turns_down = ~rising & np.r_[False, rising[:-1]]
    return run_backtest(
        frame,
        Signals.from_series(turns_up, short_entries=turns_down),
        BacktestConfig(cash=cash, commission=0.001),
        parameters=parameters if parameters is not None else {"seed": seed},
        strategy_name=strategy_name,
        data_address=data_address,
        timeframe="1h" if data_address is not None else None,
    )


def owned_row_counts(superuser_url: URL, owner: str) -> dict[str, int]:
    """How many rows ``owner`` has in each run table, counted as the superuser."""
    libpq = superuser_url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(libpq, autocommit=True) as session:
        return {
            table: session.execute(
                f"SELECT count(*) FROM quantdesk.{table} WHERE owner = %s", (owner,)
            ).fetchone()[0]  # type: ignore[index]
            for table in RUN_TABLES
        }
