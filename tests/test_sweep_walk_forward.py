"""Walk-forward: windows by hand, in-sample choices by brute force, stitched equity by numpy."""

from __future__ import annotations

import json
import math
import sys

import numpy as np
import pandas as pd
import pytest

import quantdesk
from quantdesk.engine import BacktestConfig, run_backtest
from quantdesk.errors import InvalidInputError
from quantdesk.research import (
    WalkForwardWindow,
    parse_parameter_space,
    run_walk_forward,
    walk_forward_windows,
)
from quantdesk.strategies import Signals, get_strategy
from tests.frames import sample_bars

CONFIG = BacktestConfig(lot_size=1e-8, commission=0.001)


def sample_frame() -> pd.DataFrame:
    return sample_bars("ETH/USDT", "1h", "2024-03-01", "2024-04-10")


def spans(windows: list[WalkForwardWindow]) -> list[tuple[int, int, int, int]]:
    return [(w.in_start, w.in_stop, w.out_start, w.out_stop) for w in windows]


def test_rolling_windows_from_a_fraction() -> None:
    # 100 bars, 3 folds, 70 % in sample: out = floor(100 / (3 + 0.7 / 0.3)) = 18, in = 100 - 54.
    windows = walk_forward_windows(100, 3, in_sample_fraction=0.7)
    assert spans(windows) == [(0, 46, 46, 64), (18, 64, 64, 82), (36, 82, 82, 100)]
    assert [window.fold for window in windows] == [0, 1, 2]


def test_anchored_windows_start_at_the_first_bar() -> None:
    windows = walk_forward_windows(100, 3, in_sample_fraction=0.7, anchored=True)
    assert spans(windows) == [(0, 46, 46, 64), (0, 64, 64, 82), (0, 82, 82, 100)]


