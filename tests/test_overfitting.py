"""The overfitting guards agree with the papers' formulas, implemented again here.

Every expected value is computed in this file from the formulas of Bailey and
López de Prado (2014, the deflated Sharpe ratio) and Bailey, Borwein, López de
Prado and Zhu (2015, CSCV's probability of backtest overfitting), with NumPy
on the full returns matrix, never through the module's helpers.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest

import quantdesk.research
from quantdesk.errors import InvalidInputError
from quantdesk.research import (
    BlockStatisticsAccumulator,
    block_statistics,
    deflated_sharpe_ratio,
    deflated_sharpe_ratio_from_returns,
    expected_maximum_sharpe,
    full_sample_sharpe_ratios,
    probabilistic_sharpe_ratio,
    probability_of_backtest_overfitting,
)

GAMMA = 0.5772156649015329


def normal_cdf(x: float) -> float:
    return 0.5 * math.erfc(-x / math.sqrt(2))


def normal_quantile(p: float) -> float:
    low, high = -40.0, 40.0
    for _ in range(200):
        middle = (low + high) / 2
        low, high = (middle, high) if normal_cdf(middle) < p else (low, middle)
    return (low + high) / 2


def paper_expected_maximum(trials: int, variance: float) -> float:
    return math.sqrt(variance) * (
        (1 - GAMMA) * normal_quantile(1 - 1 / trials)
        + GAMMA * normal_quantile(1 - 1 / (trials * math.e))
    )


def paper_psr(sharpe: float, benchmark: float, length: int, skew: float, kurt: float) -> float:
    denominator = math.sqrt(1 - skew * sharpe + (kurt - 1) / 4 * sharpe**2)
    return normal_cdf((sharpe - benchmark) * math.sqrt(length - 1) / denominator)


def sharpe_columns(matrix: np.ndarray) -> np.ndarray:
    return matrix.mean(axis=0) / matrix.std(axis=0, ddof=1)


def brute_force_cscv(returns: np.ndarray, blocks: int) -> dict[str, np.ndarray]:
    pieces = np.array_split(returns, blocks, axis=0)
    combinations = returns.shape[1]
    found: dict[str, list[float]] = {"logits": [], "chosen": [], "is": [], "oos": []}
    for in_sample_blocks in itertools.combinations(range(blocks), blocks // 2):
        rest = [block for block in range(blocks) if block not in in_sample_blocks]
        train = np.concatenate([pieces[block] for block in in_sample_blocks])
        test = np.concatenate([pieces[block] for block in rest])
        train_sharpe, test_sharpe = sharpe_columns(train), sharpe_columns(test)
        best = int(np.argmax(train_sharpe))
        rank = int((test_sharpe < test_sharpe[best]).sum()) + 1
        omega = rank / (combinations + 1)
        found["logits"].append(math.log(omega / (1 - omega)))
        found["chosen"].append(best)
        found["is"].append(train_sharpe[best])
        found["oos"].append(test_sharpe[best])
    return {name: np.array(values) for name, values in found.items()}


def noise(seed: int, bars: int, combinations: int) -> np.ndarray:
    return np.random.default_rng(seed).normal(0.0, 0.01, size=(bars, combinations))


# The deflated Sharpe ratio


def test_the_dsr_papers_numerical_example() -> None:
    # 100 trials, variance of annualised Sharpe ratios 1/2, 5 years of 250
    # daily returns, skewness -3, kurtosis 10, best annualised Sharpe 2.5:
    # the paper finds SR_0 of about 0.1132 a day and DSR of about 0.9004.
    result = deflated_sharpe_ratio(
        observed_sharpe=2.5 / math.sqrt(250),
        trials=100,
        variance_of_trial_sharpes=0.5 / 250,
        observations=1250,
        skewness=-3,
        kurtosis=10,
    )
    assert round(result.expected_maximum_sharpe, 4) == 0.1132
    assert round(result.deflated_sharpe_ratio, 4) == 0.9004
    assert result.trials == 100
    assert result.observations == 1250
    assert result.kurtosis == 10.0


@pytest.mark.parametrize(
    ("trials", "variance"), [(2, 1.0), (10, 0.04), (1000, 0.0025), (10**6, 1e-4), (7, 0.0)]
)
def test_expected_maximum_follows_the_false_strategy_theorem(trials: int, variance: float) -> None:
    assert expected_maximum_sharpe(trials, variance) == pytest.approx(
        paper_expected_maximum(trials, variance), rel=1e-9, abs=1e-12
    )


def test_the_expected_maximum_grows_with_the_trials() -> None:
    values = [expected_maximum_sharpe(trials, 0.01) for trials in (2, 10, 100, 1000)]
    assert values == sorted(values)


@pytest.mark.parametrize(
    ("sharpe", "benchmark_sharpe", "length", "skew", "kurt"),
    [
        (0.1, 0.0, 250, 0.0, 3.0),
        (0.05, 0.02, 1000, -1.2, 8.0),
        (0.2, 0.25, 60, 0.7, 4.5),
        (-0.03, 0.0, 500, 0.1, 2.0),
    ],
)
def test_psr_follows_its_formula(
    sharpe: float, benchmark_sharpe: float, length: int, skew: float, kurt: float
) -> None:
    # Not "benchmark": pytest-benchmark, installed with the bench extra, owns that fixture name.
    measured = probabilistic_sharpe_ratio(sharpe, benchmark_sharpe, length, skew, kurt)
    assert measured == pytest.approx(
        paper_psr(sharpe, benchmark_sharpe, length, skew, kurt), rel=1e-12
    )


def test_dsr_is_psr_against_the_expected_maximum() -> None:
    result = deflated_sharpe_ratio(0.12, 250, 0.003, 2000, -0.4, 5.5)
    benchmark = paper_expected_maximum(250, 0.003)
    assert result.expected_maximum_sharpe == pytest.approx(benchmark, rel=1e-9)
    assert result.deflated_sharpe_ratio == pytest.approx(
        probabilistic_sharpe_ratio(0.12, result.expected_maximum_sharpe, 2000, -0.4, 5.5),
        rel=1e-12,
    )
    assert result.deflated_sharpe_ratio == pytest.approx(
        paper_psr(0.12, benchmark, 2000, -0.4, 5.5), rel=1e-9
    )


def test_dsr_from_returns_measures_the_moments_as_the_paper() -> None:
    generator = np.random.default_rng(11)
    best = generator.standard_t(df=5, size=1500) * 0.01 + 0.001
    trial_sharpes = generator.normal(0.0, 0.03, size=40)
    deviations = best - best.mean()
    spread = np.sqrt(np.mean(deviations**2))
    sharpe = best.mean() / best.std(ddof=1)
    skew = np.mean(deviations**3) / spread**3
    kurt = np.mean(deviations**4) / spread**4
    benchmark = paper_expected_maximum(40, float(np.var(trial_sharpes, ddof=1)))

    result = deflated_sharpe_ratio_from_returns(best, trial_sharpes)

    assert result.observed_sharpe == pytest.approx(sharpe, rel=1e-12)
    assert result.skewness == pytest.approx(skew, rel=1e-9)
    assert result.kurtosis == pytest.approx(kurt, rel=1e-9)
    assert result.trials == 40
    assert result.observations == 1500
    assert result.deflated_sharpe_ratio == pytest.approx(
        paper_psr(sharpe, benchmark, 1500, skew, kurt), rel=1e-9
    )


@pytest.mark.parametrize(
    ("call", "words"),
    [
        (lambda: expected_maximum_sharpe(1, 0.1), "at least 2 trials"),
        (lambda: expected_maximum_sharpe(10, -0.1), "must be >= 0"),
        (lambda: expected_maximum_sharpe(10, math.nan), "finite"),
        (lambda: expected_maximum_sharpe(10.0, 0.1), "whole number"),  # type: ignore[arg-type]
        (lambda: probabilistic_sharpe_ratio(0.1, 0.0, 1, 0.0, 3.0), "at least 2 returns"),
        (lambda: probabilistic_sharpe_ratio(math.nan, 0.0, 100, 0.0, 3.0), "finite"),
        (lambda: probabilistic_sharpe_ratio("high", 0.0, 100, 0.0, 3.0), "a number"),  # type: ignore[arg-type]
        (lambda: probabilistic_sharpe_ratio(0.1, 0.0, 100, 0.0, 0.0), "non-excess"),
        (lambda: probabilistic_sharpe_ratio(3.0, 0.0, 100, 1.0, 1.0), "per-period"),
        (lambda: deflated_sharpe_ratio(0.1, 1, 0.01, 100, 0.0, 3.0), "at least 2 trials"),
        (lambda: deflated_sharpe_ratio(0.1, 5, 0.01, 100, math.nan, 3.0), "finite"),
        (lambda: deflated_sharpe_ratio_from_returns([0.01], [0.1, 0.2]), "at least 2"),
        (lambda: deflated_sharpe_ratio_from_returns([0.01, 0.02], [0.1]), "at least 2 trials"),
        (lambda: deflated_sharpe_ratio_from_returns([0.01, 0.01], [0.1, 0.2]), "never vary"),
        (lambda: deflated_sharpe_ratio_from_returns([0.01, math.nan], [0.1, 0.2]), "NaN"),
    ],
)
def test_bad_deflated_sharpe_inputs_are_refused_in_one_line(call: object, words: str) -> None:
    with pytest.raises(InvalidInputError, match=words) as raised:
        call()  # type: ignore[operator]
    assert "\n" not in str(raised.value)


# Block statistics


def direct_block_statistics(returns: np.ndarray, blocks: int) -> np.ndarray:
    pieces = np.array_split(returns, blocks, axis=0)
    return np.stack(
        [
            np.stack(
                [np.full(returns.shape[1], len(piece)), piece.sum(axis=0), (piece**2).sum(axis=0)],
                axis=-1,
            )
            for piece in pieces
        ],
        axis=1,
    )


def test_block_statistics_are_counts_sums_and_squares_of_each_block() -> None:
    returns = noise(1, bars=1003, combinations=7)
    expected = direct_block_statistics(returns, 16)
    assert block_statistics(returns).shape == (7, 16, 3)
    np.testing.assert_allclose(block_statistics(returns), expected, rtol=1e-12)
    np.testing.assert_allclose(
        block_statistics(returns, bar_chunk=37, combination_chunk=3), expected, rtol=1e-12
    )


def test_streaming_chunks_equal_the_full_matrix() -> None:
    returns = noise(2, bars=2000, combinations=9)
    accumulator = BlockStatisticsAccumulator(bars=2000, combinations=9, blocks=10)
    generator = np.random.default_rng(3)
    bar_edges = [0, *sorted(generator.choice(np.arange(1, 2000), 12, replace=False)), 2000]
    for first_bar, last_bar in itertools.pairwise(bar_edges):
        for first_combination, last_combination in [(0, 4), (4, 5), (5, 9)]:
            accumulator.add(
                returns[first_bar:last_bar, first_combination:last_combination],
                first_bar=int(first_bar),
                first_combination=first_combination,
            )
    np.testing.assert_allclose(
        accumulator.statistics(), direct_block_statistics(returns, 10), rtol=1e-12
    )


def test_a_one_dimensional_chunk_is_one_combination() -> None:
    returns = noise(9, bars=300, combinations=2)
    accumulator = BlockStatisticsAccumulator(300, 2, blocks=6)
    accumulator.add(returns[:, 0])
    accumulator.add(returns[:, 1], first_combination=1)
    np.testing.assert_allclose(
        accumulator.statistics(), direct_block_statistics(returns, 6), rtol=1e-12
    )


def test_memory_of_block_statistics_does_not_grow_with_the_bars() -> None:
    short = block_statistics(noise(4, bars=500, combinations=5))
    long = block_statistics(noise(4, bars=50_000, combinations=5), bar_chunk=4096)
    assert short.shape == long.shape == (5, 16, 3)
    assert short.nbytes == long.nbytes == 5 * 16 * 3 * 8


def test_a_dataframe_and_a_single_series_are_accepted() -> None:
    returns = noise(5, bars=400, combinations=3)
    frame = pd.DataFrame(returns, columns=["a", "b", "c"])
    np.testing.assert_allclose(block_statistics(frame, 8), block_statistics(returns, 8), rtol=1e-12)
    assert block_statistics(returns[:, 0], 8).shape == (1, 8, 3)


def test_chunks_that_miss_or_repeat_cells_are_refused() -> None:
    returns = noise(6, bars=100, combinations=2)
    missing = BlockStatisticsAccumulator(100, 2, blocks=4)
    missing.add(returns[:60])
    with pytest.raises(InvalidInputError, match="exactly once"):
        missing.statistics()
    repeated = BlockStatisticsAccumulator(100, 2, blocks=4)
    repeated.add(returns)
    repeated.add(returns[:10], first_bar=0)
    with pytest.raises(InvalidInputError, match="exactly once"):
        repeated.statistics()
    with pytest.raises(InvalidInputError, match="first_bar"):
        repeated.add(returns[:10], first_bar=95)
    with pytest.raises(InvalidInputError, match="first_combination"):
        repeated.add(returns[:10], first_combination=1)
    with pytest.raises(InvalidInputError, match="NaN"):
        repeated.add(np.full((3, 2), np.nan))


@pytest.mark.parametrize(
    ("bars", "blocks", "words"),
    [(100, 15, "even"), (100, 0, "at least 2"), (100, 1, "at least 2"), (20, 16, "2 bars")],
)
def test_bad_block_counts_are_refused_in_one_line(bars: int, blocks: int, words: str) -> None:
    with pytest.raises(InvalidInputError, match=words) as raised:
        block_statistics(noise(7, bars=bars, combinations=2), blocks)
    assert "\n" not in str(raised.value)


def test_full_sample_sharpe_ratios_match_the_direct_ones() -> None:
    returns = noise(8, bars=777, combinations=6) + 0.0005
    np.testing.assert_allclose(
        full_sample_sharpe_ratios(block_statistics(returns)), sharpe_columns(returns), rtol=1e-9
    )


# The probability of backtest overfitting


@pytest.mark.parametrize(
    ("blocks", "combinations", "seed"), [(8, 10, 20), (10, 25, 21), (2, 4, 22)]
)
def test_pbo_equals_the_brute_force_cscv_on_the_full_matrix(
    blocks: int, combinations: int, seed: int
) -> None:
    returns = noise(seed, bars=601, combinations=combinations)
    returns += np.random.default_rng(seed + 100).normal(0, 0.0005, size=combinations)
    expected = brute_force_cscv(returns, blocks)

    result = probability_of_backtest_overfitting(block_statistics(returns, blocks))

    assert result.splits == math.comb(blocks, blocks // 2)
    assert (result.blocks, result.combinations) == (blocks, combinations)
    np.testing.assert_array_equal(result.chosen, expected["chosen"])
    np.testing.assert_allclose(result.logits, expected["logits"], rtol=1e-12)
    np.testing.assert_allclose(result.in_sample_sharpes, expected["is"], rtol=1e-9)
    np.testing.assert_allclose(result.out_of_sample_sharpes, expected["oos"], rtol=1e-9)
    assert result.probability == np.mean(expected["logits"] <= 0)
    assert result.probability_of_loss == np.mean(expected["oos"] < 0)


def test_the_splits_are_scored_alike_in_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    statistics = block_statistics(noise(23, bars=800, combinations=12), 12)
    whole = probability_of_backtest_overfitting(statistics)
    monkeypatch.setattr("quantdesk.research.overfitting.CELLS_PER_BATCH", 100)
    batched = probability_of_backtest_overfitting(statistics)
    np.testing.assert_array_equal(whole.logits, batched.logits)
    np.testing.assert_array_equal(whole.chosen, batched.chosen)


def test_a_single_dominant_strategy_is_not_overfit() -> None:
    returns = noise(30, bars=3200, combinations=40)
    returns[:, 17] += 0.005
    result = probability_of_backtest_overfitting(block_statistics(returns))
    assert result.splits == 12_870
    assert result.probability == 0.0
    assert set(result.chosen.tolist()) == {17}
    assert result.logits.min() == pytest.approx(math.log(40))


def test_pure_noise_is_overfit_about_half_the_time() -> None:
    # With i.i.d. noise the in-sample best lands anywhere out of sample, so
    # PBO's expectation is 1/2; splits of one data set are correlated, hence
    # the average over seeds.
    values = [
        probability_of_backtest_overfitting(block_statistics(noise(seed, 1600, 50))).probability
        for seed in range(40, 60)
    ]
    assert np.mean(values) == pytest.approx(0.5, abs=0.1)


@pytest.mark.filterwarnings("error")
def test_ties_and_constant_returns_resolve_deterministically() -> None:
    never_trades = np.zeros((64, 3))
    result = probability_of_backtest_overfitting(block_statistics(never_trades, 4))
    # Every Sharpe ratio is 0: the first combination is chosen, and shares
    # the middle rank out of sample, which counts as overfit (logit 0).
    assert set(result.chosen.tolist()) == {0}
    np.testing.assert_array_equal(result.logits, np.zeros(6))
    assert result.probability == 1.0

    returns = noise(31, bars=64, combinations=3)
    returns[:, 2] = 0.001
    assert full_sample_sharpe_ratios(block_statistics(returns, 4))[2] == np.inf
    constant = probability_of_backtest_overfitting(block_statistics(returns, 4))
    assert set(constant.chosen.tolist()) == {2}
    assert constant.probability == 0.0


def test_pbo_results_are_read_only() -> None:
    result = probability_of_backtest_overfitting(block_statistics(noise(32, 200, 4), 4))
    with pytest.raises(ValueError, match="read-only"):
        result.logits[0] = 1.0


@pytest.mark.parametrize(
    ("statistics", "words"),
    [
        (np.ones((3, 16)), "shape"),
        (np.ones((1, 16, 3)), "at least 2 to rank"),
        (np.ones((3, 15, 3)), "even"),
        (np.full((3, 4, 3), np.nan), "NaN"),
        (np.zeros((3, 4, 3)), "no returns"),
        (np.ones((3, 2, 3)), "at least 2 returns"),
        (np.ones((3, 24, 3)), "maximum_splits"),
    ],
)
def test_bad_block_statistics_are_refused_in_one_line(statistics: np.ndarray, words: str) -> None:
    with pytest.raises(InvalidInputError, match=words) as raised:
        probability_of_backtest_overfitting(statistics)
    assert "\n" not in str(raised.value)


def test_a_bad_maximum_of_splits_is_refused() -> None:
    with pytest.raises(InvalidInputError, match="maximum_splits must be at least 1"):
        probability_of_backtest_overfitting(np.ones((3, 4, 3)), maximum_splits=0)
    with pytest.raises(InvalidInputError, match="6 splits, more than maximum_splits=5"):
        probability_of_backtest_overfitting(np.ones((3, 4, 3)), maximum_splits=5)


def test_the_package_exports_its_public_names() -> None:
    assert quantdesk.research.__doc__ is not None
    assert "overfitting guards" in quantdesk.research.__doc__
    for name in quantdesk.research.__all__:
        assert getattr(quantdesk.research, name) is not None
