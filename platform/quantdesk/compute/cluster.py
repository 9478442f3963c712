"""Start, reach, report on and stop the Dask cluster quantdesk runs work on.

:func:`connect` picks the cluster: the user's own cluster on the Dask gateway
``QUANTDESK_GATEWAY`` names, else the scheduler ``QUANTDESK_SCHEDULER`` names,
else the long-lived one ``quantdesk cluster up`` started, else a local one
started on demand for this process (and ended with it). Clusters quantdesk
starts run in a process of their own (:mod:`quantdesk.compute.host`) whose
environment holds no credentials, listen on 127.0.0.1 only, and are sized
by :mod:`quantdesk.compute.sizing`.

Files in ``settings.compute_dir`` (mode 0700)::

    cluster.json   the long-lived cluster's address, dashboard, pid and size (mode 0600)
    tls.json       its TLS certificate and key: only a client holding them connects (0600)
    cluster.log    its output
    scratch/       the workers' scratch and spill directory
"""

from __future__ import annotations

import atexit
import contextlib
import dataclasses
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import psutil
from filelock import FileLock

from quantdesk.compute.environment import worker_environment
from quantdesk.compute.host import HOST_MODULE, LISTEN_HOST
from quantdesk.compute.processes import runs_module
from quantdesk.compute.sizing import ClusterSize, cluster_size, host_facts
from quantdesk.compute.transport import CREDENTIALS_FILE, ClusterCredentials
from quantdesk.config import Settings
from quantdesk.errors import ComputeError, SchedulerUnavailableError

if TYPE_CHECKING:
    from distributed import Client

START_TIMEOUT_SECONDS = 120.0
CONNECT_TIMEOUT_SECONDS = 10.0
STOP_TIMEOUT_SECONDS = 30.0
DEFAULT_DASHBOARD_ADDRESS = f"{LISTEN_HOST}:8787"
_POLL_SECONDS = 0.05
_STATE_FILE = "cluster.json"
_LOG_FILE = "cluster.log"


@dataclass(frozen=True)
class ClusterRecord:
    """A running cluster quantdesk started, as its host process reported it.

    Attributes
    ----------
    address
        The scheduler's address, ``tcp://127.0.0.1:PORT``.
    dashboard_link
        The Dask dashboard's URL.
    pid
        The host process's id.
    size
        The cluster's shape.
    credentials_file
        Where its TLS credentials are (mode 0600), or None for a plain TCP one.
    """

    address: str
    dashboard_link: str
    pid: int
    size: ClusterSize
    credentials_file: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The record as a JSON-ready dict, one key per attribute."""
        return dataclasses.asdict(self)

    @classmethod
    def read(cls, path: Path) -> ClusterRecord | None:
        """The record in ``path``, or None when it is missing or unreadable.

        Parameters
        ----------
        path
            A ready or state file the host process wrote.

        Returns
        -------
        ClusterRecord or None
            The record.
        """
        try:
            values = json.loads(path.read_text())
            return cls(
                address=str(values["address"]),
                dashboard_link=str(values["dashboard_link"]),
                pid=int(values["pid"]),
                size=ClusterSize.from_json(values["size"]),
                credentials_file=values.get("credentials_file"),
            )
        except (OSError, ValueError, KeyError, TypeError):
            return None


class LocalClusterProcess:
    """A cluster host process this process started, and the record it reported.

    Parameters
    ----------
    process
        The host process.
    record
        What it reported once its workers were up.
    owned_directory
        A directory of its files to remove once it is stopped.
    """

    def __init__(
        self,
        process: subprocess.Popen[bytes],
        record: ClusterRecord,
        owned_directory: Path | None = None,
    ) -> None:
        self.process = process
        self.record = record
        self.owned_directory = owned_directory

    def __repr__(self) -> str:
        return f"LocalClusterProcess(address={self.record.address!r}, pid={self.record.pid})"

    @property
    def address(self) -> str:
        """The scheduler's address."""
        return self.record.address

    def client(self) -> Client:
        """A new client of this cluster, presenting its credentials."""
        return client_for(
            self.address,
            unreachable=f"the local Dask cluster at {self.address} is unreachable",
            credentials_file=self.record.credentials_file,
        )

    def close(self) -> None:
        """Stop the cluster and wait for its process to exit."""
        stop_process(self.process.pid)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=STOP_TIMEOUT_SECONDS)
        if self.owned_directory is not None:
            shutil.rmtree(self.owned_directory, ignore_errors=True)

    def __enter__(self) -> LocalClusterProcess:
        return self

    def __exit__(self, *exception: object) -> None:
        self.close()


