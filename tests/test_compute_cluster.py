"""A real local cluster: workers see no credentials, QUANTDESK_SCHEDULER, status, errors, the CLI.

One two-worker cluster is shared by the module's tests; the CLI test starts
and stops its own one-worker cluster with ``cluster up`` and ``down``.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from distributed import Event

import quantdesk
from quantdesk.api.cluster import cluster_status, cluster_up, get_client
from quantdesk.compute.cluster import (
    LocalClusterProcess,
    close_on_demand_clusters,
    is_cluster_host,
    local_cluster,
)
from quantdesk.compute.sizing import GIB, ClusterSize
from quantdesk.config import Settings
from quantdesk.errors import ComputeError, SchedulerUnavailableError
from tests.command_line import run_quantdesk
from tests.frames import sample_bars

SECRETS = {
    "QUANTDESK_DATABASE_URL": "postgresql://ann:database-secret@127.0.0.1/quantdesk",
    "QUANTDESK_ADMIN_DATABASE_URL": "postgresql://manager:admin-secret@127.0.0.1/quantdesk",
    "PGPASSWORD": "pg-secret",
    "ALPACA_API_SECRET_KEY": "alpaca-secret",
}
SIZE = ClusterSize(workers=2, threads_per_worker=1, memory_limit_bytes=GIB, reserve_bytes=GIB)


def on(cluster: LocalClusterProcess) -> Settings:
    """Settings naming ``cluster`` as QUANTDESK_SCHEDULER, with its credentials."""
    return Settings(
        scheduler=cluster.address,
        scheduler_credentials_file=cluster.record.credentials_file,
    )


@pytest.fixture(scope="module")
def cluster() -> Iterator[LocalClusterProcess]:
    """Two workers, started while this process's environment holds credentials."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in SECRETS.items():
            patch.setenv(name, value)
        started = local_cluster(SIZE)
    with started:
        yield started
    assert started.owned_directory is not None
    assert not started.owned_directory.exists()


def closed_port_address() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"tcp://127.0.0.1:{port}"


def test_a_task_cannot_read_credentials_from_a_worker_or_the_scheduler(
    cluster: LocalClusterProcess,
) -> None:
    def seen() -> str:
        return repr(dict(os.environ)) + Path("/proc/self/environ").read_bytes().decode(
            errors="replace"
        )

    with get_client(on(cluster)) as client:
        on_workers = client.run(seen)
        on_scheduler = client.run_on_scheduler(seen)
    assert len(on_workers) == SIZE.workers
    for text in [*on_workers.values(), on_scheduler]:
        for name, value in SECRETS.items():
            assert name not in text
            assert value not in text


def test_workers_reuse_large_arrays_instead_of_mapping_each_afresh(
    cluster: LocalClusterProcess,
) -> None:
    def mmap_threshold() -> str | None:
        return os.environ.get("MALLOC_MMAP_THRESHOLD_")

    with get_client(on(cluster)) as client:
        thresholds = set(client.run(mmap_threshold).values())
    # Dask's nanny sets MALLOC_TRIM_THRESHOLD_, which freezes glibc's mmap
    # threshold at 128 KiB unless it is set explicitly too.
    assert thresholds == {str(64 * 1024 * 1024)}


def test_the_scheduler_never_imports_what_a_sweep_runs(cluster: LocalClusterProcess) -> None:
    def loaded() -> list[str]:
        import sys

        heavy = {"numba", "pandas", "talib", "quantdesk.strategies", "quantdesk.research"}
        return sorted(name for name in sys.modules if name in heavy)

    frame = sample_bars("BTC/USDT", "1h", "2024-01-01", "2024-01-20")
    with get_client(on(cluster)) as client:
        job = quantdesk.sweep(
            "sma_cross", frame, {"fast": "5,10", "slow": "20,30"}, client=client, record=False
        )
        assert len(job.result(timeout=120).rows) == 4
        # The scheduler unpickles every task: a task that carried the strategy's
        # function openly would load numba and pandas into it.
        assert client.run_on_scheduler(loaded) == []
        assert {"numba", "pandas"} <= set(next(iter(client.run(loaded).values())))


