"""A real dask-gateway server: each user's own scheduler and workers, under their own account.

One gateway is started for the module, from the configuration quantdesk
generates, while the starting process holds a database URL; alice and bob
each get one cluster, shared by the tests. As root the clusters run under two
OS accounts the module creates (``qdgw_alice``, ``qdgw_bob``, kept between
runs), and each attack is the code a hostile alice would submit. The accounts
must be able to run this environment's Python: when it lies under a home
directory they cannot enter (``/root`` here), the module lets them traverse it
(``o+x``, no listing) and puts the mode back afterwards.
"""

from __future__ import annotations

import getpass
import json
import os
import pwd
import stat
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import psutil
import pytest
from distributed import Client

from quantdesk.compute.cluster import connect
from quantdesk.compute.gateway_auth import add_gateway_user
from quantdesk.compute.gateway_client import open_gateway
from quantdesk.compute.gateway_server import (
    LOCAL_BACKEND,
    GatewayProcess,
    closed_directories,
    free_address,
    gateway_config,
    is_gateway,
    local_backend,
    start_gateway,
    user_limits,
    write_private_json,
)
from quantdesk.compute.sizing import GIB, ClusterSize
from quantdesk.config import Settings
from quantdesk.errors import SchedulerUnavailableError
from tests.command_line import run_quantdesk

AS_ROOT = os.geteuid() == 0
NOT_ROOT = "two OS accounts need root; not root, the gateway runs the UnsafeLocalBackend"
DATABASE_URL = "postgresql://qd_owner:hunter2-in-the-submitter@127.0.0.1:5432/quantdesk"
WORKERS_PER_USER = 2
ACCOUNTS = ("qdgw_alice", "qdgw_bob")


@dataclass
class Deployment:
    gateway: GatewayProcess
    passwords: dict[str, str]
    directory: Path


def _ensure_account(name: str) -> None:
    try:
        pwd.getpwnam(name)
    except KeyError:
        subprocess.run(
            ["useradd", "--create-home", "-K", "HOME_MODE=0700", name],
            check=True,
            capture_output=True,
        )


@pytest.fixture(scope="module")
def user_names() -> Iterator[tuple[str, str]]:
    """alice and bob: two fresh-enough OS accounts as root; the current account otherwise."""
    if not AS_ROOT:
        yield getpass.getuser(), getpass.getuser()
        return
    for name in ACCOUNTS:
        _ensure_account(name)
    modes = {parent: os.stat(parent).st_mode for parent in closed_directories()}
    for parent, mode in modes.items():
        os.chmod(parent, stat.S_IMODE(mode) | stat.S_IXOTH)
    try:
        yield ACCOUNTS
    finally:
        for parent, mode in modes.items():
            os.chmod(parent, stat.S_IMODE(mode))


