"""Shared fixtures: isolated settings and a guard against network access."""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

from quantdesk.config import Settings
from tests.hub import (
    Person,
    RunningHub,
    approved_person,
    directories_open_to_all,
    start_server,
    started_hub,
    stop_started_hub,
)
from tests.postgres import DatabaseUser, SuiteServer, started_server, stop_server, user_factory

settings.register_profile(
    "quantdesk", deadline=None, suppress_health_check=[HealthCheck.too_slow], print_blob=True
)
settings.load_profile("quantdesk")


def pytest_addoption(parser: pytest.Parser) -> None:
    """``--update-golden`` rewrites the golden files; ``--online`` runs the real-service tests."""
    parser.addoption(
        "--update-golden",
        action="store_true",
        help="rewrite tests/golden/*.json from the current results (say why in the commit)",
    )
    parser.addoption(
        "--online",
        action="store_true",
        help="also run the tests marked online, against the real providers (network and keys)",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip the tests marked ``online`` unless ``--online`` was given."""
    if config.getoption("--online"):
        return
    skip = pytest.mark.skip(reason="talks to a real provider; run with --online to include it")
    for item in items:
        if "online" in item.keywords:
            item.add_marker(skip)


class NetworkAccessError(RuntimeError):
    """Raised when a test tries to reach a host that is not this machine."""


def _is_local(address: Any) -> bool:
    if isinstance(address, (str, bytes)):
        return True
    host = address[0]
    if isinstance(host, bytes):
        host = host.decode()
    if host in {"localhost", ""}:
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


@pytest.fixture(autouse=True)
def _forbid_network(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail any test that opens a connection to a host other than this machine.

    Only tests marked ``online``, run with ``--online``, may reach the network.
    """
    if request.node.get_closest_marker("online") is not None:
        return
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex

    def guarded_connect(self: socket.socket, address: Any) -> Any:
        if self.family in (socket.AF_INET, socket.AF_INET6) and not _is_local(address):
            raise NetworkAccessError(f"test tried to reach {address!r}; tests must stay offline")
        return real_connect(self, address)

    def guarded_connect_ex(self: socket.socket, address: Any) -> Any:
        if self.family in (socket.AF_INET, socket.AF_INET6) and not _is_local(address):
            raise NetworkAccessError(f"test tried to reach {address!r}; tests must stay offline")
        return real_connect_ex(self, address)

    def guarded_getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host is not None and not _is_local((host,)):
            raise NetworkAccessError(f"test tried to resolve {host!r}; tests must stay offline")
        return real_getaddrinfo(host, *args, **kwargs)

    real_getaddrinfo = socket.getaddrinfo
    monkeypatch.setattr(socket.socket, "connect", guarded_connect)
    monkeypatch.setattr(socket.socket, "connect_ex", guarded_connect_ex)
    monkeypatch.setattr(socket, "getaddrinfo", guarded_getaddrinfo)


@pytest.fixture(autouse=True)
def _isolated_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Point quantdesk at a private data dir so no test touches the user's files."""
    for name in list(os.environ):
        if name.startswith("QUANTDESK_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("QUANTDESK_DATA_DIR", str(tmp_path_factory.mktemp("quantdesk-data")))


@pytest.fixture
def settings_in(tmp_path: Path) -> Settings:
    """Settings whose data and cache live under this test's temporary directory."""
    return Settings.load(data_dir=tmp_path / "data")


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[SuiteServer]:
    """A real PostgreSQL server started by quantdesk's own manager, migrated, for the session."""
    server, base = started_server()
    try:
        yield server
    finally:
        stop_server(server, base)


@pytest.fixture
def database_user(
    postgres_server: SuiteServer, tmp_path: Path
) -> Iterator[Callable[..., DatabaseUser]]:
    """``database_user(prefix, admin=False)`` creates a fresh login role; all are purged after."""
    yield from user_factory(postgres_server, tmp_path / "users")


@pytest.fixture(scope="session")
def running_hub(postgres_server: SuiteServer) -> Iterator[RunningHub]:
    """One real JupyterHub for the session, started as ``quantdesk up`` does, and its admin."""
    with directories_open_to_all():
        hub, base = started_hub(postgres_server)
        try:
            yield hub
        finally:
            stop_started_hub(hub, base)


@pytest.fixture(scope="session")
def hub_people(running_hub: RunningHub) -> tuple[Person, Person]:
    """alice and bob: signed up, approved, logged in, each with a server and a quantdesk kernel."""
    alice = approved_person(running_hub, "alice")
    bob = approved_person(running_hub, "bob")
    for person in (alice, bob):
        start_server(running_hub, person)
    return alice, bob
