"""Saved backtest runs: ``quantdesk.save_run``, ``list_runs``, ``load_run`` and ``remove_run``.

Each works as the current database user (``QUANTDESK_DATABASE_URL``, or the
local user ``quantdesk up`` set up), with the settings read from the
environment unless given. A loaded run is a :class:`SavedRun`: a
:class:`~quantdesk.BacktestResult` that plots, with its listing as
``run_info``. ``result.save()`` on a result is :func:`save_run`.
"""

from __future__ import annotations

import uuid

from quantdesk.config import Settings
from quantdesk.engine import BacktestResult
from quantdesk.errors import InvalidInputError
from quantdesk.store import runs as store_runs
from quantdesk.store.runs import DEFAULT_LIST_LIMIT, RunInfo, SavedRun

__all__ = [
    "DEFAULT_LIST_LIMIT",
    "RunInfo",
    "RunReference",
    "SavedRun",
    "list_runs",
    "load_run",
    "remove_run",
    "save_run",
]

RunReference = uuid.UUID | str | RunInfo | SavedRun
"""A saved run as the API takes it: its id (a UUID or its text), its listing, or the run."""


def save_run(
    result: BacktestResult, *, name: str | None = None, settings: Settings | None = None
) -> RunInfo:
    """Keep ``result`` (a backtest's, or a loaded run to save anew) as a run of yours.

    ``name`` labels it (at most 200 characters); ``settings`` are read from
    the environment when None.

    Returns
    -------
    RunInfo
        The new run's listing and id.
    """
    return store_runs.save_run(result, name=name, settings=settings)


def list_runs(
    *, limit: int | None = DEFAULT_LIST_LIMIT, settings: Settings | None = None
) -> list[RunInfo]:
    """Your saved runs, newest first: ``limit`` of them, or all for None.

    Returns
    -------
    list of RunInfo
        One listing a run; ``settings`` are read from the environment when None.
    """
    return store_runs.list_runs(limit=limit, settings=settings)


def load_run(run: RunReference, *, settings: Settings | None = None) -> SavedRun:
    """One of your saved runs, as the result it was.

    Parameters
    ----------
    run
        Its id (a UUID or its text), its listing from :func:`list_runs`, or
        the run itself (loaded afresh).
    settings
        Read from the environment when None.

    Returns
    -------
    SavedRun
        A :class:`~quantdesk.BacktestResult` equal to the one saved, with
        ``run.id`` and ``run.run_info``.

    Raises
    ------
    RunNotFoundError
        If you have no such run (missing or someone else's).
    """
    return store_runs.load_run(run_id_of(run), settings=settings)


def remove_run(run: RunReference, *, settings: Settings | None = None) -> uuid.UUID:
    """Delete ``run`` (named as :func:`load_run` takes it) with its equity and trades.

    Returns
    -------
    uuid.UUID
        Its id. ``settings`` are read from the environment when None; a run
        you do not have raises :class:`~quantdesk.errors.RunNotFoundError`.
    """
    return store_runs.remove_run(run_id_of(run), settings=settings)


def run_id_of(run: RunReference) -> uuid.UUID | str:
    """The id a run reference names, as given or taken from a listing or run.

    Parameters
    ----------
    run
        A run id (a UUID or its text), a :class:`RunInfo` or a :class:`SavedRun`.

    Returns
    -------
    uuid.UUID or str
        The id; text is checked when the run is looked up.

    Raises
    ------
    InvalidInputError
        If ``run`` is none of these.
    """
    if isinstance(run, RunInfo | SavedRun):
        return run.id
    if isinstance(run, uuid.UUID | str):
        return run
    raise InvalidInputError(
        f"a run is named by its id, its RunInfo or the loaded run, not {type(run).__name__}; "
        "'quantdesk runs list' shows the ids of your runs"
    )
