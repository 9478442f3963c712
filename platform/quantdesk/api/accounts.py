"""Who is viewing and what they own; for admins, the system: host, cluster and everyone's jobs.

Each works as the current database user. Whether someone is an admin is the
database's answer (membership of ``quantdesk_admins``), and everyone's jobs
are read under row-level security, so a non-admin is refused here and could
not see another person's jobs even by asking the store directly.
"""

from __future__ import annotations

from dataclasses import dataclass

from quantdesk.compute.cluster import ClusterStatus, connect
from quantdesk.compute.cluster import cluster_status as status_through
from quantdesk.config import Settings
from quantdesk.errors import PermissionDeniedError
from quantdesk.store.accounts import Account, OwnedJob, account, owned_jobs
from quantdesk.store.roles import ADMINS_ROLE

__all__ = [
    "Account",
    "OwnedJob",
    "SystemStatus",
    "account",
    "owned_jobs",
    "require_admin",
    "system_status",
]


@dataclass(frozen=True)
class SystemStatus:
    """What an admin sees of the platform.

    Attributes
    ----------
    viewer
        The admin asking.
    cluster
        The host's CPU and RAM, the workers and the queue of the cluster in use.
    jobs
        Every user's jobs, newest first, with their owners.
    """

    viewer: Account
    cluster: ClusterStatus
    jobs: list[OwnedJob]


def require_admin(settings: Settings | None = None) -> Account:
    """The viewer, if the database says they are an admin; else a one-line refusal.

    Parameters
    ----------
    settings
        quantdesk's settings; read from the environment when None.

    Returns
    -------
    Account
        The admin.

    Raises
    ------
    PermissionDeniedError
        If the database role is not a member of ``quantdesk_admins``.
    """
    viewer = account(settings)
    if not viewer.admin:
        raise PermissionDeniedError(
            f"the system view is for admins and {viewer.name} is not a member of "
            f"{ADMINS_ROLE}; an admin grants it with 'quantdesk users add NAME --admin'"
        )
    return viewer


def system_status(*, limit: int = 200, settings: Settings | None = None) -> SystemStatus:
    """The host, the cluster in use and every user's jobs, for an admin only.

    Parameters
    ----------
    limit
        At most this many jobs.
    settings
        quantdesk's settings; read from the environment when None.

    Returns
    -------
    SystemStatus
        A snapshot; the cluster is the one jobs go to (started on demand when there is none).

    Raises
    ------
    PermissionDeniedError
        If the database role is not a member of ``quantdesk_admins``.
    """
    settings = settings if settings is not None else Settings.load()
    viewer = require_admin(settings)
    jobs = owned_jobs(everyone=True, limit=limit, settings=settings)
    with connect(settings) as client:
        cluster = status_through(client)
    return SystemStatus(viewer=viewer, cluster=cluster, jobs=jobs)
