"""Research on top of the engine: parameter sweeps, walk-forward and overfitting guards.

Pure computation over frames and strategies, with no I/O: a cluster maps
:func:`evaluate_chunk` over the chunks :func:`plan_chunks` cuts, and
:func:`run_sweep` and :func:`run_walk_forward` run the same steps in this
process. :mod:`~quantdesk.research.overfitting` gives the deflated Sharpe ratio
and the probability of backtest overfitting from compact per-block statistics;
:mod:`~quantdesk.research.guards` gathers them for every sweep.
"""

from __future__ import annotations

from quantdesk.research.guards import ReturnSummary, SweepGuards, return_summary, sweep_guards
from quantdesk.research.objective import Constraint, Objective
from quantdesk.research.overfitting import (
    BacktestOverfitting,
    BlockStatisticsAccumulator,
    DeflatedSharpeRatio,
    block_statistics,
    deflated_sharpe_ratio,
    deflated_sharpe_ratio_from_returns,
    expected_maximum_sharpe,
    full_sample_sharpe_ratios,
    probabilistic_sharpe_ratio,
    probability_of_backtest_overfitting,
)
from quantdesk.research.space import Combination, ParameterSpace, parse_parameter_space
from quantdesk.research.sweep import (
    SweepResult,
    SweepRow,
    evaluate_chunk,
    plan_chunks,
    run_sweep,
    sweep_result,
)
from quantdesk.research.walk_forward import (
    WalkForwardFold,
    WalkForwardResult,
    WalkForwardWindow,
    run_walk_forward,
    stitched_walk_forward,
    walk_forward_fold,
    walk_forward_windows,
)

__all__ = [
    "BacktestOverfitting",
    "BlockStatisticsAccumulator",
    "Combination",
    "Constraint",
    "DeflatedSharpeRatio",
    "Objective",
    "ParameterSpace",
    "ReturnSummary",
    "SweepGuards",
    "SweepResult",
    "SweepRow",
    "WalkForwardFold",
    "WalkForwardResult",
    "WalkForwardWindow",
    "block_statistics",
    "deflated_sharpe_ratio",
    "deflated_sharpe_ratio_from_returns",
    "evaluate_chunk",
    "expected_maximum_sharpe",
    "full_sample_sharpe_ratios",
    "parse_parameter_space",
    "plan_chunks",
    "probabilistic_sharpe_ratio",
    "probability_of_backtest_overfitting",
    "return_summary",
    "run_sweep",
    "run_walk_forward",
    "stitched_walk_forward",
    "sweep_guards",
    "sweep_result",
    "walk_forward_fold",
    "walk_forward_windows",
]
