"""Backtests, sweeps and walk-forwards as jobs: the tasks the workers run and how they combine.

The frame goes to the workers once, scattered to every worker, and each task
names it instead of carrying a copy; each worker checks its prices once and
keeps them while the frame lives. A sweep's
combinations are cut into chunks, a few per worker thread so that a slow
chunk or a lost worker does not hold the rest back; each chunk is one task of
:func:`~quantdesk.research.evaluate_chunk` and comes back as its compact rows.
A walk-forward is one task per fold. Everything the tasks receive is data:
the strategy, its parameters and the trading rules, never credentials.

With the job recorded, its completion commits with its results: a backtest's
run (``write_run``, linked to the job) or a sweep's or walk-forward's summary
in ``quantdesk.job_results``.
"""

from __future__ import annotations

import math
import threading
import uuid
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
from sqlalchemy import Connection

from quantdesk.compute.jobs import Job, JobTracker, Task
from quantdesk.compute.stopping import stop_requested
from quantdesk.engine import (
    BacktestConfig,
    BacktestResult,
    PreparedPrices,
    prepare_prices,
    run_backtest,
)
from quantdesk.errors import InvalidInputError
from quantdesk.research import (
    Combination,
    Constraint,
    Objective,
    SweepResult,
    SweepRow,
    WalkForwardFold,
    WalkForwardResult,
    WalkForwardWindow,
    evaluate_chunk,
    plan_chunks,
    stitched_walk_forward,
    sweep_result,
    walk_forward_fold,
)
from quantdesk.store.jobs import write_job_result
from quantdesk.store.runs import write_run
from quantdesk.strategies import Strategy

__all__ = [
    "Search",
    "chunk_size_for",
    "submit_backtest",
    "submit_sweep",
    "submit_walk_forward",
]

CHUNKS_PER_THREAD = 4
"""Chunks a sweep is cut into per worker thread, so the work balances and a lost chunk is small."""
LARGEST_CHUNK = 64
"""The most combinations one chunk holds, so a chunk's memory stays small."""


def chunk_size_for(combinations: int, threads: int) -> int:
    """Combinations per chunk for a sweep on ``threads`` worker threads.

    Parameters
    ----------
    combinations
        How many the sweep evaluates.
    threads
        The cluster's worker threads.

    Returns
    -------
    int
        Between 1 and :data:`LARGEST_CHUNK`, giving about :data:`CHUNKS_PER_THREAD`
        chunks per thread.
    """
    wanted = math.ceil(combinations / max(1, threads * CHUNKS_PER_THREAD))
    return max(1, min(LARGEST_CHUNK, wanted))


def submit_backtest(
    tracker: JobTracker,
    frame: pd.DataFrame,
    strategy: Strategy,
    config: BacktestConfig,
    *,
    data_address: str | None = None,
    timeframe: str | None = None,
    save: bool = False,
    name: str | None = None,
    parameters: dict[str, Any] | None = None,
) -> Job:
    """Run one backtest on the cluster as a job.

    Parameters
    ----------
    tracker
        Follows the job.
    frame
        A canonical OHLCV frame.
    strategy
        The strategy with its parameters.
    config
        The trading rules.
    data_address, timeframe
        Where the bars came from, kept with the result.
    save
        Save the run, linked to the job, in the transaction that completes it
        (needs a recording tracker).
    name
        The saved run's label (implies ``save``).
    parameters
        What the job row keeps of the request.

    Returns
    -------
    Job
        At once; its result is the :class:`~quantdesk.engine.BacktestResult`.
    """
    job_id = uuid.uuid4()
    saving = save or name is not None
    if saving and not tracker.records:
        raise InvalidInputError(
            "saving the run needs a database; set QUANTDESK_DATABASE_URL or drop save/name"
        )

    def write(connection: Connection, result: BacktestResult) -> None:
        write_run(connection, result, name=name, job_id=job_id)

    return tracker.submit(
        "backtest",
        [(_backtest_task, (frame, strategy, config, data_address, timeframe))],
        combine=only_result,
        write_results=write if saving else None,
        parameters=parameters,
        job_id=job_id,
    )


@dataclass(frozen=True)
class Search:
    """What a sweep or walk-forward evaluates, and how it picks the best.

    Attributes
    ----------
    strategy
        The strategy swept; an instance's values stand for the parameters not swept.
    combinations
        Every combination, in the order the result lists them.
    parameter_names
        The swept parameters.
    config
        The trading rules.
    objective, constraints
        What the best maximises or minimises, and must meet.
    chunk_size
        Combinations per task (per chunk of each fold's sweep in a walk-forward).
    """

    strategy: Strategy | type[Strategy] | str
    combinations: Sequence[Combination]
    parameter_names: tuple[str, ...]
    config: BacktestConfig
    objective: Objective
    constraints: tuple[Constraint, ...]
    chunk_size: int

    def __post_init__(self) -> None:
        if not self.combinations:
            raise InvalidInputError("the sweep has no combinations; give each parameter a value")


