"""Who the database says is viewing, what they own, and (for admins) everyone's jobs.

The viewer is the login role itself (``current_user``); being an admin means
being a member of ``quantdesk_admins``, asked of the database, so no client
can claim it. Everyone's jobs are read under row-level security: an admin's
read-all policy shows every row, anyone else gets their own rows only, so a
page that forgot to check still could not show another person's jobs.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, text

from quantdesk.config import Settings
from quantdesk.errors import InvalidInputError
from quantdesk.store.connection import translated_errors, user_engine
from quantdesk.store.jobs import JobInfo
from quantdesk.store.models import Job
from quantdesk.store.roles import ADMINS_ROLE

__all__ = ["Account", "OwnedJob", "account", "owned_jobs"]

UNFINISHED_STATUSES = ("queued", "running")

_ACCOUNT = text(
    "SELECT current_user, pg_has_role(current_user, :admins, 'MEMBER'), "
    "(SELECT count(*) FROM quantdesk.backtests WHERE owner = current_user), "
    "(SELECT count(*) FROM quantdesk.jobs WHERE owner = current_user), "
    "(SELECT count(*) FROM quantdesk.jobs WHERE owner = current_user "
    " AND status = ANY(:unfinished)), "
    "(SELECT count(*) FROM quantdesk.api_key_listing WHERE owner = current_user), "
    "(SELECT count(*) FROM quantdesk.models WHERE owner = current_user)"
)


@dataclass(frozen=True)
class Account:
    """The viewer and a count of what they own.

    Attributes
    ----------
    name
        The login role, which is the person's name.
    admin
        Whether the role is a member of ``quantdesk_admins``.
    runs, jobs, unfinished_jobs, api_keys, models
        How many of each are theirs.
    """

    name: str
    admin: bool
    runs: int
    jobs: int
    unfinished_jobs: int
    api_keys: int
    models: int


@dataclass(frozen=True)
class OwnedJob:
    """A job with the role that owns it."""

    owner: str
    job: JobInfo


def account(settings: Settings | None = None) -> Account:
    """The current user as the database knows them, with counts of their rows.

    Parameters
    ----------
    settings
        The settings in effect; read from the environment when None.

    Returns
    -------
    Account
        Their name, admin membership and counts.
    """
    parameters = {"admins": ADMINS_ROLE, "unfinished": list(UNFINISHED_STATUSES)}
    with translated_errors("reading your account"), user_engine(settings).connect() as connection:
        row = connection.execute(_ACCOUNT, parameters).one()
    return Account(str(row[0]), bool(row[1]), *(int(count) for count in row[2:]))


def owned_jobs(
    *, everyone: bool = False, limit: int = 100, settings: Settings | None = None
) -> list[OwnedJob]:
    """Jobs with their owners, newest first: your own, or every row the database lets you see.

    Parameters
    ----------
    everyone
        Read every job row visible to you (all users' for an admin, under
        row-level security); else only your own.
    limit
        At most this many.
    settings
        The settings in effect; read from the environment when None.

    Returns
    -------
    list of OwnedJob
        Newest first.
    """
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise InvalidInputError(f"limit must be a positive whole number, not {limit!r}")
    statement = (
        select(Job.owner, *_job_columns()).order_by(Job.created_at.desc(), Job.id).limit(limit)
    )
    if not everyone:
        statement = statement.where(Job.owner == text("current_user"))
    with translated_errors("listing the jobs"), user_engine(settings).connect() as connection:
        rows = connection.execute(statement).all()
    return [OwnedJob(str(row[0]), JobInfo(*row[1:])) for row in rows]


def _job_columns() -> list[Any]:
    """The jobs table's columns in the order of :class:`JobInfo`'s fields."""
    return [getattr(Job, info_field.name) for info_field in dataclasses.fields(JobInfo)]
