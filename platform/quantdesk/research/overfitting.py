"""Overfitting guards for parameter sweeps: the deflated Sharpe ratio and CSCV's PBO.

Sharpe convention. Every Sharpe ratio here is per period and not annualised:
``SR = mean(r) / std(r)`` over the per-period returns ``r`` of one
combination (bars, days, whatever the sweep measured), ``std`` the sample
deviation (``ddof=1``). Returns are taken as given; subtract a risk-free rate
beforehand for excess returns. Divide an annualised Sharpe ratio by
``sqrt(periods_per_year)`` before passing it (and an annualised variance of
Sharpe ratios by ``periods_per_year``).

Deflated Sharpe ratio (Bailey and López de Prado, 2014). The best of ``N``
trials has a high Sharpe ratio even when every trial is noise. The False
Strategy theorem puts the expected maximum of ``N`` trial Sharpe ratios whose
true value is zero and whose variance across trials is ``V`` at

    SR_0 = sqrt(V) * ((1 - g) * Z^-1(1 - 1/N) + g * Z^-1(1 - 1/(N e)))

with ``g`` the Euler-Mascheroni constant and ``Z^-1`` the standard normal
quantile. The probabilistic Sharpe ratio of an observed ``SR`` over ``T``
returns with skewness ``s`` and kurtosis ``k`` against a benchmark ``SR*`` is

    PSR(SR*) = Z((SR - SR*) * sqrt(T - 1) / sqrt(1 - s * SR + (k - 1) / 4 * SR**2))

and the deflated Sharpe ratio is ``PSR(SR_0)``: the probability that the
best combination's true Sharpe ratio beats what luck alone would give.
``k`` is the plain (non-excess) kurtosis, 3 for normal returns.

Probability of backtest overfitting (Bailey, Borwein, López de Prado and
Zhu, 2015). The bars are cut into ``S`` contiguous blocks (``S`` even). Each
of the ``C(S, S/2)`` ways to pick half of the blocks as in-sample, the rest
out-of-sample, chooses the combination with the best in-sample Sharpe ratio
and finds its relative rank ``w = rank / (N + 1)`` among the ``N``
combinations out of sample (rank 1 the worst); its logit is
``ln(w / (1 - w))``. PBO is the share of splits whose logit is at most 0:
the in-sample best did no better than the median out of sample.

Memory. CSCV needs only each combination's count, sum and sum of squares of
returns per block, an array of shape ``(combinations, S, 3)``:
:class:`BlockStatisticsAccumulator` builds it from chunks of bars and of
combinations, so a sweep never holds its whole returns matrix.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np
import numpy.typing as npt

from quantdesk.errors import InvalidInputError

EULER_MASCHERONI = 0.5772156649015329
"""The Euler-Mascheroni constant of the False Strategy theorem."""

DEFAULT_BLOCKS = 16
"""CSCV's default number of blocks: ``C(16, 8) = 12,870`` splits."""

DEFAULT_MAXIMUM_SPLITS = math.comb(20, 10)
"""The most splits CSCV enumerates unless told otherwise (20 blocks, 184,756 splits)."""

COUNT, SUM, SUM_OF_SQUARES = 0, 1, 2
"""Positions of the statistics along the last axis of a block-statistics array."""

ZERO_VARIANCE_TOLERANCE = 1e-12
"""Squared deviations at most this share of the sum of squares count as no variance."""

CELLS_PER_BATCH = 1 << 20
"""Splits are scored in batches of about this many (split, combination) cells."""

STANDARD_NORMAL = NormalDist()


@dataclass(frozen=True)
class DeflatedSharpeRatio:
    """The deflated Sharpe ratio of a sweep's best combination and the inputs it used.

    Sharpe ratios are per period, not annualised; ``kurtosis`` is non-excess.
    ``deflated_sharpe_ratio`` is the probability, in ``[0, 1]``, that the
    best combination's true Sharpe ratio exceeds ``expected_maximum_sharpe``.
    """

    observed_sharpe: float
    trials: int
    variance_of_trial_sharpes: float
    observations: int
    skewness: float
    kurtosis: float
    expected_maximum_sharpe: float
    deflated_sharpe_ratio: float


