"""Jobs: the current user's background work, as rows only its submitter writes.

A job is one row of ``quantdesk.jobs`` under row-level security. The process
that submitted it writes every change, with its own connection, one
transaction per change, and beats its ``heartbeat_at`` while the job is
unfinished; the workers that do the work hold no database credentials. The
database checks the lifecycle (see migration ``0006``): ``queued`` ->
``running`` -> ``completed`` | ``failed`` | ``cancelled``, or ``lost``.

A job whose submitter stopped beating for ``lost_after`` is shown, and from
then on stored, as ``lost``: a dead kernel's job never reads as running
forever. Ids are chosen here, before the insert, so retrying a submission
whose commit went unanswered finds the row instead of adding a second one.
Every change notifies channel :data:`NOTIFY_CHANNEL` with the job's id only.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, func, select, update
from sqlalchemy.dialects.postgresql import insert as upsert

from quantdesk.config import Settings
from quantdesk.errors import InvalidInputError, JobNotFoundError
from quantdesk.store.connection import translated_errors, user_engine
from quantdesk.store.identifiers import checked_id
from quantdesk.store.models import Job, JobResult

__all__ = [
    "DEFAULT_LOST_AFTER",
    "FINISHED_STATUSES",
    "JOB_STATUSES",
    "NOTIFY_CHANNEL",
    "JobInfo",
    "cancel_job",
    "complete_job",
    "create_job",
    "get_job",
    "heartbeat_jobs",
    "job_result",
    "job_statuses",
    "list_jobs",
    "update_job",
    "write_job_result",
]

JOB_STATUSES: tuple[str, ...] = ("queued", "running", "completed", "failed", "cancelled", "lost")
FINISHED_STATUSES = frozenset({"completed", "failed", "cancelled", "lost"})
NOTIFY_CHANNEL = "quantdesk_jobs"
DEFAULT_LOST_AFTER = timedelta(minutes=2)
"""How long a job's submitter may go without a heartbeat before the job is lost."""
LOST_ERROR = "the process that submitted it stopped sending heartbeats"
_KIND_LENGTH_LIMIT = 100
_ERROR_LENGTH_LIMIT = 1000
_COLUMNS = (
    Job.id,
    Job.kind,
    Job.status,
    Job.progress,
    Job.message,
    Job.error,
    Job.parameters,
    Job.created_at,
    Job.started_at,
    Job.finished_at,
    Job.heartbeat_at,
)


@dataclass(frozen=True)
class JobInfo:
    """One job as stored.

    Attributes
    ----------
    id, kind
        The job's UUID and what it does (``"backtest"``, ``"sweep"``, ...).
    status
        One of :data:`JOB_STATUSES`.
    progress
        0 to 1, or None before any is reported.
    message
        What it is doing or waiting for, e.g. why it is still queued.
    error
        One line saying why it failed or was lost.
    parameters
        What it was asked to do, as JSON.
    created_at, started_at, finished_at, heartbeat_at
        When it was submitted, started and finished, and its submitter's last beat.
    """

    id: uuid.UUID
    kind: str
    status: str
    progress: float | None
    message: str | None
    error: str | None
    parameters: dict[str, Any]
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    heartbeat_at: datetime

    @property
    def finished(self) -> bool:
        """Whether the job reached a state it never leaves."""
        return self.status in FINISHED_STATUSES

    def to_dict(self) -> dict[str, Any]:
        """The job as JSON-ready values (times in ISO 8601)."""
        return {
            "id": str(self.id),
            "kind": self.kind,
            "status": self.status,
            "progress": self.progress,
            "message": self.message,
            "error": self.error,
            "parameters": self.parameters,
            "created_at": self.created_at.isoformat(),
            "started_at": None if self.started_at is None else self.started_at.isoformat(),
            "finished_at": None if self.finished_at is None else self.finished_at.isoformat(),
            "heartbeat_at": self.heartbeat_at.isoformat(),
        }


