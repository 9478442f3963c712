"""A client of the user's own cluster on a Dask gateway (``QUANTDESK_GATEWAY``).

The user's running cluster is reused, else a new one is created; either way
it is scaled to the user's worker limit, which the gateway enforces (a larger
request is capped). The cluster outlives the client and is shut down by the
gateway once idle (see :mod:`quantdesk.compute.gateway_server`), so the next
``connect`` finds it warm.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import time
import warnings
from collections.abc import Iterator
from typing import TYPE_CHECKING

from quantdesk.config import Settings
from quantdesk.errors import ComputeError, SchedulerUnavailableError

if TYPE_CHECKING:
    from dask_gateway import Gateway
    from dask_gateway.client import ClusterReport
    from distributed import Client

CONNECT_TIMEOUT_SECONDS = 10.0
START_TIMEOUT_SECONDS = 120.0
_POLL_SECONDS = 0.2
HUB_TOKEN_VARIABLE = "JUPYTERHUB_API_TOKEN"
"""Inside a hub server: its token, which the hub's gateway accepts (see :mod:`quantdesk.hub`)."""
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
    ComputeError
        If the cluster fails or does not start in time.
    """
    import aiohttp
    from dask_gateway import GatewayWarning
    from distributed import Client

    address = str(settings.gateway)
    user = settings.gateway_user or getpass.getuser()
    password = settings.gateway_password.get_secret_value() if settings.gateway_password else ""
    hub_token = None if password else os.environ.get(HUB_TOKEN_VARIABLE)
    try:
        with open_gateway(address, user, password, hub_token=hub_token) as gateway:
            report = _users_cluster(gateway)
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", "Scale request", GatewayWarning)
                gateway.scale_cluster(report.name, WORKER_REQUEST)
        return Client(  # type: ignore[no-untyped-call]
            report.scheduler_address,
            security=report.security,
            timeout=CONNECT_TIMEOUT_SECONDS,
            set_as_default=False,
        )
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


@contextlib.contextmanager
def open_gateway(
    address: str, user: str, password: str, *, hub_token: str | None = None
) -> Iterator[Gateway]:
    """A ``dask_gateway.Gateway`` for ``user`` at ``address``, closed when the block ends.

    Parameters
    ----------
    address
        The gateway's address.
    user, password
        Credentials for its password authenticator.
    hub_token
        A JupyterHub token to present instead, to a gateway that asks the hub
        (the hub's own gateway service); ``user`` and ``password`` are then unused.

    Yields
    ------
    dask_gateway.Gateway
        A synchronous gateway client with its own event-loop thread.

    Notes
    -----
    The client is closed here, in the caller's thread. Left to its ``__del__``, the
    garbage collector may close it in another client's event-loop thread while that
    client is starting, and both wait on distributed's one loop-runner lock: the new
    client then fails after 10 s with ``assert loop is not None``. Its ``__del__``
    would also close it a second time, on a stopped loop (dask-gateway 2026.3), so
    the loop runner it checks for is removed once closed.
    """
    from dask_gateway import BasicAuth, Gateway, JupyterHubAuth

    auth = JupyterHubAuth(hub_token) if hub_token else BasicAuth(user, password)
    gateway = Gateway(address, auth=auth)
    try:
        yield gateway
    finally:
        with contextlib.suppress(Exception):
            gateway.close()
        gateway.__dict__.pop("_loop_runner", None)


def _users_cluster(gateway: Gateway) -> ClusterReport:
    """The user's running cluster on ``gateway``, else a new one, once its scheduler is up.

    Only the ``Gateway`` object is used: a ``GatewayCluster`` closes its gateway
    when it goes, and that gateway's own ``__del__`` then fails (dask-gateway 2026.3).
    """
    from dask_gateway.client import ClusterStatus

    running = gateway.list_clusters(status=[ClusterStatus.PENDING, ClusterStatus.RUNNING])
    name = running[0].name if running else gateway.submit()
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        report = gateway.get_cluster(name, wait=True)
        if report.status is ClusterStatus.RUNNING:
            return report
        if report.status in {ClusterStatus.FAILED, ClusterStatus.STOPPED}:
            raise ComputeError(
                f"your gateway cluster {name} {report.status.name.lower()} while starting; "
                "the gateway's log says why"
            )
        time.sleep(_POLL_SECONDS)
    raise ComputeError(
        f"your gateway cluster {name} did not start within {START_TIMEOUT_SECONDS:g} s; "
        "the gateway's log says why"
    )
