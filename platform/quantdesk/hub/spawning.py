"""How each person's server starts: which spawner, and the hook that runs before it.

As root the hub uses JupyterHub's ``LocalProcessSpawner``: every server runs
as the person's own OS account, which isolates their processes and files.
Without root it can only use ``SimpleLocalProcessSpawner``, whose servers all
run as the hub's account: anyone can read everyone's files, environment and
database URL. That mode is for one person trying the hub, never for several.
"""

from __future__ import annotations

import asyncio
import os
import pwd
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from quantdesk.config import Settings
from quantdesk.hub.notebooks import hand_out_notebooks
from quantdesk.hub.provisioning import person_data_dir, provision_person

ISOLATING_SPAWNER = "jupyterhub.spawner.LocalProcessSpawner"
SHARED_SPAWNER = "jupyterhub.spawner.SimpleLocalProcessSpawner"


def runs_as_root() -> bool:
    """Whether this process is root, and so the hub gives each person their own OS account.

    Returns
    -------
    bool
        True for euid 0.
    """
    return os.geteuid() == 0


def spawner_class(*, isolated: bool) -> str:
    """The spawner for the mode: one OS account a person, or everyone as the hub's account.

    Parameters
    ----------
    isolated
        Whether the hub runs as root.

    Returns
    -------
    str
        :data:`ISOLATING_SPAWNER` or :data:`SHARED_SPAWNER`.
    """
    return ISOLATING_SPAWNER if isolated else SHARED_SPAWNER


def pre_spawn_hook(settings: Settings, *, isolated: bool) -> Callable[[Any], Awaitable[None]]:
    """The hook JupyterHub runs before starting a person's server.

    It provisions the person (:func:`quantdesk.hub.provisioning.provision_person`:
    OS account, database role, connection) off the hub's event loop and puts
    their database URL into the server's environment, and nothing else of the
    hub's; the first time, it copies the research notebooks into their home
    (:func:`quantdesk.hub.notebooks.hand_out_notebooks`).

    Parameters
    ----------
    settings
        The hub's settings.
    isolated
        Whether the hub runs as root.

    Returns
    -------
    callable
        ``async hook(spawner)``, for ``c.Spawner.pre_spawn_hook``.
    """

    async def hook(spawner: Any) -> None:
        user = spawner.user
        environment = await asyncio.to_thread(
            provision_person, settings, user.name, isolated=isolated, admin=bool(user.admin)
        )
        spawner.environment = {**spawner.environment, **environment.variables}
        home = (
            Path(pwd.getpwnam(user.name).pw_dir)
            if isolated
            else person_data_dir(settings, user.name)
        )
        await asyncio.to_thread(hand_out_notebooks, home, user.name if isolated else None)

    return hook