@pytest.fixture(scope="module")
def deployment(
    user_names: tuple[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Deployment]:
    """The gateway, started from the generated config by a process holding a database URL."""
    directory = tmp_path_factory.mktemp("gateway")
    size = ClusterSize(
        workers=WORKERS_PER_USER, threads_per_worker=1, memory_limit_bytes=GIB, reserve_bytes=GIB
    )
    config = gateway_config(
        address=free_address(),
        password_file=directory / "users.json",
        limits=user_limits(size, idle_timeout_seconds=600),
    )
    write_private_json(directory / "config.json", config)
    passwords = {name: add_gateway_user(directory / "users.json", name) for name in user_names}
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("QUANTDESK_DATABASE_URL", DATABASE_URL)
        gateway = start_gateway(directory / "config.json", log_path=directory / "gateway.log")
    with gateway:
        yield Deployment(gateway, passwords, directory)


def _settings(deployment: Deployment, user: str, password: str | None = None) -> Settings:
    return Settings(
        gateway=deployment.gateway.address,
        gateway_user=user,
        gateway_password=deployment.passwords[user] if password is None else password,
    )


def _client(deployment: Deployment, user: str) -> Iterator[Client]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("QUANTDESK_DATABASE_URL", DATABASE_URL)
        client = connect(_settings(deployment, user))
    client.wait_for_workers(WORKERS_PER_USER, timeout=120)
    with client:
        yield client


@pytest.fixture(scope="module")
def alice(deployment: Deployment, user_names: tuple[str, str]) -> Iterator[Client]:
    """alice's client of her gateway cluster."""
    yield from _client(deployment, user_names[0])


@pytest.fixture(scope="module")
def bob(deployment: Deployment, user_names: tuple[str, str]) -> Iterator[Client]:
    """bob's client of his gateway cluster."""
    if not AS_ROOT:
        pytest.skip(NOT_ROOT)
    yield from _client(deployment, user_names[1])


def test_the_backend_is_the_account_one_as_root(deployment: Deployment) -> None:
    assert deployment.gateway.backend == local_backend()
    assert (deployment.gateway.backend == LOCAL_BACKEND) is AS_ROOT


def test_a_cluster_runs_tasks_with_dask_scheduler_and_dask_worker(alice: Client) -> None:
    def command_line() -> list[str]:
        return psutil.Process().cmdline()

    def nanny_command_line() -> list[str]:
        # `dask worker` is the nanny; it runs the worker in a multiprocessing child.
        return psutil.Process().parent().cmdline()

    assert alice.submit(sum, [1, 2, 3, 4]).result() == 10
    scheduler = alice.run_on_scheduler(command_line)
    workers = list(alice.run(nanny_command_line).values())
    assert Path(scheduler[1]).name == "dask"
    assert scheduler[2] == "scheduler"
    assert len(workers) == WORKERS_PER_USER
    assert all(Path(line[1]).name == "dask" and line[2] == "worker" for line in workers)


@pytest.mark.skipif(not AS_ROOT, reason=NOT_ROOT)
def test_bob_finds_no_page_of_alices_on_her_listening_ports(
    alice: Client, bob: Client, user_names: tuple[str, str]
) -> None:
    alice_uid = pwd.getpwnam(user_names[0]).pw_uid

    def pages_of(uid: int) -> dict[int, list[int]]:
        # /proc/net/tcp names every listening socket's owner; ask each for Dask's pages.
        import urllib.error
        import urllib.request

        ports = set()
        for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and int(fields[7]) == uid:
                ports.add(int(fields[1].split(":")[1], 16))
        found: dict[int, list[int]] = {}
        for port in sorted(ports):
            for page in ("/info/main/workers.html", "/json/identity.json", "/status"):
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}{page}", timeout=2):
                        found.setdefault(port, []).append(200)
                except urllib.error.HTTPError as error:
                    found.setdefault(port, []).append(error.code)
                except OSError:
                    found.setdefault(port, [])
        return found

    found = bob.submit(pages_of, alice_uid, pure=False).result()
    # The scheduler, two workers and two nannies listen; none serves a page.
    assert len(found) >= 1 + WORKERS_PER_USER
    assert all(200 not in codes for codes in found.values())


def test_a_request_for_more_workers_is_capped_at_the_users_limit(alice: Client) -> None:
    # connect() asked for 4096 workers; the gateway started the per-user limit.
    assert len(alice.scheduler_info(n_workers=-1)["workers"]) == WORKERS_PER_USER


def test_no_worker_or_scheduler_sees_the_submitters_database_url(alice: Client) -> None:
    def leaked() -> list[str]:
        with open("/proc/self/environ", "rb") as handle:
            raw = handle.read().decode(errors="replace")
        return [item for item in raw.split("\0") if "QUANTDESK" in item or "hunter2" in item]

    assert os.environ.get("QUANTDESK_DATABASE_URL") is None
    assert alice.run(leaked) == {address: [] for address in alice.scheduler_info()["workers"]}
    assert alice.run_on_scheduler(leaked) == []


@pytest.mark.skipif(not AS_ROOT, reason=NOT_ROOT)
def test_each_users_tasks_run_under_their_own_account(
    alice: Client, bob: Client, user_names: tuple[str, str]
) -> None:
    alice_uid, bob_uid = (pwd.getpwnam(name).pw_uid for name in user_names)
    assert alice.submit(os.getuid).result() == alice_uid
    assert set(alice.run(os.getuid).values()) == {alice_uid}
    assert bob.submit(os.getuid).result() == bob_uid
    assert alice_uid != bob_uid != 0


def test_gateway_workers_get_the_allocator_setting(alice: Client) -> None:
    def mmap_threshold() -> str | None:
        return os.environ.get("MALLOC_MMAP_THRESHOLD_")

    assert set(alice.run(mmap_threshold).values()) == {str(64 * 1024 * 1024)}


@pytest.mark.skipif(not AS_ROOT, reason=NOT_ROOT)
def test_alice_cannot_read_bobs_worker_environment(alice: Client, bob: Client) -> None:
    bob_worker_pid = next(iter(bob.run(os.getpid).values()))

    def read_environment(pid: int) -> bytes:
        with open(f"/proc/{pid}/environ", "rb") as handle:
            return handle.read()

    assert b"DASK_GATEWAY_API_TOKEN" in bob.submit(read_environment, bob_worker_pid).result()
    with pytest.raises(PermissionError):
        alice.submit(read_environment, bob_worker_pid).result()


