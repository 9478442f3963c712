"""The catalog lint: clean on the migrated schema, and it catches what weakens isolation."""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
import pytest
from psycopg import sql
from sqlalchemy import URL

from quantdesk.store.catalog_lint import CatalogProblem, check_catalog
from quantdesk.store.definer_pins import set_clauses
from quantdesk.store.roles import ADMINS_ROLE, OWNER_ROLE, USERS_ROLE
from tests.command_line import run_quantdesk


def connect(url: URL) -> psycopg.Connection[Any]:
    return psycopg.connect(
        url.set(drivername="postgresql").render_as_string(hide_password=False), autocommit=True
    )


def admin_environment(postgres_server: Any) -> dict[str, str]:
    url = postgres_server.admin_url.set(drivername="postgresql")
    return {"QUANTDESK_ADMIN_DATABASE_URL": url.render_as_string(hide_password=False)}


def lines(problems: list[CatalogProblem]) -> list[str]:
    return [str(problem) for problem in problems]


def test_the_migrated_schema_has_no_problems(postgres_server: Any) -> None:
    assert lines(check_catalog(postgres_server.admin_url)) == []


@pytest.fixture
def scratch_schema(postgres_server: Any) -> Iterator[str]:
    """A schema of the owner role for deliberate mistakes, dropped afterwards."""
    schema = f"lint_scratch_{secrets.token_hex(3)}"
    with connect(postgres_server.admin_url) as session:
        session.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(OWNER_ROLE)))
        session.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    try:
        yield schema
    finally:
        with connect(postgres_server.superuser_url) as session:
            session.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))


@contextmanager
def as_owner(postgres_server: Any) -> Iterator[psycopg.Connection[Any]]:
    with connect(postgres_server.admin_url) as session:
        session.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(OWNER_ROLE)))
        yield session


def test_the_lint_catches_each_deliberate_mistake(
    postgres_server: Any, scratch_schema: str
) -> None:
    s = scratch_schema
    with as_owner(postgres_server) as session:
        for statement in (
            f"CREATE TABLE {s}.no_force (owner text DEFAULT current_user)",
            f"ALTER TABLE {s}.no_force ENABLE ROW LEVEL SECURITY",
            f"CREATE TABLE {s}.no_rls (owner text)",
            f"CREATE FUNCTION {s}.definer() RETURNS int LANGUAGE sql SECURITY DEFINER "
            "AS 'SELECT 1'",
            f"CREATE FUNCTION {s}.user_path() RETURNS int LANGUAGE sql SECURITY DEFINER "
            "SET search_path = \"$user\", public AS 'SELECT 1'",
            f"REVOKE EXECUTE ON FUNCTION {s}.user_path() FROM PUBLIC",
            f"CREATE FUNCTION {s}.pinned() RETURNS int LANGUAGE sql SECURITY DEFINER "
            f"{set_clauses()} AS 'SELECT 1'",
            f"REVOKE EXECUTE ON FUNCTION {s}.pinned() FROM PUBLIC",
            f"CREATE VIEW {s}.definer_view AS SELECT owner FROM {s}.no_force",
            f"CREATE VIEW {s}.invoker_view WITH (security_invoker = true) AS "
            f"SELECT owner FROM {s}.no_force",
            f"CREATE MATERIALIZED VIEW {s}.snapshot AS SELECT owner FROM {s}.no_force",
            f"GRANT TRUNCATE, TRIGGER ON {s}.no_force TO {USERS_ROLE}",
            f"CREATE TABLE {s}.parted (owner text, at int) PARTITION BY RANGE (at)",
            f"CREATE TABLE {s}.parted_one PARTITION OF {s}.parted FOR VALUES FROM (0) TO (10)",
            f"GRANT SELECT ON {s}.parted_one TO {USERS_ROLE}",
            f"CREATE POLICY by_setting ON {s}.no_force TO {USERS_ROLE} "
            "USING (owner = current_setting('quantdesk.user'))",
            f"CREATE POLICY every_row ON {s}.no_force TO {USERS_ROLE} USING (true)",
            f"CREATE POLICY admins_write ON {s}.no_force FOR ALL TO {ADMINS_ROLE} USING (true)",
            f"GRANT CREATE ON SCHEMA {s} TO {USERS_ROLE}",
        ):
            session.execute(statement)
    found = lines(check_catalog(postgres_server.admin_url))
    expected = {
        f"table {s}.no_force": "FORCE ROW LEVEL SECURITY",
        f"table {s}.no_rls": "ENABLE ROW LEVEL SECURITY",
        f"function {s}.definer()": "SET search_path = ''",
        f"function {s}.user_path()": "SET search_path = ''",
        f"view {s}.definer_view": "security_invoker = true",
        f"materialized view {s}.snapshot": "DROP MATERIALIZED VIEW",
        f"table {s}.no_force: {USERS_ROLE} holds TRUNCATE": "REVOKE TRUNCATE",
        f"table {s}.no_force: {USERS_ROLE} holds TRIGGER": "REVOKE TRIGGER",
        f"partition {s}.parted_one": f"REVOKE ALL ON {s}.parted_one FROM {USERS_ROLE}",
        f"policy by_setting on {s}.no_force": "current_user",
        f"policy every_row on {s}.no_force": f"gives every row to {USERS_ROLE}",
        f"policy admins_write on {s}.no_force": "FOR SELECT",
        f"schema {s}": f"REVOKE CREATE ON SCHEMA {s} FROM {USERS_ROLE}",
    }
    for subject, fix in expected.items():
        assert any(line.startswith(subject) and fix in line for line in found), (subject, found)
    definer_lines = [line for line in found if line.startswith(f"function {s}.definer()")]
    assert any("REVOKE EXECUTE" in line for line in definer_lines)
    assert not any(f"{s}.pinned()" in line for line in found)
    assert not any(f"{s}.invoker_view" in line for line in found)
    assert all("\n" not in line and "; fix: " in line for line in found)
    assert not any(f"{s}." not in line and f"schema {s}" not in line for line in found)


