"""A hostile user changes their own role, hoards connections and objects; management still works.

Each attack is what the user would type at psql on their own URL. The
platform's answers: sessions are ended by role oid, the role's own settings
are reset before rotation and removal, removal drops what the role owns (or
refuses before changing anything), and users make no large objects, reach no
other database and hold a bounded number of connections.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg
import pytest
from psycopg import errors as pg_errors
from psycopg import sql

from quantdesk.errors import InvalidInputError
from quantdesk.store.catalog_lint import check_catalog
from quantdesk.store.users import (
    DEFAULT_CONNECTION_LIMIT,
    add_user,
    remove_user,
    rotate_password,
)
from tests.test_store_users import connect, conninfo, role_exists, rows_owned


def role_settings(superuser_url: Any, name: str) -> list[str]:
    """Every setting stored for role ``name``, in any database."""
    with connect(superuser_url) as session:
        rows = session.execute(
            "SELECT unnest(setconfig) FROM pg_db_role_setting WHERE setrole = to_regrole(%s) "
            "ORDER BY 1",
            (name,),
        ).fetchall()
    return [row[0] for row in rows]


def is_ended(session: psycopg.Connection[Any]) -> bool:
    """Whether the server ended ``session``."""
    try:
        session.execute("SELECT 1")
    except psycopg.OperationalError:
        return True
    return False


@pytest.fixture
def mallory(database_user: Callable[..., Any]) -> Any:
    """The hostile user."""
    return database_user("mallory")


def test_a_role_that_switches_itself_to_the_group_is_still_rotated_out(
    mallory: Any, postgres_server: Any
) -> None:
    with connect(mallory.url) as session:
        session.execute(
            sql.SQL("ALTER ROLE {} SET role = 'quantdesk_users'").format(
                sql.Identifier(mallory.name)
            )
        )
        session.execute(
            sql.SQL("ALTER ROLE {} SET statement_timeout = 0").format(sql.Identifier(mallory.name))
        )
    hiding = psycopg.connect(conninfo(mallory.url), autocommit=True)
    assert hiding.execute("SELECT current_user").fetchone() == ("quantdesk_users",)

    rotate_password(postgres_server.admin_url, mallory.name)

    assert is_ended(hiding)
    hiding.close()
    assert role_settings(postgres_server.superuser_url, mallory.name) == [
        "idle_in_transaction_session_timeout=600000",
        "lock_timeout=60000",
        "search_path=quantdesk, public",
        "statement_timeout=300000",
    ]


def test_purge_of_a_switched_role_deletes_its_rows_then_the_role(
    mallory: Any, postgres_server: Any
) -> None:
    with connect(mallory.url) as session:
        session.execute("INSERT INTO quantdesk.jobs (kind) VALUES ('sweep'), ('train')")
        session.execute(
            sql.SQL("ALTER ROLE {} IN DATABASE quantdesk SET role = 'quantdesk_users'").format(
                sql.Identifier(mallory.name)
            )
        )
    assert rows_owned(postgres_server.superuser_url, mallory.name)["jobs"] == 2

    remove_user(postgres_server.admin_url, mallory.name, purge=True)

    assert not role_exists(postgres_server.superuser_url, mallory.name)
    assert rows_owned(postgres_server.superuser_url, mallory.name)["jobs"] == 0


@pytest.mark.parametrize(
    "statement",
    [
        "SELECT lo_create(0)",
        "SELECT lo_creat(-1)",
        "SELECT lo_from_bytea(0, '\\x00'::bytea)",
    ],
)
def test_users_cannot_create_large_objects(mallory: Any, statement: str) -> None:
    with connect(mallory.url) as session, pytest.raises(pg_errors.InsufficientPrivilege):
        session.execute(statement)


def test_default_privileges_a_user_set_do_not_stop_their_removal(
    mallory: Any, postgres_server: Any
) -> None:
    with connect(mallory.url) as session:
        session.execute("ALTER DEFAULT PRIVILEGES GRANT SELECT ON TABLES TO PUBLIC")
        session.execute(
            "ALTER DEFAULT PRIVILEGES IN SCHEMA quantdesk GRANT ALL ON TABLES TO PUBLIC"
        )

    remove_user(postgres_server.admin_url, mallory.name)

    assert not role_exists(postgres_server.superuser_url, mallory.name)


def test_a_large_object_is_removed_with_purge_and_refused_without(
    mallory: Any, postgres_server: Any
) -> None:
    with connect(postgres_server.superuser_url) as session:
        row = session.execute("SELECT lo_from_bytea(0, 'hoard'::bytea)").fetchone()
        assert row is not None
        session.execute(
            sql.SQL("ALTER LARGE OBJECT {} OWNER TO {}").format(
                sql.Literal(row[0]), sql.Identifier(mallory.name)
            )
        )

    with pytest.raises(InvalidInputError, match="owns 1 large object") as refused:
        remove_user(postgres_server.admin_url, mallory.name)
    assert "\n" not in str(refused.value)
    assert role_exists(postgres_server.superuser_url, mallory.name)

    remove_user(postgres_server.admin_url, mallory.name, purge=True)
    with connect(postgres_server.superuser_url) as session:
        left = session.execute(
            "SELECT count(*) FROM pg_largeobject_metadata WHERE oid = %s", (row[0],)
        ).fetchone()
    assert left == (0,)


def test_objects_in_another_database_refuse_removal_before_anything_changes(
    mallory: Any, postgres_server: Any
) -> None:
    other = postgres_server.superuser_url.set(database="postgres")
    with connect(other) as session:
        row = session.execute("SELECT lo_from_bytea(0, 'elsewhere'::bytea)").fetchone()
        assert row is not None
        session.execute(
            sql.SQL("ALTER LARGE OBJECT {} OWNER TO {}").format(
                sql.Literal(row[0]), sql.Identifier(mallory.name)
            )
        )
    try:
        with pytest.raises(InvalidInputError, match=r"database\(s\) postgres") as refused:
            remove_user(postgres_server.admin_url, mallory.name, purge=True)
        assert "DROP OWNED BY" in str(refused.value)
        with connect(mallory.url) as session:
            assert session.execute("SELECT current_user").fetchone() == (mallory.name,)
    finally:
        with connect(other) as session:
            session.execute("SELECT lo_unlink(%s)", (row[0],))


@pytest.mark.parametrize("database", ["postgres", "template1"])
def test_users_reach_no_other_database_of_the_cluster(mallory: Any, database: str) -> None:
    with pytest.raises(psycopg.OperationalError, match="permission denied for database"):
        psycopg.connect(conninfo(mallory.url.set(database=database)))


def test_users_cannot_make_temporary_tables(mallory: Any) -> None:
    with connect(mallory.url) as session, pytest.raises(pg_errors.InsufficientPrivilege):
        session.execute("CREATE TEMPORARY TABLE hoard (x int)")


def test_one_user_cannot_take_every_connection(
    mallory: Any, database_user: Callable[..., Any], postgres_server: Any
) -> None:
    victim = database_user("victim")
    hoard = [psycopg.connect(conninfo(mallory.url)) for _ in range(DEFAULT_CONNECTION_LIMIT)]
    try:
        with pytest.raises(psycopg.OperationalError, match="too many connections for role"):
            psycopg.connect(conninfo(mallory.url))
        with connect(victim.url) as session:
            assert session.execute("SELECT current_user").fetchone() == (victim.name,)
        with connect(postgres_server.admin_url) as session:
            assert session.execute("SELECT 1").fetchone() == (1,)
    finally:
        for session in hoard:
            session.close()


def test_users_cannot_raise_their_own_connection_limit(mallory: Any) -> None:
    with connect(mallory.url) as session, pytest.raises(pg_errors.InsufficientPrivilege):
        session.execute(
            sql.SQL("ALTER ROLE {} CONNECTION LIMIT -1").format(sql.Identifier(mallory.name))
        )


def test_a_bad_connection_limit_is_refused_in_one_line(postgres_server: Any) -> None:
    with pytest.raises(InvalidInputError, match="connection limit must be a whole number"):
        add_user(postgres_server.admin_url, "limits_user", connection_limit=0)


def test_db_check_finds_each_planted_role_and_cluster_weakness(
    mallory: Any, postgres_server: Any
) -> None:
    name = mallory.name
    with connect(mallory.url) as session:
        session.execute(
            sql.SQL("ALTER ROLE {} SET role = 'quantdesk_users'").format(sql.Identifier(name))
        )
    planted = [
        (f"ALTER ROLE {name} CONNECTION LIMIT -1", f"ALTER ROLE {name} CONNECTION LIMIT 10"),
        (
            "GRANT CONNECT, TEMPORARY ON DATABASE postgres TO PUBLIC",
            "REVOKE CONNECT, TEMPORARY ON DATABASE postgres FROM PUBLIC",
        ),
        (
            "GRANT EXECUTE ON FUNCTION lo_create(oid) TO PUBLIC",
            "REVOKE EXECUTE ON FUNCTION lo_create(oid) FROM PUBLIC",
        ),
    ]
    with connect(postgres_server.superuser_url) as session:
        for plant, _ in planted:
            session.execute(plant)
    try:
        found = [str(problem) for problem in check_catalog(postgres_server.admin_url)]
    finally:
        with connect(postgres_server.superuser_url) as session:
            for _, undo in planted:
                session.execute(undo)
        rotate_password(postgres_server.admin_url, name)
    expected = {
        f"role {name}: has settings": f"quantdesk users rotate {name}",
        f"role {name}: may open connections without limit": "CONNECTION LIMIT 10",
        "database postgres: PUBLIC holds CONNECT": "REVOKE CONNECT ON DATABASE postgres",
        "database postgres: PUBLIC holds TEMPORARY": "REVOKE TEMPORARY ON DATABASE postgres",
        "function pg_catalog.lo_create(oid): PUBLIC may execute it": "REVOKE EXECUTE",
    }
    for start, fix in expected.items():
        assert any(line.startswith(start) and fix in line for line in found), (start, found)
    assert "role=quantdesk_users" in next(line for line in found if "has settings" in line)
    assert [str(problem) for problem in check_catalog(postgres_server.admin_url)] == []