def start_cluster_process(
    size: ClusterSize,
    *,
    ready_file: Path,
    local_directory: Path,
    dashboard_address: str = ":0",
    detached: bool = False,
    log_path: Path | None = None,
) -> LocalClusterProcess:
    """Start a cluster host process with a credential-free environment and wait until it is up.

    Parameters
    ----------
    size
        The cluster's shape.
    ready_file
        Where the process reports its address; must not exist yet.
    local_directory
        The workers' scratch and spill directory; created mode 0700.
    dashboard_address
        Where the dashboard listens; ``:0`` for any free port.
    detached
        Keep running after this process exits (its own session); otherwise
        the cluster stops when this process is gone.
    log_path
        Where its output goes; discarded when None.

    Returns
    -------
    LocalClusterProcess
        The running cluster.

    Raises
    ------
    ComputeError
        If it exits or is not up within the start timeout; the message names the log.
    """
    local_directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    credentials_file = ready_file.with_name(CREDENTIALS_FILE)
    ClusterCredentials.new().write(credentials_file)
    # -P keeps the working directory off the front of sys.path, where a stray dask.py
    # would shadow Dask's; the host appends it instead, so the caller's modules still import.
    command = [
        sys.executable,
        "-P",
        "-m",
        HOST_MODULE,
        "--import-directory",
        os.getcwd(),
        "--size",
        json.dumps(size.to_json()),
        "--ready-file",
        str(ready_file),
        "--local-directory",
        str(local_directory),
        "--dashboard-address",
        dashboard_address,
        "--credentials-file",
        str(credentials_file),
    ]
    if detached:
        command.append("--detached")
    with contextlib.ExitStack() as stack:
        output = stack.enter_context(log_path.open("ab")) if log_path is not None else None
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=output if output is not None else subprocess.DEVNULL,
            stderr=output if output is not None else subprocess.DEVNULL,
            env=worker_environment(os.environ),
            cwd=local_directory,
            start_new_session=detached,
        )
    where = f"; see {log_path}" if log_path is not None else ""
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while (record := ClusterRecord.read(ready_file)) is None:
        if process.poll() is not None:
            raise ComputeError(
                f"the local Dask cluster exited while starting (status {process.returncode}){where}"
            )
        if time.monotonic() > deadline:
            stop_process(process.pid)
            raise ComputeError(
                f"the local Dask cluster did not start within {START_TIMEOUT_SECONDS:g} s{where}"
            )
        time.sleep(_POLL_SECONDS)
    return LocalClusterProcess(process, record)


def local_cluster(size: ClusterSize) -> LocalClusterProcess:
    """Start a local cluster of ``size`` that lives as long as this process (or until closed).

    Parameters
    ----------
    size
        The cluster's shape (see :func:`quantdesk.compute.sizing.cluster_size`).

    Returns
    -------
    LocalClusterProcess
        The running cluster; use it as a context manager, or call ``close``.
    """
    directory = Path(tempfile.mkdtemp(prefix="quantdesk-cluster-"))
    try:
        started = start_cluster_process(
            size, ready_file=directory / _STATE_FILE, local_directory=directory / "scratch"
        )
    except BaseException:
        shutil.rmtree(directory, ignore_errors=True)
        raise
    started.owned_directory = directory
    return started


