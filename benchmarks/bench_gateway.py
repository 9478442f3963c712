"""Gateway benchmarks: a user's cluster start, and an empty job's round trip, vs a local cluster.

Run ``.venv/bin/python benchmarks/bench_gateway.py`` as root. It starts a
dask-gateway server from quantdesk's generated configuration (the account
backend: the cluster runs under the OS account ``qdgw_bench``, created if
missing), and a local cluster (:func:`quantdesk.compute.cluster.local_cluster`)
of the same shape: one worker, one thread. It measures

- start: from asking to a client with its worker, through
  :func:`quantdesk.compute.cluster.connect` for the gateway (submit, wait,
  scale, connect) and ``local_cluster`` plus ``wait_for_workers`` locally;
  the median of a few fresh starts each;
- round trip: ``client.submit`` of a no-op and its result, and the same
  no-op as a one-task job through ``JobTracker(client, record=False)``, its
  admission told the host is idle (a busy shared machine would hold it back).

When this environment's Python lies under a directory other accounts cannot
enter (``/root``), it is opened for traversal (``o+x``) for the run and closed after.
"""

from __future__ import annotations

import os
import pwd
import stat
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
from distributed import Client

import quantdesk
from quantdesk.compute.admission import HostLoad
from quantdesk.compute.cluster import connect, local_cluster
from quantdesk.compute.gateway_auth import add_gateway_user
from quantdesk.compute.gateway_client import open_gateway
from quantdesk.compute.gateway_server import (
    closed_directories,
    free_address,
    gateway_config,
    start_gateway,
    user_limits,
    write_private_json,
)
from quantdesk.compute.jobs import JobTracker
from quantdesk.compute.sizing import GIB, ClusterSize
from quantdesk.config import Settings
from timing import median_seconds, print_markdown_table

ACCOUNT = "qdgw_bench"
SIZE = ClusterSize(workers=1, threads_per_worker=1, memory_limit_bytes=2 * GIB, reserve_bytes=GIB)
STARTS = 3
ROUND_TRIPS = 51
SWEEPS = 11


def no_op() -> None:
    """Nothing, remotely."""


@contextmanager
def reachable_python() -> Iterator[None]:
    """Let other accounts traverse the directories above this Python for the run."""
    modes = {directory: directory.stat().st_mode for directory in closed_directories()}
    for directory, mode in modes.items():
        directory.chmod(stat.S_IMODE(mode) | stat.S_IXOTH)
    try:
        yield
    finally:
        for directory, mode in modes.items():
            directory.chmod(stat.S_IMODE(mode))


def idle_host() -> HostLoad:
    """A host load admission always lets through."""
    return HostLoad(cpu_percent=0.0, memory_percent=0.0)


def round_trips(client: Client) -> tuple[float, float, float]:
    """Median seconds of a no-op, a one-task job, and a one-combination ``quantdesk.sweep``."""
    direct = median_seconds(
        lambda: client.submit(no_op, pure=False).result(), ROUND_TRIPS, warm_up=True
    )
    # Admission would hold the job back while the shared host is busy; this times the round trip.
    with JobTracker(client, record=False, host_load=idle_host) as tracker:
        tracked = median_seconds(
            lambda: tracker.submit("bench", [(no_op, ())]).result(timeout=60),
            ROUND_TRIPS,
            warm_up=True,
        )
    bars = sample_bars()
    swept = median_seconds(
        lambda: quantdesk.sweep(
            "sma_cross", bars, {"fast": [10], "slow": [30]}, client=client, record=False
        ).result(timeout=60),
        SWEEPS,
        warm_up=True,
    )
    return direct, tracked, swept


def sample_bars() -> pd.DataFrame:
    """1,000 hourly bars of the offline sample source."""
    return quantdesk.load(
        "sample:BTC/USDT", timeframe="1h", start="2024-01-01", end="2024-02-11 16:00"
    )