@dataclass(frozen=True)
class BacktestOverfitting:
    """CSCV's probability of backtest overfitting and what each split found.

    The arrays have one entry per split, in the order of
    ``itertools.combinations(range(blocks), blocks // 2)`` for the in-sample
    blocks, and are read-only. ``in_sample_sharpes`` and
    ``out_of_sample_sharpes`` are the chosen combination's per-period Sharpe
    ratios on the two halves: plotted against each other they show the
    performance degradation.
    """

    probability: float
    logits: npt.NDArray[np.float64]
    chosen: npt.NDArray[np.int64]
    in_sample_sharpes: npt.NDArray[np.float64]
    out_of_sample_sharpes: npt.NDArray[np.float64]
    blocks: int
    combinations: int

    @property
    def splits(self) -> int:
        """How many in-sample/out-of-sample splits were scored, ``C(blocks, blocks/2)``."""
        return len(self.logits)

    @property
    def probability_of_loss(self) -> float:
        """The share of splits where the in-sample best lost out of sample (Sharpe below 0)."""
        return float(np.mean(self.out_of_sample_sharpes < 0))


def expected_maximum_sharpe(trials: int, variance_of_trial_sharpes: float) -> float:
    """The expected best Sharpe ratio of ``trials`` unskilled trials (False Strategy theorem).

    ``E[max SR] = sqrt(V) * ((1 - g) * Z^-1(1 - 1/N) + g * Z^-1(1 - 1/(N e)))``
    with ``N`` trials, ``V`` the variance of their Sharpe ratios, ``g`` the
    Euler-Mascheroni constant and ``Z^-1`` the standard normal quantile.

    Parameters
    ----------
    trials
        How many combinations the sweep tried, at least 2.
    variance_of_trial_sharpes
        The variance across trials of their per-period Sharpe ratios, >= 0.

    Returns
    -------
    float
        The expected maximum, in the same per-period units.
    """
    trials = _whole_number("trials", trials, minimum=2, fix="a sweep needs at least 2 trials")
    variance = _finite_number("variance_of_trial_sharpes", variance_of_trial_sharpes)
    if variance < 0:
        raise InvalidInputError(
            f"variance_of_trial_sharpes must be >= 0, got {variance!r}: pass a variance, "
            "not a Sharpe ratio or a signed spread"
        )
    quantile = STANDARD_NORMAL.inv_cdf
    return math.sqrt(variance) * (
        (1 - EULER_MASCHERONI) * quantile(1 - 1 / trials)
        + EULER_MASCHERONI * quantile(1 - 1 / (trials * math.e))
    )


def probabilistic_sharpe_ratio(
    observed_sharpe: float,
    benchmark_sharpe: float,
    observations: int,
    skewness: float,
    kurtosis: float,
) -> float:
    """The probability that the true Sharpe ratio exceeds ``benchmark_sharpe``.

    ``PSR = Z((SR - SR*) * sqrt(T - 1) / sqrt(1 - s * SR + (k - 1) / 4 * SR**2))``
    with ``Z`` the standard normal distribution function.

    Parameters
    ----------
    observed_sharpe
        ``SR``, the per-period Sharpe ratio measured (not annualised).
    benchmark_sharpe
        ``SR*``, the per-period Sharpe ratio to beat.
    observations
        ``T``, how many returns ``SR`` was measured on, at least 2.
    skewness
        ``s``, the skewness of those returns.
    kurtosis
        ``k``, their kurtosis, non-excess: 3 for normal returns (add 3 to an
        excess kurtosis such as pandas' ``kurt()``).

    Returns
    -------
    float
        A probability in ``[0, 1]``.
    """
    sharpe = _finite_number("observed_sharpe", observed_sharpe)
    benchmark = _finite_number("benchmark_sharpe", benchmark_sharpe)
    observations = _whole_number(
        "observations", observations, minimum=2, fix="a Sharpe ratio needs at least 2 returns"
    )
    skewness = _finite_number("skewness", skewness)
    kurtosis = _finite_number("kurtosis", kurtosis)
    if kurtosis < 1:
        raise InvalidInputError(
            f"kurtosis must be >= 1, got {kurtosis!r}: pass the non-excess kurtosis "
            "(3 for normal returns), that is the excess kurtosis plus 3"
        )
    spread = 1 - skewness * sharpe + (kurtosis - 1) / 4 * sharpe**2
    if spread <= 0:
        raise InvalidInputError(
            f"1 - skewness * sharpe + (kurtosis - 1) / 4 * sharpe**2 is {spread!r}, not > 0: "
            "pass a per-period (not annualised) Sharpe ratio and a non-excess kurtosis"
        )
    return STANDARD_NORMAL.cdf(
        (sharpe - benchmark) * math.sqrt(observations - 1) / math.sqrt(spread)
    )