def create_job(
    kind: str,
    *,
    parameters: Mapping[str, Any] | None = None,
    job_id: uuid.UUID | None = None,
    settings: Settings | None = None,
) -> JobInfo:
    """Record a new queued job of the current user.

    Parameters
    ----------
    kind
        What the job does, one line of at most 100 characters.
    parameters
        What it was asked to do; must be JSON-serialisable.
    job_id
        Its id, new when None; creating a job whose id exists already returns
        the stored one unchanged, so a retried submission adds no second row.
    settings
        The settings in effect; read from the environment when None.

    Returns
    -------
    JobInfo
        The stored job.

    Raises
    ------
    InvalidInputError
        For an empty or multi-line kind, or parameters that are not JSON.
    """
    kind = _checked_kind(kind)
    values = _checked_parameters(parameters)
    job_id = uuid.uuid4() if job_id is None else _checked_job_id(job_id)
    statement = (
        upsert(Job)
        .values(id=job_id, kind=kind, parameters=values)
        .on_conflict_do_nothing(index_elements=[Job.owner, Job.id])
    )
    with translated_errors("submitting the job"), user_engine(settings).begin() as connection:
        connection.execute(statement)
        row = connection.execute(select(*_COLUMNS).where(Job.id == job_id)).one()
    return _job(row)


def update_job(
    job_id: uuid.UUID | str,
    *,
    status: str | None = None,
    progress: float | None = None,
    message: str | None = None,
    error: str | None = None,
    settings: Settings | None = None,
) -> JobInfo:
    """Change one of the current user's jobs in one transaction, and beat its heartbeat.

    Parameters
    ----------
    job_id
        The job.
    status
        Its new state; the database refuses a move the lifecycle does not allow.
    progress
        0 to 1.
    message
        What it is doing or waiting for.
    error
        One line saying why it failed.
    settings
        The settings in effect; read from the environment when None.

    Returns
    -------
    JobInfo
        The job as stored after the change.

    Raises
    ------
    JobNotFoundError
        If the user has no such job.
    StoreError
        If the move is one the lifecycle refuses (a finished job never changes).
    """
    with translated_errors("updating the job"), user_engine(settings).begin() as connection:
        return _updated(connection, _checked_job_id(job_id), status, progress, message, error)


def complete_job(
    job_id: uuid.UUID | str,
    write_results: Callable[[Connection], None] | None = None,
    *,
    message: str | None = None,
    settings: Settings | None = None,
) -> JobInfo:
    """Mark a running job completed in the transaction that writes its results.

    Parameters
    ----------
    job_id
        The job.
    write_results
        Writes the job's results on the connection given; they and the
        completion commit together or not at all.
    message
        A last word on what was done.
    settings
        The settings in effect; read from the environment when None.

    Returns
    -------
    JobInfo
        The completed job.
    """
    job_id = _checked_job_id(job_id)
    with translated_errors("completing the job"), user_engine(settings).begin() as connection:
        if write_results is not None:
            write_results(connection)
        return _updated(connection, job_id, "completed", 1.0, message, None)


def write_job_result(
    connection: Connection, job_id: uuid.UUID | str, result: Mapping[str, Any]
) -> None:
    """Store a job's results on ``connection``, inside the transaction that completes it.

    Parameters
    ----------
    connection
        The connection :func:`complete_job` hands to its ``write_results``.
    job_id
        The job.
    result
        JSON-ready data; NaN and infinities are refused (write them as None).
    """
    job_id = _checked_job_id(job_id)
    try:
        document = json.loads(json.dumps(dict(result), allow_nan=False))
    except (TypeError, ValueError) as error:
        raise InvalidInputError(
            f"a job's results must be JSON-ready data with no NaN or infinity: {error}"
        ) from None
    connection.execute(upsert(JobResult).values(job_id=job_id, result=document))


def job_result(
    job_id: uuid.UUID | str, *, settings: Settings | None = None
) -> dict[str, Any] | None:
    """A job's stored results, or None when it has none (unfinished, failed, or a backtest's run).

    Parameters
    ----------
    job_id
        One of the current user's jobs.
    settings
        The settings in effect; read from the environment when None.

    Returns
    -------
    dict or None
        The document :func:`write_job_result` stored.

    Raises
    ------
    JobNotFoundError
        If the user has no such job.
    """
    job_id = _checked_job_id(job_id)
    with (
        translated_errors("reading the job's results"),
        user_engine(settings).begin() as connection,
    ):
        _row(connection, job_id)
        found = connection.execute(
            select(JobResult.result).where(JobResult.job_id == job_id)
        ).scalar_one_or_none()
    return None if found is None else dict(found)


