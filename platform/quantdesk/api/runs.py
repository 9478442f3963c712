"""Saved backtest runs: ``quantdesk.save_run``, ``list_runs``, ``load_run`` and ``remove_run``.

The workflows are the store's own (:mod:`quantdesk.store.runs`); this module
is where the library's API and the command line reach them.
``result.save()`` on a :class:`~quantdesk.BacktestResult` is ``save_run``.
"""

from __future__ import annotations

from quantdesk.store.runs import (
    DEFAULT_LIST_LIMIT,
    RunInfo,
    SavedRun,
    list_runs,
    load_run,
    remove_run,
    save_run,
)

__all__ = [
    "DEFAULT_LIST_LIMIT",
    "RunInfo",
    "SavedRun",
    "list_runs",
    "load_run",
    "remove_run",
    "save_run",
]
