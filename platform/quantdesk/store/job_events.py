"""Live job status: wait for changes to the current user's jobs and read them again.

Every change of a job notifies channel :data:`~quantdesk.store.jobs.NOTIFY_CHANNEL`
with the job's id. Any role may LISTEN on any channel and NOTIFY it with any
payload, so a payload is only a hint: :func:`watch_jobs` reads the job again
with the user's own connection, under row-level security, and yields what
the database holds. A payload that is not an id, or names a job the user
cannot see, yields nothing. The watcher sleeps in the driver until a
notification arrives or its poll interval passes (no busy loop), stops at
its timeout or stop event, and connects again when the database restarts;
after a reconnection it yields the jobs changed since the lost connection
began, so no change made during the outage goes unseen.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import closing
from datetime import datetime
from typing import Any, cast

import psycopg

from quantdesk.config import Settings
from quantdesk.errors import InvalidInputError
from quantdesk.store.connection import CONNECT_TIMEOUT_SECONDS, user_url
from quantdesk.store.jobs import NOTIFY_CHANNEL, JobInfo

__all__ = ["watch_jobs"]

_RECONNECT_PAUSE = 0.5
_SELECT = (
    "SELECT id, kind, status, progress, message, error, parameters, created_at, "
    "started_at, finished_at, heartbeat_at FROM quantdesk.jobs"
)


def watch_jobs(
    *,
    timeout: float | None = None,
    stop: threading.Event | None = None,
    poll_interval: float = 0.5,
    settings: Settings | None = None,
) -> Iterator[JobInfo]:
    """Yield the current user's jobs as they change, read again from the database.

    Parameters
    ----------
    timeout
        Stop after this many seconds; None watches until ``stop`` is set.
    stop
        Set it (from another thread) to stop watching within ``poll_interval``.
    poll_interval
        Seconds between two looks at ``stop`` and the timeout while nothing happens.
    settings
        The settings in effect; read from the environment when None.

    Yields
    ------
    JobInfo
        A job of the user's as stored just after it changed.

    Raises
    ------
    InvalidInputError
        If neither ``timeout`` nor ``stop`` is given, or either interval is not positive.
    """
    if timeout is None and stop is None:
        raise InvalidInputError(
            "watch_jobs needs timeout= or stop= (a threading.Event), or it never returns"
        )
    for name, value in (("timeout", timeout), ("poll_interval", poll_interval)):
        if value is not None and not (isinstance(value, int | float) and value > 0):
            raise InvalidInputError(f"{name} is a positive number of seconds, not {value!r}")
    url = user_url(settings if settings is not None else Settings.load())
    deadline = None if timeout is None else time.monotonic() + timeout

    def remaining() -> float | None:
        return None if deadline is None else deadline - time.monotonic()

    def finished() -> bool:
        left = remaining()
        return (stop is not None and stop.is_set()) or (left is not None and left <= 0)

    changed_since: datetime | None = None
    while not finished():
        try:
            with closing(_connected(url)) as connection:
                # The time is taken before LISTEN, so a later catch-up covers the gap.
                began = _database_now(connection)
                connection.execute(f"LISTEN {NOTIFY_CHANNEL}")
                if changed_since is not None:
                    yield from _read(
                        connection,
                        "WHERE heartbeat_at >= %s OR finished_at >= %s ORDER BY heartbeat_at",
                        (changed_since, changed_since),
                    )
                changed_since = began
                while not finished():
                    left = remaining()
                    wait = poll_interval if left is None else max(0.0, min(poll_interval, left))
                    notices = list(connection.notifies(timeout=wait, stop_after=1))
                    for job_id in _ids(notices):
                        yield from _read(connection, "WHERE id = %s", (job_id,))
        except psycopg.OperationalError:
            left = remaining()
            pause = _RECONNECT_PAUSE if left is None else max(0.0, min(_RECONNECT_PAUSE, left))
            if stop is not None:
                stop.wait(pause)
            else:
                time.sleep(pause)


def _connected(url: Any) -> psycopg.Connection[Any]:
    return psycopg.connect(
        host=url.host,
        port=url.port,
        user=url.username,
        password=url.password,
        dbname=url.database,
        connect_timeout=CONNECT_TIMEOUT_SECONDS,
        options="-c TimeZone=UTC",
        autocommit=True,
        **dict(url.query),
    )


def _database_now(connection: psycopg.Connection[Any]) -> datetime:
    (now,) = connection.execute("SELECT now()").fetchall()[0]
    return cast(datetime, now)


def _ids(notices: list[psycopg.Notify]) -> list[uuid.UUID]:
    ids: list[uuid.UUID] = []
    for notice in notices:
        if notice.channel != NOTIFY_CHANNEL:
            continue
        try:
            job_id = uuid.UUID(notice.payload)
        except ValueError:
            continue
        if str(job_id) == notice.payload and job_id not in ids:
            ids.append(job_id)
    return ids


def _read(
    connection: psycopg.Connection[Any], where: str, parameters: tuple[Any, ...]
) -> Iterator[JobInfo]:
    cursor = connection.execute(f"{_SELECT} {where}", parameters)
    names = [column.name for column in cursor.description or ()]
    rows = cursor.fetchall()
    for row in rows:
        yield JobInfo(**dict(zip(names, row, strict=True)))
