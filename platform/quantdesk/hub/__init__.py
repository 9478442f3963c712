"""The hub: JupyterHub with one server per person, each reaching the database as that person.

Start it with :func:`start_hub` (after the database), create its first admin
with :func:`ensure_hub_admin`, report it with :func:`hub_status` and stop it
with :func:`stop_hub`. ``hub_config/jupyterhub_config.py`` is the hub's
configuration; the modules here hold its logic:

- :mod:`~quantdesk.hub.authenticator`: sign-up, admin approval, log-in;
- :mod:`~quantdesk.hub.accounts`: one OS account per person, as root;
- :mod:`~quantdesk.hub.provisioning`: each person's database role and connection;
- :mod:`~quantdesk.hub.spawning`: the spawner by mode and the pre-spawn hook;
- :mod:`~quantdesk.hub.services`: the hub-managed services and their scopes;
- :mod:`~quantdesk.hub.platform_parts`: every part of the platform, its state, stopping all;
- :mod:`~quantdesk.hub.kernelspec`: the "Python 3 (quantdesk)" kernel;
- :mod:`~quantdesk.hub.launcher` and :mod:`~quantdesk.hub.admin`: the API below.
"""

from __future__ import annotations

from quantdesk.hub.admin import AdminCredentials, add_hub_admin, ensure_hub_admin
from quantdesk.hub.launcher import (
    HubState,
    HubStatus,
    hub_status,
    running_hub,
    start_hub,
    stop_hub,
)

__all__ = [
    "AdminCredentials",
    "HubState",
    "HubStatus",
    "add_hub_admin",
    "ensure_hub_admin",
    "hub_status",
    "running_hub",
    "start_hub",
    "stop_hub",
]
