"""Row-level isolation, checked in the database itself for every table and view.

Alice stores rows in every relation of schema ``quantdesk`` (enumerated from
the catalog, so a new table is covered without touching this file); bob, a
second user, then tries every way of reaching them that a kernel could.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest
import sqlalchemy
from psycopg import sql
from psycopg.types.json import Jsonb
from sqlalchemy import URL

from quantdesk.store.roles import (
    ADMINS_ROLE,
    MANAGER_ROLE,
    OWNER_ROLE,
    SCHEMA,
    USERS_ROLE,
    VAULT_ROLE,
)
from quantdesk.store.server import SUPERUSER

VAULT_SCHEMA = "quantdesk_vault"
THROUGH_THE_VAULT = frozenset({"api_keys", "api_key_audit"})
"""Relations users cannot write directly; rows reach them only through the vault functions."""


def conninfo(url: URL) -> str:
    """A libpq connection string for a SQLAlchemy URL."""
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def connect(url: URL) -> psycopg.Connection[Any]:
    """An autocommit session, so a refused statement leaves the session usable."""
    return psycopg.connect(conninfo(url), autocommit=True)


@dataclass(frozen=True)
class Relation:
    """A table or view of our schema, as the catalog describes it."""

    name: str
    kind: str
    columns: tuple[sqlalchemy.engine.interfaces.ReflectedColumn, ...]
    foreign_keys: tuple[sqlalchemy.engine.interfaces.ReflectedForeignKeyConstraint, ...]
    users_insert: bool

    @property
    def qualified(self) -> sql.Identifier:
        return sql.Identifier(SCHEMA, self.name)


def relations(superuser_url: URL) -> list[Relation]:
    """Every table and view in our schema, parents before the tables referencing them."""
    engine = sqlalchemy.create_engine(superuser_url, poolclass=sqlalchemy.pool.NullPool)
    try:
        inspector = sqlalchemy.inspect(engine)
        with engine.connect() as connection:
            kinds: dict[str, str] = {
                row[0]: row[1]
                for row in connection.execute(
                    sqlalchemy.text(
                        "SELECT c.relname, c.relkind FROM pg_class c "
                        "JOIN pg_namespace n ON n.oid = c.relnamespace "
                        "WHERE n.nspname = :schema AND c.relkind IN ('r', 'p', 'v') "
                        "AND NOT c.relispartition"
                    ),
                    {"schema": SCHEMA},
                )
            }
            insertable = {
                name
                for name in kinds
                if connection.execute(
                    sqlalchemy.text("SELECT has_table_privilege(:role, :table, 'INSERT')"),
                    {"role": USERS_ROLE, "table": f"{SCHEMA}.{name}"},
                ).scalar_one()
            }
        found = {
            name: Relation(
                name,
                kind,
                tuple(inspector.get_columns(name, schema=SCHEMA)),
                tuple(inspector.get_foreign_keys(name, schema=SCHEMA)) if kind != "v" else (),
                name in insertable,
            )
            for name, kind in kinds.items()
        }
    finally:
        engine.dispose()
    ordered: list[Relation] = []
    while len(ordered) < len(found):
        placed = {relation.name for relation in ordered}
        for relation in sorted(found.values(), key=lambda item: item.name):
            parents = {key["referred_table"] for key in relation.foreign_keys} - {relation.name}
            if relation.name not in placed and parents <= placed:
                ordered.append(relation)
                placed.add(relation.name)
    return ordered


def value_for(column: sqlalchemy.engine.interfaces.ReflectedColumn, marker: str) -> object:
    """A valid value of the column's type that carries ``marker`` where the type allows."""
    kind = column["type"]
    if isinstance(kind, sqlalchemy.String):
        return f"{marker}:{column['name']}"
    if isinstance(kind, sqlalchemy.JSON):
        return Jsonb({"marker": marker})
    if isinstance(kind, sqlalchemy.LargeBinary):
        return marker.encode()
    if isinstance(kind, sqlalchemy.Integer):
        return 7
    if isinstance(kind, sqlalchemy.Float | sqlalchemy.Numeric):
        return 0.5
    if isinstance(kind, sqlalchemy.DateTime):
        return datetime.now(UTC)
    if isinstance(kind, sqlalchemy.Uuid):
        return uuid.uuid4()
    if isinstance(kind, sqlalchemy.Boolean):
        return True
    raise NotImplementedError(f"teach value_for() the type {kind!r} of column {column['name']}")


