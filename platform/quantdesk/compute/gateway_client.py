"""A client of the user's own cluster on a Dask gateway (``QUANTDESK_GATEWAY``).

The user's running cluster is reused, else a new one is created; either way
it is scaled to the user's worker limit, which the gateway enforces (a larger
request is capped). The cluster outlives the client and is shut down by the
gateway once idle (see :mod:`quantdesk.compute.gateway_server`), so the next
``connect`` finds it warm.
"""

from __future__ import annotations

import getpass
from typing import TYPE_CHECKING

from quantdesk.config import Settings
from quantdesk.errors import SchedulerUnavailableError

if TYPE_CHECKING:
    from dask_gateway import Gateway, GatewayCluster
    from distributed import Client

CONNECT_TIMEOUT_SECONDS = 10.0
WORKER_REQUEST = 4096
"""More workers than any limit: the gateway scales the cluster to the user's limit."""


def gateway_client(settings: Settings) -> Client:
    """A client of the user's cluster on the gateway ``settings.gateway``.

    Parameters
    ----------
    settings
        ``gateway`` (its address), ``gateway_user`` (the OS user name when
        unset) and ``gateway_password``.

    Returns
    -------
    distributed.Client
        A connected client; closing it leaves the cluster running.

    Raises
    ------
    SchedulerUnavailableError
        If the gateway cannot be reached or refuses the credentials.
    """
    import aiohttp
    from dask_gateway import BasicAuth, Gateway
    from distributed import Client

    address = str(settings.gateway)
    user = settings.gateway_user or getpass.getuser()
    password = settings.gateway_password.get_secret_value() if settings.gateway_password else ""
    gateway = Gateway(address, auth=BasicAuth(user, password))
    try:
        cluster = _users_cluster(gateway)
        cluster.scale(WORKER_REQUEST)
        client = Client(
            cluster.scheduler_address,
            security=cluster.security,
            timeout=CONNECT_TIMEOUT_SECONDS,
            set_as_default=False,
        )  # type: ignore[no-untyped-call]
        cluster.close(shutdown=False)
        return client
    except aiohttp.ClientResponseError as error:
        if error.status in {401, 403}:
            raise SchedulerUnavailableError(
                f"the Dask gateway at {address} refused user {user!r}; set "
                "QUANTDESK_GATEWAY_USER and QUANTDESK_GATEWAY_PASSWORD to your gateway "
                "credentials ('quantdesk gateway add-user' makes them)"
            ) from None
        raise SchedulerUnavailableError(
            f"the Dask gateway at {address} answered HTTP {error.status}; see its log"
        ) from None
    except (aiohttp.ClientError, OSError, TimeoutError) as error:
        raise SchedulerUnavailableError(
            f"the Dask gateway at {address} is unreachable ({type(error).__name__}); start it "
            "with 'quantdesk gateway up' or unset QUANTDESK_GATEWAY"
        ) from None
    finally:
        gateway.close()


def _users_cluster(gateway: Gateway) -> GatewayCluster:
    """The user's running cluster on ``gateway``, else a new one, kept after the client closes."""
    clusters = gateway.list_clusters()
    if clusters:
        return gateway.connect(clusters[0].name, shutdown_on_close=False)
    return gateway.new_cluster(shutdown_on_close=False)