@pytest.mark.skipif(not AS_ROOT, reason=NOT_ROOT)
def test_alice_cannot_read_bobs_files(alice: Client, bob: Client) -> None:
    def write_secret() -> list[str]:
        home = Path.home() / "bob-secret.txt"
        home.write_text("bob's secret")
        scratch = Path.cwd() / "bob-scratch.txt"
        scratch.write_text("bob's secret")
        return [str(home), str(scratch)]

    def read(path: str) -> str:
        return Path(path).read_text()

    paths = bob.submit(write_secret, pure=False).result()
    assert bob.submit(read, paths[1]).result() == "bob's secret"
    for path in paths:
        with pytest.raises(PermissionError):
            alice.submit(read, path).result()


@pytest.mark.skipif(not AS_ROOT, reason=NOT_ROOT)
def test_bob_cannot_talk_to_alices_scheduler_directly(alice: Client, bob: Client) -> None:
    alice_scheduler = alice.run_on_scheduler(lambda dask_scheduler: dask_scheduler.address)

    def with_dask(address: str) -> int:
        # bob's own cluster certificate and key, from his worker's environment.
        from distributed import Client
        from distributed.security import Security

        certificate = os.environ["DASK_DISTRIBUTED__COMM__TLS__WORKER__CERT"]
        key = os.environ["DASK_DISTRIBUTED__COMM__TLS__WORKER__KEY"]
        security = Security(
            tls_ca_file=certificate,
            tls_client_cert=certificate,
            tls_client_key=key,
            require_encryption=True,
        )
        with Client(address, security=security, timeout=5) as stolen:
            return len(stolen.scheduler_info()["workers"])

    def with_raw_tls(address: str) -> bytes:
        # Trust any server; offer bob's certificate; read what alice's scheduler says.
        import socket
        import ssl

        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        context.load_cert_chain(
            os.environ["DASK_DISTRIBUTED__COMM__TLS__WORKER__CERT"],
            os.environ["DASK_DISTRIBUTED__COMM__TLS__WORKER__KEY"],
        )
        host, port = address.removeprefix("tls://").rsplit(":", 1)
        with (
            socket.create_connection((host, int(port)), timeout=5) as plain,
            context.wrap_socket(plain) as encrypted,
        ):
            encrypted.sendall(b"\0" * 8)
            return encrypted.recv(1024)

    assert alice_scheduler.startswith("tls://127.0.0.1:")
    # The same code run by alice, with her cluster's certificate, gets in.
    assert alice.submit(with_dask, alice_scheduler, pure=False).result() == WORKERS_PER_USER
    with pytest.raises((OSError, TimeoutError)):
        bob.submit(with_dask, alice_scheduler, pure=False).result()
    # Refused during the handshake or at the first read, never answered.
    try:
        answer = bob.submit(with_raw_tls, alice_scheduler, pure=False).result()
    except OSError:
        answer = b""
    assert answer == b""


@pytest.mark.skipif(not AS_ROOT, reason=NOT_ROOT)
def test_starting_clusters_leaves_the_root_directory_to_root(
    alice: Client, bob: Client, user_names: tuple[str, str]
) -> None:
    # dask-gateway-server 2026.3's own LocalBackend chowns "/" to the user here.
    def working_directory() -> tuple[int, int]:
        status = os.stat(os.getcwd())
        return status.st_uid, stat.S_IMODE(status.st_mode)

    assert os.stat("/").st_uid == 0
    assert alice.submit(working_directory).result() == (pwd.getpwnam(user_names[0]).pw_uid, 0o700)


@pytest.mark.skipif(not AS_ROOT, reason=NOT_ROOT)
def test_alice_cannot_read_what_bobs_workers_spill(alice: Client, bob: Client) -> None:
    def spill_directory(dask_worker: object) -> str:
        return str(dask_worker.local_directory)  # type: ignore[attr-defined]

    def listing(path: str) -> list[str]:
        return os.listdir(path)

    bob_spill = next(iter(bob.run(spill_directory).values()))
    assert bob.submit(listing, bob_spill, pure=False).result() is not None
    with pytest.raises(PermissionError):
        alice.submit(listing, bob_spill, pure=False).result()