def test_windows_from_lengths_and_the_default_fraction() -> None:
    windows = walk_forward_windows(110, 4, in_sample_bars=40, out_of_sample_bars=15)
    assert spans(windows) == [
        (0, 40, 40, 55),
        (15, 55, 55, 70),
        (30, 70, 70, 85),
        (45, 85, 85, 100),
    ]
    # 0.7 by default: out = floor(50 / (2 + 7 / 3)) = 11, in = 50 - 22.
    assert spans(walk_forward_windows(pd.RangeIndex(50), 2)) == [(0, 28, 28, 39), (11, 39, 39, 50)]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"folds": 0}, "at least 1"),
        ({"folds": 2, "in_sample_fraction": 1.0}, "strictly between 0 and 1"),
        ({"folds": 2, "in_sample_bars": 10}, "give both"),
        ({"folds": 2, "in_sample_fraction": 0.5, "in_sample_bars": 10}, "not both"),
        ({"folds": 60}, "fewer folds"),
        ({"folds": 3, "in_sample_bars": 50, "out_of_sample_bars": 20}, "the data has 100"),
    ],
)
def test_impossible_windows_are_refused(arguments: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        walk_forward_windows(100, **arguments)  # type: ignore[arg-type]


def brute_force_best(
    frame: pd.DataFrame, combinations: list[dict[str, object]]
) -> dict[str, object]:
    sharpes = []
    for combination in combinations:
        try:
            result = quantdesk.backtest("sma_cross", frame, params=combination, config=CONFIG)
        except InvalidInputError:
            sharpes.append(-np.inf)
            continue
        value = float(result.stats["sharpe"])
        sharpes.append(-sys.float_info.max if math.isnan(value) else value)
    return combinations[int(np.argmax(sharpes))]


def out_of_sample_by_hand(
    frame: pd.DataFrame, window: WalkForwardWindow, parameters: dict[str, object]
) -> quantdesk.BacktestResult:
    warm = frame.iloc[window.in_start : window.out_stop]
    signals = get_strategy("sma_cross", **parameters).signals(warm)
    cut = window.out_start - window.in_start
    trimmed = Signals(
        long_entries=signals.long_entries[cut:],
        long_exits=signals.long_exits[cut:],
        short_entries=signals.short_entries[cut:],
        short_exits=signals.short_exits[cut:],
    )
    return run_backtest(frame.iloc[window.out_start : window.out_stop], trimmed, CONFIG)


@pytest.mark.parametrize("anchored", [False, True])
def test_each_fold_chooses_in_sample_and_trades_out_of_sample(anchored: bool) -> None:
    frame = sample_frame()
    space = parse_parameter_space("sma_cross", ["fast=4:16:4", "slow=20,40", "short=true"])
    progress: list[tuple[int, int]] = []
    result = run_walk_forward(
        frame,
        "sma_cross",
        space,
        CONFIG,
        folds=3,
        anchored=anchored,
        chunk_size=3,
        on_progress=lambda done, total: progress.append((done, total)),
    )
    assert progress == [(1, 3), (2, 3), (3, 3)]
    windows = walk_forward_windows(frame.index, 3, anchored=anchored)
    assert [fold.window for fold in result.folds] == windows
    growth = []
    for fold, window in zip(result.folds, windows, strict=True):
        in_frame = frame.iloc[window.in_start : window.in_stop]
        chosen = brute_force_best(in_frame, list(space.grid()))
        assert fold.parameters == chosen
        in_stats = quantdesk.backtest("sma_cross", in_frame, params=chosen, config=CONFIG).stats
        assert math.isclose(float(fold.in_sample_stats["sharpe"]), float(in_stats["sharpe"]))
        by_hand = out_of_sample_by_hand(frame, window, chosen)
        for key in ("final_equity", "sharpe", "n_trades", "max_drawdown_pct"):
            assert math.isclose(
                float(fold.out_of_sample_stats[key]), float(by_hand.stats[key]), abs_tol=1e-12
            ), key
        growth.append(by_hand.equity.to_numpy() / CONFIG.cash)
    levels = np.cumprod([1.0] + [piece[-1] for piece in growth[:-1]])
    stitched = np.concatenate(
        [piece * level * CONFIG.cash for piece, level in zip(growth, levels, strict=True)]
    )
    np.testing.assert_allclose(result.equity.to_numpy(), stitched, rtol=1e-12)
    assert result.equity.index.equals(frame.index[windows[0].out_start : windows[-1].out_stop])
    assert math.isclose(
        float(result.equity.iloc[-1]), CONFIG.cash * np.prod([piece[-1] for piece in growth])
    )


def test_the_warm_up_defines_indicators_from_the_first_out_of_sample_bar() -> None:
    frame = sample_frame()
    space = parse_parameter_space("sma_cross", ["fast=5", "slow=60", "short=true"])
    result = run_walk_forward(
        frame, "sma_cross", space, CONFIG, folds=2, in_sample_bars=200, out_of_sample_bars=50
    )
    # Each out-of-sample window is shorter than the slow average, yet trades.
    assert all(fold.parameters == {"fast": 5, "slow": 60, "short": True} for fold in result.folds)
    assert sum(int(fold.out_of_sample_stats["n_trades"]) for fold in result.folds) > 0


def test_a_fold_without_an_eligible_combination_stays_in_cash() -> None:
    frame = sample_frame()
    space = parse_parameter_space("sma_cross", ["fast=5,10", "slow=30"])
    result = run_walk_forward(
        frame, "sma_cross", space, CONFIG, constraints="n_trades > 1e9", folds=2
    )
    assert all(fold.parameters is None for fold in result.folds)
    assert (result.equity == CONFIG.cash).all()
    described = json.loads(json.dumps(result.to_dict(), allow_nan=False))
    assert [fold["parameters"] for fold in described["folds"]] == [None, None]
    assert described["constraints"] == ["n_trades > 1000000000"]


def test_the_result_is_ready_for_json() -> None:
    frame = sample_frame()
    space = parse_parameter_space("sma_cross", ["fast=5,10", "slow=10,30"])
    result = run_walk_forward(frame, "sma_cross", space, CONFIG, folds=2)
    described = json.loads(json.dumps(result.to_dict(), allow_nan=False))
    assert [fold["skipped"] for fold in described["folds"]] == [1, 1]
    assert described["folds"][0]["out_of_sample"] == [
        result.folds[0].window.out_start,
        result.folds[0].window.out_stop,
    ]
    assert described["final_equity"] == float(result.equity.iloc[-1])
