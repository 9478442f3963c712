"""Attacks on other users' ids and values through query plans, keys and planner statistics.

Bob has his own login role and types SQL. Row-level security hides alice's
rows, but before migration 0003 the plans around them did not: a primary key
on ``id`` alone searched past alice's rows (``EXPLAIN ANALYZE`` counted them,
a duplicate key confirmed them), and ``ANALYZE`` statistics put her values
into bob's row estimates. Everything here runs as bob would, in plain SQL on
his own URL; the superuser only runs ``ANALYZE`` (as autovacuum would).
"""

from __future__ import annotations

import importlib
import secrets
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest
from psycopg import sql
from sqlalchemy import URL

from quantdesk.store.catalog_lint import CatalogProblem, check_catalog
from quantdesk.store.roles import OWNER_ROLE, SCHEMA, USERS_ROLE
from tests.test_store_catalog import scratch_schema  # noqa: F401 - the shared fixture

CORE_MIGRATION = importlib.import_module("quantdesk.store.migrations.versions.0001_core")
ROWS = 500
PREFIXES = (1, 3, 7, 13, 15, 18)
PLAN_SETTINGS = (
    (),
    ("SET enable_seqscan = off",),
    ("SET enable_seqscan = off", "SET enable_bitmapscan = off"),
    ("SET enable_seqscan = off", "SET enable_indexscan = off"),
    ("SET enable_indexscan = off", "SET enable_bitmapscan = off"),
)
COUNTED = ("Rows Removed by Filter", "Rows Removed by Index Recheck", "Actual Rows", "Plan Rows")


def connect(url: URL) -> psycopg.Connection[Any]:
    return psycopg.connect(
        url.set(drivername="postgresql").render_as_string(hide_password=False), autocommit=True
    )


def analyze(postgres_server: Any) -> None:
    with connect(postgres_server.superuser_url) as session:
        session.execute(f"ANALYZE {SCHEMA}.jobs")
        session.execute(f"ANALYZE {SCHEMA}.backtests")


def ids_in_order(count: int) -> list[uuid.UUID]:
    """``count`` random ids, sorted as PostgreSQL sorts uuids (bytewise)."""
    return sorted((uuid.uuid4() for _ in range(count)), key=lambda value: value.bytes)


def store_jobs(url: URL, ids: list[uuid.UUID], kind: str) -> None:
    with connect(url) as session, session.cursor() as cursor:
        cursor.executemany(
            "INSERT INTO quantdesk.jobs (id, kind) VALUES (%s, %s)",
            [(job_id, kind) for job_id in ids],
        )


def store_backtests(url: URL, count: int, name: str) -> None:
    with connect(url) as session:
        session.execute(
            "INSERT INTO quantdesk.backtests (name, parameters, config, stats, engine_version, "
            "bar_count, trade_count) "
            "SELECT %s, '{}', '{}', '{}', '1', 0, 0 FROM generate_series(1, %s)",
            (name, count),
        )


def plan_of(session: psycopg.Connection[Any], query: str, *, analyzed: bool) -> dict[str, Any]:
    options = "ANALYZE, FORMAT JSON" if analyzed else "FORMAT JSON"
    row = session.execute(f"EXPLAIN ({options}) {query}").fetchone()
    assert row is not None
    plan: dict[str, Any] = row[0][0]["Plan"]
    return plan


def counts(plan: dict[str, Any]) -> list[tuple[str, str, Any]]:
    """What each node of a plan says about rows, without timings or costs."""
    found = [(plan["Node Type"], key, plan[key]) for key in (*COUNTED, "Index Name") if key in plan]
    for child in plan.get("Plans", []):
        found.extend(counts(child))
    return found


def plan_rows(session: psycopg.Connection[Any], query: str) -> int:
    return int(plan_of(session, query, analyzed=False)["Plan Rows"])


def literal(value: object) -> str:
    """A SQL string literal (the values here hold no quotes, but be safe)."""
    return "'" + str(value).replace("'", "''") + "'"


@pytest.fixture
def alice_and_bob(database_user: Callable[..., Any]) -> tuple[Any, Any]:
    return database_user("alice"), database_user("bob")


