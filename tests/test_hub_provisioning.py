"""What the hub gives each person's server, called as the hub calls it, on the real database."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import text

from quantdesk.config import Settings
from quantdesk.errors import InvalidInputError
from quantdesk.hub.accounts import validate_person_name
from quantdesk.hub.kernelspec import install_kernel
from quantdesk.hub.provisioning import (
    DATA_DIR_VARIABLE,
    DATABASE_URL_VARIABLE,
    GATEWAY_VARIABLE,
    peer_database_url,
    provision_person,
)
from quantdesk.hub.spawning import ISOLATING_SPAWNER, SHARED_SPAWNER, spawner_class
from quantdesk.store.connection import parse_database_url, single_use_connection
from quantdesk.store.users import list_users, remove_user
from tests.hub import unique_name
from tests.postgres import DatabaseUser, SuiteServer


def _hub_settings(postgres_server: SuiteServer, tmp_path: Path) -> Settings:
    return Settings.load(
        data_dir=tmp_path / "data", database_dir=postgres_server.settings.resolved_database_dir
    )


def _logs_in_as(url: str, name: str) -> bool:
    parsed = parse_database_url(url, origin="test")
    try:
        with single_use_connection(parsed) as connection:
            return bool(connection.execute(text("SELECT current_user = :n"), {"n": name}).scalar())
    except Exception:
        return False


def test_without_root_each_spawn_gets_a_freshly_rotated_password(
    postgres_server: SuiteServer, tmp_path: Path
) -> None:
    settings = _hub_settings(postgres_server, tmp_path)
    name = unique_name("grace")
    try:
        first = provision_person(settings, name, isolated=False)
        second = provision_person(settings, name, isolated=False)

        assert not first.peer
        assert name in {user.name for user in list_users(postgres_server.admin_url)}
        assert _logs_in_as(second.variables[DATABASE_URL_VARIABLE], name)
        assert not _logs_in_as(first.variables[DATABASE_URL_VARIABLE], name)
        data_dir = Path(second.variables[DATA_DIR_VARIABLE])
        assert data_dir == settings.hub_dir / "people" / name
        assert stat.S_IMODE(os.stat(data_dir).st_mode) == 0o700
        assert set(second.variables) == {DATABASE_URL_VARIABLE, DATA_DIR_VARIABLE, GATEWAY_VARIABLE}
        assert "postgresql" not in repr(second)
    finally:
        remove_user(postgres_server.admin_url, name, purge=True)


def test_the_peer_url_names_the_socket_and_no_password(
    postgres_server: SuiteServer, tmp_path: Path
) -> None:
    settings = _hub_settings(postgres_server, tmp_path)
    url = parse_database_url(peer_database_url(settings, "alice"), origin="test")
    assert url.password is None
    assert url.username == "alice"
    assert url.query["host"] == str(postgres_server.server.socket_directory)
    assert url.query["port"] == str(postgres_server.admin_url.port)


def test_peer_login_is_refused_to_a_role_outside_the_peer_group(
    postgres_server: SuiteServer, database_user: Callable[..., DatabaseUser]
) -> None:
    # The suite's server runs as an OS account whose name is no user's role, so a
    # password-less login over the socket as any role fails: peer needs the same name,
    # and roles outside the peer group still need their password.
    user = database_user("heidi")
    socket_url = parse_database_url(
        f"postgresql://{user.name}@/quantdesk?host={postgres_server.server.socket_directory}"
        f"&port={postgres_server.admin_url.port}",
        origin="test",
    )
    with pytest.raises(Exception, match="password"), single_use_connection(socket_url):
        pass


def test_names_follow_the_database_rules_and_the_os_account_limit() -> None:
    assert validate_person_name("a" * 40, isolated=False) == "a" * 40
    with pytest.raises(InvalidInputError, match="32 characters an OS account may have"):
        validate_person_name("a" * 40, isolated=True)
    with pytest.raises(InvalidInputError, match="reserved"):
        validate_person_name("root", isolated=True)


def test_the_spawner_isolates_only_as_root() -> None:
    assert spawner_class(isolated=True) == ISOLATING_SPAWNER
    assert spawner_class(isolated=False) == SHARED_SPAWNER


def test_the_kernel_spec_installs_once_and_matches_the_repository(tmp_path: Path) -> None:
    installed = install_kernel(prefix=str(tmp_path))
    spec = json.loads((installed / "kernel.json").read_text())
    first_written = (installed / "kernel.json").stat().st_mtime_ns

    again = install_kernel(prefix=str(tmp_path))

    assert installed == tmp_path / "share" / "jupyter" / "kernels" / "quantdesk"
    assert again == installed
    assert (installed / "kernel.json").stat().st_mtime_ns == first_written
    assert spec["display_name"] == "Python 3 (quantdesk)"
    assert spec["argv"][:3] == ["python", "-m", "ipykernel_launcher"]
