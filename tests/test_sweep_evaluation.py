"""Sweeps: every combination's stats as ``quantdesk.backtest`` gives them, and the best found."""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest
import talib

import quantdesk
from quantdesk.engine import STAT_KEYS, BacktestConfig
from quantdesk.errors import InvalidInputError, UnknownNameError
from quantdesk.indicators import reusing_indicator_values, sma
from quantdesk.indicators.reuse import kept_bytes
from quantdesk.research import (
    Objective,
    ParameterSpace,
    SweepResult,
    evaluate_chunk,
    parse_parameter_space,
    plan_chunks,
    run_sweep,
    sweep_result,
)
from quantdesk.strategies.sma_cross import SmaCross
from tests.frames import sample_bars

CONFIG = BacktestConfig(lot_size=1e-8, commission=0.001)


def sample_frame() -> pd.DataFrame:
    return sample_bars("BTC/USDT", "1h", "2024-01-01", "2024-02-15")


def sma_space() -> ParameterSpace:
    return parse_parameter_space("sma_cross", ["fast=5:20:5", "slow=10:40:10"])


def brute_force_stats(strategy: Any, combinations: list[dict[str, Any]]) -> list[pd.Series | None]:
    """Each combination through ``quantdesk.backtest``, None where the strategy refuses it."""
    found: list[pd.Series | None] = []
    for combination in combinations:
        try:
            result = quantdesk.backtest(strategy, sample_frame(), params=combination, config=CONFIG)
        except InvalidInputError:
            found.append(None)
            continue
        found.append(result.stats)
    return found


def same_stats(mine: pd.Series, theirs: pd.Series) -> bool:
    for key in STAT_KEYS:
        left, right = mine[key], theirs[key]
        if isinstance(right, pd.Timedelta):
            if pd.Timedelta(left) != right:
                return False
        elif not (
            (pd.isna(left) and pd.isna(right))
            or math.isclose(float(left), float(right), rel_tol=1e-12, abs_tol=1e-12)
        ):
            return False
    return True


def test_every_combination_has_the_stats_of_its_own_backtest() -> None:
    space = sma_space()
    result = run_sweep(sample_frame(), "sma_cross", space, CONFIG, chunk_size=5)
    expected = brute_force_stats("sma_cross", list(space.grid()))
    assert len(result.rows) == space.size == 16
    for (_, row), theirs in zip(result.rows.iterrows(), expected, strict=True):
        assert bool(row["skipped"]) is (theirs is None)
        if theirs is not None:
            assert same_stats(row, theirs), row[["fast", "slow"]].to_dict()
    assert result.rows["n_trades"].dropna().gt(0).all()


def test_refused_combinations_are_skipped_and_counted_never_run() -> None:
    result = run_sweep(sample_frame(), "sma_cross", sma_space(), CONFIG)
    # fast >= slow: (10, 10), (15, 10), (20, 10) and (20, 20).
    assert result.skipped == 4
    skipped = result.rows[result.rows["skipped"]]
    assert sorted(zip(skipped["fast"], skipped["slow"], strict=True)) == [
        (10, 10),
        (15, 10),
        (20, 10),
        (20, 20),
    ]
    assert skipped[["sharpe", "final_equity", "n_trades"]].isna().all().all()


def numpy_best(
    stats: list[pd.Series | None],
    key: str,
    *,
    maximise: bool = True,
    allowed: Callable[[pd.Series], bool] = lambda _: True,
) -> int:
    values = np.array(
        [np.nan if entry is None or not allowed(entry) else float(entry[key]) for entry in stats]
    )
    eligible = np.array([entry is not None and allowed(entry) for entry in stats])
    signed = values if maximise else -values
    keys = np.where(np.isnan(signed), -sys.float_info.max, signed)
    keys = np.where(eligible, keys, -np.inf)
    return int(np.argmax(keys))


def test_the_best_by_sharpe_is_the_brute_force_maximum() -> None:
    space = sma_space()
    result = run_sweep(sample_frame(), "sma_cross", space, CONFIG)
    expected = brute_force_stats("sma_cross", list(space.grid()))
    best = numpy_best(expected, "sharpe")
    assert result.best == best
    assert result.best_parameters == list(space.grid())[best]
    assert result.best_stats is not None
    assert math.isclose(float(result.best_stats["sharpe"]), float(expected[best]["sharpe"]))  # type: ignore[index]


