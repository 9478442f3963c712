"""Your jobs: ``quantdesk.list_jobs``, ``get_job``, ``cancel_job`` and ``watch_jobs``.

Each works as the current database user, with the settings read from the
environment unless given. A job whose submitting process has not beaten its
heartbeat for ``lost_after`` reads as ``lost`` (see :mod:`quantdesk.store.jobs`).
``watch_jobs`` yields your jobs as they change, for a live dashboard (see
:mod:`quantdesk.store.job_events`).
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from quantdesk.config import Settings
from quantdesk.store import jobs as store_jobs
from quantdesk.store.job_events import watch_jobs
from quantdesk.store.jobs import DEFAULT_LOST_AFTER, FINISHED_STATUSES, JOB_STATUSES, JobInfo

__all__ = [
    "DEFAULT_LOST_AFTER",
    "FINISHED_STATUSES",
    "JOB_STATUSES",
    "JobInfo",
    "JobReference",
    "cancel_job",
    "get_job",
    "get_job_result",
    "list_jobs",
    "watch_jobs",
]

JobReference = uuid.UUID | str | JobInfo
"""A job as the API takes it: its id (a UUID or its text) or its listing."""


def list_jobs(
    *,
    limit: int | None = 50,
    lost_after: timedelta = DEFAULT_LOST_AFTER,
    settings: Settings | None = None,
) -> list[JobInfo]:
    """Your jobs, newest first; ``limit`` None lists them all.

    Returns
    -------
    list of JobInfo
        Those whose submitter went silent for ``lost_after`` come back ``lost``.
    """
    return store_jobs.list_jobs(limit=limit, lost_after=lost_after, settings=settings)


def get_job(
    job: JobReference,
    *,
    lost_after: timedelta = DEFAULT_LOST_AFTER,
    settings: Settings | None = None,
) -> JobInfo:
    """Your job ``job`` as it stands now.

    Returns
    -------
    JobInfo
        The job; raises ``JobNotFoundError`` if you have none with that id.
    """
    return store_jobs.get_job(_job_id(job), lost_after=lost_after, settings=settings)


def get_job_result(job: JobReference, *, settings: Settings | None = None) -> dict[str, Any] | None:
    """Your finished sweep's or walk-forward's stored results, as ``result.to_dict()`` gave them.

    Returns
    -------
    dict or None
        None for a job without stored results (unfinished, failed, or a
        backtest, whose run is in ``quantdesk runs``).
    """
    return store_jobs.job_result(_job_id(job), settings=settings)


def cancel_job(job: JobReference, *, settings: Settings | None = None) -> JobInfo:
    """Cancel your queued or running job ``job``.

    The process running it sees the cancellation at its next state change or
    heartbeat and stops its work.

    Returns
    -------
    JobInfo
        The cancelled job; a finished one is refused in one line.
    """
    return store_jobs.cancel_job(_job_id(job), settings=settings)


def _job_id(job: JobReference) -> uuid.UUID | str:
    return job.id if isinstance(job, JobInfo) else job
