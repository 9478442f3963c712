"""A run's statistics for a page: the headline figures as tiles, and all of them as a table."""

from __future__ import annotations

import html
import math
from collections.abc import Mapping
from typing import Any

import pandas as pd

from quantdesk.engine import STAT_KEYS

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
    tiles = "".join(
        '<div class="quantdesk-stat" style="padding: 6px 12px; border: 1px solid #ddd; '
        'border-radius: 6px; min-width: 90px">'
        f'<div style="color: #666; font-size: 0.8em">{html.escape(key.replace("_", " "))}</div>'
        f'<div style="font-size: 1.15em">{html.escape(format_stat(stats.get(key)))}</div></div>'
        for key in HEADLINE_STATS
    )
    return f'<div style="display: flex; flex-wrap: wrap; gap: 8px">{tiles}</div>'


def stats_frame(runs: Mapping[str, Mapping[str, Any]]) -> pd.DataFrame:
    """Every statistic, a row each, with a column of values per run (side by side)."""
    frame = pd.DataFrame(
        {label: [format_stat(stats.get(key)) for key in STAT_KEYS] for label, stats in runs.items()}
    )
    frame.insert(0, "statistic", [key.replace("_", " ") for key in STAT_KEYS])
    return frame