def cancel_job(job_id: uuid.UUID | str, *, settings: Settings | None = None) -> JobInfo:
    """Mark one of the current user's unfinished jobs cancelled.

    Parameters
    ----------
    job_id
        The job.
    settings
        The settings in effect; read from the environment when None.

    Returns
    -------
    JobInfo
        The cancelled job.

    Raises
    ------
    InvalidInputError
        If the job has finished already.
    JobNotFoundError
        If the user has no such job.
    """
    job_id = _checked_job_id(job_id)
    with translated_errors("cancelling the job"), user_engine(settings).begin() as connection:
        current = _row(connection, job_id, for_update=True)
        if current.status in FINISHED_STATUSES:
            raise InvalidInputError(
                f"job {job_id} is {current.status} already; only a queued or running job "
                "can be cancelled"
            )
        return _updated(connection, job_id, "cancelled", None, None, None)


def heartbeat_jobs(job_ids: Iterable[uuid.UUID], *, settings: Settings | None = None) -> int:
    """Beat the heartbeat of the current user's unfinished jobs among ``job_ids``.

    Parameters
    ----------
    job_ids
        The jobs this process is looking after.
    settings
        The settings in effect; read from the environment when None.

    Returns
    -------
    int
        How many jobs were beaten (finished ones are left alone).
    """
    ids = [_checked_job_id(job_id) for job_id in job_ids]
    if not ids:
        return 0
    statement = (
        update(Job)
        .where(Job.id.in_(ids), Job.status.in_(("queued", "running")))
        .values(heartbeat_at=func.now())
    )
    with translated_errors("beating the jobs"), user_engine(settings).begin() as connection:
        return int(connection.execute(statement).rowcount)


def job_statuses(
    job_ids: Iterable[uuid.UUID], *, settings: Settings | None = None
) -> dict[uuid.UUID, str]:
    """The stored status of each of the current user's jobs among ``job_ids``.

    Parameters
    ----------
    job_ids
        The jobs to look at.
    settings
        The settings in effect; read from the environment when None.

    Returns
    -------
    dict
        Status by id; ids the user has no job for are left out.
    """
    ids = [_checked_job_id(job_id) for job_id in job_ids]
    if not ids:
        return {}
    statement = select(Job.id, Job.status).where(Job.id.in_(ids))
    with translated_errors("reading the jobs"), user_engine(settings).connect() as connection:
        return {row.id: row.status for row in connection.execute(statement)}


def list_jobs(
    *,
    limit: int | None = 50,
    lost_after: timedelta = DEFAULT_LOST_AFTER,
    settings: Settings | None = None,
) -> list[JobInfo]:
    """The current user's jobs, newest first, those whose submitter went silent marked lost.

    Parameters
    ----------
    limit
        At most this many; None for all.
    lost_after
        How long without a heartbeat makes an unfinished job lost.
    settings
        The settings in effect; read from the environment when None.

    Returns
    -------
    list of JobInfo
        Newest first.
    """
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise InvalidInputError(f"limit must be a positive whole number or None, not {limit!r}")
    statement = select(*_COLUMNS).order_by(Job.created_at.desc(), Job.id).limit(limit)
    with translated_errors("listing the jobs"), user_engine(settings).begin() as connection:
        _mark_lost(connection, _checked_lost_after(lost_after))
        return [_job(row) for row in connection.execute(statement)]


def get_job(
    job_id: uuid.UUID | str,
    *,
    lost_after: timedelta = DEFAULT_LOST_AFTER,
    settings: Settings | None = None,
) -> JobInfo:
    """One of the current user's jobs, marked lost when its submitter went silent.

    Parameters
    ----------
    job_id
        The job.
    lost_after
        How long without a heartbeat makes an unfinished job lost.
    settings
        The settings in effect; read from the environment when None.

    Returns
    -------
    JobInfo
        The job.

    Raises
    ------
    JobNotFoundError
        If the user has no such job (another user's job looks the same).
    """
    job_id = _checked_job_id(job_id)
    with translated_errors("reading the job"), user_engine(settings).begin() as connection:
        _mark_lost(connection, _checked_lost_after(lost_after), job_id)
        return _job(_row(connection, job_id))


