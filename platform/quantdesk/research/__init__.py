"""Research on top of the engine: sweeps, walk-forward and overfitting guards."""

from __future__ import annotations

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

__all__ = [
    "BacktestOverfitting",
    "BlockStatisticsAccumulator",
    "DeflatedSharpeRatio",
    "block_statistics",
    "deflated_sharpe_ratio",
    "deflated_sharpe_ratio_from_returns",
    "expected_maximum_sharpe",
    "full_sample_sharpe_ratios",
    "probabilistic_sharpe_ratio",
    "probability_of_backtest_overfitting",
]
