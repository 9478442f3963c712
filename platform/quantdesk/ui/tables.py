"""Listings as tables: runs, jobs and the like turned into frames, shown read-only.

Only the fields meant for display become columns: a job's parameters are
summarised, never shown raw, and nothing secret is ever among them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import pandas as pd
import panel as pn

from quantdesk.store.jobs import JobInfo
from quantdesk.store.runs import RunInfo

__all__ = ["jobs_frame", "read_only_table", "runs_frame", "when"]

RUN_COLUMNS = ("run", "name", "strategy", "symbol", "timeframe", "bars", "trades", "final equity")
JOB_COLUMNS = ("job", "kind", "status", "progress", "what", "created", "error")


def read_only_table(
    frame: pd.DataFrame, *, page_size: int = 10, **options: Any
) -> pn.pane.DataFrame:
    """A plain HTML table of the first ``page_size`` rows, without the frame's index.

    Panel 1.9's Tabulator can spin the browser for ever resizing itself when it is
    refilled on a shown page, so listings are plain tables; set ``.object`` to refill.

    Parameters
    ----------
    frame
        What to show.
    page_size
        Rows shown at most.
    **options
        Further options of ``panel.pane.DataFrame`` (``css_classes``...).

    Returns
    -------
    panel.pane.DataFrame
        The table.
    """
    return pn.pane.DataFrame(
        frame,
        index=False,
        max_rows=page_size,
        escape=True,
        sizing_mode="stretch_width",
        stylesheets=[_TABLE_STYLE],
        **options,
    )


_TABLE_STYLE = """
table { border-collapse: collapse; font-size: 0.9em; width: 100%; }
th, td { text-align: left !important; }
th { border-bottom: 2px solid #ccc; padding: 4px 8px; }
td { border-bottom: 1px solid #eee; padding: 3px 8px; }
"""


def when(moment: datetime | pd.Timestamp | None) -> str:
    """A time as ``YYYY-MM-DD HH:MM`` in UTC, or an empty text."""
    if moment is None or pd.isna(moment):
        return ""
    return pd.Timestamp(moment).tz_convert("UTC").strftime("%Y-%m-%d %H:%M")


def runs_frame(runs: Iterable[RunInfo]) -> pd.DataFrame:
    """Saved runs, one row each, their short id first."""
    rows = [
        (
            str(run.id)[:8],
            run.name or "",
            run.strategy or "",
            run.symbol or "",
            run.timeframe or "",
            run.bar_count,
            run.trade_count,
            None if run.final_equity is None else round(run.final_equity, 2),
        )
        for run in runs
    ]
    return pd.DataFrame(rows, columns=list(RUN_COLUMNS))


def jobs_frame(jobs: Sequence[JobInfo], owners: Sequence[str] | None = None) -> pd.DataFrame:
    """Jobs, one row each, with progress in percent and what each one runs.

    Parameters
    ----------
    jobs
        The jobs.
    owners
        Each job's owner, for a column in front; none when None.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`JOB_COLUMNS`, after ``owner`` when given.
    """
    rows = [
        (
            str(job.id)[:8],
            job.kind,
            job.status,
            f"{(job.progress or 0.0) * 100.0:.0f} %",
            _job_summary(job.parameters),
            when(job.created_at),
            (job.error or "").splitlines()[0] if job.error else "",
        )
        for job in jobs
    ]
    frame = pd.DataFrame(rows, columns=list(JOB_COLUMNS))
    if owners is not None:
        frame.insert(0, "owner", pd.Series(list(owners), dtype=object))
    return frame


def _job_summary(parameters: dict[str, Any]) -> str:
    strategy = parameters.get("strategy") or parameters.get("feature_set") or ""
    data = parameters.get("data") or ""
    bars = parameters.get("bars")
    combinations = parameters.get("combinations")
    parts = [str(strategy), str(data)]
    if combinations:
        parts.append(f"{combinations} combinations")
    if bars:
        parts.append(f"{bars} bars")
    return " · ".join(part for part in parts if part)
