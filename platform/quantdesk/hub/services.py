"""The services the hub runs beside it, and the least each one may do.

Each service gets a role with only the scopes its work needs; the
configuration lists them with the reason for each.
"""

from __future__ import annotations

import sys
from typing import Any

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
