"""The Dask gateway: start the long-lived one, report on it, stop it, add its users.

These are the workflows behind ``quantdesk gateway``;
:mod:`quantdesk.compute.gateway_server` does the work.
"""

from __future__ import annotations

from quantdesk.compute import gateway_auth
from quantdesk.compute.gateway_server import (
    GatewayRecord,
    UserLimits,
    gateway_down,
    gateway_up,
    password_file,
    running_gateway,
)
from quantdesk.config import Settings
from quantdesk.errors import ComputeError

__all__ = [
    "GatewayRecord",
    "UserLimits",
    "add_gateway_user",
    "gateway_down",
    "gateway_status",
    "gateway_up",
]


def gateway_status(settings: Settings) -> GatewayRecord:
    """The gateway ``quantdesk gateway up`` started.

    Parameters
    ----------
    settings
        quantdesk's settings.

    Returns
    -------
    GatewayRecord
        Its address, pid, backend and per-user limits.

    Raises
    ------
    ComputeError
        If no gateway is up.
    """
    record = running_gateway(settings)
    if record is None:
        raise ComputeError("no gateway is up; 'quantdesk gateway up' starts one")
    return record


def add_gateway_user(settings: Settings, user_name: str) -> str:
    """Give the OS account ``user_name`` a new gateway password; only its hash is kept.

    Parameters
    ----------
    settings
        The password file is under ``data_dir/gateway``.
    user_name
        An OS account other than root.

    Returns
    -------
    str
        The password, to hand to the user (``QUANTDESK_GATEWAY_PASSWORD``).
    """
    return gateway_auth.add_gateway_user(password_file(settings), user_name)
