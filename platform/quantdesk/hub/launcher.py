"""Start, stop and report the hub: ``jupyterhub -f hub_config/jupyterhub_config.py``, detached.

:func:`start_hub` is idempotent: with a hub already up it returns that hub.
The hub runs detached from the caller, as the caller's account (root gives
each person an OS account, see :mod:`quantdesk.hub.spawning`), listening on
127.0.0.1 only. It gets the caller's settings as ``QUANTDESK_*`` variables,
which is how the manager's credential stays in the hub: no person's server
inherits them (``c.Spawner.env_keep`` in the configuration).
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
from dataclasses import asdict, dataclass
from typing import Any

from quantdesk.compute.cluster import stop_process
from quantdesk.compute.processes import runs_module
from quantdesk.compute.readiness import answers_http, wait_until_ready
from quantdesk.config import ENVIRONMENT_PREFIX, Settings
from quantdesk.errors import HubError
from quantdesk.hub.files import HubFiles, config_file, proxy_program
from quantdesk.hub.kernelspec import install_kernel
from quantdesk.hub.spawning import runs_as_root
from quantdesk.store.private_file import write_private_text

LISTEN_HOST = "127.0.0.1"
HUB_MODULE = "jupyterhub"
START_TIMEOUT_SECONDS = 90.0


@dataclass(frozen=True)
class HubState:
    """A running hub.

    Attributes
    ----------
    url
        Where people open it, ``http://127.0.0.1:PORT``.
    pid
        The JupyterHub process.
    isolated
        True when it runs as root and gives each person their own OS account.
    log_path
        Its log.
    """

    url: str
    pid: int
    isolated: bool
    log_path: str

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict with every field by name."""
        return asdict(self)


@dataclass(frozen=True)
class HubStatus:
    """What :func:`hub_status` found.

    Attributes
    ----------
    running
        Whether the recorded hub process is alive.
    healthy
        Whether it answers ``/hub/health`` through its proxy.
    url
        Its address (the configured one when it is not running).
    pid
        Its process id, or None.
    """

    running: bool
    healthy: bool
    url: str
    pid: int | None

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict with every field by name."""
        return asdict(self)


def hub_url(settings: Settings) -> str:
    """The hub's address under ``settings``.

    Parameters
    ----------
    settings
        quantdesk's settings (``hub_port``).

    Returns
    -------
    str
        ``http://127.0.0.1:PORT``.
    """
    return f"http://{LISTEN_HOST}:{settings.hub_port}"


def running_hub(settings: Settings) -> HubState | None:
    """The hub :func:`start_hub` started, if its process still runs.

    Parameters
    ----------
    settings
        Its state is in ``settings.hub_dir``.

    Returns
    -------
    HubState or None
        None when none was started or it has exited.
    """
    try:
        values = json.loads(HubFiles.of(settings).state.read_text())
        state = HubState(
            url=str(values["url"]),
            pid=int(values["pid"]),
            isolated=bool(values["isolated"]),
            log_path=str(values["log_path"]),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return state if runs_module(state.pid, HUB_MODULE) else None


def start_hub(settings: Settings) -> HubState:
    """Start the hub unless it already runs, and wait until it answers.

    The database must be up (:func:`quantdesk.api.database.start_database`):
    the hub provisions each person's role in it.

    Parameters
    ----------
    settings
        quantdesk's settings: ``hub_port``, ``hub_api_port``,
        ``hub_proxy_api_port``, ``hub_admin``, ``hub_idle_timeout_seconds``,
        and the database's.

    Returns
    -------
    HubState
        The running hub.

    Raises
    ------
    HubError
        If a port is taken, the proxy or configuration is missing, or the hub
        does not start in time (the message names its log).
    """
    existing = running_hub(settings)
    if existing is not None:
        return existing
    files = HubFiles.of(settings)
    configuration = config_file()
    proxy = proxy_program()
    for port, variable in (
        (settings.hub_port, "HUB_PORT"),
        (settings.resolved_hub_api_port, "HUB_API_PORT"),
        (settings.resolved_hub_proxy_api_port, "HUB_PROXY_API_PORT"),
        (settings.resolved_hub_gateway_port, "HUB_GATEWAY_PORT"),
    ):
        _refuse_taken_port(port, f"{ENVIRONMENT_PREFIX}{variable}")
    files.create()
    install_kernel()
    environment = {
        name: value for name, value in os.environ.items() if not name.startswith(ENVIRONMENT_PREFIX)
    }
    environment.update(settings.environment())
    environment["PATH"] = os.pathsep.join([str(proxy.parent), environment.get("PATH", "")])
    with files.log.open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", HUB_MODULE, "-f", str(configuration)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            env=environment,
            cwd=files.directory,
            start_new_session=True,
        )
    url = hub_url(settings)
    wait_until_ready(
        process,
        lambda: _healthy(url),
        timeout_seconds=START_TIMEOUT_SECONDS,
        service="the hub",
        where=f"; see {files.log}",
        error=HubError,
    )
    state = HubState(url, process.pid, runs_as_root(), str(files.log))
    write_private_text(files.state, json.dumps(state.to_json()) + "\n")
    return state


def stop_hub(settings: Settings) -> HubState | None:
    """Stop the hub, which stops its proxy, services and every person's server.

    Parameters
    ----------
    settings
        Its state is in ``settings.hub_dir``.

    Returns
    -------
    HubState or None
        The hub that was stopped, or None when none was running.
    """
    state = running_hub(settings)
    if state is not None:
        stop_process(state.pid)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(state.pid, os.WNOHANG)
    HubFiles.of(settings).state.unlink(missing_ok=True)
    return state


def hub_status(settings: Settings) -> HubStatus:
    """Whether the hub runs and answers, without changing anything.

    Parameters
    ----------
    settings
        Its state is in ``settings.hub_dir``.

    Returns
    -------
    HubStatus
        Running, healthy, address and pid.
    """
    state = running_hub(settings)
    if state is None:
        return HubStatus(running=False, healthy=False, url=hub_url(settings), pid=None)
    return HubStatus(running=True, healthy=_healthy(state.url), url=state.url, pid=state.pid)


def _refuse_taken_port(port: int, variable: str) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((LISTEN_HOST, port))
        except OSError:
            raise HubError(
                f"port {port} on {LISTEN_HOST} is in use; stop what listens there or set "
                f"{variable} to a free port"
            ) from None


def _healthy(url: str) -> bool:
    return answers_http(f"{url}/hub/health", timeout_seconds=2)
