"""The platform's parts on this machine, together: each one's state, and stopping them all.

The parts are the database (embedded, or the external one the settings name),
the hub, the Dask gateway it runs as a service, and the long-lived local
cluster ``quantdesk cluster up`` starts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from quantdesk.api.cluster import cluster_down
from quantdesk.api.database import database_status, manager_connects, stop_database
from quantdesk.compute.cluster import running_cluster
from quantdesk.compute.readiness import answers_http
from quantdesk.config import Settings
from quantdesk.hub.launcher import hub_status, stop_hub
from quantdesk.hub.services import gateway_address


@dataclass(frozen=True)
class PlatformStopped:
    """What :func:`stop_platform` stopped: the hub (its pid, or None), cluster and database."""

    hub_pid: int | None
    cluster: bool
    database: bool


def stop_platform(settings: Settings) -> PlatformStopped:
    """Stop the hub (its servers and services with it), the local cluster and the database.

    Parameters
    ----------
    settings
        quantdesk's settings.

    Returns
    -------
    PlatformStopped
        Which parts were running and are now stopped; an external database is left running.
    """
    hub = stop_hub(settings)
    cluster = running_cluster(settings) is not None
    if cluster:
        cluster_down(settings)
    database = stop_database(settings).server
    return PlatformStopped(
        hub_pid=None if hub is None else hub.pid, cluster=cluster, database=database
    )


def platform_status(settings: Settings) -> dict[str, dict[str, Any]]:
    """Each part's state (``healthy``, ``not answering``, ``stopped``), address and details.

    Parameters
    ----------
    settings
        quantdesk's settings.

    Returns
    -------
    dict
        ``database``, ``hub``, ``gateway`` and ``cluster``, each with ``running``,
        ``healthy``, ``state`` and ``address``.
    """
    hub = hub_status(settings)
    gateway_url = gateway_address(settings)
    gateway_healthy = hub.running and answers_http(f"{gateway_url}/api/health", timeout_seconds=2)
    cluster = running_cluster(settings)
    return {
        "database": _database_part(settings),
        "hub": _part(hub.running, hub.healthy, hub.url, pid=hub.pid),
        "gateway": _part(hub.running, gateway_healthy, gateway_url),
        "cluster": _part(
            cluster is not None, cluster is not None, None if cluster is None else cluster.address
        ),
    }


def _database_part(settings: Settings) -> dict[str, Any]:
    """The embedded server's state, or whether the external one answers its manager."""
    if settings.admin_database_url is None:
        server = database_status(settings).server
        address = f"127.0.0.1:{server.port}" if server.running and server.port else None
        answers = server.running and manager_connects(settings)
        return _part(server.running, answers, address, external=False)
    answers = manager_connects(settings)
    return _part(answers, answers, "external (QUANTDESK_ADMIN_DATABASE_URL)", external=True)


def _part(running: bool, healthy: bool, address: str | None, **details: Any) -> dict[str, Any]:
    state = "healthy" if running and healthy else ("not answering" if running else "stopped")
    return {"running": running, "healthy": healthy, "state": state, "address": address, **details}