def client_for(
    address: str, *, unreachable: str, credentials_file: str | Path | None = None
) -> Client:
    """A Dask client of the scheduler at ``address``, or a one-line error.

    Parameters
    ----------
    address
        The scheduler's address, e.g. ``tcp://127.0.0.1:8786``.
    unreachable
        The message when it cannot be reached.
    credentials_file
        The cluster's TLS credentials, for a cluster quantdesk started.

    Returns
    -------
    distributed.Client
        A connected client.

    Raises
    ------
    SchedulerUnavailableError
        If nothing answers at ``address`` within the connect timeout.
    """
    from distributed import Client

    _refuse_closed_port(address, unreachable)
    security = (
        None
        if credentials_file is None
        else ClusterCredentials.read(Path(credentials_file)).security()
    )
    if security is None and urlsplit(address).scheme == "tls" and not _tls_configured():
        raise SchedulerUnavailableError(
            f"the scheduler at {address} requires TLS; set QUANTDESK_SCHEDULER_CREDENTIALS_FILE "
            "to its cluster's tls.json (or configure Dask's distributed.comm.tls)"
        )
    try:
        return Client(  # type: ignore[no-untyped-call]
            address, timeout=CONNECT_TIMEOUT_SECONDS, set_as_default=False, security=security
        )
    except (OSError, TimeoutError) as error:
        raise SchedulerUnavailableError(f"{unreachable} ({_first_line(error)})") from None


def connect(settings: Settings) -> Client:
    """A client of the cluster quantdesk should use, starting a local one if there is none.

    Parameters
    ----------
    settings
        ``gateway`` (``QUANTDESK_GATEWAY``) wins: the user's own cluster on
        that Dask gateway; then ``scheduler`` (``QUANTDESK_SCHEDULER``); then the cluster
        ``quantdesk cluster up`` recorded under ``compute_dir``; else a local
        cluster sized from this host, started once for this process.

    Returns
    -------
    distributed.Client
        A connected client; close it when done.

    Raises
    ------
    SchedulerUnavailableError
        If the chosen scheduler or gateway cannot be reached, or the gateway
        refuses the credentials.
    ComputeError
        If a local cluster cannot be started.
    """
    if settings.gateway is not None:
        from quantdesk.compute.gateway_client import gateway_client

        return gateway_client(settings)
    if settings.scheduler is not None:
        return client_for(
            settings.scheduler,
            unreachable=(
                f"QUANTDESK_SCHEDULER={settings.scheduler} is unreachable; start one with "
                "'quantdesk cluster up' or unset it"
            ),
            credentials_file=settings.scheduler_credentials_file,
        )
    record = running_cluster(settings)
    if record is not None:
        return client_for(
            record.address,
            unreachable=(
                f"the cluster 'quantdesk cluster up' started at {record.address} is unreachable; "
                "run 'quantdesk cluster down' then 'quantdesk cluster up'"
            ),
            credentials_file=record.credentials_file,
        )
    return _on_demand_cluster(settings).client()


_on_demand: dict[Path, LocalClusterProcess] = {}
_on_demand_lock = threading.Lock()


def _on_demand_cluster(settings: Settings) -> LocalClusterProcess:
    with _on_demand_lock:
        cluster = _on_demand.get(settings.compute_dir)
        if cluster is None or cluster.process.poll() is not None:
            cluster = local_cluster(cluster_size(host_facts(), settings))
            if not _on_demand:
                atexit.register(close_on_demand_clusters)
            _on_demand[settings.compute_dir] = cluster
        return cluster


def close_on_demand_clusters() -> None:
    """Stop every cluster :func:`connect` started on demand in this process."""
    with _on_demand_lock:
        for cluster in _on_demand.values():
            cluster.close()
        _on_demand.clear()