def test_minimising_with_constraints_matches_brute_force() -> None:
    space = parse_parameter_space("sma_cross", ["fast=3:15:3", "slow=20:60:10", "short=true,false"])
    result = run_sweep(
        sample_frame(),
        "sma_cross",
        space,
        CONFIG,
        Objective("volatility_ann_pct", "minimise"),
        ["n_trades >= 8", "max_drawdown_pct > -15"],
        chunk_size=7,
    )
    expected = brute_force_stats("sma_cross", list(space.grid()))

    def allowed(stats: pd.Series) -> bool:
        return bool(stats["n_trades"] >= 8 and stats["max_drawdown_pct"] > -15)

    best = numpy_best(expected, "volatility_ann_pct", maximise=False, allowed=allowed)
    assert allowed(expected[best])  # type: ignore[arg-type]
    assert result.best == best
    assert result.best_stats is not None
    assert result.best_stats["n_trades"] >= 8


def test_constraints_nothing_meets_leave_no_best() -> None:
    result = run_sweep(sample_frame(), "sma_cross", sma_space(), CONFIG, "sharpe", "n_trades > 1e9")
    assert result.best is None
    assert result.best_parameters is None
    assert result.to_dict()["best"] is None


def test_an_instance_supplies_the_parameters_the_space_leaves_out() -> None:
    space = parse_parameter_space("sma_cross", ["fast=5,10", "slow=30"])
    result = run_sweep(sample_frame(), SmaCross(short=True), space, CONFIG)
    expected = brute_force_stats(SmaCross(short=True), list(space.grid()))
    for (_, row), theirs in zip(result.rows.iterrows(), expected, strict=True):
        assert theirs is not None
        assert same_stats(row, theirs)


def test_chunk_size_changes_nothing_and_progress_is_reported() -> None:
    space = sma_space()
    reports: list[tuple[int, int]] = []
    small = run_sweep(
        sample_frame(),
        "sma_cross",
        space,
        CONFIG,
        chunk_size=3,
        on_progress=lambda done, total: reports.append((done, total)),
    )
    large = run_sweep(sample_frame(), "sma_cross", space, CONFIG, chunk_size=100)
    pd.testing.assert_frame_equal(small.rows, large.rows)
    assert reports == [(3, 16), (6, 16), (9, 16), (12, 16), (15, 16), (16, 16)]


def test_plan_chunks_cuts_lazily() -> None:
    space = parse_parameter_space("sma_cross", ["fast=1:100000:1", "slow=2:100001:1"])
    chunks = plan_chunks(space, 4)
    assert next(chunks) == [{"fast": 1, "slow": slow} for slow in range(2, 6)]
    small = parse_parameter_space("sma_cross", ["fast=5,10", "slow=20,30,40"])
    assert [len(chunk) for chunk in plan_chunks(small, 4)] == [4, 2]
    assert [len(chunk) for chunk in plan_chunks(small.random(3, seed=1), 2)] == [2, 1]
    with pytest.raises(InvalidInputError, match="chunk_size"):
        next(plan_chunks(small, 0))


def test_random_combinations_are_swept_as_given() -> None:
    space = sma_space()
    sample = space.random(5, seed=3)
    result = run_sweep(sample_frame(), "sma_cross", sample, CONFIG)
    assert [
        dict(zip(("fast", "slow"), values, strict=True))
        for values in zip(result.rows["fast"], result.rows["slow"], strict=True)
    ] == sample


ORIGINAL_SMA = talib.SMA


@pytest.fixture
def sma_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The periods TA-Lib's SMA is called with, in order, while the test runs."""
    calls: list[int] = []

    def counted(values: np.ndarray, timeperiod: int) -> np.ndarray:
        calls.append(timeperiod)
        return ORIGINAL_SMA(values, timeperiod=timeperiod)

    monkeypatch.setattr(talib, "SMA", counted)
    return calls


def test_each_distinct_indicator_is_computed_once_per_chunk(sma_calls: list[int]) -> None:
    calls = sma_calls
    space = parse_parameter_space("sma_cross", ["fast=5:20:5", "slow=10:40:10", "short=true,false"])
    rows = evaluate_chunk(sample_frame(), "sma_cross", list(space.grid()), CONFIG)
    ran = [row.parameters for row in rows if not row.skipped]
    distinct = {
        value for combination in ran for value in (combination["fast"], combination["slow"])
    }
    assert sorted(calls) == sorted(distinct)
    calls.clear()
    sma(sample_frame(), 5)
    sma(sample_frame(), 5)
    assert calls == [5, 5]