def _updated(
    connection: Connection,
    job_id: uuid.UUID,
    status: str | None,
    progress: float | None,
    message: str | None,
    error: str | None,
) -> JobInfo:
    values: dict[str, Any] = {"heartbeat_at": func.now()}
    if status is not None:
        if status not in JOB_STATUSES:
            raise InvalidInputError(
                f"job status {status!r} is not one of {', '.join(JOB_STATUSES)}"
            )
        values["status"] = status
        if status == "running":
            values["started_at"] = func.coalesce(Job.started_at, func.now())
        if status in FINISHED_STATUSES:
            values["finished_at"] = func.now()
    if progress is not None:
        if not 0.0 <= progress <= 1.0:
            raise InvalidInputError(f"job progress is a fraction in [0, 1], not {progress!r}")
        values["progress"] = float(progress)
    if message is not None:
        values["message"] = _one_line(message, "message")
    if error is not None:
        values["error"] = _one_line(error, "error")
    statement = update(Job).where(Job.id == job_id).values(**values).returning(*_COLUMNS)
    row = connection.execute(statement).first()
    if row is None:
        raise JobNotFoundError(_missing(job_id))
    return _job(row)


def _mark_lost(
    connection: Connection, lost_after: timedelta, job_id: uuid.UUID | None = None
) -> None:
    statement = (
        update(Job)
        .where(
            Job.status.in_(("queued", "running")),
            Job.heartbeat_at < func.now() - lost_after,
        )
        .values(status="lost", error=LOST_ERROR, finished_at=func.now())
    )
    if job_id is not None:
        statement = statement.where(Job.id == job_id)
    connection.execute(statement)


def _row(connection: Connection, job_id: uuid.UUID, *, for_update: bool = False) -> Any:
    statement = select(*_COLUMNS).where(Job.id == job_id)
    if for_update:
        statement = statement.with_for_update()
    row = connection.execute(statement).first()
    if row is None:
        raise JobNotFoundError(_missing(job_id))
    return row


def _job(row: Any) -> JobInfo:
    return JobInfo(**row._mapping)


def _checked_kind(kind: object) -> str:
    if not isinstance(kind, str) or not kind.strip():
        raise InvalidInputError(f"a job's kind is a short name such as 'sweep', not {kind!r}")
    if len(kind) > _KIND_LENGTH_LIMIT or not kind.isprintable():
        raise InvalidInputError(
            f"a job's kind is one line of at most {_KIND_LENGTH_LIMIT} characters"
        )
    return kind


def _checked_parameters(parameters: Mapping[str, Any] | None) -> dict[str, Any]:
    values = dict(parameters or {})
    try:
        json.dumps(values, allow_nan=False)
    except (TypeError, ValueError) as problem:
        raise InvalidInputError(
            f"a job's parameters must be JSON values ({problem}); pass numbers, text, "
            "lists and dicts"
        ) from None
    return values


def _checked_lost_after(lost_after: timedelta) -> timedelta:
    if not isinstance(lost_after, timedelta) or lost_after <= timedelta(0):
        raise InvalidInputError(
            f"lost_after must be a positive timedelta, e.g. timedelta(minutes=2), "
            f"not {lost_after!r}"
        )
    return lost_after


def _checked_job_id(value: object) -> uuid.UUID:
    return checked_id(value, what="job", listing="quantdesk jobs list")


def _one_line(text_value: str, name: str) -> str:
    first_line = str(text_value).strip().splitlines()[0] if str(text_value).strip() else ""
    if not first_line:
        raise InvalidInputError(f"a job's {name} must not be empty")
    return first_line[:_ERROR_LENGTH_LIMIT]


def _missing(job_id: uuid.UUID) -> str:
    return f"no job with id {job_id}; 'quantdesk jobs list' shows yours"