def test_explain_analyze_over_id_ranges_says_nothing_about_alices_ids(
    postgres_server: Any, alice_and_bob: tuple[Any, Any]
) -> None:
    alice, bob = alice_and_bob
    # Alice's ids sit in the middle of a range; bob owns ids on both sides.
    everyone = ids_in_order(3 * ROWS)
    bobs = everyone[:ROWS] + everyone[2 * ROWS :]
    alices = everyone[ROWS : 2 * ROWS]
    store_jobs(alice.url, alices, "alice-job")
    store_jobs(bob.url, bobs, "bob-job")
    analyze(postgres_server)
    # Two ranges each holding the same number of bob's rows (ten), one spanning
    # all of alice's rows and one containing none of hers.
    spanning = (bobs[ROWS - 5], bobs[ROWS + 4])
    beside = (bobs[10], bobs[19])
    with connect(bob.url) as session:
        for settings in PLAN_SETTINGS:
            session.execute("RESET ALL")
            for setting in settings:
                session.execute(setting)
            seen = []
            for low, high in (spanning, beside):
                query = (
                    "SELECT * FROM quantdesk.jobs "
                    f"WHERE id BETWEEN {literal(low)}::uuid AND {literal(high)}::uuid"
                )
                assert len(session.execute(query).fetchall()) == 10
                seen.append(counts(plan_of(session, query, analyzed=True)))
            assert seen[0] == seen[1], settings


def test_bob_may_reuse_alices_ids_and_learns_nothing_from_conflicts(
    postgres_server: Any, alice_and_bob: tuple[Any, Any]
) -> None:
    alice, bob = alice_and_bob
    alices = ids_in_order(3)
    store_jobs(alice.url, alices, "alice-job")
    fresh = uuid.uuid4()
    with connect(bob.url) as session:
        inserted = session.execute(
            "INSERT INTO quantdesk.jobs (id, kind) VALUES (%s, 'bob-job')", (alices[0],)
        )
        assert inserted.rowcount == 1
        rowcounts = [
            session.execute(
                "INSERT INTO quantdesk.jobs (id, kind) VALUES (%s, 'probe') ON CONFLICT DO NOTHING",
                (probe,),
            ).rowcount
            for probe in (alices[1], fresh)
        ]
        assert rowcounts == [1, 1]
        # His own id does conflict: the key is there, only per owner.
        again = session.execute(
            "INSERT INTO quantdesk.jobs (id, kind) VALUES (%s, 'probe') ON CONFLICT DO NOTHING",
            (alices[0],),
        )
        assert again.rowcount == 0
        # A backtest of his may name the job id they share; it is his job.
        session.execute(
            "INSERT INTO quantdesk.backtests (parameters, config, stats, engine_version, "
            "bar_count, trade_count, job_id) VALUES ('{}', '{}', '{}', '1', 0, 0, %s)",
            (alices[0],),
        )
        row = session.execute(
            "SELECT count(*) FROM quantdesk.jobs WHERE id = ANY(%s)", (alices,)
        ).fetchone()
        assert row == (2,)
    with connect(alice.url) as session:
        row = session.execute(
            "SELECT kind, count(*) FROM quantdesk.jobs WHERE id = ANY(%s) GROUP BY kind",
            (alices,),
        ).fetchall()
        assert row == [("alice-job", 3)]


@pytest.fixture
def statistics_restored(postgres_server: Any) -> Iterator[None]:
    yield
    with connect(postgres_server.superuser_url) as session:
        session.execute(f"ALTER TABLE {SCHEMA}.jobs ALTER COLUMN kind SET STATISTICS 0")
        # Drops what the deliberate ANALYZE collected (SET STATISTICS 0 keeps it).
        session.execute(f"DELETE FROM pg_statistic WHERE starelid = '{SCHEMA}.jobs'::regclass")