@dataclass
class Population:
    """The rows one user stored, by relation."""

    user: str
    marker: str
    rows: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


def insert_row(
    session: psycopg.Connection[Any], relation: Relation, values: dict[str, object]
) -> dict[str, Any]:
    """Insert one row and return it as stored."""
    statement = sql.SQL("INSERT INTO {table} ({columns}) VALUES ({values}) RETURNING *").format(
        table=relation.qualified,
        columns=sql.SQL(", ").join(sql.Identifier(name) for name in values),
        values=sql.SQL(", ").join(sql.Placeholder() for _ in values),
    )
    with session.cursor(row_factory=psycopg.rows.dict_row) as cursor:
        cursor.execute(statement, list(values.values()))
        row = cursor.fetchone()
    assert row is not None
    return row


def row_values(
    relation: Relation, marker: str, parents: dict[str, list[dict[str, Any]]]
) -> dict[str, object]:
    """Values for a new row: parents' keys for foreign keys, typed values elsewhere."""
    values: dict[str, object] = {}
    for key in relation.foreign_keys:
        parent = parents[key["referred_table"]][0]
        for own, referred in zip(key["constrained_columns"], key["referred_columns"], strict=True):
            if own != "owner":
                values[own] = parent[referred]
    for column in relation.columns:
        name = column["name"]
        if name in values or column.get("default") is not None or column.get("identity"):
            continue
        values[name] = value_for(column, marker)
    return values


def store_api_key(
    session: psycopg.Connection[Any], provider: str, key_id: str, secret: str
) -> None:
    """Store a key through the vault as the session's user (masked with a one-time pad)."""
    plain = key_id.encode() + secret.encode()
    row = session.execute(
        sql.SQL("SELECT {}(%s)").format(sql.Identifier(VAULT_SCHEMA, "new_pad")), (len(plain),)
    ).fetchone()
    assert row is not None
    masked = bytes(left ^ right for left, right in zip(plain, row[0], strict=True))
    split = len(key_id.encode())
    session.execute(
        sql.SQL("SELECT {}(%s, %s, %s, %s)").format(sql.Identifier(VAULT_SCHEMA, "add_key")),
        (provider, "default", masked[:split], masked[split:]),
    )


def populate(url: URL, user: str, every: list[Relation]) -> Population:
    """Store rows in every relation as ``user``; fail for a relation nobody taught us to fill."""
    population = Population(user, marker=f"marker-{user}-{uuid.uuid4().hex}")
    with connect(url) as session:
        for relation in every:
            if relation.kind == "v" or relation.name in THROUGH_THE_VAULT:
                continue
            if not relation.users_insert:
                pytest.fail(
                    f"users cannot insert into {relation.name}; teach populate() how rows get there"
                )
            if relation.name == "profiles":
                continue  # add_user made the profile; a second one is refused (one per user)
            row = insert_row(
                session, relation, row_values(relation, population.marker, population.rows)
            )
            population.rows.setdefault(relation.name, []).append(row)
        if any(relation.name == "api_keys" for relation in every):
            store_api_key(
                session, f"{population.marker}:provider", "AKIA" + "7" * 16, population.marker
            )
        for relation in every:
            count = session.execute(
                sql.SQL("SELECT count(*) FROM {} WHERE owner = current_user").format(
                    relation.qualified
                )
            ).fetchone()
            assert count is not None
            assert count[0] > 0, f"{user} has no row in {relation.name}; the test covers nothing"
    return population


