"""Overfitting guards on every sweep: each run's compact return summary, then DSR and PBO.

While a chunk runs, :func:`return_summary` reduces each combination's
return periods to a few numbers: the count, sum and sum of squares per CSCV
block, and the full sample's Sharpe ratio, skewness and kurtosis. Rows carry
them back from workers, whatever the number of bars. :func:`sweep_guards`
then gives the deflated Sharpe ratio of the best combination and the
probability of backtest overfitting of the whole sweep.

Sharpe convention. The returns are the ones the ``sharpe`` statistic is
measured on (the last equity of each day, week or month, see
:mod:`quantdesk.engine.stats`), less the per-period risk-free rate, and every
Sharpe ratio here is per period, as :mod:`~quantdesk.research.overfitting`
expects: the ``sharpe`` statistic of a run that survived divided by
``sqrt(periods_per_year)``. A run that was ruined returns nothing after its
ruin (its excess return is ``-r_f`` there), so every combination has as many
returns as the data has periods. A combination whose returns never vary
(one that never traded) counts as a trial of Sharpe ratio 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from quantdesk.errors import InvalidInputError
from quantdesk.research.overfitting import (
    DEFAULT_BLOCKS,
    BacktestOverfitting,
    DeflatedSharpeRatio,
    block_statistics,
    deflated_sharpe_ratio,
    probability_of_backtest_overfitting,
)


@dataclass(frozen=True, eq=False)
class ReturnSummary:
    """One combination's return periods, reduced to what the guards need.

    Attributes
    ----------
    observations
        How many excess returns there are.
    sharpe
        Their per-period Sharpe ratio (``ddof=1``); 0 when they never vary.
    skewness, kurtosis
        Their skewness and non-excess kurtosis from central moments; NaN when
        they never vary.
    blocks
        The ``(S, 3)`` count, sum and sum of squares per CSCV block, or None
        with fewer than two returns per block.
    """

    observations: int
    sharpe: float
    skewness: float
    kurtosis: float
    blocks: npt.NDArray[np.float64] | None


@dataclass(frozen=True)
class SweepGuards:
    """The deflated Sharpe ratio and PBO of a sweep, or why each could not be computed."""

    deflated_sharpe: DeflatedSharpeRatio | None
    deflated_sharpe_reason: str | None
    overfitting: BacktestOverfitting | None
    overfitting_reason: str | None


def return_summary(excess_returns: np.ndarray, blocks: int = DEFAULT_BLOCKS) -> ReturnSummary:
    """Summarise one combination's per-period excess returns.

    Parameters
    ----------
    excess_returns
        The per-period returns less the risk-free rate, one per period.
    blocks
        CSCV's ``S``.

    Returns
    -------
    ReturnSummary
        A few numbers per block and for the whole sample.
    """
    returns = np.asarray(excess_returns, dtype=np.float64)
    count = len(returns)
    sharpe, skewness, kurtosis = 0.0, float("nan"), float("nan")
    if count >= 2:
        deviations = returns - returns.mean()
        second_moment = float(np.mean(deviations**2))
        if second_moment > 0:
            sharpe = float(returns.mean() / returns.std(ddof=1))
            skewness = float(np.mean(deviations**3)) / second_moment**1.5
            kurtosis = float(np.mean(deviations**4)) / second_moment**2
    per_block = None
    if count >= 2 * blocks and np.isfinite(returns).all():
        per_block = block_statistics(returns, blocks)[0]
    return ReturnSummary(
        observations=count, sharpe=sharpe, skewness=skewness, kurtosis=kurtosis, blocks=per_block
    )


def sweep_guards(summaries: Sequence[ReturnSummary], best: int | None) -> SweepGuards:
    """The deflated Sharpe ratio of the best combination and the sweep's PBO.

    Parameters
    ----------
    summaries
        The summary of every combination that ran, in order.
    best
        The best combination's position in ``summaries``, or None.

    Returns
    -------
    SweepGuards
        Each guard, or None with a one-line reason.
    """
    if len(summaries) < 2:
        reason = f"{len(summaries)} combination ran; the guards need at least 2 trials"
        return SweepGuards(None, reason, None, reason)
    deflated, deflated_reason = None, None
    if best is None:
        deflated_reason = "no combination ran and met the constraints"
    else:
        chosen = summaries[best]
        sharpes = np.array([summary.sharpe for summary in summaries], dtype=np.float64)
        try:
            deflated = deflated_sharpe_ratio(
                observed_sharpe=chosen.sharpe,
                trials=len(summaries),
                variance_of_trial_sharpes=float(sharpes.var(ddof=1)),
                observations=chosen.observations,
                skewness=chosen.skewness,
                kurtosis=chosen.kurtosis,
            )
        except InvalidInputError as error:
            deflated_reason = f"the best combination's deflated Sharpe ratio is undefined: {error}"
    overfitting, overfitting_reason = None, None
    per_block = [summary.blocks for summary in summaries if summary.blocks is not None]
    if len(per_block) < len(summaries):
        fewest = min(summary.observations for summary in summaries)
        overfitting_reason = (
            f"CSCV needs at least {2 * DEFAULT_BLOCKS} return periods, the sweep measured "
            f"{fewest}; sweep longer data"
        )
    else:
        try:
            overfitting = probability_of_backtest_overfitting(np.stack(per_block))
        except InvalidInputError as error:
            overfitting_reason = f"PBO is undefined: {error}"
    return SweepGuards(deflated, deflated_reason, overfitting, overfitting_reason)
