"""Walk-forward optimisation: choose parameters in sample, trade them out of sample.

:func:`walk_forward_windows` splits the bars into folds. Each fold's
out-of-sample bars follow its in-sample bars, and the out-of-sample parts of
consecutive folds follow each other without overlap. Rolling windows keep
the in-sample length; anchored ones all start at the first bar and grow.

:func:`run_walk_forward` sweeps each fold's in-sample bars, takes the best
combination by the objective, and runs it out of sample.

Warm-up. The chosen strategy's signals are computed on the fold's in-sample
and out-of-sample bars together, so its indicators are defined from the
first out-of-sample bar, and then only the out-of-sample part of the signals
is traded, starting flat with the config's cash: no position is carried in
from the in-sample bars, and a signal before the out-of-sample start is not
acted on. Statistics are those of the out-of-sample run alone.

The stitched equity curve chains the folds: each fold's equity is rescaled
to start where the previous fold's ended, so it compounds the out-of-sample
returns as one account would.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from quantdesk.engine import BacktestConfig, prepare_prices, simulate, simulation_statistics
from quantdesk.engine.stats import StatValue
from quantdesk.errors import InvalidInputError
from quantdesk.research.objective import Constraint, Objective, as_constraints, as_objective
from quantdesk.research.space import Combination, ParameterSpace
from quantdesk.research.sweep import DEFAULT_CHUNK_SIZE, Progress, json_stats, run_sweep
from quantdesk.strategies import Signals, Strategy, get_strategy

MINIMUM_WINDOW_BARS = 2
"""The fewest bars an in-sample or out-of-sample window may hold (the engine's minimum)."""


@dataclass(frozen=True)
class WalkForwardWindow:
    """One fold's bars, as positions: in sample ``[in_start, in_stop)``, then out of sample.

    Attributes
    ----------
    fold
        The fold's number, from 0.
    in_start, in_stop
        The in-sample bars' positions; ``in_stop`` excluded.
    out_start, out_stop
        The out-of-sample bars' positions; ``out_start == in_stop``.
    """

    fold: int
    in_start: int
    in_stop: int
    out_start: int
    out_stop: int

    def to_dict(self, index: pd.Index | None = None) -> dict[str, Any]:
        """The window's positions, and its first and last times when ``index`` is given."""
        described: dict[str, Any] = {
            "fold": self.fold,
            "in_sample": [self.in_start, self.in_stop],
            "out_of_sample": [self.out_start, self.out_stop],
        }
        if index is not None:
            described["in_sample_times"] = [
                index[self.in_start].isoformat(),
                index[self.in_stop - 1].isoformat(),
            ]
            described["out_of_sample_times"] = [
                index[self.out_start].isoformat(),
                index[self.out_stop - 1].isoformat(),
            ]
        return described


def walk_forward_windows(
    index: pd.Index | int,
    folds: int,
    *,
    in_sample_fraction: float | None = None,
    in_sample_bars: int | None = None,
    out_of_sample_bars: int | None = None,
    anchored: bool = False,
) -> list[WalkForwardWindow]:
    """Split bars into in-sample and out-of-sample windows.

    Give either ``in_sample_fraction`` (0.7 when nothing is given) or both
    lengths. With a fraction ``f`` every out-of-sample window holds
    ``floor(n / (folds + f / (1 - f)))`` bars and the first in-sample window
    the rest before them, so the last window ends at the last bar and the
    first fold's in-sample share of its window is at least ``f``. With
    lengths, the first fold starts at bar 0 and later bars may be left over.

    Parameters
    ----------
    index
        The bars' index, or their count.
    folds
        How many folds, at least 1.
    in_sample_fraction
        The in-sample share of each rolling window, strictly between 0 and 1.
    in_sample_bars, out_of_sample_bars
        The first in-sample window's length and every out-of-sample one's.
    anchored
        Start every in-sample window at bar 0 (growing) instead of rolling.

    Returns
    -------
    list of WalkForwardWindow
        One per fold, in time order.

    Raises
    ------
    InvalidInputError
        For a fraction outside (0, 1), lengths given with a fraction or only
        one of them, or windows that would hold fewer than two bars or need
        more bars than there are.
    """
    bar_count = index if isinstance(index, int) else len(index)
    if isinstance(folds, bool) or not isinstance(folds, int) or folds < 1:
        raise InvalidInputError(f"folds must be a whole number of at least 1, got {folds!r}")
    lengths_given = (in_sample_bars is not None, out_of_sample_bars is not None)
    if any(lengths_given) and in_sample_fraction is not None:
        raise InvalidInputError(
            "give in_sample_fraction or in_sample_bars and out_of_sample_bars, not both"
        )
    if in_sample_bars is not None and out_of_sample_bars is not None:
        in_length, out_length = int(in_sample_bars), int(out_of_sample_bars)
    elif any(lengths_given):
        raise InvalidInputError("give both in_sample_bars and out_of_sample_bars, or neither")
    else:
        fraction = 0.7 if in_sample_fraction is None else float(in_sample_fraction)
        if not 0.0 < fraction < 1.0:
            raise InvalidInputError(
                f"in_sample_fraction must lie strictly between 0 and 1, got {fraction}"
            )
        out_length = math.floor(bar_count / (folds + fraction / (1.0 - fraction)))
        in_length = bar_count - folds * out_length
    if min(in_length, out_length) < MINIMUM_WINDOW_BARS:
        raise InvalidInputError(
            f"{folds} folds of {bar_count} bars leave {in_length} in-sample and {out_length} "
            f"out-of-sample bars; each needs at least {MINIMUM_WINDOW_BARS}: use fewer folds "
            "or more bars"
        )
    if in_length + folds * out_length > bar_count:
        raise InvalidInputError(
            f"{folds} folds of {in_length} in-sample and {out_length} out-of-sample bars need "
            f"{in_length + folds * out_length} bars, the data has {bar_count}"
        )
    windows = []
    for fold in range(folds):
        out_start = in_length + fold * out_length
        windows.append(
            WalkForwardWindow(
                fold=fold,
                in_start=0 if anchored else fold * out_length,
                in_stop=out_start,
                out_start=out_start,
                out_stop=out_start + out_length,
            )
        )
    return windows


@dataclass(frozen=True)
class WalkForwardFold:
    """One fold's choice and how it did.

    Attributes
    ----------
    window
        The fold's bars.
    parameters
        The combination chosen in sample, or None when none ran and met the
        constraints (the fold then stays in cash).
    in_sample_stats, out_of_sample_stats
        The chosen combination's statistics on each part; empty without a choice.
    skipped
        How many in-sample combinations the strategy refused.
    """

    window: WalkForwardWindow
    parameters: Combination | None
    in_sample_stats: dict[str, StatValue] = field(default_factory=dict)
    out_of_sample_stats: dict[str, StatValue] = field(default_factory=dict)
    skipped: int = 0


@dataclass(frozen=True, eq=False)
class WalkForwardResult:
    """Per-fold choices and the stitched out-of-sample equity.

    Attributes
    ----------
    folds
        One per fold, in time order.
    equity
        The out-of-sample equity of every fold, chained: each fold starts
        where the previous one ended, the first at the config's cash.
    objective, constraints
        What each fold's choice maximised or minimised, and met.
    """

    folds: tuple[WalkForwardFold, ...]
    equity: pd.Series
    objective: Objective
    constraints: tuple[Constraint, ...]

    def to_dict(self) -> dict[str, Any]:
        """The result as JSON-ready data: per fold the window, choice and both stats."""
        index = self.equity.index
        return {
            "objective": self.objective.to_dict(),
            "constraints": [str(constraint) for constraint in self.constraints],
            "folds": [
                {
                    **fold.window.to_dict(),
                    "parameters": fold.parameters,
                    "skipped": fold.skipped,
                    "in_sample_stats": json_stats(fold.in_sample_stats),
                    "out_of_sample_stats": json_stats(fold.out_of_sample_stats),
                }
                for fold in self.folds
            ],
            "final_equity": float(self.equity.iloc[-1]) if len(index) else None,
        }


def run_walk_forward(
    frame: pd.DataFrame,
    strategy: str | type[Strategy] | Strategy,
    space: ParameterSpace | Sequence[Combination],
    config: BacktestConfig | None = None,
    objective: Objective | str | None = None,
    constraints: Iterable[Constraint | str] | str | None = None,
    *,
    folds: int,
    in_sample_fraction: float | None = None,
    in_sample_bars: int | None = None,
    out_of_sample_bars: int | None = None,
    anchored: bool = False,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    on_progress: Progress | None = None,
) -> WalkForwardResult:
    """Choose parameters in sample and trade them out of sample, fold by fold.

    Parameters
    ----------
    frame, strategy, space, config, objective, constraints
        As for :func:`~quantdesk.research.sweep.run_sweep`; the space is swept
        in every fold's in-sample bars.
    folds, in_sample_fraction, in_sample_bars, out_of_sample_bars, anchored
        The windows, as for :func:`walk_forward_windows`.
    chunk_size
        Combinations per chunk of each in-sample sweep.
    on_progress
        Called after each fold with the folds done and the total.

    Returns
    -------
    WalkForwardResult
        Per-fold choices with in- and out-of-sample stats, and the stitched equity.
    """
    config = BacktestConfig() if config is None else config
    chosen_objective = as_objective(objective)
    chosen_constraints = as_constraints(constraints)
    windows = walk_forward_windows(
        frame.index,
        folds,
        in_sample_fraction=in_sample_fraction,
        in_sample_bars=in_sample_bars,
        out_of_sample_bars=out_of_sample_bars,
        anchored=anchored,
    )
    folds_run: list[tuple[WalkForwardFold, np.ndarray]] = []
    for window in windows:
        folds_run.append(
            walk_forward_fold(
                frame,
                strategy,
                space,
                window,
                config,
                chosen_objective,
                chosen_constraints,
                chunk_size,
            )
        )
        if on_progress is not None:
            on_progress(len(folds_run), len(windows))
    return stitched_walk_forward(
        frame.index, folds_run, config, chosen_objective, chosen_constraints
    )


def walk_forward_fold(
    frame: pd.DataFrame,
    strategy: str | type[Strategy] | Strategy,
    space: ParameterSpace | Sequence[Combination],
    window: WalkForwardWindow,
    config: BacktestConfig,
    objective: Objective,
    constraints: Sequence[Constraint] = (),
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> tuple[WalkForwardFold, np.ndarray]:
    """Sweep one fold in sample and trade its choice out of sample: the unit a cluster maps over.

    Parameters
    ----------
    frame
        Every bar; the fold reads its window's.
    strategy, space, config, objective, constraints, chunk_size
        As for :func:`run_walk_forward`.
    window
        The fold's bars.

    Returns
    -------
    tuple
        The fold, and its out-of-sample equity starting at the config's cash
        (flat cash when nothing was chosen).
    """
    sweep = run_sweep(
        frame.iloc[window.in_start : window.in_stop],
        strategy,
        space,
        config,
        objective,
        constraints,
        chunk_size,
    )
    chosen = sweep.best_parameters
    if chosen is None:
        equity = np.full(window.out_stop - window.out_start, float(config.cash))
        return WalkForwardFold(window=window, parameters=None, skipped=sweep.skipped), equity
    equity, out_stats = _out_of_sample_run(frame, window, get_strategy(strategy, **chosen), config)
    fold = WalkForwardFold(
        window=window,
        parameters=chosen,
        in_sample_stats=sweep.best_stats or {},
        out_of_sample_stats=out_stats,
        skipped=sweep.skipped,
    )
    return fold, equity


def stitched_walk_forward(
    index: pd.Index,
    folds: Sequence[tuple[WalkForwardFold, np.ndarray]],
    config: BacktestConfig,
    objective: Objective,
    constraints: Sequence[Constraint] = (),
) -> WalkForwardResult:
    """Chain the folds' out-of-sample equity into one curve.

    Parameters
    ----------
    index
        The whole frame's bar times.
    folds
        What :func:`walk_forward_fold` returned for every fold, in time order.
    config, objective, constraints
        As the folds were run with.

    Returns
    -------
    WalkForwardResult
        The folds and the stitched equity.
    """
    if not folds:
        raise InvalidInputError("a walk-forward needs at least one fold")
    pieces: list[np.ndarray] = []
    level = float(config.cash)
    for _, equity in folds:
        pieces.append(equity / float(config.cash) * level)
        level = float(pieces[-1][-1])
    first, last = folds[0][0].window, folds[-1][0].window
    return WalkForwardResult(
        folds=tuple(fold for fold, _ in folds),
        equity=pd.Series(
            np.concatenate(pieces), index=index[first.out_start : last.out_stop], name="equity"
        ),
        objective=objective,
        constraints=tuple(constraints),
    )


def _out_of_sample_run(
    frame: pd.DataFrame, window: WalkForwardWindow, strategy: Strategy, config: BacktestConfig
) -> tuple[np.ndarray, dict[str, StatValue]]:
    """The equity and stats of trading the out-of-sample bars, warmed up on the in-sample ones."""
    warm = frame.iloc[window.in_start : window.out_stop]
    offset = window.out_start - window.in_start
    signals = trailing_signals(strategy.signals(warm), offset)
    prices = prepare_prices(frame.iloc[window.out_start : window.out_stop])
    run = simulate(prices, signals, config)
    return run.equity.copy(), simulation_statistics(prices, run, config)


def trailing_signals(signals: Signals, start: int) -> Signals:
    """The signals from bar ``start`` on, for a run that begins there flat.

    Parameters
    ----------
    signals
        Signals over a longer span.
    start
        The first bar to keep.

    Returns
    -------
    Signals
        Every per-bar array cut at ``start``; the time exit kept.
    """
    if not 0 <= start < len(signals):
        raise InvalidInputError(f"cannot cut {len(signals)} bars of signals at bar {start}")
    return Signals(
        long_entries=signals.long_entries[start:].copy(),
        long_exits=signals.long_exits[start:].copy(),
        short_entries=signals.short_entries[start:].copy(),
        short_exits=signals.short_exits[start:].copy(),
        stop_distances=_cut(signals.stop_distances, start),
        target_distances=_cut(signals.target_distances, start),
        trailing_distances=_cut(signals.trailing_distances, start),
        maximum_bars_held=signals.maximum_bars_held,
    )


def _cut(values: np.ndarray | None, start: int) -> np.ndarray | None:
    return None if values is None else values[start:].copy()
