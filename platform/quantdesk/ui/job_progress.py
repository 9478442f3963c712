"""A job's live progress on a page: a bar and a line of status, refreshed once a second.

The job is the :class:`~quantdesk.compute.jobs.Job` this process submitted,
so following it reads memory, not the database; the page looks at it once a
second (:data:`REFRESH_SECONDS`), never faster.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import panel as pn

from quantdesk.compute.jobs import Job

__all__ = ["FINISHED", "REFRESH_SECONDS", "JobProgress"]

REFRESH_SECONDS = 1.0
"""How often a page looks at a job's state."""

FINISHED = frozenset({"completed", "failed", "cancelled"})
"""The states a job ends in."""


class JobProgress:
    """A progress bar and a status line for one job at a time; hidden until a job starts."""

    def __init__(self) -> None:
        self.bar = pn.indicators.Progress(value=0, max=100, width=300, margin=(12, 10))
        self.status = pn.pane.Str("", margin=(5, 10))
        self.layout = pn.Row(self.bar, self.status, visible=False)

    def show(self, job: Job) -> None:
        """Draw ``job``'s state as it is now."""
        self.layout.visible = True
        percent = round(job.progress * 100)
        self.bar.value = percent
        self.bar.bar_color = (
            "danger"
            if job.status == "failed"
            else "warning"
            if job.status == "cancelled"
            else "primary"
        )
        waiting = f", {job.message}" if job.message and job.status == "queued" else ""
        self.status.object = f"{job.kind} job {str(job.id)[:8]}: {job.status}, {percent}%{waiting}"

    async def follow(self, job: Job, on_change: Callable[[Job], None] | None = None) -> Any:
        """Redraw ``job`` once a second until it ends, then return its result.

        Parameters
        ----------
        job
            The job to follow.
        on_change
            Called with the job after each redraw, e.g. to draw partial results.

        Returns
        -------
        Any
            ``job.result()``; a failed or cancelled job raises its one-line error.
        """
        self.show(job)
        while job.status not in FINISHED:
            await asyncio.sleep(REFRESH_SECONDS)
            self.show(job)
            if on_change is not None:
                on_change(job)
        return await asyncio.to_thread(job.result)