@pytest.mark.parametrize(
    ("change", "undo", "as_superuser", "expected"),
    [
        ("ALTER ROLE {user} BYPASSRLS", "ALTER ROLE {user} NOBYPASSRLS", True, "BYPASSRLS"),
        ("ALTER ROLE {user} SUPERUSER", "ALTER ROLE {user} NOSUPERUSER", True, "NOSUPERUSER"),
        ("ALTER ROLE {user} CREATEROLE", "ALTER ROLE {user} NOCREATEROLE", False, "CREATEROLE"),
        (f"GRANT {OWNER_ROLE} TO {{user}}", f"REVOKE {OWNER_ROLE} FROM {{user}}", False, "REVOKE"),
        (
            "GRANT pg_read_server_files TO {user}",
            "REVOKE pg_read_server_files FROM {user}",
            True,
            "pg_read_server_files",
        ),
    ],
)
def test_the_lint_catches_a_user_role_that_reaches_past_the_policies(
    postgres_server: Any,
    database_user: Callable[..., Any],
    change: str,
    undo: str,
    as_superuser: bool,
    expected: str,
) -> None:
    user = database_user("mallory")
    url = postgres_server.superuser_url if as_superuser else postgres_server.admin_url
    with connect(url) as session:
        session.execute(sql.SQL(change).format(user=sql.Identifier(user.name)))
        try:
            found = lines(check_catalog(postgres_server.admin_url))
        finally:
            session.execute(sql.SQL(undo).format(user=sql.Identifier(user.name)))
    assert [line for line in found if line.startswith(f"role {user.name}:")], found
    assert any(expected in line for line in found)
    assert lines(check_catalog(postgres_server.admin_url)) == []


def test_db_check_exits_zero_on_the_migrated_schema(postgres_server: Any, tmp_path: Any) -> None:
    result = run_quantdesk(
        "db",
        "check",
        "--json",
        data_dir=tmp_path,
        extra_environment=admin_environment(postgres_server),
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"ok": True, "problems": []}


def test_db_check_prints_one_line_per_problem_and_exits_one(
    postgres_server: Any, scratch_schema: str, tmp_path: Any
) -> None:
    with as_owner(postgres_server) as session:
        session.execute(f"CREATE TABLE {scratch_schema}.open_table (owner text)")
    environment = admin_environment(postgres_server)
    result = run_quantdesk("db", "check", data_dir=tmp_path, extra_environment=environment)
    assert result.returncode == 1
    printed = result.stdout.strip().splitlines()
    assert printed == [
        f"table {scratch_schema}.open_table: row-level security is not enabled; "
        f"fix: ALTER TABLE {scratch_schema}.open_table ENABLE ROW LEVEL SECURITY",
        f"table {scratch_schema}.open_table: row-level security is not forced, so its owner "
        f"bypasses the policies; fix: ALTER TABLE {scratch_schema}.open_table FORCE ROW LEVEL "
        "SECURITY",
    ]
    as_json = run_quantdesk(
        "db", "check", "--json", data_dir=tmp_path, extra_environment=environment
    )
    assert as_json.returncode == 1
    payload = json.loads(as_json.stdout)
    assert payload["ok"] is False
    assert {problem["object"] for problem in payload["problems"]} == {
        f"table {scratch_schema}.open_table"
    }
