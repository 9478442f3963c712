"""The generated dask-gateway configuration, checked by dask-gateway-server's own loader.

No server runs here: the config file is loaded the way ``dask-gateway-server
-f`` loads it, and the backend, cluster config and authenticator it names
are built from it, so a trait that is misspelt, mistyped or no longer exists
fails. The SLURM and PBS backends need nothing extra to load; the Kubernetes
backend needs ``kubernetes_asyncio`` (not installed), so only its class path
is checked.
"""

from __future__ import annotations

import importlib.util
import os
import stat
from pathlib import Path
from typing import Any

import pytest
from dask_gateway_server.app import DaskGateway
from traitlets import TraitError

from quantdesk.compute.gateway_auth import add_gateway_user, read_password_file
from quantdesk.compute.gateway_server import (
    KUBERNETES_BACKEND,
    LOCAL_BACKEND,
    PBS_BACKEND,
    SLURM_BACKEND,
    UNSAFE_LOCAL_BACKEND,
    closed_directories,
    free_address,
    gateway_config,
    inherited_environment,
    user_limits,
    write_private_json,
)
from quantdesk.compute.sizing import GIB, ClusterSize
from quantdesk.errors import ConfigurationError
from tests.command_line import run_quantdesk

SIZE = ClusterSize(workers=4, threads_per_worker=1, memory_limit_bytes=3 * GIB, reserve_bytes=GIB)


def _loaded(path: Path) -> tuple[Any, Any, Any]:
    """The backend, its cluster config and the authenticator, as the server builds them."""
    DaskGateway.clear_instance()
    application = DaskGateway()
    application.load_config_file(str(path))
    backend = application.backend_class(parent=application, log=application.log)
    cluster_config = backend.cluster_config_class(parent=backend)
    authenticator = application.authenticator_class(parent=application, log=application.log)
    return backend, cluster_config, authenticator


def _written(tmp_path: Path, config: dict[str, Any]) -> Path:
    path = tmp_path / "config.json"
    write_private_json(path, config)
    return path


def test_each_user_gets_the_hosts_cores_and_memory_plus_a_scheduler() -> None:
    limits = user_limits(SIZE, idle_timeout_seconds=900)
    # 4 one-core workers of 3 GiB, and the scheduler's 1 core and 1 GiB.
    assert (limits.max_workers, limits.worker_cores) == (4, 1)
    assert limits.worker_memory_bytes == 3 * GIB
    assert limits.max_cores == 5
    assert limits.max_memory_bytes == 13 * GIB
    assert limits.idle_timeout_seconds == 900


@pytest.mark.parametrize("backend", [LOCAL_BACKEND, UNSAFE_LOCAL_BACKEND])
def test_the_local_config_loads_with_dask_commands_and_the_limits(
    tmp_path: Path, backend: str
) -> None:
    config = gateway_config(
        address="127.0.0.1:8000",
        password_file=tmp_path / "users.json",
        limits=user_limits(SIZE),
        backend=backend,
    )
    path = _written(tmp_path, config)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    loaded, cluster_config, authenticator = _loaded(path)
    assert f"{type(loaded).__module__}.{type(loaded).__name__}" == backend
    assert Path(cluster_config.scheduler_cmd[0]).name == "dask"
    assert cluster_config.scheduler_cmd[1:] == ["scheduler", "--no-dashboard"]
    assert cluster_config.worker_cmd[1:] == ["worker", "--no-dashboard"]
    assert Path(cluster_config.worker_cmd[0]).is_file()
    assert (cluster_config.worker_cores, cluster_config.worker_threads) == (1, 1)
    assert cluster_config.worker_memory == 3 * GIB
    assert cluster_config.cluster_max_workers == 4
    assert cluster_config.cluster_max_cores == 5
    assert cluster_config.cluster_max_memory == 13 * GIB
    assert authenticator.password_file == str(tmp_path / "users.json")
    assert "PATH" in loaded.inherited_environment