@dataclass
class Scenario:
    """Alice's and bob's rows, and the connections to reach the database."""

    alice: Any
    bob: Any
    alice_rows: Population
    bob_rows: Population
    relations: list[Relation]
    superuser_url: URL


@pytest.fixture
def scenario(postgres_server: Any, database_user: Callable[..., Any]) -> Scenario:
    every = relations(postgres_server.superuser_url)
    alice = database_user("alice")
    bob = database_user("bob")
    return Scenario(
        alice,
        bob,
        populate(alice.url, alice.name, every),
        populate(bob.url, bob.name, every),
        every,
        postgres_server.superuser_url,
    )


@pytest.fixture
def bob_session(scenario: Scenario) -> Iterator[psycopg.Connection[Any]]:
    with connect(scenario.bob.url) as session:
        yield session


def count_owned(session: psycopg.Connection[Any], relation: Relation, owner: str) -> int:
    row = session.execute(
        sql.SQL("SELECT count(*) FROM {} WHERE owner = %s").format(relation.qualified), (owner,)
    ).fetchone()
    assert row is not None
    return int(row[0])


def count_all(session: psycopg.Connection[Any], relation: Relation) -> int:
    row = session.execute(sql.SQL("SELECT count(*) FROM {}").format(relation.qualified)).fetchone()
    assert row is not None
    return int(row[0])


def assert_bob_sees_only_his_rows(scenario: Scenario, session: psycopg.Connection[Any]) -> None:
    for relation in scenario.relations:
        assert count_owned(session, relation, scenario.alice.name) == 0, relation.name
        assert count_all(session, relation) == count_owned(session, relation, scenario.bob.name)


def test_every_relation_of_the_schema_is_covered(scenario: Scenario) -> None:
    names = {relation.name for relation in scenario.relations}
    assert {"profiles", "jobs", "backtests", "backtest_equity", "backtest_trades"} <= names
    assert {"models", "predictions"} <= names


def test_bob_sees_none_of_alices_rows_in_any_relation(
    scenario: Scenario, bob_session: psycopg.Connection[Any]
) -> None:
    with connect(scenario.alice.url) as alice_session:
        for relation in scenario.relations:
            assert count_owned(alice_session, relation, scenario.alice.name) > 0, relation.name
    assert_bob_sees_only_his_rows(scenario, bob_session)
    for relation in scenario.relations:
        assert count_all(bob_session, relation) > 0, f"bob sees nothing in {relation.name} at all"


@pytest.fixture
def leaky_function(scenario: Scenario) -> Iterator[sql.Identifier]:
    """A function that leaks its argument as a NOTICE, as cheap as the planner allows."""
    schema = f"leak_probe_{uuid.uuid4().hex[:8]}"
    function = sql.Identifier(schema, "leak")
    with connect(scenario.superuser_url) as superuser:
        superuser.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
        superuser.execute(
            sql.SQL(
                "CREATE FUNCTION {}(text) RETURNS boolean LANGUAGE plpgsql COST 0.0000001 AS "
                "$$ BEGIN RAISE NOTICE 'leaked: %', $1; RETURN true; END $$"
            ).format(function)
        )
        superuser.execute(
            sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(
                sql.Identifier(schema), sql.Identifier(scenario.bob.name)
            )
        )
        yield function
        superuser.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))


def readable_columns(session: psycopg.Connection[Any], relation: Relation) -> list[str]:
    return [
        column["name"]
        for column in relation.columns
        if session.execute(
            "SELECT has_column_privilege(%s, %s, 'SELECT')",
            (f"{SCHEMA}.{relation.name}", column["name"]),
        ).fetchone()
        == (True,)
    ]