def deflated_sharpe_ratio(
    observed_sharpe: float,
    trials: int,
    variance_of_trial_sharpes: float,
    observations: int,
    skewness: float,
    kurtosis: float,
) -> DeflatedSharpeRatio:
    """The deflated Sharpe ratio of the best of ``trials`` combinations.

    ``DSR = PSR(SR_0)``: the probabilistic Sharpe ratio against the expected
    maximum ``SR_0`` of ``trials`` unskilled trials (see
    :func:`expected_maximum_sharpe` and :func:`probabilistic_sharpe_ratio`).

    Parameters
    ----------
    observed_sharpe
        The best combination's per-period Sharpe ratio (not annualised).
    trials
        How many combinations the sweep tried, at least 2.
    variance_of_trial_sharpes
        The variance across trials of their per-period Sharpe ratios.
    observations
        How many returns the best combination's Sharpe ratio was measured on.
    skewness, kurtosis
        The skewness and non-excess kurtosis (3 if normal) of those returns.

    Returns
    -------
    DeflatedSharpeRatio
        The inputs, the expected maximum and the deflated Sharpe ratio.
    """
    benchmark = expected_maximum_sharpe(trials, variance_of_trial_sharpes)
    value = probabilistic_sharpe_ratio(observed_sharpe, benchmark, observations, skewness, kurtosis)
    return DeflatedSharpeRatio(
        observed_sharpe=float(observed_sharpe),
        trials=int(trials),
        variance_of_trial_sharpes=float(variance_of_trial_sharpes),
        observations=int(observations),
        skewness=float(skewness),
        kurtosis=float(kurtosis),
        expected_maximum_sharpe=benchmark,
        deflated_sharpe_ratio=value,
    )


def deflated_sharpe_ratio_from_returns(
    best_returns: npt.ArrayLike, trial_sharpes: npt.ArrayLike
) -> DeflatedSharpeRatio:
    """The deflated Sharpe ratio of a sweep from its best returns and every trial's Sharpe.

    The observed Sharpe ratio is ``mean(r) / std(r)`` (``ddof=1``) of
    ``best_returns``; its skewness ``m3 / m2**1.5`` and kurtosis
    ``m4 / m2**2`` come from the central moments ``m_j = mean((r - mean(r))**j)``;
    the trials are ``len(trial_sharpes)`` and their variance has ``ddof=1``.

    Parameters
    ----------
    best_returns
        The per-period returns of the combination the sweep chose.
    trial_sharpes
        The per-period Sharpe ratio of every combination tried, the best included.

    Returns
    -------
    DeflatedSharpeRatio
        As :func:`deflated_sharpe_ratio` returns it.
    """
    returns = _finite_vector("best_returns", best_returns)
    sharpes = _finite_vector("trial_sharpes", trial_sharpes)
    if len(returns) < 2:
        raise InvalidInputError(
            f"best_returns holds {len(returns)} returns: a Sharpe ratio needs at least 2"
        )
    if len(sharpes) < 2:
        raise InvalidInputError(
            f"trial_sharpes holds {len(sharpes)} Sharpe ratios: a sweep needs at least 2 trials"
        )
    deviations = returns - returns.mean()
    second_moment = float(np.mean(deviations**2))
    if second_moment == 0:
        raise InvalidInputError(
            "best_returns never vary, so their Sharpe ratio is undefined: "
            "pass the returns of a combination that traded"
        )
    return deflated_sharpe_ratio(
        observed_sharpe=float(returns.mean() / returns.std(ddof=1)),
        trials=len(sharpes),
        variance_of_trial_sharpes=float(sharpes.var(ddof=1)),
        observations=len(returns),
        skewness=float(np.mean(deviations**3)) / second_moment**1.5,
        kurtosis=float(np.mean(deviations**4)) / second_moment**2,
    )