def test_row_estimates_say_nothing_about_alices_values(
    postgres_server: Any, alice_and_bob: tuple[Any, Any], statistics_restored: None
) -> None:
    alice, bob = alice_and_bob
    secret = f"secret-kind-{secrets.token_hex(4)}"
    store_jobs(alice.url, [uuid.uuid4() for _ in range(4 * ROWS)], secret)
    store_backtests(alice.url, 4 * ROWS, f"{secret}-backtest")
    analyze(postgres_server)

    def estimates(session: psycopg.Connection[Any]) -> dict[str, int]:
        jobs = "SELECT * FROM quantdesk.jobs WHERE "
        backtests = "SELECT * FROM quantdesk.backtests WHERE "
        guesses = {
            "secret kind": jobs + f"kind = {literal(secret)}",
            "unknown kind": jobs + "kind = 'nothing-like-it'",
            "secret name": backtests + f"name = {literal(secret + '-backtest')}",
            "unknown name": backtests + "name = 'nothing-like-it'",
            "alice": jobs + f"owner = {literal(alice.name)}",
            "nobody": jobs + "owner = 'nobody'",
        }
        # A prefix walk, each next letter of the secret against a wrong one ('q'
        # is neither in "secret-kind-" nor a hex digit). LIKE is not leakproof,
        # so the planner never uses statistics for it under row security;
        # text comparisons are, so the walk goes by ranges.
        for length in PREFIXES:
            for label, prefix in (
                ("prefix", secret[:length]),
                ("wrong", secret[: length - 1] + "q"),
            ):
                guesses[f"{label} {length}"] = jobs + (
                    f"kind BETWEEN {literal(prefix)} AND {literal(prefix + 'zzzzzzzz')}"
                )
                guesses[f"{label} like {length}"] = jobs + f"kind LIKE {literal(prefix + '%')}"
        return {name: plan_rows(session, query) for name, query in guesses.items()}

    with connect(bob.url) as session:
        seen = estimates(session)
    assert seen["secret kind"] == seen["unknown kind"]
    assert seen["secret name"] == seen["unknown name"]
    assert seen["alice"] == seen["nobody"]
    for length in PREFIXES:
        assert seen[f"prefix {length}"] == seen[f"wrong {length}"], length
        assert seen[f"prefix like {length}"] == seen[f"wrong like {length}"], length

    # The same attack with statistics on one column: the test can fail.
    with connect(postgres_server.superuser_url) as session:
        session.execute(f"ALTER TABLE {SCHEMA}.jobs ALTER COLUMN kind SET STATISTICS -1")
        session.execute(f"ANALYZE {SCHEMA}.jobs")
    with connect(bob.url) as session:
        leaked = estimates(session)
    assert leaked["secret kind"] > leaked["unknown kind"]
    for length in PREFIXES:
        assert leaked[f"prefix {length}"] > leaked[f"wrong {length}"], length


def lines(problems: list[CatalogProblem]) -> list[str]:
    return [str(problem) for problem in problems]


