"""A run's statistics for a page: the headline figures as tiles, and all of them as a table."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import pandas as pd

from quantdesk.engine import STAT_KEYS
from quantdesk.ui.tiles import tiles_html

__all__ = ["HEADLINE_STATS", "format_stat", "headline_html", "stats_frame"]

HEADLINE_STATS = (
    "total_return_pct",
    "sharpe",
    "sortino",
    "max_drawdown_pct",
    "win_rate_pct",
    "n_trades",
    "profit_factor",
    "final_equity",
)
"""The statistics shown first."""


UNDEFINED = "n/a"


def format_stat(value: Any) -> str:
    """A statistic as short text: numbers to a few digits, undefined values as ``n/a``."""
    if value is None:
        return UNDEFINED
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if not math.isfinite(value):
            return UNDEFINED
        return f"{value:,.2f}" if abs(value) >= 100 else f"{value:.3g}"
    if isinstance(value, pd.Timedelta):
        return UNDEFINED if pd.isna(value) else str(value)
    return str(value)


def headline_html(stats: Mapping[str, Any]) -> str:
    """The headline statistics as a row of tiles, in HTML."""
    return tiles_html(
        [(key.replace("_", " "), format_stat(stats.get(key))) for key in HEADLINE_STATS],
        css_class="quantdesk-stats",
    )


def stats_frame(runs: Mapping[str, Mapping[str, Any]]) -> pd.DataFrame:
    """Every statistic, a row each, with a column of values per run (side by side)."""
    frame = pd.DataFrame(
        {label: [format_stat(stats.get(key)) for key in STAT_KEYS] for label, stats in runs.items()}
    )
    frame.insert(0, "statistic", [key.replace("_", " ") for key in STAT_KEYS])
    return frame
