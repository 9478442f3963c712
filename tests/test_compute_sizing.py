"""Sizing a local cluster from the host's cores and RAM, and the environment its processes get."""

from __future__ import annotations

import pytest

from quantdesk.compute.environment import worker_environment
from quantdesk.compute.sizing import GIB, ClusterSize, HostFacts, cluster_size, host_facts
from quantdesk.config import Settings
from quantdesk.errors import ConfigurationError


def test_a_large_host_gets_a_worker_per_core_and_ram_less_a_tenth() -> None:
    size = cluster_size(HostFacts(physical_cores=8, total_memory_bytes=64 * GIB), Settings())
    # 10 % of 64 GiB is 6.4 GiB, over the 1 GiB floor; (64 - 6.4) / 8 = 7.2 GiB each.
    assert size.workers == 8
    assert size.threads_per_worker == 1
    assert size.reserve_bytes == int(64 * GIB * 0.1)
    assert size.memory_limit_bytes == (64 * GIB - int(64 * GIB * 0.1)) // 8
    assert size.dask_memory_config() == {
        "distributed.worker.memory.target": 0.6,
        "distributed.worker.memory.spill": 0.7,
        "distributed.worker.memory.pause": 0.8,
        "distributed.worker.memory.terminate": 0.95,
    }


def test_a_small_host_keeps_at_least_one_gib() -> None:
    size = cluster_size(HostFacts(physical_cores=2, total_memory_bytes=4 * GIB), Settings())
    assert size.reserve_bytes == GIB
    assert size.memory_limit_bytes == 3 * GIB // 2


def test_the_settings_override_workers_and_reserve() -> None:
    settings = Settings(cluster_workers=3, cluster_memory_reserve_bytes=2 * GIB)
    size = cluster_size(HostFacts(physical_cores=16, total_memory_bytes=32 * GIB), settings)
    assert (size.workers, size.reserve_bytes, size.memory_limit_bytes) == (3, 2 * GIB, 10 * GIB)


def test_a_reserve_that_starves_the_workers_is_refused_in_one_line() -> None:
    with pytest.raises(ConfigurationError, match="under 256 MiB") as caught:
        cluster_size(HostFacts(physical_cores=8, total_memory_bytes=2 * GIB), Settings())
    assert "\n" not in str(caught.value)


def test_thresholds_must_rise() -> None:
    with pytest.raises(ConfigurationError, match="must rise"):
        ClusterSize(1, 1, GIB, GIB, target_fraction=0.9, spill_fraction=0.7)


def test_this_host_has_cores_and_ram() -> None:
    facts = host_facts()
    assert facts.physical_cores >= 1
    assert facts.total_memory_bytes > GIB // 4


def test_the_scheduler_setting_must_be_an_address() -> None:
    assert Settings(scheduler="tcp://127.0.0.1:8786").scheduler == "tcp://127.0.0.1:8786"
    assert Settings(scheduler="  ").scheduler is None
    with pytest.raises(ConfigurationError, match="scheduler address"):
        Settings.load(scheduler="127.0.0.1:8786")


def test_the_cluster_environment_keeps_no_secret() -> None:
    environment = {
        "PATH": "/usr/bin",
        "HOME": "/home/ann",
        "LC_ALL": "C.UTF-8",
        "OMP_NUM_THREADS": "1",
        "QUANTDESK_DATABASE_URL": "postgresql://ann:pw@db/quantdesk",
        "QUANTDESK_ADMIN_DATABASE_URL": "postgresql://manager:pw@db/quantdesk",
        "PGPASSWORD": "pw",
        "ALPACA_API_KEY_ID": "key",
        "AWS_SECRET_ACCESS_KEY": "secret",
        "DASK_DISTRIBUTED__COMM__TLS__CLIENT__KEY": "/keys/client.pem",
        "DATABASE_URL": "postgresql://x",
    }
    assert worker_environment(environment) == {
        "PATH": "/usr/bin",
        "HOME": "/home/ann",
        "LC_ALL": "C.UTF-8",
        "OMP_NUM_THREADS": "1",
        "MALLOC_MMAP_THRESHOLD_": str(64 * 1024 * 1024),
    }


def test_the_cluster_environment_keeps_an_allocator_setting_the_user_chose() -> None:
    chosen = worker_environment({"PATH": "/usr/bin", "MALLOC_MMAP_THRESHOLD_": "1048576"})
    assert chosen == {"PATH": "/usr/bin", "MALLOC_MMAP_THRESHOLD_": "1048576"}