def test_a_leaky_function_in_the_where_clause_never_sees_alices_rows(
    scenario: Scenario, bob_session: psycopg.Connection[Any], leaky_function: sql.Identifier
) -> None:
    notices: list[str] = []
    bob_session.add_notice_handler(lambda notice: notices.append(notice.message_primary or ""))
    for relation in scenario.relations:
        columns = readable_columns(bob_session, relation)
        whole_row = sql.SQL("ROW({})::text").format(
            sql.SQL(", ").join(sql.Identifier("t", column) for column in columns)
        )
        for condition in (
            sql.SQL("{}({})").format(leaky_function, whole_row),
            sql.SQL("{}({}) AND owner = %s").format(leaky_function, whole_row),
            sql.SQL("owner = %s OR {}({})").format(leaky_function, whole_row),
        ):
            parameters = (scenario.alice.name,) if "%s" in condition.as_string(bob_session) else ()
            bob_session.execute(
                sql.SQL("SELECT count(*) FROM {} AS t WHERE ").format(relation.qualified)
                + condition,
                parameters,
            )
    alice_traces = (
        scenario.alice.name,
        scenario.alice_rows.marker,
        scenario.alice_rows.marker.encode().hex(),
    )
    assert notices, "the leaky function never ran, so the test proves nothing"
    assert any(scenario.bob_rows.marker in notice for notice in notices)
    leaked = [notice for notice in notices if any(trace in notice for trace in alice_traces)]
    assert leaked == []


def test_statistics_do_not_show_alices_values_to_bob(
    scenario: Scenario, bob_session: psycopg.Connection[Any]
) -> None:
    with connect(scenario.superuser_url) as superuser:
        superuser.execute(sql.SQL("ANALYZE"))
    rows = bob_session.execute(
        "SELECT tablename, attname, most_common_vals::text, histogram_bounds::text "
        "FROM pg_stats WHERE schemaname = %s",
        (SCHEMA,),
    ).fetchall()
    assert not [row for row in rows if scenario.alice_rows.marker in str(row)]


def test_bob_cannot_insert_a_row_owned_by_alice(
    scenario: Scenario, bob_session: psycopg.Connection[Any]
) -> None:
    for relation in scenario.relations:
        if relation.kind == "v" or not relation.users_insert:
            continue
        values = row_values(relation, "forged", scenario.alice_rows.rows)
        values["owner"] = scenario.alice.name
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="row-level security"):
            insert_row(bob_session, relation, values)
    assert_bob_sees_only_his_rows(scenario, bob_session)


def test_bob_cannot_hand_his_own_row_to_alice(
    scenario: Scenario, bob_session: psycopg.Connection[Any]
) -> None:
    for relation in scenario.relations:
        if relation.kind == "v" or not relation.users_insert:
            continue
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="row-level security"):
            bob_session.execute(
                sql.SQL("UPDATE {} SET owner = %s").format(relation.qualified),
                (scenario.alice.name,),
            )


def test_bobs_updates_and_deletes_of_alices_rows_touch_nothing(
    scenario: Scenario, bob_session: psycopg.Connection[Any]
) -> None:
    for relation in scenario.relations:
        if relation.kind == "v":
            continue
        privileges = bob_session.execute(
            "SELECT has_table_privilege(%s, 'UPDATE'), has_table_privilege(%s, 'DELETE')",
            (f"{SCHEMA}.{relation.name}",) * 2,
        ).fetchone()
        assert privileges is not None
        for statement, allowed in (
            (sql.SQL("UPDATE {} SET owner = owner WHERE owner = %s"), privileges[0]),
            (sql.SQL("DELETE FROM {} WHERE owner = %s"), privileges[1]),
        ):
            query = statement.format(relation.qualified)
            if allowed:
                cursor = bob_session.execute(query, (scenario.alice.name,))
                assert cursor.rowcount == 0, relation.name
            else:
                with pytest.raises(psycopg.errors.InsufficientPrivilege):
                    bob_session.execute(query, (scenario.alice.name,))
    with connect(scenario.alice.url) as alice_session:
        for relation, rows in scenario.alice_rows.rows.items():
            table = next(item for item in scenario.relations if item.name == relation)
            assert count_owned(alice_session, table, scenario.alice.name) == len(rows)