@pytest.mark.skipif(not AS_ROOT, reason=NOT_ROOT)
def test_alice_cannot_list_or_connect_to_bobs_cluster(
    deployment: Deployment, alice: Client, bob: Client, user_names: tuple[str, str]
) -> None:
    alice_name, bob_name = user_names
    address = deployment.gateway.address
    with open_gateway(address, bob_name, deployment.passwords[bob_name]) as as_bob:
        (bob_cluster,) = as_bob.list_clusters()
    with open_gateway(address, alice_name, deployment.passwords[alice_name]) as as_alice:
        listed = [report.name for report in as_alice.list_clusters()]
        assert bob_cluster.name not in listed
        assert len(listed) == 1
        with pytest.raises(aiohttp.ClientResponseError) as refused:
            as_alice.get_cluster(bob_cluster.name)
        assert refused.value.status == 403
        with pytest.raises(aiohttp.ClientResponseError) as refused:
            as_alice.scale_cluster(bob_cluster.name, 0)
        assert refused.value.status == 403
    # Her password with his name is refused.
    with (
        open_gateway(address, bob_name, deployment.passwords[alice_name]) as alice_as_bob,
        pytest.raises(aiohttp.ClientResponseError) as caught,
    ):
        alice_as_bob.list_clusters()
    assert caught.value.status == 401


def test_wrong_credentials_are_refused_in_one_line(
    deployment: Deployment, user_names: tuple[str, str]
) -> None:
    with pytest.raises(SchedulerUnavailableError, match="refused user") as caught:
        connect(_settings(deployment, user_names[0], password="not-the-password"))
    assert "\n" not in str(caught.value)
    assert "not-the-password" not in str(caught.value)


def test_an_unreachable_gateway_is_one_line_naming_the_fix() -> None:
    settings = Settings(gateway=f"http://{free_address()}", gateway_password="pw")
    with pytest.raises(SchedulerUnavailableError, match="unreachable") as caught:
        connect(settings)
    assert "quantdesk gateway up" in str(caught.value)
    assert "\n" not in str(caught.value)


def test_a_failed_connect_leaves_no_gateway_event_loop_behind() -> None:
    # A gateway client left to the garbage collector stops its loop in whichever
    # thread collects it, and can stall another client's start for 10 s.
    def event_loops() -> int:
        return sum(thread.name == "IO loop" for thread in threading.enumerate())

    before = event_loops()
    settings = Settings(gateway=f"http://{free_address()}", gateway_password="pw")
    for _ in range(3):
        with pytest.raises(SchedulerUnavailableError):
            connect(settings)
    assert event_loops() == before


def test_the_gateway_password_never_shows_in_a_repr() -> None:
    settings = Settings(gateway="http://127.0.0.1:8000/", gateway_password="s3cret-gateway")
    assert settings.gateway == "http://127.0.0.1:8000"
    assert "s3cret-gateway" not in repr(settings)
    assert "s3cret-gateway" not in str(settings)


def test_gateway_up_add_user_status_and_down_through_the_command_line(
    user_names: tuple[str, str], tmp_path: Path
) -> None:
    address = free_address()
    up = run_quantdesk("gateway", "up", "--address", address, "--json", data_dir=tmp_path)
    assert up.returncode == 0, up.stderr
    try:
        record = json.loads(up.stdout)
        assert record["address"] == f"http://{address}"
        assert record["backend"] == local_backend()
        added = run_quantdesk("gateway", "add-user", user_names[0], "--json", data_dir=tmp_path)
        password = json.loads(added.stdout)["password"]
        assert password not in (tmp_path / "gateway" / "users.json").read_text()
        status = run_quantdesk("gateway", "status", "--json", data_dir=tmp_path)
        assert json.loads(status.stdout)["pid"] == record["pid"]
        environment = {
            "QUANTDESK_GATEWAY": record["address"],
            "QUANTDESK_GATEWAY_USER": user_names[0],
            "QUANTDESK_GATEWAY_PASSWORD": password,
        }
        cluster = run_quantdesk(
            "cluster", "status", "--json", data_dir=tmp_path, extra_environment=environment
        )
        assert cluster.returncode == 0, cluster.stderr
        assert json.loads(cluster.stdout)["address"].startswith("tls://")
    finally:
        down = run_quantdesk("gateway", "down", "--json", data_dir=tmp_path)
    assert down.returncode == 0, down.stderr
    assert not psutil.pid_exists(record["pid"]) or not is_gateway(record["pid"])
    again = run_quantdesk("gateway", "status", data_dir=tmp_path)
    assert again.returncode != 0
    assert "no gateway is up" in again.stderr