def test_reused_indicator_values_are_read_only_and_equal() -> None:
    with reusing_indicator_values():
        first = sma(sample_frame(), 7)
        second = sma(sample_frame(), 7)
    np.testing.assert_array_equal(first.to_numpy(), sma(sample_frame(), 7).to_numpy())
    np.testing.assert_array_equal(first.to_numpy(), second.to_numpy())
    assert not second.to_numpy().flags.writeable


def test_kept_indicator_values_stay_within_their_budget(sma_calls: list[int]) -> None:
    calls = sma_calls
    original = ORIGINAL_SMA
    frame = sample_frame()
    series_bytes = len(frame) * np.dtype(np.float64).itemsize
    peaks: list[int] = []
    with reusing_indicator_values(budget_bytes=2 * series_bytes):
        for period in (5, 6, 7, 5, 7):
            values = sma(frame, period)
            peaks.append(kept_bytes())
            np.testing.assert_array_equal(
                values.to_numpy(), original(frame["close"].to_numpy(), period)
            )
    # 5 was dropped for 7, the least recently used; 7 was still kept.
    assert calls == [5, 6, 7, 5]
    assert max(peaks) == 2 * series_bytes
    assert kept_bytes() == 0


def test_a_negative_reuse_budget_is_refused() -> None:
    with pytest.raises(InvalidInputError, match="0 or more"), reusing_indicator_values(-1):
        pass


@pytest.mark.parametrize(
    ("strategy", "assignments"),
    [
        ("rsi_reversion", ["period=7,14", "oversold=25,35", "short=true,false"]),
        ("bollinger_breakout", ["period=10,20", "deviations=1.5:2.5:0.5"]),
        ("breakout_scalping", ["lookback=10,20", "stop_atr=1,2", "maximum_bars_held=6,12"]),
    ],
)
def test_every_built_in_strategy_sweeps_to_its_own_backtests(
    strategy: str, assignments: list[str]
) -> None:
    space = parse_parameter_space(strategy, assignments)
    result = run_sweep(sample_frame(), strategy, space, CONFIG, chunk_size=3)
    expected = brute_force_stats(strategy, list(space.grid()))
    assert result.skipped == sum(entry is None for entry in expected)
    for (_, row), theirs in zip(result.rows.iterrows(), expected, strict=True):
        if theirs is not None:
            assert same_stats(row, theirs), row[list(space.names)].to_dict()


def test_combinations_needing_more_bars_than_the_data_has_are_skipped() -> None:
    short = sample_frame().iloc[:35]
    space = parse_parameter_space("sma_cross", ["fast=5", "slow=20,40"])
    rows = evaluate_chunk(short, "sma_cross", list(space.grid()), CONFIG)
    assert [row.skipped for row in rows] == [False, True]
    assert rows[1].reason is not None
    assert "at least 41 bars" in rows[1].reason


def test_unknown_names_and_a_space_for_another_strategy_are_refused() -> None:
    with pytest.raises(UnknownNameError, match="fast"):
        evaluate_chunk(sample_frame(), "sma_cross", [{"fats": 5}], CONFIG)
    space = parse_parameter_space("rsi_reversion", ["period=7,14"])
    with pytest.raises(InvalidInputError, match="read for rsi_reversion"):
        run_sweep(sample_frame(), "sma_cross", space, CONFIG)


def test_the_result_is_ready_for_json() -> None:
    result: SweepResult = run_sweep(
        sample_frame(), "sma_cross", sma_space(), CONFIG, constraints="n_trades >= 1"
    )
    described = json.loads(json.dumps(result.to_dict(), allow_nan=False))
    assert described["skipped"] == 4
    assert described["objective"] == {"key": "sharpe", "direction": "maximise"}
    assert described["constraints"] == ["n_trades >= 1"]
    assert len(described["combinations"]) == 16
    assert described["best"]["parameters"] == result.best_parameters
    skipped = [entry for entry in described["combinations"] if entry["skipped"]]
    assert len(skipped) == 4
    assert all(entry["stats"] is None for entry in skipped)
    ran = next(entry for entry in described["combinations"] if not entry["skipped"])
    assert isinstance(ran["stats"]["n_trades"], int)
    assert set(ran["stats"]) == set(STAT_KEYS)


def test_a_parameter_named_like_a_result_column_is_refused() -> None:
    with pytest.raises(InvalidInputError, match="'sharpe' has the name of a sweep result column"):
        sweep_result([], ["sharpe"], Objective())