def test_bob_cannot_delete_alices_api_key_through_the_vault(
    scenario: Scenario, bob_session: psycopg.Connection[Any]
) -> None:
    with connect(scenario.alice.url) as alice_session:
        key_ids = [
            row[0] for row in alice_session.execute(f"SELECT id FROM {SCHEMA}.api_keys").fetchall()
        ]
    assert key_ids
    for key_id in key_ids:
        row = bob_session.execute(
            sql.SQL("SELECT {}(%s)").format(sql.Identifier(VAULT_SCHEMA, "delete_key_by_id")),
            (key_id,),
        ).fetchone()
        assert row == (False,)
    with connect(scenario.alice.url) as alice_session:
        remaining = alice_session.execute(f"SELECT count(*) FROM {SCHEMA}.api_keys").fetchone()
        assert remaining == (len(key_ids),)


@pytest.mark.parametrize(
    "target", ["alice", OWNER_ROLE, VAULT_ROLE, MANAGER_ROLE, ADMINS_ROLE, SUPERUSER]
)
@pytest.mark.parametrize("command", ["SET ROLE {}", "SET SESSION AUTHORIZATION {}"])
def test_bob_cannot_become_someone_else(
    scenario: Scenario, bob_session: psycopg.Connection[Any], target: str, command: str
) -> None:
    role = scenario.alice.name if target == "alice" else target
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        bob_session.execute(sql.SQL(command).format(sql.Identifier(role)))
    row = bob_session.execute("SELECT current_user, session_user").fetchone()
    assert row == (scenario.bob.name, scenario.bob.name)
    assert_bob_sees_only_his_rows(scenario, bob_session)


def test_session_variables_change_nothing(
    scenario: Scenario, bob_session: psycopg.Connection[Any]
) -> None:
    alice = scenario.alice.name
    for setting in (
        "quantdesk.user",
        "quantdesk.owner",
        "app.current_user",
        "request.jwt.claim.sub",
    ):
        bob_session.execute("SELECT set_config(%s, %s, false)", (setting, alice))
    bob_session.execute(sql.SQL("SET application_name = {}").format(sql.Literal(alice)))
    bob_session.execute(
        "SELECT set_config('request.jwt.claims', %s, false)", (f'{{"sub": "{alice}"}}',)
    )
    assert_bob_sees_only_his_rows(scenario, bob_session)
    bob_session.execute("BEGIN")
    bob_session.execute("SELECT set_config('quantdesk.user', %s, true)", (alice,))
    assert_bob_sees_only_his_rows(scenario, bob_session)
    bob_session.execute("ROLLBACK")


def test_an_admin_reads_every_users_rows_but_changes_none(
    scenario: Scenario, database_user: Callable[..., Any]
) -> None:
    admin = database_user("carol", admin=True)
    with connect(admin.url) as session:
        for relation in scenario.relations:
            for user in (scenario.alice.name, scenario.bob.name):
                assert count_owned(session, relation, user) > 0, (relation.name, user)
            if relation.kind == "v":
                continue
            privileges = session.execute(
                "SELECT has_table_privilege(%s, 'UPDATE'), has_table_privilege(%s, 'DELETE')",
                (f"{SCHEMA}.{relation.name}",) * 2,
            ).fetchone()
            assert privileges is not None
            if privileges[0]:
                cursor = session.execute(
                    sql.SQL("UPDATE {} SET owner = owner WHERE owner = %s").format(
                        relation.qualified
                    ),
                    (scenario.alice.name,),
                )
                assert cursor.rowcount == 0
            if privileges[1]:
                cursor = session.execute(
                    sql.SQL("DELETE FROM {} WHERE owner = %s").format(relation.qualified),
                    (scenario.alice.name,),
                )
                assert cursor.rowcount == 0
            if relation.users_insert:
                values = row_values(relation, "forged", scenario.alice_rows.rows)
                values["owner"] = scenario.alice.name
                with pytest.raises(psycopg.errors.InsufficientPrivilege):
                    insert_row(session, relation, values)