def running_cluster(settings: Settings) -> ClusterRecord | None:
    """The long-lived cluster ``quantdesk cluster up`` started, if it still runs.

    Parameters
    ----------
    settings
        Its state file is in ``settings.compute_dir``.

    Returns
    -------
    ClusterRecord or None
        None when none was started or its process is gone.
    """
    record = ClusterRecord.read(settings.compute_dir / _STATE_FILE)
    return record if record is not None and is_cluster_host(record.pid) else None


def cluster_up(
    settings: Settings, *, dashboard_address: str = DEFAULT_DASHBOARD_ADDRESS
) -> ClusterRecord:
    """Start the long-lived local cluster, detached from this process.

    Parameters
    ----------
    settings
        Sizing overrides and ``compute_dir``.
    dashboard_address
        Where the dashboard listens; Dask picks another port if it is taken.

    Returns
    -------
    ClusterRecord
        The running cluster.

    Raises
    ------
    ComputeError
        If one already runs, ``QUANTDESK_SCHEDULER`` is set, or it does not start.
    """
    if settings.scheduler is not None:
        raise ComputeError(
            f"QUANTDESK_SCHEDULER={settings.scheduler} is set, so quantdesk uses that "
            "scheduler; unset it to start a local cluster"
        )
    directory = _private_directory(settings.compute_dir)
    with _locked(directory):
        record = running_cluster(settings)
        if record is not None:
            raise ComputeError(
                f"a cluster is already up at {record.address} (pid {record.pid}); "
                "'quantdesk cluster down' stops it"
            )
        state_file = directory / _STATE_FILE
        state_file.unlink(missing_ok=True)
        started = start_cluster_process(
            cluster_size(host_facts(), settings),
            ready_file=state_file,
            local_directory=directory / "scratch",
            dashboard_address=dashboard_address,
            detached=True,
            log_path=directory / _LOG_FILE,
        )
        return started.record


def cluster_down(settings: Settings) -> ClusterRecord:
    """Stop the long-lived local cluster.

    Parameters
    ----------
    settings
        Its state file is in ``settings.compute_dir``.

    Returns
    -------
    ClusterRecord
        The cluster that was stopped.

    Raises
    ------
    ComputeError
        If no cluster is up.
    """
    directory = settings.compute_dir
    record = running_cluster(settings) if directory.is_dir() else None
    if record is None:
        raise ComputeError("no cluster is up; 'quantdesk cluster up' starts one")
    with _locked(directory):
        stop_process(record.pid)
        (directory / _STATE_FILE).unlink(missing_ok=True)
        (directory / CREDENTIALS_FILE).unlink(missing_ok=True)
    return record


