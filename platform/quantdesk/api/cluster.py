"""The Dask cluster: start the long-lived local one, report on it, stop it, get a client.

These are the workflows behind ``quantdesk cluster``; :mod:`quantdesk.compute`
does the work.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from quantdesk.compute.cluster import (
    ClusterRecord,
    ClusterStatus,
    WorkerStatus,
    client_for,
    cluster_down,
    cluster_up,
    connect,
    running_cluster,
)
from quantdesk.compute.cluster import cluster_status as status_through
from quantdesk.config import Settings
from quantdesk.errors import ComputeError

if TYPE_CHECKING:
    from distributed import Client

__all__ = [
    "ClusterRecord",
    "ClusterStatus",
    "WorkerStatus",
    "cluster_down",
    "cluster_status",
    "cluster_up",
    "get_client",
]


def cluster_status(settings: Settings) -> ClusterStatus:
    """Report on the cluster in use: the gateway's, ``QUANTDESK_SCHEDULER``'s or ``cluster up``'s.

    Parameters
    ----------
    settings
        quantdesk's settings.

    Returns
    -------
    ClusterStatus
        The host's CPU and RAM, the workers, and the running and queued tasks.

    Raises
    ------
    ComputeError
        If no cluster is up and no scheduler is configured.
    SchedulerUnavailableError
        If the scheduler cannot be reached.
    """
    configured = settings.gateway is not None or settings.scheduler is not None
    record = None if configured else running_cluster(settings)
    if not configured and record is None:
        raise ComputeError("no cluster is up; 'quantdesk cluster up' starts one")
    if record is None:
        client = connect(settings)
    else:
        client = client_for(
            record.address,
            unreachable=f"the cluster at {record.address} is unreachable",
            credentials_file=record.credentials_file,
        )
    with client:
        return status_through(client, dashboard_link=record.dashboard_link if record else None)


def get_client(settings: Settings | None = None) -> Client:
    """A Dask client of the cluster quantdesk uses, starting a local one on demand.

    Parameters
    ----------
    settings
        quantdesk's settings; read from the environment when None.

    Returns
    -------
    distributed.Client
        ``QUANTDESK_SCHEDULER``'s scheduler, else the cluster ``quantdesk
        cluster up`` started, else a local cluster for this process's lifetime.

    Raises
    ------
    SchedulerUnavailableError
        If the chosen scheduler cannot be reached.
    """
    return connect(settings if settings is not None else Settings.load())