@pytest.mark.parametrize(
    "attempt",
    [
        f"GRANT {ADMINS_ROLE} TO {{me}}",
        f"GRANT {OWNER_ROLE} TO {{me}}",
        f"SET ROLE {ADMINS_ROLE}",
        "ALTER ROLE {me} BYPASSRLS",
        "ALTER ROLE {me} SUPERUSER",
        "ALTER ROLE {me} CREATEROLE",
        "ALTER ROLE {me} CREATEDB",
        "ALTER ROLE {me} REPLICATION",
        "CREATE ROLE someone_else LOGIN",
        f"ALTER TABLE {SCHEMA}.backtests DISABLE ROW LEVEL SECURITY",
        f"ALTER TABLE {SCHEMA}.backtests NO FORCE ROW LEVEL SECURITY",
        f"CREATE POLICY everything ON {SCHEMA}.backtests USING (true)",
        f"DROP POLICY backtests_own_rows ON {SCHEMA}.backtests",
        f"TRUNCATE {SCHEMA}.backtests",
        f"CREATE TABLE {SCHEMA}.mine (owner text)",
        f"CREATE VIEW {SCHEMA}.everything AS SELECT * FROM {SCHEMA}.backtests",
        "CREATE SCHEMA mine",
    ],
)
def test_a_user_cannot_make_themselves_admin_or_lift_the_policies(
    scenario: Scenario, bob_session: psycopg.Connection[Any], attempt: str
) -> None:
    statement = sql.SQL(attempt).format(me=sql.Identifier(scenario.bob.name))
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        bob_session.execute(statement)
    row = bob_session.execute(
        "SELECT pg_has_role(%s, %s, 'MEMBER'), rolsuper, rolbypassrls, rolcreaterole "
        "FROM pg_roles WHERE rolname = current_user",
        (scenario.bob.name, ADMINS_ROLE),
    ).fetchone()
    assert row == (False, False, False, False)
    assert_bob_sees_only_his_rows(scenario, bob_session)


def test_a_user_cannot_rename_themselves_onto_another_users_rows(
    scenario: Scenario, bob_session: psycopg.Connection[Any]
) -> None:
    with pytest.raises(psycopg.errors.Error):
        bob_session.execute(
            sql.SQL("ALTER ROLE {} RENAME TO {}").format(
                sql.Identifier(scenario.bob.name), sql.Identifier(f"{scenario.alice.name}_2")
            )
        )
    assert bob_session.execute("SELECT current_user").fetchone() == (scenario.bob.name,)


def test_the_shared_group_role_is_nobodys_space(
    scenario: Scenario, bob_session: psycopg.Connection[Any]
) -> None:
    writable = [
        relation
        for relation in scenario.relations
        if relation.kind != "v" and relation.name not in THROUGH_THE_VAULT
    ]
    assert writable
    with connect(scenario.alice.url) as alice_session:
        alice_session.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(USERS_ROLE)))
        assert alice_session.execute("SELECT current_user").fetchone() == (USERS_ROLE,)
        forged: dict[str, list[dict[str, Any]]] = dict(scenario.alice_rows.rows)
        for relation in writable:
            values = row_values(relation, "shared", forged)
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                forged[relation.name] = [insert_row(alice_session, relation, values)]
        for relation in scenario.relations:
            assert count_all(alice_session, relation) == 0, relation.name

    bob_session.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(USERS_ROLE)))
    for relation in scenario.relations:
        assert count_all(bob_session, relation) == 0, relation.name
        assert count_owned(bob_session, relation, USERS_ROLE) == 0, relation.name
    for relation in writable:
        values = row_values(relation, "shared", scenario.bob_rows.rows)
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            insert_row(bob_session, relation, values)
    bob_session.execute("RESET ROLE")
    with connect(scenario.superuser_url) as superuser:
        for relation in scenario.relations:
            assert count_owned(superuser, relation, USERS_ROLE) == 0, relation.name
    assert_bob_sees_only_his_rows(scenario, bob_session)