@dataclass(frozen=True)
class WorkerStatus:
    """One worker as the scheduler sees it.

    Attributes
    ----------
    address
        The worker's address.
    threads
        Its threads.
    memory_limit_bytes
        Its memory limit.
    memory_bytes
        The memory its process uses now.
    cpu_percent
        Its process's CPU use now.
    running_tasks
        Tasks it is executing, as of its last heartbeat.
    """

    address: str
    threads: int
    memory_limit_bytes: int
    memory_bytes: int
    cpu_percent: float
    running_tasks: int

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict with every field by name."""
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class ClusterStatus:
    """What ``quantdesk cluster status`` reports.

    Attributes
    ----------
    address
        The scheduler's address.
    dashboard_link
        The Dask dashboard's URL, when it has one.
    host_cpu_percent
        This host's CPU use over a short interval.
    host_memory_total_bytes, host_memory_available_bytes
        This host's RAM, and how much is free for new work.
    workers
        Each worker.
    running_tasks
        Tasks executing on a worker now (as of the workers' last heartbeat).
    queued_tasks
        Tasks ready to run that wait for a thread: those the scheduler holds
        back, those no worker can run, and those a worker holds but has not started.
    """

    address: str
    dashboard_link: str | None
    host_cpu_percent: float
    host_memory_total_bytes: int
    host_memory_available_bytes: int
    workers: tuple[WorkerStatus, ...]
    running_tasks: int
    queued_tasks: int

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict with every field by name, each worker as a dict."""
        return dataclasses.asdict(self)


def cluster_status(client: Client, *, dashboard_link: str | None = None) -> ClusterStatus:
    """The host's CPU and RAM, and the cluster's workers and tasks, through ``client``.

    Parameters
    ----------
    client
        A client of the cluster's scheduler.
    dashboard_link
        The dashboard's URL when known; else the client's.

    Returns
    -------
    ClusterStatus
        A snapshot.
    """
    information = client.scheduler_info(n_workers=-1)
    assigned = client.processing()  # type: ignore[no-untyped-call]
    workers = tuple(
        WorkerStatus(
            address=address,
            threads=int(worker["nthreads"]),
            memory_limit_bytes=int(worker["memory_limit"]),
            memory_bytes=int(worker["metrics"]["memory"]),
            cpu_percent=float(worker["metrics"]["cpu"]),
            running_tasks=int(worker["metrics"].get("task_counts", {}).get("executing", 0)),
        )
        for address, worker in sorted(information["workers"].items())
    )
    running = sum(worker.running_tasks for worker in workers)
    # A lambda travels by value, so a scheduler without quantdesk installed can run it too.
    unassigned = int(
        client.run_on_scheduler(  # type: ignore[no-untyped-call]
            lambda dask_scheduler: len(dask_scheduler.queued) + len(dask_scheduler.unrunnable)
        )
    )
    memory = psutil.virtual_memory()
    return ClusterStatus(
        address=str(information["address"]),
        dashboard_link=dashboard_link or client.dashboard_link,
        host_cpu_percent=psutil.cpu_percent(interval=0.1),
        host_memory_total_bytes=memory.total,
        host_memory_available_bytes=memory.available,
        workers=workers,
        running_tasks=running,
        queued_tasks=unassigned + max(0, sum(len(keys) for keys in assigned.values()) - running),
    )


def is_cluster_host(pid: int) -> bool:
    """Whether ``pid`` is a live cluster host process (see :mod:`quantdesk.compute.host`).

    Parameters
    ----------
    pid
        A process id.

    Returns
    -------
    bool
        True for a running process whose command line runs the host module.
    """
    return runs_module(pid, HOST_MODULE)


def stop_process(pid: int) -> None:
    """Ask the cluster host ``pid`` to stop, and kill it and its workers if it has not in time.

    Parameters
    ----------
    pid
        The host process's id.
    """
    try:
        host = psutil.Process(pid)
        children = host.children(recursive=True)
        host.send_signal(signal.SIGTERM)
    except psutil.NoSuchProcess:
        return
    _, alive = psutil.wait_procs([host], timeout=STOP_TIMEOUT_SECONDS)
    for process in [*alive, *children]:
        with contextlib.suppress(psutil.NoSuchProcess):
            if process.is_running() and process.status() != psutil.STATUS_ZOMBIE:
                process.kill()


def _refuse_closed_port(address: str, unreachable: str) -> None:
    """Fail at once when a TCP scheduler's port refuses, rather than after the connect timeout."""
    parts = urlsplit(address)
    if parts.scheme not in {"tcp", "tls"} or parts.hostname is None or parts.port is None:
        return
    try:
        with socket.create_connection(
            (parts.hostname, parts.port), timeout=CONNECT_TIMEOUT_SECONDS
        ):
            pass
    except OSError as error:
        raise SchedulerUnavailableError(f"{unreachable} ({_first_line(error)})") from None


def _tls_configured() -> bool:
    import dask

    return bool(dask.config.get("distributed.comm.tls.client.cert", None))


def _private_directory(directory: Path) -> Path:
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as error:
        raise ComputeError(
            f"cannot create the compute directory {directory} ({error.strerror}); "
            "set QUANTDESK_DATA_DIR to a writable directory"
        ) from None
    return directory


def _locked(directory: Path) -> FileLock:
    return FileLock(str(directory / ".cluster.lock"), timeout=START_TIMEOUT_SECONDS)


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