def test_workers_have_the_size_and_the_memory_thresholds(cluster: LocalClusterProcess) -> None:
    def shape(dask_worker: Any) -> tuple[Any, ...]:
        memory = dask_worker.memory_manager
        return (
            dask_worker.state.nthreads,
            memory.memory_limit,
            memory.memory_target_fraction,
            memory.memory_spill_fraction,
            memory.memory_pause_fraction,
        )

    with get_client(on(cluster)) as client:
        shapes = set(client.run(shape).values())
    assert shapes == {(1, GIB, 0.6, 0.7, 0.8)}


def test_status_counts_running_and_queued_tasks(cluster: LocalClusterProcess) -> None:
    settings = on(cluster)
    with get_client(settings) as client:
        event = f"quantdesk-test-{os.getpid()}-{time.monotonic_ns()}"
        gate = Event(event, client=client)
        held = [client.submit(_wait_for, event, index, pure=False) for index in range(4)]
        deadline = time.monotonic() + 30
        while (status := cluster_status(settings)).running_tasks < SIZE.workers or (
            status.queued_tasks != 4 - SIZE.workers
        ):
            assert time.monotonic() < deadline, status
            time.sleep(0.05)
        assert status.queued_tasks == 4 - SIZE.workers
        assert [worker.running_tasks for worker in status.workers] == [1, 1]
        assert {worker.memory_limit_bytes for worker in status.workers} == {GIB}
        assert status.host_memory_total_bytes >= status.host_memory_available_bytes > 0
        gate.set()
        assert client.gather(held) == [0, 1, 2, 3]


def _wait_for(name: str, index: int) -> int:
    from distributed import Event

    Event(name).wait(60)
    return index


def test_the_scheduler_setting_connects_there(cluster: LocalClusterProcess, tmp_path: Path) -> None:
    result = run_quantdesk(
        "cluster",
        "status",
        "--json",
        data_dir=tmp_path,
        extra_environment={
            "QUANTDESK_SCHEDULER": cluster.address,
            "QUANTDESK_SCHEDULER_CREDENTIALS_FILE": str(cluster.record.credentials_file),
        },
    )
    assert result.returncode == 0, result.stderr
    status = json.loads(result.stdout)
    assert status["address"] == cluster.address
    assert len(status["workers"]) == SIZE.workers
    without = run_quantdesk(
        "cluster",
        "status",
        data_dir=tmp_path,
        extra_environment={"QUANTDESK_SCHEDULER": cluster.address},
    )
    assert without.returncode == 1
    assert without.stderr == (
        f"quantdesk: error: the scheduler at {cluster.address} requires TLS; set "
        "QUANTDESK_SCHEDULER_CREDENTIALS_FILE to its cluster's tls.json (or configure "
        "Dask's distributed.comm.tls)\n"
    )


