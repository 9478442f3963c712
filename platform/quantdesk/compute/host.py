"""The process that hosts a local cluster: ``python -m quantdesk.compute.host``.

:func:`quantdesk.compute.cluster.start_cluster_process` starts it with an
environment free of credentials (see :mod:`quantdesk.compute.environment`).
It runs a :class:`distributed.LocalCluster` (the scheduler in this process,
each worker in its own process under a nanny), writes the scheduler's
address to its ready file (mode 0600) once the workers are up, and closes
the cluster on SIGTERM or SIGINT, or when the process that started it exits
(unless started ``--detached``, as ``quantdesk cluster up`` does).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from quantdesk.compute.sizing import ClusterSize
from quantdesk.compute.transport import ClusterCredentials
from quantdesk.store.private_file import write_private_text

HOST_MODULE = "quantdesk.compute.host"
LISTEN_HOST = "127.0.0.1"
_PARENT_CHECK_SECONDS = 0.5


def serve(
    size: ClusterSize,
    *,
    ready_file: Path,
    local_directory: Path,
    dashboard_address: str,
    parent_pid: int | None,
    credentials_file: Path | None = None,
) -> None:
    """Run a local cluster of ``size`` until told to stop.

    Parameters
    ----------
    size
        Workers, threads, memory limit and memory thresholds.
    ready_file
        Where to write ``{"address", "dashboard_link", "pid", "size"}`` once
        the workers are up.
    local_directory
        The workers' scratch and spill directory.
    dashboard_address
        Where the dashboard listens, e.g. ``127.0.0.1:8787``; ``:0`` for any port.
    parent_pid
        Stop when this process is gone; None to run until signalled.
    credentials_file
        The cluster's TLS credentials (see :mod:`quantdesk.compute.transport`):
        the scheduler and workers then accept only clients that present them.
        Plain TCP when None.
    """
    import dask
    from distributed import LocalCluster

    stop = threading.Event()
    for signal_number in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signal_number, lambda *_: stop.set())
    # Set for the whole process: a nanny restarting a worker gives it the config in force then.
    dask.config.set(size.dask_memory_config())
    tls: dict[str, Any] = {}
    if credentials_file is not None:
        tls = {
            "security": ClusterCredentials.read(credentials_file).security(),
            "protocol": "tls://",
        }
    with LocalCluster(  # type: ignore[no-untyped-call]
        n_workers=size.workers,
        threads_per_worker=size.threads_per_worker,
        memory_limit=size.memory_limit_bytes,
        processes=True,
        host=LISTEN_HOST,
        scheduler_port=0,
        dashboard_address=dashboard_address,
        local_directory=str(local_directory),
        **tls,
    ) as cluster:
        cluster.wait_for_workers(size.workers)
        record = {
            "address": cluster.scheduler_address,
            "dashboard_link": cluster.dashboard_link,
            "pid": os.getpid(),
            "size": size.to_json(),
            "credentials_file": None if credentials_file is None else str(credentials_file),
        }
        write_private_text(ready_file, json.dumps(record) + "\n")
        while not stop.wait(_PARENT_CHECK_SECONDS):
            if parent_pid is not None and os.getppid() != parent_pid:
                break


def main(arguments: Sequence[str] | None = None) -> None:
    """Read the command line and :func:`serve`.

    Parameters
    ----------
    arguments
        The words after the module's name; ``sys.argv[1:]`` when None.
    """
    parser = argparse.ArgumentParser(prog=f"python -m {HOST_MODULE}")
    parser.add_argument("--size", required=True, help="the ClusterSize as JSON")
    parser.add_argument("--ready-file", required=True, type=Path)
    parser.add_argument("--local-directory", required=True, type=Path)
    parser.add_argument("--dashboard-address", default=":0")
    parser.add_argument("--detached", action="store_true")
    parser.add_argument("--import-directory", type=Path, default=None)
    parser.add_argument("--credentials-file", type=Path, default=None)
    options = parser.parse_args(arguments)
    if options.import_directory is not None:
        # Last, so the standard library and installed packages win; workers inherit sys.path.
        sys.path.append(str(options.import_directory))
    serve(
        ClusterSize.from_json(json.loads(options.size)),
        ready_file=options.ready_file,
        local_directory=options.local_directory,
        dashboard_address=options.dashboard_address,
        parent_pid=None if options.detached else os.getppid(),
        credentials_file=options.credentials_file,
    )


if __name__ == "__main__":
    main()
