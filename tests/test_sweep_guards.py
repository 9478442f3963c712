"""Every sweep's overfitting guards: the deflated Sharpe ratio and CSCV's PBO.

The expected values are computed here from the equity curves of full
``quantdesk.backtest`` runs of the same combinations, with NumPy and the
papers' formulas written out (Bailey and López de Prado 2014; Bailey,
Borwein, López de Prado and Zhu 2015), never through quantdesk.research.
"""

from __future__ import annotations

import itertools
import json
import math
import pickle
from statistics import NormalDist

import numpy as np
import pandas as pd
import pytest

import quantdesk
from quantdesk.engine import BacktestConfig
from quantdesk.research import evaluate_chunk, parse_parameter_space, run_sweep
from tests.frames import sample_bars

RISK_FREE_RATE = 0.03
CONFIG = BacktestConfig(lot_size=1e-8, commission=0.001, risk_free_rate=RISK_FREE_RATE)
DAYS_PER_YEAR = 365.0  # the sample BTC/USDT bars trade at weekends
BLOCKS = 16
EULER_MASCHERONI = 0.5772156649015329


def sample_frame(end: str = "2024-03-20") -> pd.DataFrame:
    return sample_bars("BTC/USDT", "1h", "2024-01-01", end)


def daily_excess_returns(equity: pd.Series) -> np.ndarray:
    """The last equity of each UTC day, its simple returns, less the daily risk-free rate."""
    last = equity.resample("D").last().dropna().to_numpy()
    daily_risk_free = (1 + RISK_FREE_RATE) ** (1 / DAYS_PER_YEAR) - 1
    return np.diff(last) / last[:-1] - daily_risk_free


def per_period_sharpe(returns: np.ndarray) -> float:
    return float(np.mean(returns) / np.std(returns, ddof=1))


def expected_deflated_sharpe(best: np.ndarray, sharpes: np.ndarray) -> tuple[float, float]:
    """The expected maximum Sharpe ratio of the trials and the DSR of the best."""
    normal = NormalDist()
    trials = len(sharpes)
    expected_maximum = math.sqrt(np.var(sharpes, ddof=1)) * (
        (1 - EULER_MASCHERONI) * normal.inv_cdf(1 - 1 / trials)
        + EULER_MASCHERONI * normal.inv_cdf(1 - 1 / (trials * math.e))
    )
    centred = best - best.mean()
    skewness = np.mean(centred**3) / np.mean(centred**2) ** 1.5
    kurtosis = np.mean(centred**4) / np.mean(centred**2) ** 2
    observed = per_period_sharpe(best)
    spread = 1 - skewness * observed + (kurtosis - 1) / 4 * observed**2
    value = normal.cdf((observed - expected_maximum) * math.sqrt(len(best) - 1) / math.sqrt(spread))
    return expected_maximum, value


def expected_pbo(returns: np.ndarray) -> float:
    """CSCV over contiguous blocks of the (periods, combinations) excess returns."""
    blocks = np.array_split(np.arange(len(returns)), BLOCKS)
    combinations = returns.shape[1]
    logits = []
    for in_sample_blocks in itertools.combinations(range(BLOCKS), BLOCKS // 2):
        in_sample = np.concatenate([blocks[b] for b in in_sample_blocks])
        out_of_sample = np.setdiff1d(np.arange(len(returns)), in_sample)
        chosen = int(
            np.argmax(returns[in_sample].mean(axis=0) / returns[in_sample].std(axis=0, ddof=1))
        )
        outside = returns[out_of_sample].mean(axis=0) / returns[out_of_sample].std(axis=0, ddof=1)
        rank = np.sum(outside < outside[chosen]) + (np.sum(outside == outside[chosen]) + 1) / 2
        relative = rank / (combinations + 1)
        logits.append(math.log(relative / (1 - relative)))
    return float(np.mean(np.array(logits) <= 0))


def test_the_guards_equal_the_papers_formulas_on_full_backtests() -> None:
    frame = sample_frame()
    space = parse_parameter_space("sma_cross", ["fast=5:20:5", "slow=10:40:10"])
    result = run_sweep(frame, "sma_cross", space, CONFIG, chunk_size=5)
    ran = [c for c in space.grid() if c["fast"] < c["slow"]]
    assert len(ran) == len(result.rows) - result.skipped == 12

    returns = np.column_stack(
        [
            daily_excess_returns(
                quantdesk.backtest("sma_cross", frame, params=c, config=CONFIG).equity
            )
            for c in ran
        ]
    )
    sharpes = np.array([per_period_sharpe(returns[:, k]) for k in range(len(ran))])
    # The per-period convention: the annualised sharpe statistic over sqrt(365).
    ran_rows = result.rows[~result.rows["skipped"]]
    np.testing.assert_allclose(
        sharpes * math.sqrt(DAYS_PER_YEAR), ran_rows["sharpe"].to_numpy(), rtol=1e-9
    )
    best = ran.index(result.best_parameters)
    assert best == int(np.argmax(sharpes))

    expected_maximum, expected_value = expected_deflated_sharpe(returns[:, best], sharpes)
    deflated = result.deflated_sharpe
    assert deflated is not None
    assert result.deflated_sharpe_reason is None
    assert deflated.trials == 12
    assert deflated.observations == len(returns)
    assert deflated.observed_sharpe == pytest.approx(sharpes[best], rel=1e-9)
    assert deflated.expected_maximum_sharpe == pytest.approx(expected_maximum, rel=1e-9)
    assert deflated.deflated_sharpe_ratio == pytest.approx(expected_value, rel=1e-9, abs=1e-12)

    overfitting = result.overfitting
    assert overfitting is not None
    assert result.overfitting_reason is None
    assert overfitting.splits == math.comb(BLOCKS, BLOCKS // 2)
    assert overfitting.probability == pytest.approx(expected_pbo(returns), abs=1e-12)

    ready = json.loads(json.dumps(result.to_dict(), allow_nan=False))
    assert ready["deflated_sharpe"]["deflated_sharpe_ratio"] == pytest.approx(expected_value)
    assert ready["overfitting"]["probability"] == pytest.approx(overfitting.probability)
    assert ready["deflated_sharpe_reason"] is None
    assert ready["overfitting_reason"] is None


def test_rows_carry_a_few_numbers_per_block_whatever_the_bars() -> None:
    frame = sample_frame()
    rows = evaluate_chunk(frame, "sma_cross", [{"fast": 5, "slow": 20}], CONFIG)
    summary = rows[0].returns
    assert summary is not None
    assert summary.blocks is not None
    assert summary.blocks.shape == (BLOCKS, 3)
    assert len(pickle.dumps(rows[0].returns)) < 1_000 < len(frame) * 8
    assert pickle.loads(pickle.dumps(rows))[0].returns.sharpe == summary.sharpe


def test_one_combination_gives_no_guards_and_says_why() -> None:
    space = parse_parameter_space("sma_cross", ["fast=5", "slow=20"])
    result = run_sweep(sample_frame(), "sma_cross", space, CONFIG)
    assert result.deflated_sharpe is None
    assert result.overfitting is None
    assert "at least 2 trials" in str(result.deflated_sharpe_reason)
    assert result.to_dict()["overfitting"] is None


def test_too_few_periods_for_cscv_still_deflate_the_sharpe_ratio() -> None:
    space = parse_parameter_space("sma_cross", ["fast=5:10:5", "slow=20"])
    result = run_sweep(sample_frame(end="2024-01-25"), "sma_cross", space, CONFIG)
    assert result.overfitting is None
    assert "at least 32 return periods" in str(result.overfitting_reason)
    assert result.deflated_sharpe is not None
