"""``quantdesk.submit`` and ``quantdesk.sweep``: backtests, sweeps and walk-forwards as jobs.

Each returns a :class:`~quantdesk.compute.jobs.Job` at once, queued on the
cluster quantdesk uses (``QUANTDESK_SCHEDULER``, the ``quantdesk cluster
up`` one, or a local cluster started on demand). With a database configured
the job is a row of the user's ``quantdesk.jobs``, written by this process,
and its completion commits with its results.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

from quantdesk.api.backtest import BacktestRequest, backtest_request
from quantdesk.compute.jobs import Job, JobTracker
from quantdesk.compute.research_jobs import (
    Search,
    chunk_size_for,
    submit_backtest,
    submit_sweep,
    submit_walk_forward,
)
from quantdesk.compute.trackers import shared_tracker
from quantdesk.config import Settings
from quantdesk.core.time_range import TimeLike
from quantdesk.core.timeframe import Timeframe
from quantdesk.engine import BacktestConfig
from quantdesk.errors import InvalidInputError, QuantdeskError, SchedulerUnavailableError
from quantdesk.research import (
    Constraint,
    Objective,
    ParameterSpace,
    SweepResult,
    WalkForwardResult,
    parse_parameter_space,
    walk_forward_windows,
)
from quantdesk.research.objective import as_constraints, as_objective
from quantdesk.store import jobs as store_jobs
from quantdesk.strategies import Strategy

__all__ = [
    "Constraint",
    "Job",
    "Objective",
    "ParameterSpace",
    "SweepResult",
    "WalkForwardResult",
    "submit",
    "sweep",
]


def submit(
    strategy: str | type[Strategy] | Strategy,
    data: pd.DataFrame | str,
    *,
    params: Mapping[str, object] | None = None,
    config: BacktestConfig | None = None,
    timeframe: Timeframe | str | None = None,
    start: TimeLike | None = None,
    end: TimeLike | None = None,
    save: bool = False,
    name: str | None = None,
    client: Any | None = None,
    record: bool | None = None,
    settings: Settings | None = None,
    **options: object,
) -> Job:
    """Backtest a strategy on the cluster as a job.

    Parameters
    ----------
    strategy, data, params, config, timeframe, start, end, **options
        As for :func:`quantdesk.backtest`.
    save
        Save the run, linked to the job, in the transaction that completes it.
    name
        The saved run's label (implies ``save``).
    client
        A ``distributed.Client``; the configured cluster when None.
    record
        Keep the job as a row of your ``quantdesk.jobs``; True when a
        database is configured.
    settings
        quantdesk's settings; read from the environment when None.

    Returns
    -------
    Job
        At once; ``job.result()`` is the :class:`~quantdesk.engine.BacktestResult`.

    Raises
    ------
    SchedulerUnavailableError
        If the cluster cannot be reached; a recorded job is then failed.
    """
    settings = settings if settings is not None else Settings.load()
    request = _request(strategy, data, params, config, options, (timeframe, start, end), settings)
    described = {
        "strategy": request.strategy.name,
        "parameters": dict(request.strategy.parameters),
        "data": request.data_address,
        "bars": len(request.frame),
    }
    tracker = tracker_for("backtest", described, settings, record, client)
    return submit_backtest(
        tracker,
        request.frame,
        request.strategy,
        request.config,
        data_address=request.data_address,
        timeframe=request.timeframe,
        save=save,
        name=name,
        parameters=described,
    )


def sweep(
    strategy: str | type[Strategy] | Strategy,
    data: pd.DataFrame | str,
    parameters: Mapping[str, object] | Iterable[str] | ParameterSpace,
    *,
    objective: Objective | str | None = None,
    constraints: Iterable[Constraint | str] | str | None = None,
    random: int | None = None,
    seed: int | None = None,
    walk_forward: int | None = None,
    anchored: bool = False,
    in_sample_fraction: float | None = None,
    params: Mapping[str, object] | None = None,
    config: BacktestConfig | None = None,
    timeframe: Timeframe | str | None = None,
    start: TimeLike | None = None,
    end: TimeLike | None = None,
    chunk_size: int | None = None,
    client: Any | None = None,
    record: bool | None = None,
    settings: Settings | None = None,
    **options: object,
) -> Job:
    """Sweep a strategy's parameters on the cluster, or walk forward over them, as a job.

    Parameters
    ----------
    strategy, data
        As for :func:`quantdesk.backtest`; the strategy's own values (and
        ``params``) stand for the parameters not swept.
    parameters
        What to sweep: ``{"fast": "5:50:5", "slow": [20, 40]}`` (START:STOP:STEP
        with STOP included, or a list), ``["fast=5:50:5"]``, or a
        :class:`~quantdesk.research.ParameterSpace`.
    objective
        A statistic's name, maximised (``"sharpe"`` when None), or an
        :class:`~quantdesk.research.Objective` to minimise.
    constraints
        ``"KEY OP NUMBER"`` texts the best must meet, e.g. ``"trades >= 10"``.
    random, seed
        Evaluate ``random`` combinations sampled from the grid instead of all.
    walk_forward
        Folds of a walk-forward optimisation instead of one sweep.
    anchored
        Anchored in-sample windows (all starting at the first bar) instead of rolling.
    in_sample_fraction
        Each fold's in-sample share of its bars.
    params, config, timeframe, start, end, **options
        As for :func:`quantdesk.backtest`.
    chunk_size
        Combinations per task; a few chunks per worker thread when None.
    client, record, settings
        As for :func:`submit`.

    Returns
    -------
    Job
        At once; ``job.result()`` is a :class:`~quantdesk.research.SweepResult`
        (every combination, the skipped count, the best, the overfitting
        guards) or, with ``walk_forward``, a
        :class:`~quantdesk.research.WalkForwardResult`.

    Raises
    ------
    InvalidInputError
        For a bad parameter, objective, constraint or window; one line naming the fix.
    SchedulerUnavailableError
        If the cluster cannot be reached; a recorded job is then failed.
    """
    settings = settings if settings is not None else Settings.load()
    request = _request(strategy, data, params, config, options, (timeframe, start, end), settings)
    space = (
        parameters
        if isinstance(parameters, ParameterSpace)
        else parse_parameter_space(request.strategy, parameters)
    )
    if space.strategy is not type(request.strategy):
        raise InvalidInputError(
            f"the space was read for {space.strategy.display_name()}, not "
            f"{type(request.strategy).display_name()}; read it for this strategy"
        )
    chosen_objective = as_objective(objective)
    chosen_constraints = as_constraints(constraints)
    combinations = list(space.grid()) if random is None else space.random(random, seed=seed)
    windows = (
        None
        if walk_forward is None
        else walk_forward_windows(
            request.frame.index,
            walk_forward,
            in_sample_fraction=in_sample_fraction,
            anchored=anchored,
        )
    )
    described = _described(
        request, space, chosen_objective, chosen_constraints, len(combinations), walk_forward
    )
    kind = "sweep" if windows is None else "walk_forward"
    tracker = tracker_for(kind, described, settings, record, client)
    search = Search(
        strategy=request.strategy,
        combinations=combinations,
        parameter_names=space.names,
        config=request.config,
        objective=chosen_objective,
        constraints=chosen_constraints,
        chunk_size=chunk_size
        if chunk_size is not None
        else chunk_size_for(len(combinations), _threads(tracker)),
    )
    if windows is None:
        return submit_sweep(tracker, request.frame, search, parameters=described)
    return submit_walk_forward(tracker, request.frame, search, windows, parameters=described)


def _request(
    strategy: str | type[Strategy] | Strategy,
    data: pd.DataFrame | str,
    params: Mapping[str, object] | None,
    config: BacktestConfig | None,
    options: Mapping[str, object],
    span: tuple[Timeframe | str | None, TimeLike | None, TimeLike | None],
    settings: Settings,
) -> BacktestRequest:
    timeframe, start, end = span
    return backtest_request(
        strategy,
        data,
        params=params,
        config=config,
        keywords=options,
        timeframe=timeframe,
        start=start,
        end=end,
        settings=settings if isinstance(data, str) else None,
    )


def tracker_for(
    kind: str,
    described: dict[str, Any],
    settings: Settings,
    record: bool | None,
    client: Any | None,
) -> JobTracker:
    """The shared tracker; when the cluster is unreachable, a recorded job is failed first."""
    recording = settings.database_url is not None if record is None else record
    try:
        return shared_tracker(settings, record=recording, client=client)
    except SchedulerUnavailableError as error:
        if not recording:
            raise
        try:
            job = store_jobs.create_job(kind, parameters=described, settings=settings)
            store_jobs.update_job(
                job.id, status="failed", error=str(error).splitlines()[0], settings=settings
            )
        except QuantdeskError:
            raise error from None
        raise SchedulerUnavailableError(f"{error}; job {job.id} failed") from None


def _threads(tracker: JobTracker) -> int:
    try:
        return max(1, int(sum(tracker.client.nthreads().values())))
    except (OSError, TimeoutError):
        return 1


def _described(
    request: BacktestRequest,
    space: ParameterSpace,
    objective: Objective,
    constraints: tuple[Constraint, ...],
    combinations: int,
    folds: int | None,
) -> dict[str, Any]:
    return {
        "strategy": request.strategy.name,
        "space": space.to_dict()["parameters"],
        "combinations": combinations,
        "objective": objective.to_dict(),
        "constraints": [str(constraint) for constraint in constraints],
        "walk_forward_folds": folds,
        "data": request.data_address,
        "bars": len(request.frame),
    }
