"""The services the hub runs beside it, and the least each one may do.

Each service gets a role with only the scopes its work needs; the
configuration lists them with the reason for each.
"""

from __future__ import annotations

import sys
from typing import Any

from quantdesk.compute.gateway_server import (
    SERVER_MODULE,
    gateway_config,
    user_limits,
    write_private_json,
)
from quantdesk.compute.sizing import cluster_size, host_facts
from quantdesk.config import Settings
from quantdesk.hub.files import HubFiles

IDLE_CULLER = "idle-culler"
IDLE_CULLER_SCOPES = {
    "list:users": "to find the people who have servers",
    "read:users:activity": "to see when each person was last active",
    "read:servers": "to see each server's own last activity",
    "delete:servers": "to stop a server that sat idle too long",
}
"""The culler's scopes, each with its reason. It never culls the people themselves
(no ``admin:users``) and reads nothing else of theirs."""
MAXIMUM_CULL_INTERVAL_SECONDS = 60
DASK_GATEWAY = "dask-gateway"
GATEWAY_ACCESS_SCOPE = f"access:services!service={DASK_GATEWAY}"
"""What a person's token needs for the gateway to accept it."""
GATEWAY_AUTHENTICATOR = "dask_gateway_server.auth.JupyterHubAuthenticator"
USER_SCOPES = {
    "self": "each person manages their own server and tokens (JupyterHub's default)",
    GATEWAY_ACCESS_SCOPE: "each person may start and use their own Dask clusters on the gateway",
}
"""The scopes of JupyterHub's ``user`` role, with reasons."""
SERVER_TOKEN_SCOPES = {
    "users:activity!user": "the server reports its activity, which the idle culler reads",
    "access:servers!server": "the server checks that a visitor may use it",
    GATEWAY_ACCESS_SCOPE: "the person's kernels reach the gateway with the server's token",
}
"""The scopes of the token a person's server (and its kernels) holds, with reasons; the hub
narrows them to what the person has."""


def idle_culler_service(timeout_seconds: float) -> dict[str, Any]:
    """``jupyterhub-idle-culler`` as a hub-managed service.

    Parameters
    ----------
    timeout_seconds
        A server idle this long is stopped.

    Returns
    -------
    dict
        An entry for ``c.JupyterHub.services``.
    """
    timeout = max(1, round(timeout_seconds))
    interval = max(1, min(MAXIMUM_CULL_INTERVAL_SECONDS, timeout // 4))
    return {
        "name": IDLE_CULLER,
        "command": [
            sys.executable,
            "-m",
            "jupyterhub_idle_culler",
            f"--timeout={timeout}",
            f"--cull-every={interval}",
        ],
    }


def idle_culler_role() -> dict[str, Any]:
    """The culler's role: :data:`IDLE_CULLER_SCOPES` and nothing more.

    Returns
    -------
    dict
        An entry for ``c.JupyterHub.load_roles``.
    """
    return {"name": IDLE_CULLER, "scopes": sorted(IDLE_CULLER_SCOPES), "services": [IDLE_CULLER]}


def gateway_address(settings: Settings) -> str:
    """Where the hub's Dask gateway listens, what a person's ``QUANTDESK_GATEWAY`` is.

    Parameters
    ----------
    settings
        quantdesk's settings (``hub_gateway_port``).

    Returns
    -------
    str
        ``http://127.0.0.1:PORT``.
    """
    return f"http://127.0.0.1:{settings.resolved_hub_gateway_port}"


def dask_gateway_service(settings: Settings) -> dict[str, Any]:
    """The Dask gateway as a hub-managed service, writing its configuration file first.

    The gateway runs each person's scheduler and workers (as their OS account,
    as root; see :mod:`quantdesk.compute.gateway_server`) and asks the hub who
    a token belongs to, accepting only tokens with :data:`GATEWAY_ACCESS_SCOPE`.
    Like every service it starts with none of the hub's ``QUANTDESK_*`` settings.

    Parameters
    ----------
    settings
        quantdesk's settings: ``hub_gateway_port``, the cluster sizing, ``hub_dir``.

    Returns
    -------
    dict
        An entry for ``c.JupyterHub.services``.
    """
    directory = HubFiles.of(settings).directory / "gateway"
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    config = gateway_config(
        address=gateway_address(settings).removeprefix("http://"),
        password_file=directory / "unused-passwords.json",
        limits=user_limits(cluster_size(host_facts(), settings)),
        extra_config={
            "DaskGateway": {"authenticator_class": GATEWAY_AUTHENTICATOR},
            "JupyterHubAuthenticator": {"jupyterhub_service_name": DASK_GATEWAY},
        },
    )
    config_file = directory / "config.json"
    write_private_json(config_file, config)
    return {
        "name": DASK_GATEWAY,
        "command": [sys.executable, "-P", "-m", SERVER_MODULE, "-f", str(config_file)],
        "cwd": str(directory),
    }


def user_role() -> dict[str, Any]:
    """JupyterHub's ``user`` role: :data:`USER_SCOPES`.

    Returns
    -------
    dict
        An entry for ``c.JupyterHub.load_roles``.
    """
    return {"name": "user", "scopes": sorted(USER_SCOPES)}