def gateway_figures(directory: Path) -> dict[str, float]:
    """Start a gateway; time its start, fresh and reused cluster starts, and round trips."""
    config = gateway_config(
        address=free_address(),
        password_file=directory / "users.json",
        limits=user_limits(SIZE, idle_timeout_seconds=600),
    )
    write_private_json(directory / "config.json", config)
    password = add_gateway_user(directory / "users.json", ACCOUNT)
    started = time.perf_counter()
    gateway = start_gateway(directory / "config.json", log_path=directory / "gateway.log")
    figures = {"server": time.perf_counter() - started}
    settings = Settings(gateway=gateway.address, gateway_user=ACCOUNT, gateway_password=password)
    with gateway, open_gateway(gateway.address, ACCOUNT, password) as administration:
        fresh = []
        for _ in range(STARTS):
            started = time.perf_counter()
            client = connect(settings)
            client.wait_for_workers(SIZE.workers, timeout=120)
            fresh.append(time.perf_counter() - started)
            client.close()
            for report in administration.list_clusters():
                administration.stop_cluster(report.name)
        figures["fresh"] = statistics.median(fresh)
        client = connect(settings)
        client.wait_for_workers(SIZE.workers, timeout=120)
        started = time.perf_counter()
        connect(settings).close()
        figures["reused"] = time.perf_counter() - started
        figures["direct"], figures["tracked"], figures["sweep"] = round_trips(client)
        client.close()
    return figures


def local_figures() -> dict[str, float]:
    """Time local cluster starts of the same shape, and the same round trips."""
    fresh = []
    for _ in range(STARTS):
        started = time.perf_counter()
        with local_cluster(SIZE) as cluster, cluster.client() as client:
            client.wait_for_workers(SIZE.workers, timeout=120)
            fresh.append(time.perf_counter() - started)
    figures = {"fresh": statistics.median(fresh)}
    with local_cluster(SIZE) as cluster, cluster.client() as client:
        client.wait_for_workers(SIZE.workers, timeout=120)
        figures["direct"], figures["tracked"], figures["sweep"] = round_trips(client)
    return figures


def main() -> None:
    """Measure and print the Markdown table."""
    if os.geteuid() != 0:
        sys.exit("bench_gateway: run as root (the gateway runs the cluster as another account)")
    try:
        pwd.getpwnam(ACCOUNT)
    except KeyError:
        subprocess.run(["useradd", "--create-home", "-K", "HOME_MODE=0700", ACCOUNT], check=True)
    with tempfile.TemporaryDirectory(prefix="bench-gateway-") as name, reachable_python():
        gateway = gateway_figures(Path(name))
    local = local_figures()
    print_markdown_table(
        [
            ("gateway server start", f"{gateway['server']:.2f} s", "until /api/health answers"),
            (
                "gateway: new cluster to a client with its worker",
                f"{gateway['fresh']:.2f} s",
                f"median of {STARTS}; connect() with QUANTDESK_GATEWAY",
            ),
            (
                "gateway: connect() to the user's running cluster",
                f"{gateway['reused']:.2f} s",
                "list, report, scale, connect",
            ),
            (
                "local: local_cluster to a client with its worker",
                f"{local['fresh']:.2f} s",
                f"median of {STARTS}",
            ),
            (
                "gateway: submit(no-op).result()",
                f"{gateway['direct'] * 1000:.1f} ms",
                f"median of {ROUND_TRIPS}; TLS through the gateway's proxy",
            ),
            ("local: submit(no-op).result()", f"{local['direct'] * 1000:.1f} ms", "TLS, 127.0.0.1"),
            (
                "gateway: one-task job through JobTracker",
                f"{gateway['tracked'] * 1000:.1f} ms",
                f"median of {ROUND_TRIPS}; record=False",
            ),
            (
                "local: one-task job through JobTracker",
                f"{local['tracked'] * 1000:.1f} ms",
                f"median of {ROUND_TRIPS}; record=False",
            ),
            (
                "gateway: quantdesk.sweep of 1 combination, 1,000 bars",
                f"{gateway['sweep'] * 1000:.1f} ms",
                f"median of {SWEEPS}; scatter, one chunk, combine; record=False",
            ),
            (
                "local: quantdesk.sweep of 1 combination, 1,000 bars",
                f"{local['sweep'] * 1000:.1f} ms",
                f"median of {SWEEPS}; record=False",
            ),
        ]
    )


if __name__ == "__main__":
    main()
