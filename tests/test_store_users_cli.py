"""``quantdesk users add|rotate|list|rm`` run as a person would run them."""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import make_url

from quantdesk.store.users import list_users, remove_user
from tests.command_line import run_quantdesk


@pytest.fixture
def users_cli(postgres_server: Any, tmp_path: Path) -> Callable[..., Any]:
    """Run ``quantdesk users ...`` against the suite's server as the manager."""
    url = postgres_server.admin_url.set(drivername="postgresql")
    environment = {"QUANTDESK_ADMIN_DATABASE_URL": url.render_as_string(hide_password=False)}

    def run(*words: str) -> Any:
        return run_quantdesk("users", *words, data_dir=tmp_path, extra_environment=environment)

    return run


@pytest.fixture
def name(postgres_server: Any) -> Iterator[str]:
    chosen = f"cli_{secrets.token_hex(3)}"
    yield chosen
    if chosen in {user.name for user in list_users(postgres_server.admin_url)}:
        remove_user(postgres_server.admin_url, chosen, purge=True)


def logs_in_as(database_url: str, name: str) -> bool:
    try:
        with psycopg.connect(database_url, connect_timeout=10) as session:
            return session.execute("SELECT current_user").fetchone() == (name,)
    except psycopg.OperationalError:
        return False


def test_add_prints_a_working_url_once_with_a_note(
    users_cli: Callable[..., Any], name: str
) -> None:
    result = users_cli("add", name)
    assert result.returncode == 0, result.stderr
    urls = [line for line in result.stdout.splitlines() if line.startswith("postgresql://")]
    assert len(urls) == 1
    assert "shown only now" in result.stdout
    assert logs_in_as(urls[0], name)
    listed = json.loads(users_cli("list", "--json").stdout)
    assert {"user": name, "admin": False, "can_login": True} in listed


def test_add_admin_json_and_rotate_json_shapes(users_cli: Callable[..., Any], name: str) -> None:
    added = users_cli("add", name, "--admin", "--json")
    assert added.returncode == 0, added.stderr
    created = json.loads(added.stdout)
    assert created["user"] == name
    assert created["admin"] is True
    assert make_url(created["database_url"]).username == name
    rotated = users_cli("rotate", name, "--json")
    assert rotated.returncode == 0, rotated.stderr
    payload = json.loads(rotated.stdout)
    assert set(payload) == {"user", "database_url"}
    assert payload["user"] == name
    assert payload["database_url"] != created["database_url"]
    assert logs_in_as(payload["database_url"], name)
    assert not logs_in_as(created["database_url"], name)


def test_rm_removes_the_user_and_their_login(users_cli: Callable[..., Any], name: str) -> None:
    created = json.loads(users_cli("add", name, "--json").stdout)
    removed = users_cli("rm", name, "--json")
    assert removed.returncode == 0, removed.stderr
    assert json.loads(removed.stdout)["removed"] is True
    assert not logs_in_as(created["database_url"], name)
    assert name not in {item["user"] for item in json.loads(users_cli("list", "--json").stdout)}


@pytest.mark.parametrize(
    "bad", ["Alice", "pg_x", "postgres", "alice; DROP ROLE quantdesk_owner", "a'--", "x" * 49]
)
def test_bad_names_exit_two_with_one_line(users_cli: Callable[..., Any], bad: str) -> None:
    result = users_cli("add", bad)
    assert result.returncode == 2
    assert result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1
    assert result.stderr.startswith("quantdesk: error: user name")


def test_an_existing_name_and_an_unknown_name_name_the_fix(
    users_cli: Callable[..., Any], name: str
) -> None:
    assert users_cli("add", name).returncode == 0
    again = users_cli("add", name, "--json")
    assert again.returncode == 2
    assert f"quantdesk users rotate {name}" in json.loads(again.stderr)["error"]
    unknown = users_cli("rotate", name + "x")
    assert unknown.returncode == 2
    assert f"did you mean '{name}'" in unknown.stderr


def connection_limit_of(postgres_server: Any, name: str) -> int:
    with psycopg.connect(
        postgres_server.admin_url.set(drivername="postgresql").render_as_string(hide_password=False)
    ) as session:
        row = session.execute("SELECT rolconnlimit FROM pg_roles WHERE rolname = %s", (name,))
        found = row.fetchone()
    assert found is not None
    return int(found[0])


def test_add_takes_its_connection_limit_from_the_option_or_the_setting(
    postgres_server: Any, tmp_path: Path, name: str
) -> None:
    url = postgres_server.admin_url.set(drivername="postgresql")
    environment = {
        "QUANTDESK_ADMIN_DATABASE_URL": url.render_as_string(hide_password=False),
        "QUANTDESK_USER_CONNECTION_LIMIT": "3",
    }
    from_setting = run_quantdesk(
        "users", "add", name, data_dir=tmp_path, extra_environment=environment
    )
    assert from_setting.returncode == 0, from_setting.stderr
    assert connection_limit_of(postgres_server, name) == 3
    remove_user(postgres_server.admin_url, name, purge=True)

    chosen = run_quantdesk(
        "users",
        "add",
        name,
        "--connection-limit",
        "2",
        data_dir=tmp_path,
        extra_environment=environment,
    )
    assert chosen.returncode == 0, chosen.stderr
    assert connection_limit_of(postgres_server, name) == 2

    refused = run_quantdesk(
        "users",
        "add",
        f"{name}_x",
        "--connection-limit",
        "0",
        data_dir=tmp_path,
        extra_environment=environment,
    )
    assert refused.returncode != 0
    assert "--connection-limit" in refused.stderr
