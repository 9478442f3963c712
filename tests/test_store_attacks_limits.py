"""The limits every user's session runs under, tried as a user at psql, and their lint.

The platform stores statement, idle-in-transaction and lock timeouts on each
user's role; a user may lift them in their own session (PostgreSQL makes them
USERSET), which the README says. ``temp_file_limit`` no user can change.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest
from psycopg import errors as pg_errors
from psycopg import sql

from quantdesk.config import Settings
from quantdesk.errors import ConfigurationError, InvalidInputError
from quantdesk.store.catalog_lint import check_catalog
from quantdesk.store.session_limits import SessionLimits
from quantdesk.store.users import UserCredentials, add_user, remove_user, rotate_password
from tests.command_line import run_quantdesk
from tests.test_store_attacks_roles import role_settings
from tests.test_store_catalog import admin_environment
from tests.test_store_users import connect, conninfo

WAIT_LIMIT_SECONDS = 60
SPILLING_QUERY = "SELECT count(DISTINCT g) FROM generate_series(1, 1000000) AS g"
"""Sorts a million integers: with ``work_mem = '64kB'`` it writes several MB of temporary files."""


def shown(session: psycopg.Connection[Any], setting: str) -> str:
    row = session.execute(sql.SQL("SHOW {}").format(sql.Identifier(setting))).fetchone()
    assert row is not None
    return str(row[0])


@pytest.fixture
def limited_user(postgres_server: Any) -> Iterator[Callable[..., UserCredentials]]:
    """``limited_user(**seconds)`` makes a user whose role has those session limits."""
    created: list[str] = []

    def create(**seconds: float) -> UserCredentials:
        name = f"limited_{secrets.token_hex(4)}"
        created.append(name)
        return add_user(postgres_server.admin_url, name, session_limits=SessionLimits(**seconds))

    yield create
    for name in created:
        remove_user(postgres_server.admin_url, name, purge=True)


def test_every_user_session_starts_with_the_platform_limits(
    database_user: Callable[..., Any],
) -> None:
    mallory = database_user("mallory")
    with connect(mallory.url) as session:
        assert shown(session, "statement_timeout") == "5min"
        assert shown(session, "idle_in_transaction_session_timeout") == "10min"
        assert shown(session, "lock_timeout") == "1min"
        assert shown(session, "temp_file_limit") == "1GB"


def test_a_statement_past_the_statement_timeout_is_cancelled(
    limited_user: Callable[..., UserCredentials],
) -> None:
    user = limited_user(statement_timeout_seconds=0.05)
    with (
        connect(user.database_url) as session,
        pytest.raises(pg_errors.QueryCanceled, match="statement timeout"),
    ):
        session.execute("SELECT count(*) FROM generate_series(1, 100000000)")


def test_a_lock_held_by_another_user_costs_a_waiting_user_only_the_lock_timeout(
    database_user: Callable[..., Any], limited_user: Callable[..., UserCredentials]
) -> None:
    mallory = database_user("mallory")
    victim = limited_user(lock_timeout_seconds=0.05)
    with psycopg.connect(conninfo(mallory.url)) as hostile:
        hostile.execute("LOCK TABLE quantdesk.jobs IN ACCESS EXCLUSIVE MODE")
        with (
            connect(victim.database_url) as session,
            pytest.raises(pg_errors.LockNotAvailable, match="lock timeout"),
        ):
            session.execute("SELECT count(*) FROM quantdesk.jobs")


def test_a_transaction_left_idle_ends_its_session(
    postgres_server: Any, limited_user: Callable[..., UserCredentials]
) -> None:
    user = limited_user(idle_in_transaction_timeout_seconds=0.05)
    idle = psycopg.connect(conninfo(user.database_url))
    row = idle.execute("SELECT pg_backend_pid()").fetchone()
    assert row is not None
    deadline = time.monotonic() + WAIT_LIMIT_SECONDS
    with connect(postgres_server.superuser_url) as observer:
        while time.monotonic() < deadline:
            alive = observer.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", row)
            if alive.fetchone() is None:
                break
    with pytest.raises(pg_errors.IdleInTransactionSessionTimeout):
        idle.execute("SELECT 1")
    idle.close()


def test_users_may_lift_their_session_timeouts_but_not_the_temp_file_limit(
    database_user: Callable[..., Any],
) -> None:
    mallory = database_user("mallory")
    with connect(mallory.url) as session:
        session.execute("SET statement_timeout = 0")
        assert shown(session, "statement_timeout") == "0"
        for statement in (
            "SET temp_file_limit = -1",
            "SET SESSION temp_file_limit = '100GB'",
            "RESET temp_file_limit",
            sql.SQL("ALTER ROLE {} SET temp_file_limit = -1").format(sql.Identifier(mallory.name)),
        ):
            with pytest.raises(pg_errors.InsufficientPrivilege):
                session.execute(statement)
        assert shown(session, "temp_file_limit") == "1GB"


def test_a_query_spilling_past_the_temp_file_limit_fails(
    database_user: Callable[..., Any], postgres_server: Any
) -> None:
    mallory = database_user("mallory")
    with connect(mallory.url) as session:
        session.execute("SET work_mem = '64kB'")
        assert session.execute(SPILLING_QUERY).fetchone() == (1_000_000,)
    with connect(postgres_server.superuser_url) as superuser:
        superuser.execute(
            sql.SQL("ALTER ROLE {} SET temp_file_limit = '1MB'").format(
                sql.Identifier(mallory.name)
            )
        )
    try:
        with connect(mallory.url) as session:
            session.execute("SET work_mem = '64kB'")
            with pytest.raises(pg_errors.ConfigurationLimitExceeded, match="temp_file_limit"):
                session.execute(SPILLING_QUERY)
    finally:
        with connect(postgres_server.superuser_url) as superuser:
            superuser.execute(
                sql.SQL("ALTER ROLE {} RESET temp_file_limit").format(sql.Identifier(mallory.name))
            )


def test_db_check_finds_each_planted_session_limit_weakness(
    database_user: Callable[..., Any], postgres_server: Any
) -> None:
    mallory = database_user("mallory")
    name = mallory.name
    with connect(mallory.url) as session:
        for statement in (
            "ALTER ROLE {} SET statement_timeout = 0",
            "ALTER ROLE {} RESET lock_timeout",
            "ALTER ROLE {} SET idle_in_transaction_session_timeout = '1d'",
        ):
            session.execute(sql.SQL(statement).format(sql.Identifier(name)))
    with connect(postgres_server.superuser_url) as superuser:
        superuser.execute("ALTER DATABASE quantdesk SET temp_file_limit = -1")
        superuser.execute(
            sql.SQL("ALTER ROLE {} IN DATABASE quantdesk SET temp_file_limit = -1").format(
                sql.Identifier(name)
            )
        )
    try:
        found = [str(problem) for problem in check_catalog(postgres_server.admin_url)]
    finally:
        with connect(postgres_server.superuser_url) as superuser:
            superuser.execute("ALTER DATABASE quantdesk SET temp_file_limit = '1GB'")
            # Only a superuser may reset a superuser-only setting; rotation resets the rest.
            superuser.execute(
                sql.SQL("ALTER ROLE {} IN DATABASE quantdesk RESET temp_file_limit").format(
                    sql.Identifier(name)
                )
            )
        rotate_password(postgres_server.admin_url, name)
    expected = {
        f"role {name}: has statement_timeout=0, which turns the platform's limit off": "rotate",
        f"role {name}: lacks the platform's lock_timeout=60000": "rotate",
        f"role {name}: has idle_in_transaction_session_timeout=1d, not the platform's 600000": (
            "rotate"
        ),
        f"role {name}: may write temporary files without limit": (
            f"ALTER ROLE {name} IN DATABASE quantdesk RESET temp_file_limit"
        ),
        "database quantdesk: users' sessions may write temporary files without limit": (
            "ALTER DATABASE quantdesk SET temp_file_limit = '1GB'"
        ),
    }
    for start, fix in expected.items():
        assert any(line.startswith(start) and fix in line for line in found), (start, found)
    assert len(found) == len(expected), found
    assert [str(problem) for problem in check_catalog(postgres_server.admin_url)] == []


def test_without_the_database_setting_the_servers_temp_file_limit_holds(
    database_user: Callable[..., Any], postgres_server: Any
) -> None:
    mallory = database_user("mallory")
    with connect(postgres_server.superuser_url) as superuser:
        superuser.execute("ALTER DATABASE quantdesk RESET temp_file_limit")
    try:
        with connect(mallory.url) as session:
            assert shown(session, "temp_file_limit") == "1GB"
        assert [str(problem) for problem in check_catalog(postgres_server.admin_url)] == []
    finally:
        with connect(postgres_server.superuser_url) as superuser:
            superuser.execute("ALTER DATABASE quantdesk SET temp_file_limit = '1GB'")


def test_configured_limits_reach_new_roles_and_db_check(
    postgres_server: Any, tmp_path: Any
) -> None:
    name = f"configured_{secrets.token_hex(4)}"
    configured = {
        **admin_environment(postgres_server),
        "QUANTDESK_USER_LOCK_TIMEOUT_SECONDS": "2.5",
    }
    added = run_quantdesk("users", "add", name, data_dir=tmp_path, extra_environment=configured)
    assert added.returncode == 0, added.stderr
    try:
        assert "lock_timeout=2500" in role_settings(postgres_server.superuser_url, name)
        with_config = run_quantdesk("db", "check", data_dir=tmp_path, extra_environment=configured)
        assert name not in with_config.stdout, with_config.stdout
        defaults = run_quantdesk(
            "db", "check", data_dir=tmp_path, extra_environment=admin_environment(postgres_server)
        )
        assert defaults.returncode == 1
        assert f"role {name}: has lock_timeout=2500, not the platform's 60000" in defaults.stdout
    finally:
        remove_user(postgres_server.admin_url, name, purge=True)


def test_the_bootstrap_script_and_the_embedded_server_bound_temporary_files(
    postgres_server: Any, tmp_path: Any
) -> None:
    script = run_quantdesk("db", "bootstrap-sql", data_dir=tmp_path).stdout
    assert """ALTER DATABASE "quantdesk" SET temp_file_limit = '1GB';""" in script
    with connect(postgres_server.superuser_url) as superuser:
        configured = superuser.execute(
            "SELECT setting FROM pg_file_settings WHERE name = 'temp_file_limit' AND applied"
        ).fetchone()
        on_database = superuser.execute(
            "SELECT setconfig FROM pg_db_role_setting WHERE setrole = 0 "
            "AND setdatabase = (SELECT oid FROM pg_database WHERE datname = 'quantdesk')"
        ).fetchone()
    assert configured == ("1GB",)
    assert on_database is not None
    assert "temp_file_limit=1GB" in on_database[0]


@pytest.mark.parametrize(
    "field", ["statement_timeout_seconds", "idle_in_transaction_timeout_seconds"]
)
@pytest.mark.parametrize("seconds", [0, -5, float("inf"), True])
def test_bad_session_limits_are_refused_in_one_line(field: str, seconds: Any) -> None:
    with pytest.raises(InvalidInputError, match=f"{field} must be a number of seconds") as bad:
        SessionLimits(**{field: seconds})
    assert "\n" not in str(bad.value)


def test_session_limit_settings_are_checked_and_unknown_ones_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with pytest.raises(ConfigurationError, match="user_lock_timeout_seconds") as zero:
        Settings.load(user_lock_timeout_seconds=0)
    assert "\n" not in str(zero.value)
    monkeypatch.setenv("QUANTDESK_USER_STATEMENT_TIMEOUT", "300")
    with pytest.raises(
        ConfigurationError, match="did you mean 'QUANTDESK_USER_STATEMENT_TIMEOUT_SECONDS'"
    ):
        Settings.load()
    with pytest.raises(TypeError):
        SessionLimits(statement_timeout=300)  # type: ignore[call-arg]