def submit_sweep(
    tracker: JobTracker,
    frame: pd.DataFrame,
    search: Search,
    *,
    parameters: dict[str, Any] | None = None,
) -> Job:
    """Evaluate a search's combinations on the cluster in chunks, as one job.

    Parameters
    ----------
    tracker
        Follows the job.
    frame
        A canonical OHLCV frame; scattered to the workers once.
    search
        What to evaluate.
    parameters
        What the job row keeps of the request.

    Returns
    -------
    Job
        At once; its result is the :class:`~quantdesk.research.SweepResult`.
    """
    shared_frame = tracker.share(frame)
    tasks: list[Task] = [
        (_chunk_task, (shared_frame, search.strategy, chunk, search.config))
        for chunk in plan_chunks(search.combinations, search.chunk_size)
    ]

    def combine(chunks: list[list[SweepRow]]) -> SweepResult:
        rows = [row for chunk in chunks for row in chunk]
        return sweep_result(rows, search.parameter_names, search.objective, search.constraints)

    return _submit_with_summary(tracker, "sweep", tasks, combine, parameters)


def submit_walk_forward(
    tracker: JobTracker,
    frame: pd.DataFrame,
    search: Search,
    windows: Sequence[WalkForwardWindow],
    *,
    parameters: dict[str, Any] | None = None,
) -> Job:
    """Run a walk-forward on the cluster, one task per fold, as one job.

    Parameters
    ----------
    tracker
        Follows the job.
    frame
        A canonical OHLCV frame; scattered to the workers once.
    search
        What every fold sweeps in its in-sample bars.
    windows
        The folds, from :func:`~quantdesk.research.walk_forward_windows`.
    parameters
        What the job row keeps of the request.

    Returns
    -------
    Job
        At once; its result is the :class:`~quantdesk.research.WalkForwardResult`.
    """
    shared_frame = tracker.share(frame)
    combinations = list(search.combinations)
    tasks: list[Task] = [
        (
            walk_forward_fold,
            (
                shared_frame,
                search.strategy,
                combinations,
                window,
                search.config,
                search.objective,
                search.constraints,
                search.chunk_size,
            ),
        )
        for window in windows
    ]
    index = frame.index

    def combine(folds: list[tuple[WalkForwardFold, Any]]) -> WalkForwardResult:
        return stitched_walk_forward(
            index, folds, search.config, search.objective, search.constraints
        )

    return _submit_with_summary(tracker, "walk_forward", tasks, combine, parameters)


def _submit_with_summary(
    tracker: JobTracker,
    kind: str,
    tasks: list[Task],
    combine: Callable[[list[Any]], SweepResult | WalkForwardResult],
    parameters: dict[str, Any] | None,
) -> Job:
    """Submit a job whose completion commits its result's summary to ``job_results``."""
    job_id = uuid.uuid4()

    def write(connection: Connection, result: SweepResult | WalkForwardResult) -> None:
        write_job_result(connection, job_id, result.to_dict())

    return tracker.submit(
        kind, tasks, combine=combine, write_results=write, parameters=parameters, job_id=job_id
    )


_prepared: dict[int, tuple[weakref.ref[pd.DataFrame], PreparedPrices]] = {}
_prepared_lock = threading.Lock()


def _prices_for(frame: pd.DataFrame) -> PreparedPrices:
    """The frame's checked prices, prepared once per worker for as long as the frame lives."""
    key = id(frame)
    with _prepared_lock:
        found = _prepared.get(key)
        if found is not None and found[0]() is frame:
            return found[1]
    prices = prepare_prices(frame)

    def forget(_: object) -> None:
        with _prepared_lock:
            _prepared.pop(key, None)

    with _prepared_lock:
        _prepared[key] = (weakref.ref(frame, forget), prices)
    return prices


def _chunk_task(
    frame: pd.DataFrame,
    strategy: Strategy | type[Strategy] | str,
    combinations: list[Combination],
    config: BacktestConfig,
) -> list[SweepRow]:
    return evaluate_chunk(
        frame,
        strategy,
        combinations,
        config,
        prices=_prices_for(frame),
        should_stop=stop_requested,
    )


def _backtest_task(
    frame: pd.DataFrame,
    strategy: Strategy,
    config: BacktestConfig,
    data_address: str | None,
    timeframe: str | None,
) -> BacktestResult:
    return run_backtest(
        frame,
        strategy.signals(frame),
        config,
        parameters=strategy.parameters,
        strategy_name=strategy.name,
        data_address=data_address,
        timeframe=timeframe,
    )


def only_result(results: list[Any]) -> Any:
    """The one result of a single-task job (its ``combine``)."""
    (result,) = results
    return result