def test_the_lint_catches_keys_not_led_by_owner_and_collected_statistics(
    postgres_server: Any,
    scratch_schema: str,  # noqa: F811
) -> None:
    s = scratch_schema
    ok_columns = ", ".join(
        f"ALTER COLUMN {column} SET STATISTICS 0" for column in ("id", "owner", "note")
    )
    with connect(postgres_server.admin_url) as session:
        session.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(OWNER_ROLE)))
        for statement in (
            f"CREATE TABLE {s}.by_id (id uuid PRIMARY KEY, owner text NOT NULL, note text)",
            f"CREATE UNIQUE INDEX by_id_note ON {s}.by_id (note)",
            f"CREATE INDEX by_id_note_owner ON {s}.by_id (note, owner)",
            f"CREATE INDEX by_id_lower ON {s}.by_id (lower(note))",
            f"ALTER TABLE {s}.by_id {ok_columns}",
            f"ALTER TABLE {s}.by_id ALTER COLUMN note SET STATISTICS 100",
            f"CREATE TABLE {s}.well_keyed (id uuid, owner text NOT NULL, note text, "
            "PRIMARY KEY (owner, id), UNIQUE (owner, note))",
            f"CREATE INDEX well_keyed_note ON {s}.well_keyed (owner, note)",
            f"ALTER TABLE {s}.well_keyed {ok_columns}",
            f"CREATE TABLE {s}.no_owner (id uuid PRIMARY KEY, note text)",
            f"CREATE TABLE {s}.not_queried (id uuid PRIMARY KEY, owner text, note text)",
            f"GRANT SELECT ON {s}.by_id, {s}.well_keyed, {s}.no_owner TO {USERS_ROLE}",
        ):
            session.execute(statement)
    subjects = ("index ", "unique index ", "primary key ", "unique constraint ", "column ")
    found = [
        line
        for line in lines(check_catalog(postgres_server.admin_url))
        if s in line and line.startswith(subjects)
    ]
    fix = "; fix: recreate it with owner as the first column, e.g. "
    tail = (
        "not owner, so a search on it passes over other users' rows before the policy filters "
        "them out (EXPLAIN ANALYZE counts them, a duplicate key error confirms them)"
    )
    expected_keys = [
        f"index {s}.by_id_lower on {s}.by_id: its first column is lower(note), {tail}"
        f"{fix}CREATE INDEX ON {s}.by_id (owner, lower(note))",
        f"unique index {s}.by_id_note on {s}.by_id: its first column is note, {tail}"
        f"{fix}CREATE UNIQUE INDEX ON {s}.by_id (owner, note)",
        f"index {s}.by_id_note_owner on {s}.by_id: its first column is note, {tail}"
        f"{fix}CREATE INDEX ON {s}.by_id (owner, note)",
        f"primary key {s}.by_id_pkey on {s}.by_id: its first column is id, {tail}"
        f"{fix}PRIMARY KEY (owner, id)",
    ]
    expected_statistics = [
        f"column {s}.by_id.note: ANALYZE gathers statistics on it (target 100) from every "
        "user's rows, and plain EXPLAIN estimates show them to any user; "
        f"fix: ALTER TABLE {s}.by_id ALTER COLUMN note SET STATISTICS 0",
    ]
    assert [line for line in found if "SET STATISTICS" not in line] == expected_keys
    assert [line for line in found if "SET STATISTICS" in line] == expected_statistics
    assert all("\n" not in line for line in found)


def test_a_table_left_at_default_statistics_is_reported_column_by_column(
    postgres_server: Any,
    scratch_schema: str,  # noqa: F811
) -> None:
    s = scratch_schema
    with connect(postgres_server.admin_url) as session:
        session.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(OWNER_ROLE)))
        session.execute(f"CREATE TABLE {s}.plain (owner text, kind text)")
        # A grant of one column is enough to EXPLAIN queries on the table.
        session.execute(f"GRANT SELECT (kind) ON {s}.plain TO {USERS_ROLE}")
    found = [
        line for line in lines(check_catalog(postgres_server.admin_url)) if "STATISTICS" in line
    ]
    assert [line.partition(":")[0] for line in found] == [
        f"column {s}.plain.owner",
        f"column {s}.plain.kind",
    ]
    assert all("(target -1)" in line for line in found)


def test_the_migrated_schema_has_owner_first_keys_and_no_statistics(
    postgres_server: Any,
) -> None:
    with connect(postgres_server.superuser_url) as session:
        keys = session.execute(
            """
            SELECT c.relname, i.relname, a.attname
            FROM pg_index x
            JOIN pg_class c ON c.oid = x.indrelid
            JOIN pg_class i ON i.oid = x.indexrelid
            LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = x.indkey[0]
            WHERE c.relnamespace = %s::regnamespace
            ORDER BY 1, 2
            """,
            (SCHEMA,),
        ).fetchall()
        collected = session.execute(
            """
            SELECT c.relname, a.attname, a.attstattarget
            FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
            WHERE c.relnamespace = %s::regnamespace AND c.relkind IN ('r', 'p')
              AND a.attnum > 0 AND NOT a.attisdropped AND a.attstattarget <> 0
            """,
            (SCHEMA,),
        ).fetchall()
        storage = session.execute(
            """
            SELECT c.relname, a.attname FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
            WHERE c.relnamespace = %s::regnamespace AND a.attstorage = 'e'
            """,
            (SCHEMA,),
        ).fetchall()
    assert keys
    assert [key for key in keys if key[2] != "owner"] == []
    # Re-declaring the columns (to drop old statistics) kept 0001's storage choices.
    assert set(storage) == set(CORE_MIGRATION.COMPRESSED_ELSEWHERE.items())
    assert collected == []
    assert not [line for line in lines(check_catalog(postgres_server.admin_url)) if SCHEMA in line]
