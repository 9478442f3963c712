"""Provisioning database users: names, passwords, rotation, removal, listing."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest
from psycopg import sql
from sqlalchemy import URL

from quantdesk.errors import InvalidInputError, StoreError, UnknownUserError
from quantdesk.store.roles import ADMINS_ROLE, SCHEMA, USERS_ROLE
from quantdesk.store.users import (
    UserCredentials,
    add_user,
    list_users,
    remove_user,
    rotate_password,
    validate_user_name,
)

INJECTIONS = [
    "alice; DROP ROLE quantdesk_owner",
    "alice'--",
    'alice" SUPERUSER --',
    "robert'); DROP TABLE quantdesk.backtests;--",
    "x\nALTER ROLE x SUPERUSER",
    "alice PASSWORD 'x' SUPERUSER",
    "$$; DROP SCHEMA quantdesk CASCADE; $$",
]


def conninfo(url: URL) -> str:
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def connect(url: URL) -> psycopg.Connection[Any]:
    return psycopg.connect(conninfo(url), autocommit=True, connect_timeout=10)


def role_exists(superuser_url: URL, name: str) -> bool:
    with connect(superuser_url) as session:
        return (
            session.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (name,)).fetchone()
            is not None
        )


def rows_owned(superuser_url: URL, name: str) -> dict[str, int]:
    """Every row of ``name`` in our schema, counted as the superuser (no policies apply)."""
    with connect(superuser_url) as session:
        tables = [
            row[0]
            for row in session.execute(
                "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = %s AND c.relkind = 'r'",
                (SCHEMA,),
            ).fetchall()
        ]
        counts = {}
        for table in tables:
            row = session.execute(
                sql.SQL("SELECT count(*) FROM {} WHERE owner = %s").format(
                    sql.Identifier(SCHEMA, table)
                ),
                (name,),
            ).fetchone()
            assert row is not None
            counts[table] = int(row[0])
        return counts


@pytest.fixture
def new_name(postgres_server: Any) -> Iterator[Callable[[str], str]]:
    """Unique user names; whatever of them still exists is removed afterwards."""
    made: list[str] = []

    def make(prefix: str = "user") -> str:
        name = f"{prefix}_{secrets.token_hex(3)}"
        made.append(name)
        return name

    yield make
    existing = {user.name for user in list_users(postgres_server.admin_url)}
    for name in made:
        if name in existing:
            remove_user(postgres_server.admin_url, name, purge=True)


@pytest.mark.parametrize(
    "name",
    [
        "",
        "Alice",
        "1alice",
        "_alice",
        "al ice",
        "alice-2",
        "ålice",
        "a" * 49,
        "pg_alice",
        "quantdesk",
        "quantdesk_owner",
        "quantdesk_manager",
        "postgres",
        "public",
        "current_user",
        "none",
        *INJECTIONS,
    ],
)
def test_bad_names_are_refused_with_one_line_naming_the_rule(
    postgres_server: Any, name: str
) -> None:
    before = list_users(postgres_server.admin_url)
    with pytest.raises(InvalidInputError) as refused:
        add_user(postgres_server.admin_url, name)
    message = str(refused.value)
    assert "\n" not in message
    assert any(word in message for word in ("lowercase", "reserved", "longer", "empty"))
    assert list_users(postgres_server.admin_url) == before


@pytest.mark.parametrize("name", ["a", "alice", "alice_2", "b0b", "x" * 48])
def test_good_names_pass_validation(name: str) -> None:
    assert validate_user_name(name) == name


def test_add_user_creates_a_plain_login_role_with_a_profile(
    postgres_server: Any, new_name: Callable[[str], str]
) -> None:
    name = new_name("alice")
    credentials = add_user(postgres_server.admin_url, name)
    password = credentials.database_url.password
    assert isinstance(password, str)
    assert len(password) >= 40
    assert password not in repr(credentials)
    assert password not in str(credentials)
    assert credentials.database_url.drivername == "postgresql+psycopg"
    assert credentials.database_url.host == postgres_server.admin_url.host
    assert credentials.database_url.port == postgres_server.admin_url.port
    assert credentials.database_url.database == postgres_server.admin_url.database
    assert password in credentials.revealed_url()
    with connect(postgres_server.superuser_url) as session:
        row = session.execute(
            "SELECT rolcanlogin, rolsuper, rolcreatedb, rolcreaterole, rolbypassrls, "
            "rolreplication, rolinherit, pg_has_role(oid, %s, 'MEMBER'), "
            "pg_has_role(oid, %s, 'MEMBER'), "
            "(SELECT rolpassword LIKE 'SCRAM-SHA-256$%%' FROM pg_authid WHERE rolname = %s) "
            "FROM pg_roles WHERE rolname = %s",
            (USERS_ROLE, ADMINS_ROLE, name, name),
        ).fetchone()
    assert row == (True, False, False, False, False, False, True, True, False, True)
    with connect(credentials.database_url) as session:
        profile = session.execute(f"SELECT owner, current_user FROM {SCHEMA}.profiles").fetchall()
        assert profile == [(name, name)]
        search_path = session.execute("SHOW search_path").fetchone()
        assert search_path is not None
        assert search_path[0].startswith(SCHEMA)


def test_an_admin_user_is_a_member_of_both_groups_and_listed_as_admin(
    postgres_server: Any, new_name: Callable[[str], str]
) -> None:
    admin_name, plain_name = new_name("carol"), new_name("dave")
    admin = add_user(postgres_server.admin_url, admin_name, admin=True)
    plain = add_user(postgres_server.admin_url, plain_name)
    assert (admin.admin, plain.admin) == (True, False)
    listed = {user.name: user for user in list_users(postgres_server.admin_url)}
    assert listed[admin_name].admin
    assert listed[admin_name].can_login
    assert not listed[plain_name].admin
    assert not any(name.startswith(("quantdesk", "pg_")) or name == "postgres" for name in listed)


def test_an_existing_name_is_refused_naming_rotate(
    postgres_server: Any, new_name: Callable[[str], str]
) -> None:
    name = new_name("alice")
    first = add_user(postgres_server.admin_url, name)
    with pytest.raises(InvalidInputError, match=f"quantdesk users rotate {name}"):
        add_user(postgres_server.admin_url, name)
    with connect(first.database_url) as session:
        assert session.execute("SELECT current_user").fetchone() == (name,)


def test_passwords_reach_neither_the_server_log_nor_pg_stat_activity(
    postgres_server: Any, new_name: Callable[[str], str]
) -> None:
    log_path = postgres_server.log_path
    start = log_path.stat().st_size
    with connect(postgres_server.superuser_url) as session:
        session.execute("ALTER SYSTEM SET log_statement = 'all'")
        session.execute("SELECT pg_reload_conf()")
    try:
        name = new_name("alice")
        created = add_user(postgres_server.admin_url, name)
        rotated = rotate_password(postgres_server.admin_url, name)
        with connect(postgres_server.superuser_url) as session:
            activity = str(session.execute("SELECT query FROM pg_stat_activity").fetchall())
    finally:
        with connect(postgres_server.superuser_url) as session:
            session.execute("ALTER SYSTEM RESET log_statement")
            session.execute("SELECT pg_reload_conf()")
    with log_path.open("rb") as log:
        log.seek(start)
        written = log.read().decode(errors="replace")
    assert "SCRAM-SHA-256$" in written, "statements were not logged, so the test proves nothing"
    for credentials in (created, rotated):
        password = credentials.database_url.password
        assert isinstance(password, str)
        assert password not in written
        assert password not in activity


def test_rotate_gives_a_new_password_and_ends_the_old_one_and_its_sessions(
    postgres_server: Any, new_name: Callable[[str], str]
) -> None:
    name = new_name("alice")
    old = add_user(postgres_server.admin_url, name)
    open_session = connect(old.database_url)
    new = rotate_password(postgres_server.admin_url, name)
    assert new.database_url.password != old.database_url.password
    with pytest.raises(psycopg.OperationalError):
        open_session.execute("SELECT 1")
    open_session.close()
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        connect(old.database_url)
    with connect(new.database_url) as session:
        assert session.execute("SELECT current_user").fetchone() == (name,)


def test_rotate_and_remove_refuse_unknown_users_and_suggest_close_names(
    postgres_server: Any, new_name: Callable[[str], str]
) -> None:
    name = new_name("alice")
    add_user(postgres_server.admin_url, name)
    typo = name[:-1] + ("0" if name[-1] != "0" else "1")
    for operation in (rotate_password, remove_user):
        with pytest.raises(UnknownUserError, match=f"did you mean '{name}'"):
            operation(postgres_server.admin_url, typo)


def test_roles_that_are_not_quantdesk_users_are_never_touched(postgres_server: Any) -> None:
    outsider = f"outsider_{secrets.token_hex(3)}"
    with connect(postgres_server.superuser_url) as session:
        session.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(outsider)))
    try:
        with pytest.raises(UnknownUserError):
            remove_user(postgres_server.admin_url, outsider, purge=True)
        with pytest.raises(UnknownUserError):
            rotate_password(postgres_server.admin_url, outsider)
        assert role_exists(postgres_server.superuser_url, outsider)
        with pytest.raises(InvalidInputError, match="reserved"):
            remove_user(postgres_server.admin_url, "quantdesk_owner", purge=True)
    finally:
        with connect(postgres_server.superuser_url) as session:
            session.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(outsider)))


def test_removing_a_user_with_only_a_profile_drops_role_and_profile(
    postgres_server: Any, new_name: Callable[[str], str]
) -> None:
    name = new_name("alice")
    credentials = add_user(postgres_server.admin_url, name)
    assert remove_user(postgres_server.admin_url, name) == 1
    assert not role_exists(postgres_server.superuser_url, name)
    assert sum(rows_owned(postgres_server.superuser_url, name).values()) == 0
    with pytest.raises(psycopg.OperationalError):
        connect(credentials.database_url)
    again = add_user(postgres_server.admin_url, name)
    assert again.name == name


def test_removing_a_user_with_data_needs_purge_and_leaves_them_working_until_then(
    postgres_server: Any, new_name: Callable[[str], str]
) -> None:
    name = new_name("alice")
    credentials = add_user(postgres_server.admin_url, name)
    with connect(credentials.database_url) as session:
        session.execute(f"INSERT INTO {SCHEMA}.jobs (kind) VALUES ('fit'), ('scan')")
        model = session.execute(
            f"INSERT INTO {SCHEMA}.models (name, kind) VALUES ('m', 'lgbm') RETURNING id"
        ).fetchone()
        assert model is not None
        session.execute(f"INSERT INTO {SCHEMA}.predictions (model_id) VALUES (%s)", (model[0],))
    with pytest.raises(InvalidInputError, match=f"quantdesk users rm {name} --purge") as refused:
        remove_user(postgres_server.admin_url, name)
    assert "2 row(s) in jobs" in str(refused.value)
    with connect(credentials.database_url) as session:
        assert session.execute(f"SELECT count(*) FROM {SCHEMA}.jobs").fetchone() == (2,)
    assert remove_user(postgres_server.admin_url, name, purge=True) == 5
    assert not role_exists(postgres_server.superuser_url, name)
    assert sum(rows_owned(postgres_server.superuser_url, name).values()) == 0


def test_purge_ends_the_users_open_sessions(
    postgres_server: Any, new_name: Callable[[str], str]
) -> None:
    name = new_name("alice")
    credentials = add_user(postgres_server.admin_url, name)
    kernel = connect(credentials.database_url)
    remove_user(postgres_server.admin_url, name, purge=True)
    with pytest.raises(psycopg.OperationalError):
        kernel.execute(f"INSERT INTO {SCHEMA}.jobs (kind) VALUES ('late')")
    kernel.close()
    assert sum(rows_owned(postgres_server.superuser_url, name).values()) == 0


def store_api_key(url: URL, provider: str) -> None:
    """Store a key through the vault functions, as the user of ``url``."""
    key_id, secret = "AKIA" + "1" * 16, "s3cret-" + uuid.uuid4().hex
    plain = key_id.encode() + secret.encode()
    with connect(url) as session:
        pad = session.execute("SELECT quantdesk_vault.new_pad(%s)", (len(plain),)).fetchone()
        assert pad is not None
        masked = bytes(left ^ right for left, right in zip(plain, pad[0], strict=True))
        session.execute(
            "SELECT quantdesk_vault.add_key(%s, 'default', %s, %s)",
            (provider, masked[: len(key_id)], masked[len(key_id) :]),
        )


def test_purge_deletes_api_keys_keeps_their_audit_trail_and_retires_the_name(
    postgres_server: Any, new_name: Callable[[str], str]
) -> None:
    name = new_name("alice")
    credentials = add_user(postgres_server.admin_url, name)
    store_api_key(credentials.database_url, "binance")
    with pytest.raises(InvalidInputError, match="1 row\\(s\\) in api_keys"):
        remove_user(postgres_server.admin_url, name)
    remove_user(postgres_server.admin_url, name, purge=True)
    left = rows_owned(postgres_server.superuser_url, name)
    assert left["api_keys"] == 0
    assert left["api_key_audit"] >= 2  # the create and the delete
    assert sum(left.values()) == left["api_key_audit"]
    with pytest.raises(InvalidInputError, match="belonged to a removed user"):
        add_user(postgres_server.admin_url, name)
    assert not role_exists(postgres_server.superuser_url, name)


def test_a_failed_first_login_leaves_no_half_created_user(
    postgres_server: Any, new_name: Callable[[str], str]
) -> None:
    name = new_name("alice")
    profiles = sql.Identifier(SCHEMA, "profiles")
    with connect(postgres_server.superuser_url) as session:
        session.execute(
            sql.SQL("REVOKE INSERT ON {} FROM {}").format(profiles, sql.Identifier(USERS_ROLE))
        )
        try:
            with pytest.raises(StoreError, match="permission denied"):
                add_user(postgres_server.admin_url, name)
        finally:
            session.execute(
                sql.SQL("GRANT INSERT ON {} TO {}").format(profiles, sql.Identifier(USERS_ROLE))
            )
    assert not role_exists(postgres_server.superuser_url, name)
    assert add_user(postgres_server.admin_url, name).name == name


def test_an_interrupted_removal_can_be_finished(
    postgres_server: Any, new_name: Callable[[str], str]
) -> None:
    name = new_name("alice")
    add_user(postgres_server.admin_url, name)
    with connect(postgres_server.admin_url) as session:
        session.execute(sql.SQL("ALTER ROLE {} NOLOGIN").format(sql.Identifier(name)))
    locked = {user.name: user for user in list_users(postgres_server.admin_url)}[name]
    assert not locked.can_login
    assert remove_user(postgres_server.admin_url, name) == 1
    assert not role_exists(postgres_server.superuser_url, name)


def test_credentials_repr_hides_the_password() -> None:
    url = URL.create(
        "postgresql+psycopg", username="alice", password="hunter2-secret", host="h", database="d"
    )
    credentials = UserCredentials("alice", url)
    assert "hunter2-secret" not in repr(credentials)
    assert "hunter2-secret" not in f"{credentials}"