def test_a_client_without_the_clusters_own_certificate_cannot_connect(
    cluster: LocalClusterProcess,
) -> None:
    from distributed import Client
    from distributed.security import Security

    assert cluster.address.startswith("tls://127.0.0.1:")
    plain = cluster.address.replace("tls://", "tcp://")
    # What another account on the host would type: plain TCP, or TLS with a certificate of its own.
    with pytest.raises((OSError, TimeoutError)):
        Client(plain, timeout=3, set_as_default=False)
    with pytest.raises((OSError, TimeoutError)):
        Client(cluster.address, security=Security.temporary(), timeout=3, set_as_default=False)
    with cluster.client() as client:
        assert client.submit(sum, [2, 3]).result() == 5


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to act as another OS account")
def test_another_account_cannot_read_the_clusters_credentials(
    cluster: LocalClusterProcess,
) -> None:
    credentials = Path(str(cluster.record.credentials_file))
    assert credentials.stat().st_mode & 0o777 == 0o600
    assert credentials.parent.stat().st_mode & 0o077 == 0
    attempt = subprocess.run(
        ["runuser", "-u", "nobody", "--", "cat", str(credentials)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert attempt.returncode != 0
    assert "Permission denied" in attempt.stderr
    assert "PRIVATE KEY" not in attempt.stdout
    assert "PRIVATE KEY" not in repr(cluster) + repr(cluster.record)


def test_an_unreachable_scheduler_is_one_line(tmp_path: Path) -> None:
    address = closed_port_address()
    expected = (
        f"QUANTDESK_SCHEDULER={address} is unreachable; start one with 'quantdesk cluster up' "
        "or unset it"
    )
    with pytest.raises(SchedulerUnavailableError, match="is unreachable") as caught:
        get_client(Settings(scheduler=address))
    assert str(caught.value).startswith(expected)
    result = run_quantdesk(
        "cluster",
        "status",
        data_dir=tmp_path,
        extra_environment={"QUANTDESK_SCHEDULER": address},
    )
    assert result.returncode == 1
    assert result.stderr.startswith(f"quantdesk: error: {expected}")
    assert result.stderr.count("\n") == 1


def test_cluster_up_status_down_as_json(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Started from a directory whose dask.py would shadow Dask's if it were on the path.
    (tmp_path / "dask.py").write_text("raise ImportError('the working directory was imported')\n")
    monkeypatch.chdir(tmp_path)
    environment = {"QUANTDESK_CLUSTER_WORKERS": "1", **SECRETS}
    environment.pop("QUANTDESK_DATABASE_URL")

    def quantdesk(*words: str) -> Any:
        return run_quantdesk(*words, data_dir=tmp_path, extra_environment=environment)

    missing = quantdesk("cluster", "status", "--json")
    assert missing.returncode == 1
    assert json.loads(missing.stderr) == {
        "error": "no cluster is up; 'quantdesk cluster up' starts one"
    }
    up = quantdesk("cluster", "up", "--json", "--dashboard-address", "127.0.0.1:0")
    assert up.returncode == 0, up.stderr
    record = json.loads(up.stdout)
    try:
        assert record["address"].startswith("tls://127.0.0.1:")
        assert record["dashboard_link"].startswith("http://127.0.0.1:")
        assert record["size"]["workers"] == 1
        assert (tmp_path / "compute" / "cluster.json").stat().st_mode & 0o777 == 0o600

        again = quantdesk("cluster", "up")
        assert again.returncode == 1
        assert again.stderr.startswith(
            f"quantdesk: error: a cluster is already up at {record['address']}"
        )

        status = quantdesk("cluster", "status", "--json")
        assert status.returncode == 0, status.stderr
        shown = json.loads(status.stdout)
        assert shown["address"] == record["address"]
        assert shown["dashboard_link"] == record["dashboard_link"]
        assert [worker["threads"] for worker in shown["workers"]] == [1]
        assert 0 <= shown["host_cpu_percent"] <= 100

        text = quantdesk("cluster", "status")
        assert f"scheduler {record['address']}" in text.stdout

        with get_client(Settings(data_dir=tmp_path)) as client:
            assert client.scheduler.address == record["address"]
            assert client.submit(sum, [1, 2, 3]).result() == 6
    finally:
        down = quantdesk("cluster", "down", "--json")
    assert down.returncode == 0, down.stderr
    assert json.loads(down.stdout)["address"] == record["address"]
    assert not is_cluster_host(record["pid"])
    not_up = quantdesk("cluster", "down")
    assert not_up.returncode == 1
    assert (
        not_up.stderr == "quantdesk: error: no cluster is up; 'quantdesk cluster up' starts one\n"
    )


def test_cluster_up_refuses_while_a_scheduler_is_configured(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, scheduler="tcp://127.0.0.1:1")
    with pytest.raises(ComputeError, match="unset it to start a local cluster"):
        cluster_up(settings)


def test_without_a_cluster_get_client_starts_one_for_this_process_and_reuses_it(
    tmp_path: Path,
) -> None:
    settings = Settings(data_dir=tmp_path, cluster_workers=1)
    try:
        with get_client(settings) as first, get_client(settings) as second:
            assert first.scheduler.address == second.scheduler.address
            [worker] = first.scheduler_info(n_workers=-1)["workers"].values()
            assert worker["nthreads"] == 1
            assert first.submit(sum, [1, 2]).result() == 3
            host_pid = first.run_on_scheduler(os.getpid)
        assert is_cluster_host(host_pid)
    finally:
        close_on_demand_clusters()
    assert not is_cluster_host(host_pid)