def test_the_processes_inherit_no_secret_and_not_the_gateways_home() -> None:
    environment = {
        "PATH": "/usr/bin",
        "HOME": "/root",
        "USER": "root",
        "LANG": "C.UTF-8",
        "QUANTDESK_DATABASE_URL": "postgresql://u:p@h/d",
        "PGPASSWORD": "p",
        "DASK_GATEWAY_API_TOKEN": "t",
        "AWS_SECRET_ACCESS_KEY": "k",
        "DASK_DISTRIBUTED__WORKER__DAEMON": "False",
    }
    # MALLOC_MMAP_THRESHOLD_ is quantdesk's allocator default for workers (see
    # quantdesk.compute.environment), added where the gateway's own has none.
    assert inherited_environment(environment) == [
        "DASK_DISTRIBUTED__WORKER__DAEMON",
        "LANG",
        "MALLOC_MMAP_THRESHOLD_",
        "PATH",
    ]


@pytest.mark.parametrize(
    ("backend", "extra", "expected"),
    [
        (
            SLURM_BACKEND,
            {"SlurmClusterConfig": {"partition": "cpu", "account": "desk"}},
            {"partition": "cpu", "account": "desk"},
        ),
        (
            PBS_BACKEND,
            {"PBSClusterConfig": {"queue": "batch", "use_stagein": True}},
            {"queue": "batch", "use_stagein": True},
        ),
    ],
)
def test_the_job_queue_configs_load_with_the_same_limits(
    tmp_path: Path, backend: str, extra: dict[str, dict[str, Any]], expected: dict[str, Any]
) -> None:
    config = gateway_config(
        address="0.0.0.0:8000",
        password_file=tmp_path / "users.json",
        limits=user_limits(SIZE),
        backend=backend,
        extra_config=extra,
    )
    _, cluster_config, _ = _loaded(_written(tmp_path, config))
    assert {name: getattr(cluster_config, name) for name in expected} == expected
    assert cluster_config.cluster_max_workers == 4
    assert cluster_config.worker_cmd[1:] == ["worker", "--no-dashboard"]


def test_a_mistyped_trait_is_refused_by_the_loader(tmp_path: Path) -> None:
    config = gateway_config(
        address="127.0.0.1:8000",
        password_file=tmp_path / "users.json",
        limits=user_limits(SIZE),
        backend=SLURM_BACKEND,
        extra_config={"ClusterConfig": {"worker_memory": "lots"}},
    )
    with pytest.raises(TraitError):
        _loaded(_written(tmp_path, config))


def test_the_kubernetes_backend_is_named_where_dask_gateway_keeps_it() -> None:
    module, _, name = KUBERNETES_BACKEND.rpartition(".")
    source = Path(str(importlib.util.find_spec(module.rpartition(".")[0]).origin)).parent
    assert f"class {name}(" in (source / "kubernetes" / "backend.py").read_text()


def test_passwords_are_stored_as_hashes_in_a_private_file(tmp_path: Path) -> None:
    path = tmp_path / "users.json"
    password = add_gateway_user(path, "nobody")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert password not in path.read_text()
    assert set(read_password_file(path)) == {"nobody"}


def test_root_and_unknown_accounts_get_no_gateway_password(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="uid 0"):
        add_gateway_user(tmp_path / "users.json", "root")
    with pytest.raises(ConfigurationError, match="no OS account"):
        add_gateway_user(tmp_path / "users.json", "qdgw_nobody_at_all")


def test_a_directory_other_accounts_cannot_enter_is_found(tmp_path: Path) -> None:
    closed = tmp_path / "closed"
    closed.mkdir(mode=0o700)
    python = closed / "python"
    python.write_text("")
    assert closed_directories(python)[-1] == closed
    closed.chmod(0o711)
    assert closed not in closed_directories(python)


@pytest.mark.skipif(
    os.geteuid() != 0, reason="gateway up checks the accounts reach this Python as root"
)
def test_gateway_up_refuses_while_the_accounts_cannot_reach_this_python(tmp_path: Path) -> None:
    closed = closed_directories()
    if not closed:
        pytest.skip("no directory above this Python is closed to other accounts")
    result = run_quantdesk("gateway", "up", "--address", free_address(), data_dir=tmp_path)
    assert result.returncode != 0
    assert f"cannot enter {closed[0]}" in result.stderr
    assert "install quantdesk where every account can read it" in result.stderr