class BlockStatisticsAccumulator:
    """Count, sum and sum of squares of returns per combination and block, built by chunks.

    The ``bars`` are cut into ``blocks`` contiguous blocks as
    ``numpy.array_split`` cuts them: the first ``bars % blocks`` blocks hold
    one bar more. :meth:`add` takes any rectangle of the returns matrix
    (rows are bars, columns combinations) at its offsets; chunks may cross
    block boundaries. Memory is ``combinations * blocks * 3`` floats whatever
    the number of bars. The sums are float64; a Sharpe ratio's variance comes
    from ``sum of squares - sum * mean``, exact enough while a combination's
    mean return is not many orders of magnitude above its spread, as with
    per-period returns.

    Parameters
    ----------
    bars
        How many bars the returns cover, at least 2 per block.
    combinations
        How many combinations (columns) the sweep has.
    blocks
        ``S``, even and at least 2; 16 by default.
    """

    def __init__(self, bars: int, combinations: int, blocks: int = DEFAULT_BLOCKS) -> None:
        self.blocks = _even_blocks(blocks)
        self.bars = _whole_number(
            "bars", bars, minimum=2 * self.blocks, fix=f"each of {self.blocks} blocks needs 2 bars"
        )
        self.combinations = _whole_number(
            "combinations", combinations, minimum=1, fix="pass the number of columns"
        )
        sizes = np.full(self.blocks, self.bars // self.blocks, dtype=np.int64)
        sizes[: self.bars % self.blocks] += 1
        self.block_starts = np.concatenate([[0], np.cumsum(sizes)])
        self._statistics = np.zeros((self.combinations, self.blocks, 3), dtype=np.float64)

    def add(
        self, returns: npt.ArrayLike, *, first_bar: int = 0, first_combination: int = 0
    ) -> None:
        """Add a chunk of returns whose top-left cell is at ``(first_bar, first_combination)``.

        Each cell must be added exactly once; :meth:`statistics` checks the
        counts. A 1-D chunk is one combination's returns.
        """
        chunk = np.asarray(returns, dtype=np.float64)
        if chunk.ndim == 1:
            chunk = chunk[:, np.newaxis]
        if chunk.ndim != 2:
            raise InvalidInputError(
                f"a returns chunk must be 2-D (bars, combinations), got {chunk.ndim}-D"
            )
        if not np.isfinite(chunk).all():
            raise InvalidInputError(
                "a returns chunk holds NaN or infinite values: "
                "fill periods without a position with 0"
            )
        last_bar = first_bar + chunk.shape[0]
        last_combination = first_combination + chunk.shape[1]
        if first_bar < 0 or first_combination < 0 or last_bar > self.bars:
            raise InvalidInputError(
                f"a chunk of {chunk.shape[0]} bars at bar {first_bar} falls outside "
                f"the {self.bars} bars: check first_bar"
            )
        if last_combination > self.combinations:
            raise InvalidInputError(
                f"a chunk of {chunk.shape[1]} combinations at {first_combination} falls outside "
                f"the {self.combinations} combinations: check first_combination"
            )
        columns = slice(first_combination, last_combination)
        first_block = int(np.searchsorted(self.block_starts, first_bar, side="right")) - 1
        for block in range(first_block, self.blocks):
            start = max(int(self.block_starts[block]), first_bar)
            stop = min(int(self.block_starts[block + 1]), last_bar)
            if start >= stop:
                break
            piece = chunk[start - first_bar : stop - first_bar]
            self._statistics[columns, block, COUNT] += stop - start
            self._statistics[columns, block, SUM] += piece.sum(axis=0)
            self._statistics[columns, block, SUM_OF_SQUARES] += np.square(piece).sum(axis=0)

    def statistics(self) -> npt.NDArray[np.float64]:
        """The ``(combinations, blocks, 3)`` array of count, sum and sum of squares.

        Raises
        ------
        InvalidInputError
            When some cell was never added or was added twice.
        """
        expected = np.diff(self.block_starts).astype(np.float64)
        if not np.array_equal(
            self._statistics[:, :, COUNT],
            np.broadcast_to(expected, (self.combinations, self.blocks)),
        ):
            raise InvalidInputError(
                "the chunks added do not cover every bar of every combination exactly once: "
                "check the chunks' offsets"
            )
        return self._statistics.copy()


def block_statistics(
    returns: npt.ArrayLike,
    blocks: int = DEFAULT_BLOCKS,
    *,
    bar_chunk: int = 65_536,
    combination_chunk: int = 1_024,
) -> npt.NDArray[np.float64]:
    """Per-block count, sum and sum of squares of a returns matrix, shape ``(combinations, S, 3)``.

    Parameters
    ----------
    returns
        Per-period returns, rows are bars and columns combinations (a NumPy
        array or a pandas DataFrame; a 1-D array is one combination).
    blocks
        ``S``, even and at least 2; 16 by default.
    bar_chunk, combination_chunk
        The size of the pieces squared at once, which bounds the temporary
        memory; the result does not depend on them.

    Returns
    -------
    numpy.ndarray
        ``statistics[c, b] = (n_b, sum of r, sum of r**2)`` over block ``b``
        of combination ``c``.
    """
    matrix = np.asarray(returns, dtype=np.float64)
    if matrix.ndim == 1:
        matrix = matrix[:, np.newaxis]
    if matrix.ndim != 2:
        raise InvalidInputError(f"returns must be 2-D (bars, combinations), got {matrix.ndim}-D")
    bar_chunk = _whole_number("bar_chunk", bar_chunk, minimum=1, fix="pass a positive size")
    combination_chunk = _whole_number(
        "combination_chunk", combination_chunk, minimum=1, fix="pass a positive size"
    )
    accumulator = BlockStatisticsAccumulator(matrix.shape[0], matrix.shape[1], blocks)
    for first_bar in range(0, matrix.shape[0], bar_chunk):
        for first_combination in range(0, matrix.shape[1], combination_chunk):
            accumulator.add(
                matrix[
                    first_bar : first_bar + bar_chunk,
                    first_combination : first_combination + combination_chunk,
                ],
                first_bar=first_bar,
                first_combination=first_combination,
            )
    return accumulator.statistics()


def full_sample_sharpe_ratios(block_statistics: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Each combination's per-period Sharpe ratio over every bar, from its block statistics.

    ``SR = mean / std`` with ``mean = sum / n`` and
    ``std**2 = (sum of squares - sum * mean) / (n - 1)``. A combination whose
    returns never vary gets ``+inf``, ``-inf`` or 0 by the sign of its mean,
    as in :func:`probability_of_backtest_overfitting`.
    """
    statistics = _checked_block_statistics(block_statistics)
    totals = statistics.sum(axis=1)
    return _sharpe_from_sums(totals[:, COUNT], totals[:, SUM], totals[:, SUM_OF_SQUARES])


def probability_of_backtest_overfitting(
    block_statistics: npt.ArrayLike, *, maximum_splits: int = DEFAULT_MAXIMUM_SPLITS
) -> BacktestOverfitting:
    """CSCV's probability of backtest overfitting (PBO) from per-block statistics.

    For every split of the ``S`` blocks into ``S/2`` in-sample and ``S/2``
    out-of-sample ones, each combination's Sharpe ratio on each half comes
    from the summed block statistics (as :func:`full_sample_sharpe_ratios`);
    the in-sample best ``n*`` gets the relative rank
    ``w = rank(SR_oos[n*]) / (N + 1)`` among the ``N`` out-of-sample Sharpe
    ratios (rank 1 the lowest) and the logit ``l = ln(w / (1 - w))``;
    ``PBO = #{l <= 0} / C(S, S/2)``.

    Ties and constant returns, deterministically: an in-sample tie goes to
    the combination with the lowest index; out-of-sample ties share the mean
    of their ranks (so ``w`` stays inside ``(0, 1)``); a half on which a
    combination's returns never vary (squared deviations at most 1e-12 of its
    sum of squares) gives it a Sharpe ratio of ``+inf``, ``-inf`` or 0 by the
    sign of its mean, so a combination that never trades scores 0.

    Parameters
    ----------
    block_statistics
        The ``(combinations, S, 3)`` array of :func:`block_statistics` or
        :class:`BlockStatisticsAccumulator`, at least 2 combinations, ``S``
        even, at least 2 returns on each half.
    maximum_splits
        Refuse more splits than this (``C(S, S/2)`` grows fast: 12,870 for
        ``S = 16``, 2,704,156 for ``S = 24``).

    Returns
    -------
    BacktestOverfitting
        PBO with each split's logit, chosen combination and its Sharpe ratios.
    """
    statistics = _checked_block_statistics(block_statistics)
    maximum_splits = _whole_number(
        "maximum_splits", maximum_splits, minimum=1, fix="pass a positive number of splits"
    )
    combinations, blocks, _ = statistics.shape
    if combinations < 2:
        raise InvalidInputError(
            f"block statistics hold {combinations} combination: PBO needs at least 2 to rank"
        )
    half = blocks // 2
    if half == 1 and (statistics[:, :, COUNT] < 2).any():
        raise InvalidInputError(
            "with 2 blocks each needs at least 2 returns for a Sharpe ratio: pass more bars"
        )
    splits = math.comb(blocks, half)
    if splits > maximum_splits:
        raise InvalidInputError(
            f"{blocks} blocks make {splits:,} splits, more than maximum_splits={maximum_splits:,}: "
            "use fewer blocks (16 gives 12,870) or raise maximum_splits"
        )
    by_statistic = [statistics[:, :, index].T for index in (COUNT, SUM, SUM_OF_SQUARES)]
    batch_size = max(1, CELLS_PER_BATCH // combinations)
    pieces = [
        _score_splits(in_sample, by_statistic) for in_sample in _split_batches(blocks, batch_size)
    ]
    logits, chosen, in_sample_sharpes, out_of_sample_sharpes = (
        np.concatenate([piece[index] for piece in pieces]) for index in range(4)
    )
    for array in (logits, chosen, in_sample_sharpes, out_of_sample_sharpes):
        array.setflags(write=False)
    return BacktestOverfitting(
        probability=float(np.mean(logits <= 0)),
        logits=logits,
        chosen=chosen,
        in_sample_sharpes=in_sample_sharpes,
        out_of_sample_sharpes=out_of_sample_sharpes,
        blocks=blocks,
        combinations=combinations,
    )


def _split_batches(blocks: int, batch_size: int) -> Iterator[npt.NDArray[np.float64]]:
    """Membership rows (1 for an in-sample block) of every split, ``batch_size`` at a time."""
    chosen_blocks = itertools.combinations(range(blocks), blocks // 2)
    while batch := list(itertools.islice(chosen_blocks, batch_size)):
        membership = np.zeros((len(batch), blocks), dtype=np.float64)
        membership[np.arange(len(batch))[:, np.newaxis], np.array(batch)] = 1.0
        yield membership


def _score_splits(
    in_sample: npt.NDArray[np.float64], by_statistic: Sequence[npt.NDArray[np.float64]]
) -> tuple[
    npt.NDArray[np.float64],
    npt.NDArray[np.int64],
    npt.NDArray[np.float64],
    npt.NDArray[np.float64],
]:
    """Logit, chosen combination and its two Sharpe ratios for each split of a batch."""
    out_of_sample = 1.0 - in_sample
    in_sample_sharpes = _sharpe_from_sums(*(in_sample @ s for s in by_statistic))
    out_of_sample_sharpes = _sharpe_from_sums(*(out_of_sample @ s for s in by_statistic))
    rows = np.arange(len(in_sample))
    chosen = np.argmax(in_sample_sharpes, axis=1).astype(np.int64)
    chosen_out_of_sample = out_of_sample_sharpes[rows, chosen]
    below = (out_of_sample_sharpes < chosen_out_of_sample[:, np.newaxis]).sum(axis=1)
    level = (out_of_sample_sharpes == chosen_out_of_sample[:, np.newaxis]).sum(axis=1)
    relative_rank = (below + (level + 1) / 2) / (out_of_sample_sharpes.shape[1] + 1)
    logits = np.log(relative_rank / (1 - relative_rank))
    return logits, chosen, in_sample_sharpes[rows, chosen], chosen_out_of_sample


def _sharpe_from_sums(
    count: npt.NDArray[np.float64],
    total: npt.NDArray[np.float64],
    total_of_squares: npt.NDArray[np.float64],
) -> npt.NDArray[np.float64]:
    """Per-period Sharpe ratios from the count, sum and sum of squares of returns."""
    mean = total / count
    squared_deviations = total_of_squares - total * mean
    with np.errstate(divide="ignore", invalid="ignore"):
        sharpe = mean / np.sqrt(squared_deviations / (count - 1))
    constant = squared_deviations <= ZERO_VARIANCE_TOLERANCE * total_of_squares
    if constant.any():
        sharpe[constant] = np.copysign(np.inf, mean[constant])
        sharpe[constant & (mean == 0)] = 0.0
    return sharpe


def _checked_block_statistics(block_statistics: npt.ArrayLike) -> npt.NDArray[np.float64]:
    statistics = np.asarray(block_statistics, dtype=np.float64)
    if statistics.ndim != 3 or statistics.shape[2] != 3:
        raise InvalidInputError(
            f"block statistics must have shape (combinations, blocks, 3), got {statistics.shape}: "
            "build them with block_statistics(returns)"
        )
    _even_blocks(statistics.shape[1])
    if not np.isfinite(statistics).all():
        raise InvalidInputError(
            "block statistics hold NaN or infinite values: fill missing returns with 0 first"
        )
    if (statistics[:, :, COUNT] < 1).any():
        raise InvalidInputError("a block holds no returns: use fewer blocks or more bars")
    return statistics


def _even_blocks(blocks: int) -> int:
    blocks = _whole_number("blocks", blocks, minimum=2, fix="CSCV needs at least 2 blocks")
    if blocks % 2:
        raise InvalidInputError(
            f"blocks must be even to split into equal halves, got {blocks}: use {blocks + 1}"
        )
    return blocks


def _whole_number(name: str, value: int, *, minimum: int, fix: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise InvalidInputError(f"{name} must be a whole number, got {value!r}")
    if value < minimum:
        raise InvalidInputError(f"{name} must be at least {minimum}, got {value}: {fix}")
    return int(value)


def _finite_number(name: str, value: float) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InvalidInputError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(number):
        raise InvalidInputError(f"{name} must be a finite number, got {value!r}: drop NaN first")
    return number


def _finite_vector(name: str, values: npt.ArrayLike) -> npt.NDArray[np.float64]:
    vector = np.asarray(values, dtype=np.float64).ravel()
    if not np.isfinite(vector).all():
        raise InvalidInputError(f"{name} holds NaN or infinite values: drop or fill them first")
    return vector
