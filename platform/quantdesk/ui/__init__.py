"""Dashboards: Panel components over the library API, one page a concern.

Each page is a function returning a Panel layout that works as the viewer:
the settings come from the environment of the process serving it (in the
hub, the person's own server, so the database role is theirs). The apps in
``dashboards/`` only build a page and mark it servable; a notebook can show
the same page by leaving it as a cell's value.

========================  =========================================================
:func:`overview_page`     recent runs, running jobs with live progress, the account
:func:`backtests_page`    run a strategy as a job; charts, trades, stats; compare runs
:func:`sweeps_page`       objective heatmap filling in, overfitting guards, walk-forward
:func:`predictions_page`  models, latest probabilities, feature importance, auto-train
:func:`keys_page`         add, list and delete API keys (hints only); the audit log
:func:`system_page`       admins only: host, cluster, every user's jobs
========================  =========================================================
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_PAGES: dict[str, str] = {
    "overview_page": "quantdesk.ui.overview",
    "backtests_page": "quantdesk.ui.backtests",
    "sweeps_page": "quantdesk.ui.sweeps",
    "predictions_page": "quantdesk.ui.predictions",
    "keys_page": "quantdesk.ui.keys",
    "system_page": "quantdesk.ui.system",
}

__all__ = [
    "backtests_page",
    "keys_page",
    "overview_page",
    "predictions_page",
    "sweeps_page",
    "system_page",
]

if TYPE_CHECKING:
    from quantdesk.ui.backtests import backtests_page
    from quantdesk.ui.keys import keys_page
    from quantdesk.ui.overview import overview_page
    from quantdesk.ui.predictions import predictions_page
    from quantdesk.ui.sweeps import sweeps_page
    from quantdesk.ui.system import system_page


def __getattr__(name: str) -> Any:
    module_name = _PAGES.get(name)
    if module_name is None:
        raise AttributeError(f"module 'quantdesk.ui' has no attribute {name!r}")
    return getattr(importlib.import_module(module_name), name)
