"""Evaluate a parameter space chunk by chunk on the engine's lean path.

:func:`plan_chunks` cuts the combinations into chunks without listing them
all; :func:`evaluate_chunk` runs one chunk, the unit a cluster maps over, and
:func:`run_sweep` runs every chunk in this process. Within a chunk the prices
are checked once, one equity buffer is reused, and every distinct indicator
call (function, parameters, input) is computed once, through
:func:`~quantdesk.indicators.reusing_indicator_values`; no ``BacktestResult``
is built. Memory grows with the chunk size, not with the grid's. Each row
also carries its return summary (:mod:`quantdesk.research.guards`): a few
numbers per CSCV block, so :func:`sweep_result` can give the deflated Sharpe
ratio of the best combination and the probability of backtest overfitting.

A combination the strategy refuses (its ``validate`` raises
``InvalidInputError``, e.g. ``sma_cross`` with ``fast >= slow``) or that needs
more bars than the data has is skipped: counted, never run.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from quantdesk.engine import (
    STAT_KEYS,
    BacktestConfig,
    PreparedPrices,
    prepare_prices,
    simulate,
    simulation_statistics,
)
from quantdesk.engine.stats import (
    StatValue,
    bar_calendar,
    measured_returns,
    risk_free_per_period,
)
from quantdesk.errors import InvalidInputError, UnknownNameError
from quantdesk.indicators import reusing_indicator_values
from quantdesk.research.guards import ReturnSummary, SweepGuards, return_summary, sweep_guards
from quantdesk.research.objective import (
    Constraint,
    Objective,
    as_constraints,
    as_objective,
    statistic_number,
)
from quantdesk.research.overfitting import BacktestOverfitting, DeflatedSharpeRatio
from quantdesk.research.space import Combination, ParameterSpace
from quantdesk.strategies import Strategy, get_strategy, strategy_class
from quantdesk.strategies.parameters import ParameterValue

DEFAULT_CHUNK_SIZE = 64
"""Combinations per chunk when the caller names none."""

Progress = Callable[[int, int], None]
"""Called after each chunk with the combinations done and the total."""


@dataclass(frozen=True)
class SweepRow:
    """One combination's outcome.

    Attributes
    ----------
    parameters
        The swept parameters' values.
    stats
        The statistics, keyed by :data:`~quantdesk.engine.STAT_KEYS`; empty when skipped.
    skipped
        True when the combination was not run.
    reason
        Why it was skipped, one line; None when it ran.
    returns
        Its return periods reduced for the overfitting guards (see
        :mod:`quantdesk.research.guards`); None when skipped.
    """

    parameters: Combination
    stats: dict[str, StatValue] = field(default_factory=dict)
    skipped: bool = False
    reason: str | None = None
    returns: ReturnSummary | None = None


def plan_chunks(
    space: ParameterSpace | Iterable[Combination], chunk_size: int = DEFAULT_CHUNK_SIZE
) -> Iterator[list[Combination]]:
    """Cut combinations into chunks, lazily.

    Parameters
    ----------
    space
        A space (its grid) or combinations, e.g. from :meth:`ParameterSpace.random`.
    chunk_size
        Combinations per chunk, at least 1; the last chunk may be shorter.

    Yields
    ------
    list of dict
        One chunk's combinations, in order.
    """
    size = _checked_chunk_size(chunk_size)
    combinations = iter(space.grid() if isinstance(space, ParameterSpace) else space)
    while chunk := list(itertools.islice(combinations, size)):
        yield chunk


def evaluate_chunk(
    frame: pd.DataFrame,
    strategy: str | type[Strategy] | Strategy,
    combinations: Iterable[Mapping[str, ParameterValue]],
    config: BacktestConfig | None = None,
    *,
    prices: PreparedPrices | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> list[SweepRow]:
    """Run one chunk of combinations on the lean path.

    Parameters
    ----------
    frame
        A canonical OHLCV frame.
    strategy
        A strategy name, path, class or instance; an instance's own values
        stand for the parameters the combinations leave out.
    combinations
        Parameter values per combination.
    config
        The trading rules; ``BacktestConfig()`` when None.
    prices
        ``prepare_prices(frame)`` when the caller already has it.
    should_stop
        Asked before each combination; once it answers True the chunk ends
        early, with the rows so far (a cancelled job's task frees its worker).

    Returns
    -------
    list of SweepRow
        One per combination run, in order.
    """
    config = BacktestConfig() if config is None else config
    prices = prepare_prices(frame) if prices is None else prices
    if len(prices) != len(frame):
        raise InvalidInputError(
            f"prices hold {len(prices)} bars but the frame {len(frame)}; prepare them from it"
        )
    equity = np.empty(len(prices), dtype=np.float64)
    calendar = bar_calendar(prices.index)
    periods = len(measured_returns(prices.close, calendar))
    risk_free = risk_free_per_period(
        config.risk_free_rate,
        calendar.periods_per_year if config.periods_per_year is None else config.periods_per_year,
    )
    rows: list[SweepRow] = []
    with reusing_indicator_values():
        for combination in combinations:
            if should_stop is not None and should_stop():
                break
            parameters = dict(combination)
            built = _built_strategy(strategy, parameters, frame)
            if isinstance(built, str):
                rows.append(SweepRow(parameters=parameters, skipped=True, reason=built))
                continue
            run = simulate(prices, built.signals(frame), config, equity_out=equity)
            returns = np.zeros(periods, dtype=np.float64)
            measured = measured_returns(run.equity, calendar)
            returns[: len(measured)] = measured
            rows.append(
                SweepRow(
                    parameters=parameters,
                    stats=simulation_statistics(prices, run, config, calendar=calendar),
                    returns=return_summary(returns - risk_free),
                )
            )
    return rows


@dataclass(frozen=True, eq=False)
class SweepResult:
    """Every combination's statistics, the skipped count and the best combination.

    Attributes
    ----------
    rows
        One row per combination in the order run: the parameter columns, a
        ``skipped`` column, then the :data:`~quantdesk.engine.STAT_KEYS`
        columns (NaN for skipped rows).
    parameter_names
        The parameter columns.
    skipped
        How many combinations the strategy refused.
    objective
        What the best combination maximises or minimises.
    constraints
        What it must meet.
    best
        The best combination's row number in :attr:`rows`, or None when no
        combination ran and met the constraints.
    deflated_sharpe
        The best combination's deflated Sharpe ratio given every combination
        that ran as a trial (Sharpe ratios per period, see
        :mod:`quantdesk.research.guards`), or None.
    overfitting
        The sweep's probability of backtest overfitting by CSCV over 16
        blocks of return periods, or None.
    deflated_sharpe_reason, overfitting_reason
        Why each guard is None, one line; None when it was computed.
    """

    rows: pd.DataFrame
    parameter_names: tuple[str, ...]
    skipped: int
    objective: Objective
    constraints: tuple[Constraint, ...]
    best: int | None
    deflated_sharpe: DeflatedSharpeRatio | None = None
    overfitting: BacktestOverfitting | None = None
    deflated_sharpe_reason: str | None = "not computed"
    overfitting_reason: str | None = "not computed"

    @property
    def best_parameters(self) -> Combination | None:
        """The best combination's parameters, or None."""
        if self.best is None:
            return None
        row = self.rows.iloc[self.best]
        return {name: _plain(row[name]) for name in self.parameter_names}

    @property
    def best_stats(self) -> dict[str, StatValue] | None:
        """The best combination's statistics, or None."""
        if self.best is None:
            return None
        row = self.rows.iloc[self.best]
        return {key: _plain(row[key]) for key in STAT_KEYS}

    def to_dict(self) -> dict[str, Any]:
        """The result as JSON-ready data.

        Returns
        -------
        dict
            ``objective``, ``constraints``, ``combinations`` (each with
            ``parameters``, ``skipped`` and ``stats``, durations as ISO
            text and undefined values as None), ``skipped``, ``best``
            (``parameters`` and ``stats``, or None), ``deflated_sharpe``
            (its fields, or None), ``overfitting`` (``probability``,
            ``probability_of_loss``, ``splits``, ``blocks`` and
            ``combinations``, or None) and the two reasons.
        """
        combinations = [
            {
                "parameters": {name: _plain(row[name]) for name in self.parameter_names},
                "skipped": bool(row["skipped"]),
                "stats": None if row["skipped"] else json_stats(row[list(STAT_KEYS)]),
            }
            for _, row in self.rows.iterrows()
        ]
        best_stats = self.best_stats
        return {
            "objective": self.objective.to_dict(),
            "constraints": [str(constraint) for constraint in self.constraints],
            "combinations": combinations,
            "skipped": self.skipped,
            "best": None
            if best_stats is None
            else {"parameters": self.best_parameters, "stats": json_stats(best_stats)},
            "deflated_sharpe": None
            if self.deflated_sharpe is None
            else json_stats(dataclasses.asdict(self.deflated_sharpe)),
            "deflated_sharpe_reason": self.deflated_sharpe_reason,
            "overfitting": None
            if self.overfitting is None
            else json_stats(
                {
                    "probability": self.overfitting.probability,
                    "probability_of_loss": self.overfitting.probability_of_loss,
                    "splits": self.overfitting.splits,
                    "blocks": self.overfitting.blocks,
                    "combinations": self.overfitting.combinations,
                }
            ),
            "overfitting_reason": self.overfitting_reason,
        }


def run_sweep(
    frame: pd.DataFrame,
    strategy: str | type[Strategy] | Strategy,
    space: ParameterSpace | Sequence[Combination],
    config: BacktestConfig | None = None,
    objective: Objective | str | None = None,
    constraints: Iterable[Constraint | str] | str | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    on_progress: Progress | None = None,
) -> SweepResult:
    """Sweep a strategy's parameters in this process, chunk by chunk.

    Parameters
    ----------
    frame
        A canonical OHLCV frame.
    strategy
        A strategy name, path, class or instance.
    space
        A space (its whole grid) or combinations, e.g. ``space.random(50, seed=1)``.
    config
        The trading rules; ``BacktestConfig()`` when None.
    objective
        A statistic's name (maximised), an :class:`Objective`, or None for ``sharpe``.
    constraints
        ``KEY OP NUMBER`` texts or :class:`Constraint` objects the best must meet.
    chunk_size
        Combinations per chunk.
    on_progress
        Called after each chunk with the combinations done and the total.

    Returns
    -------
    SweepResult
        Every combination's statistics, the skipped count and the best.
    """
    chosen_objective = as_objective(objective)
    chosen_constraints = as_constraints(constraints)
    if isinstance(space, ParameterSpace):
        if strategy_class(strategy) is not space.strategy:
            raise InvalidInputError(
                f"the space was read for {space.strategy.display_name()}, not "
                f"{strategy_class(strategy).display_name()}; read it for this strategy"
            )
        names, total = space.names, space.size
    else:
        names, total = (tuple(space[0]) if space else ()), len(space)
    _checked_chunk_size(chunk_size)
    prices = prepare_prices(frame)
    rows: list[SweepRow] = []
    for chunk in plan_chunks(space, chunk_size):
        rows.extend(evaluate_chunk(frame, strategy, chunk, config, prices=prices))
        if on_progress is not None:
            on_progress(len(rows), total)
    return sweep_result(rows, names, chosen_objective, chosen_constraints)


def sweep_result(
    rows: Sequence[SweepRow],
    parameter_names: Sequence[str],
    objective: Objective,
    constraints: Sequence[Constraint] = (),
) -> SweepResult:
    """Gather evaluated rows, from this process or from workers, into a result.

    Parameters
    ----------
    rows
        Every combination's row, in grid order.
    parameter_names
        The swept parameters.
    objective, constraints
        What the best maximises or minimises, and must meet.

    Returns
    -------
    SweepResult
        The table, the skipped count and the best row (the first of equals).
    """
    taken = sorted(set(parameter_names) & {"skipped", *STAT_KEYS})
    if taken:
        raise InvalidInputError(
            f"parameter {taken[0]!r} has the name of a sweep result column; rename the parameter"
        )
    best: int | None = None
    best_score = -np.inf
    for number, row in enumerate(rows):
        if row.skipped or not all(constraint.is_met(row.stats) for constraint in constraints):
            continue
        score = objective.score(row.stats)
        if best is None or score > best_score:
            best, best_score = number, score
    table = pd.DataFrame(
        {
            **{
                name: pd.Series([row.parameters.get(name) for row in rows], dtype=object)
                for name in parameter_names
            },
            "skipped": np.array([row.skipped for row in rows], dtype=bool),
            **{key: _stat_column([row.stats.get(key) for row in rows]) for key in STAT_KEYS},
        }
    )
    for name in parameter_names:
        table[name] = table[name].infer_objects()
    guards = _guards(rows, best)
    return SweepResult(
        rows=table,
        parameter_names=tuple(parameter_names),
        skipped=sum(row.skipped for row in rows),
        objective=objective,
        constraints=tuple(constraints),
        best=best,
        deflated_sharpe=guards.deflated_sharpe,
        overfitting=guards.overfitting,
        deflated_sharpe_reason=guards.deflated_sharpe_reason,
        overfitting_reason=guards.overfitting_reason,
    )


def _guards(rows: Sequence[SweepRow], best: int | None) -> SweepGuards:
    """The overfitting guards over the rows that ran, every one a trial."""
    ran = [number for number, row in enumerate(rows) if not row.skipped]
    summaries = [rows[number].returns for number in ran]
    if any(summary is None for summary in summaries):
        reason = "some rows carry no return summary; evaluate them with evaluate_chunk"
        return SweepGuards(None, reason, None, reason)
    return sweep_guards(
        [summary for summary in summaries if summary is not None],
        None if best is None else ran.index(best),
    )


def json_stats(stats: Mapping[str, object] | pd.Series) -> dict[str, Any]:
    """Statistics as JSON-ready values: durations as ISO text, NaN and infinities as None."""
    ready: dict[str, Any] = {}
    for key, value in stats.items():
        plain = _plain(value)
        if plain is pd.NA or plain is pd.NaT:
            ready[str(key)] = None
        elif isinstance(plain, pd.Timedelta):
            ready[str(key)] = None if pd.isna(plain) else plain.isoformat()
        elif isinstance(plain, float) and not np.isfinite(plain):
            ready[str(key)] = None
        else:
            ready[str(key)] = plain
    return ready


def _built_strategy(
    strategy: str | type[Strategy] | Strategy, parameters: Combination, frame: pd.DataFrame
) -> Strategy | str:
    """The strategy for one combination, or why it is skipped."""
    try:
        built = get_strategy(strategy, **parameters)
        built.check_frame(frame)
    except UnknownNameError:
        raise
    except InvalidInputError as error:
        return str(error)
    return built


def _stat_column(values: list[object]) -> pd.Series:
    if any(isinstance(value, pd.Timedelta) for value in values):
        return pd.Series(
            [pd.NaT if value is None else value for value in values], dtype="timedelta64[ns]"
        )
    if all(value is None or isinstance(value, int) for value in values):
        return pd.Series(values, dtype="Int64")
    return pd.Series(
        [np.nan if value is None else statistic_number(value) for value in values],
        dtype=np.float64,
    )


def _plain(value: object) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    return value


def _checked_chunk_size(chunk_size: int) -> int:
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1:
        raise InvalidInputError(
            f"chunk_size must be a whole number of at least 1, got {chunk_size!r}"
        )
    return chunk_size
