"""The dask-gateway server: one scheduler and its own workers per user.

A shared scheduler would run every user's pickled code in the same worker
processes. The gateway instead starts a scheduler and workers for each user's
cluster, under that user's OS account when it runs as root
(dask-gateway's ``LocalBackend``, through
:class:`quantdesk.compute.gateway_backend.AccountBackend`, which fixes its
chown of ``/``). Not as root it can only use the
``UnsafeLocalBackend``, whose clusters all run as the gateway's own account:
fit for one person's tests, not for several users. :func:`local_backend`
chooses, and :attr:`GatewayProcess.backend` says which one ran.

:func:`gateway_config` builds the server's traitlets configuration as a dict:

- scheduler and worker commands ``dask scheduler`` / ``dask worker``
  (dask-gateway-server 2026.3 still defaults to the removed
  ``dask-scheduler`` / ``dask-worker`` scripts), without dashboards and with
  only the health check on their HTTP servers;
- per-user limits from :mod:`quantdesk.compute.sizing`: as many one-core
  workers as the host has physical cores, each with the sizing's memory;
- the processes inherit only the variables :mod:`quantdesk.compute.environment`
  allows (the gateway sets its own per-cluster token and TLS paths);
- :class:`quantdesk.compute.gateway_auth.PasswordFileAuthenticator`, each
  user's password hashed in a private file.

Files in ``settings.data_dir / "gateway"`` (mode 0700) when ``quantdesk gateway up`` runs it::

    config.json     the generated configuration (mode 0600)
    users.json      the users' password hashes (mode 0600)
    gateway.json    the running gateway's address and pid (mode 0600)
    gateway.log     its output
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import socket
import stat
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from quantdesk.compute.cluster import stop_process
from quantdesk.compute.environment import worker_environment
from quantdesk.compute.host import LISTEN_HOST
from quantdesk.compute.processes import runs_module
from quantdesk.compute.readiness import answers_http, wait_until_ready
from quantdesk.compute.sizing import GIB, ClusterSize
from quantdesk.config import Settings
from quantdesk.errors import ComputeError

LOCAL_BACKEND = "quantdesk.compute.gateway_backend.AccountBackend"
UNSAFE_LOCAL_BACKEND = "dask_gateway_server.backends.local.UnsafeLocalBackend"
SLURM_BACKEND = "dask_gateway_server.backends.jobqueue.slurm.SlurmBackend"
PBS_BACKEND = "dask_gateway_server.backends.jobqueue.pbs.PBSBackend"
KUBERNETES_BACKEND = "dask_gateway_server.backends.kubernetes.KubeBackend"
AUTHENTICATOR = "quantdesk.compute.gateway_auth.PasswordFileAuthenticator"
SERVER_MODULE = "dask_gateway_server"
SCHEDULER_MEMORY_BYTES = GIB
DEFAULT_IDLE_TIMEOUT_SECONDS = 3600.0
START_TIMEOUT_SECONDS = 60.0
_PER_ACCOUNT_NAMES = frozenset({"HOME", "USER", "LOGNAME", "SHELL"})
"""Set for the gateway's own account; the backend sets ``USER`` for each cluster's."""


def local_backend() -> str:
    """The local backend this process can run: separate OS accounts as root, else the unsafe one.

    Returns
    -------
    str
        ``LOCAL_BACKEND`` as root, else ``UNSAFE_LOCAL_BACKEND``.
    """
    return LOCAL_BACKEND if os.geteuid() == 0 else UNSAFE_LOCAL_BACKEND


def dask_command(role: str) -> list[str]:
    """The ``dask scheduler`` or ``dask worker`` command of this environment, by absolute path.

    Without a dashboard: the backend would serve it on 127.0.0.1 without
    authentication, open to every account on the host.

    Parameters
    ----------
    role
        ``"scheduler"`` or ``"worker"``.

    Returns
    -------
    list of str
        The command, as dask-gateway's ``Command`` traits take it.
    """
    return [str(Path(sys.executable).parent / "dask"), role, "--no-dashboard"]


HEALTH_ONLY = "['distributed.http.health']"
CLUSTER_ENVIRONMENT = {
    "DASK_DISTRIBUTED__SCHEDULER__HTTP__ROUTES": HEALTH_ONLY,
    "DASK_DISTRIBUTED__WORKER__HTTP__ROUTES": HEALTH_ONLY,
}
"""Dask's HTTP servers keep only the health check: their info pages (workers,
logs) and JSON would be served on 127.0.0.1 without authentication."""


def closed_directories(path: Path | None = None) -> list[Path]:
    """The directories above ``path`` other accounts cannot enter (no ``o+x``).

    Under the account backend every user's scheduler and workers run this
    environment's Python, so none may be in the way, as ``/root`` is when
    the Python lives in root's home.

    Parameters
    ----------
    path
        A file; when None, this process's Python both as the environment
        names it (a virtualenv's ``bin/python``, beside ``bin/dask``) and as
        its link resolves (the base interpreter).

    Returns
    -------
    list of Path
        The closed directories, outermost first.
    """
    given = Path(path or sys.executable).absolute()
    parents: list[Path] = []
    for target in (given, Path(os.path.realpath(given))):
        parents.extend(parent for parent in reversed(target.parents) if parent not in parents)
    return [parent for parent in parents if not parent.stat().st_mode & stat.S_IXOTH]


def inherited_environment(environment: dict[str, str] | os._Environ[str]) -> list[str]:
    """The names of the variables the gateway's scheduler and worker processes may inherit.

    Parameters
    ----------
    environment
        The gateway's environment.

    Returns
    -------
    list of str
        The allow-listed names present, less those naming the gateway's own account.
    """
    return sorted(set(worker_environment(environment)) - _PER_ACCOUNT_NAMES)


@dataclass(frozen=True)
class UserLimits:
    """What one user's gateway cluster may take.

    Attributes
    ----------
    max_workers
        Workers at most.
    worker_cores, worker_memory_bytes
        Each worker's cores (one thread each) and memory limit.
    max_cores, max_memory_bytes
        The cluster's total, its scheduler included.
    idle_timeout_seconds
        An idle cluster is shut down after this long; 0 never.
    """

    max_workers: int
    worker_cores: int
    worker_memory_bytes: int
    max_cores: int
    max_memory_bytes: int
    idle_timeout_seconds: float

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict with every field by name."""
        return dataclasses.asdict(self)


def user_limits(
    size: ClusterSize, *, idle_timeout_seconds: float = DEFAULT_IDLE_TIMEOUT_SECONDS
) -> UserLimits:
    """Each user's limits: the local cluster's shape, plus one core and 1 GiB for the scheduler.

    Parameters
    ----------
    size
        The host's cluster size (:func:`quantdesk.compute.sizing.cluster_size`).
    idle_timeout_seconds
        When an idle cluster is shut down.

    Returns
    -------
    UserLimits
        The limits.
    """
    return UserLimits(
        max_workers=size.workers,
        worker_cores=1,
        worker_memory_bytes=size.memory_limit_bytes,
        max_cores=size.workers + 1,
        max_memory_bytes=size.workers * size.memory_limit_bytes + SCHEDULER_MEMORY_BYTES,
        idle_timeout_seconds=idle_timeout_seconds,
    )


def gateway_config(
    *,
    address: str,
    password_file: Path,
    limits: UserLimits,
    backend: str | None = None,
    extra_config: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """The dask-gateway-server configuration, as the dict its JSON config file holds.

    Parameters
    ----------
    address
        Where the gateway's proxy listens, ``host:port``: clients reach the
        gateway's API and their schedulers (TLS) through it.
    password_file
        The users' password hashes (see :mod:`quantdesk.compute.gateway_auth`).
    limits
        Each user's limits.
    backend
        The backend class; :func:`local_backend` when None (see the README
        for ``SLURM_BACKEND``, ``PBS_BACKEND`` and Kubernetes).
    extra_config
        More traits by class name, e.g. ``{"SlurmClusterConfig": {"partition": "cpu"}}``;
        merged over the generated ones.

    Returns
    -------
    dict
        Traitlets configuration, by class and trait name.
    """
    cluster_config = {
        "scheduler_cmd": dask_command("scheduler"),
        "worker_cmd": dask_command("worker"),
        "worker_cores": limits.worker_cores,
        "worker_threads": 1,
        "worker_memory": limits.worker_memory_bytes,
        "scheduler_cores": 1,
        "scheduler_memory": SCHEDULER_MEMORY_BYTES,
        "cluster_max_workers": limits.max_workers,
        "cluster_max_cores": limits.max_cores,
        "cluster_max_memory": limits.max_memory_bytes,
        "idle_timeout": limits.idle_timeout_seconds,
        "environment": CLUSTER_ENVIRONMENT,
    }
    backend_class = backend or local_backend()
    config: dict[str, dict[str, Any]] = {
        "DaskGateway": {
            "backend_class": backend_class,
            "authenticator_class": AUTHENTICATOR,
        },
        "Proxy": {"address": address},
        "PasswordFileAuthenticator": {"password_file": str(password_file)},
        "LocalBackend": {"inherited_environment": inherited_environment(os.environ)},
        "ClusterConfig": cluster_config,
    }
    for section, traits in (extra_config or {}).items():
        config.setdefault(section, {}).update(traits)
    return config


def write_private_json(path: Path, values: dict[str, Any]) -> None:
    """Write ``values`` as JSON to ``path``, mode 0600 from the start.

    Parameters
    ----------
    path
        The file; replaced whole.
    values
        JSON-ready values.
    """
    temporary = path.with_name(f".{path.name}.{os.getpid()}")
    temporary.unlink(missing_ok=True)
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        json.dump(values, handle, indent=2)
    temporary.replace(path)


class GatewayProcess:
    """A dask-gateway server this process started.

    Parameters
    ----------
    process
        The server's process.
    address
        Its HTTP address, ``http://host:port``.
    backend
        The backend class it runs.
    """

    def __init__(self, process: subprocess.Popen[bytes], address: str, backend: str) -> None:
        self.process = process
        self.address = address
        self.backend = backend

    def __repr__(self) -> str:
        return f"GatewayProcess(address={self.address!r}, backend={self.backend!r})"

    def close(self) -> None:
        """Stop the gateway, which stops every cluster it runs."""
        stop_process(self.process.pid)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=START_TIMEOUT_SECONDS)

    def __enter__(self) -> GatewayProcess:
        return self

    def __exit__(self, *exception: object) -> None:
        self.close()


def start_gateway(
    config_file: Path, *, log_path: Path | None = None, detached: bool = False
) -> GatewayProcess:
    """Start ``dask-gateway-server -f config_file`` and wait until it accepts connections.

    Parameters
    ----------
    config_file
        A JSON file :func:`gateway_config` built (mode 0600).
    log_path
        Where its output goes; discarded when None.
    detached
        Keep running after this process exits.

    Returns
    -------
    GatewayProcess
        The running gateway.

    Raises
    ------
    ComputeError
        If it exits or does not listen within the start timeout; the message names the log.
    """
    config = json.loads(config_file.read_text())
    host, _, port = config["Proxy"]["address"].rpartition(":")
    with contextlib.ExitStack() as stack:
        output = stack.enter_context(log_path.open("ab")) if log_path is not None else None
        process = subprocess.Popen(
            # -P: a stray module in the config's directory cannot shadow the server's.
            [sys.executable, "-P", "-m", SERVER_MODULE, "-f", str(config_file)],
            stdin=subprocess.DEVNULL,
            stdout=output if output is not None else subprocess.DEVNULL,
            stderr=output if output is not None else subprocess.DEVNULL,
            env=worker_environment(os.environ),
            cwd=config_file.parent,
            start_new_session=detached,
        )
    where = f"; see {log_path}" if log_path is not None else ""
    address = f"http://{host or LISTEN_HOST}:{port}"
    wait_until_ready(
        process,
        lambda: _healthy(address),
        timeout_seconds=START_TIMEOUT_SECONDS,
        service="the Dask gateway",
        where=where,
        error=ComputeError,
    )
    backend = config["DaskGateway"]["backend_class"]
    return GatewayProcess(process, address, backend)


def free_address(host: str = LISTEN_HOST) -> str:
    """A ``host:port`` with a port free now.

    Parameters
    ----------
    host
        The interface.

    Returns
    -------
    str
        The address.
    """
    with socket.socket() as probe:
        probe.bind((host, 0))
        return f"{host}:{probe.getsockname()[1]}"


def _healthy(address: str) -> bool:
    """Whether the gateway at ``address`` answers its health check (its proxy has its routes)."""
    return answers_http(f"{address}/api/health")


def gateway_directory(settings: Settings) -> Path:
    """Where ``quantdesk gateway up`` keeps the gateway's files: ``data_dir/gateway``."""
    return settings.data_dir / "gateway"


def is_gateway(pid: int) -> bool:
    """Whether ``pid`` is a live dask-gateway server.

    Parameters
    ----------
    pid
        A process id.

    Returns
    -------
    bool
        True for a running process whose command line runs the server module.
    """
    return runs_module(pid, SERVER_MODULE)


DEFAULT_ADDRESS = f"{LISTEN_HOST}:8000"
_STATE_FILE = "gateway.json"
_CONFIG_FILE = "config.json"
_PASSWORD_FILE = "users.json"
_LOG_FILE = "gateway.log"


@dataclass(frozen=True)
class GatewayRecord:
    """The long-lived gateway ``quantdesk gateway up`` started.

    Attributes
    ----------
    address
        Its HTTP address, what ``QUANTDESK_GATEWAY`` should be.
    pid
        The server's process id.
    backend
        The backend class it runs.
    limits
        Each user's limits.
    """

    address: str
    pid: int
    backend: str
    limits: UserLimits

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict with every field by name."""
        return dataclasses.asdict(self)


def password_file(settings: Settings) -> Path:
    """The gateway's users' password hashes, ``data_dir/gateway/users.json``."""
    return gateway_directory(settings) / _PASSWORD_FILE


def running_gateway(settings: Settings) -> GatewayRecord | None:
    """The gateway ``quantdesk gateway up`` started, if it still runs.

    Parameters
    ----------
    settings
        Its state is under ``data_dir/gateway``.

    Returns
    -------
    GatewayRecord or None
        None when none was started or its process is gone.
    """
    try:
        values = json.loads((gateway_directory(settings) / _STATE_FILE).read_text())
        record = GatewayRecord(
            address=str(values["address"]),
            pid=int(values["pid"]),
            backend=str(values["backend"]),
            limits=UserLimits(**values["limits"]),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return record if is_gateway(record.pid) else None


def gateway_up(settings: Settings, *, address: str = DEFAULT_ADDRESS) -> GatewayRecord:
    """Generate the configuration and start the long-lived gateway, detached from this process.

    Parameters
    ----------
    settings
        Sizing overrides and ``data_dir``.
    address
        Where it listens, ``host:port``.

    Returns
    -------
    GatewayRecord
        The running gateway.

    Raises
    ------
    ComputeError
        If one already runs, the users' accounts cannot run this Python, or it does not start.
    """
    from quantdesk.compute.sizing import cluster_size, host_facts

    existing = running_gateway(settings)
    if existing is not None:
        raise ComputeError(
            f"a gateway is already up at {existing.address} (pid {existing.pid}); "
            "'quantdesk gateway down' stops it"
        )
    closed = closed_directories() if local_backend() == LOCAL_BACKEND else []
    if closed:
        raise ComputeError(
            f"the users' clusters cannot run {sys.executable}: other accounts cannot enter "
            f"{closed[0]}; install quantdesk where every account can read it (e.g. /opt)"
        )
    directory = gateway_directory(settings)
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    limits = user_limits(cluster_size(host_facts(), settings))
    config = gateway_config(address=address, password_file=password_file(settings), limits=limits)
    write_private_json(directory / _CONFIG_FILE, config)
    started = start_gateway(directory / _CONFIG_FILE, log_path=directory / _LOG_FILE, detached=True)
    record = GatewayRecord(started.address, started.process.pid, started.backend, limits)
    write_private_json(directory / _STATE_FILE, record.to_json())
    return record


def gateway_down(settings: Settings) -> GatewayRecord:
    """Stop the gateway ``quantdesk gateway up`` started, and with it every user's cluster.

    Parameters
    ----------
    settings
        Its state is under ``data_dir/gateway``.

    Returns
    -------
    GatewayRecord
        The gateway that was stopped.

    Raises
    ------
    ComputeError
        If no gateway is up.
    """
    record = running_gateway(settings)
    if record is None:
        raise ComputeError("no gateway is up; 'quantdesk gateway up' starts one")
    stop_process(record.pid)
    (gateway_directory(settings) / _STATE_FILE).unlink(missing_ok=True)
    return record
