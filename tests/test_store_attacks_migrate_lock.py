"""A hostile user tries to hang ``db migrate``; migrations still finish or fail in one line.

Migrations used to take ``pg_advisory_lock(hashtext('quantdesk-migrate'))``,
which any role may take first. Now they lock a table no user has any
privilege on, and their DDL waits for a user's table locks only as long as
``lock_timeout_seconds``. Each attack is plain SQL on the user's own URL.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import psycopg
import pytest
from psycopg import errors as pg_errors

from quantdesk.errors import InvalidInputError, StoreError
from quantdesk.store.migrate import MIGRATION_LOCK_TABLE, migrate, newest_revision
from quantdesk.store.users import add_user
from tests.postgres import SuiteServer, started_server, stop_server
from tests.test_store_users import connect, conninfo

OLDER_REVISION = "0002"
"""A revision whose successor alters users' tables, so migrating on from it needs their locks."""
WAIT_LIMIT_SECONDS = 60


def single_row(session: psycopg.Connection[Any], query: str, *parameters: Any) -> tuple[Any, ...]:
    row = session.execute(query, parameters or None).fetchone()
    assert row is not None, query
    return tuple(row)


def applied_revision(server: SuiteServer) -> str:
    with connect(server.superuser_url) as session:
        row = single_row(session, "SELECT version_num FROM quantdesk_migrations.alembic_version")
    return str(row[0])


def waiting_for_the_migration_lock(server: SuiteServer, expected: int = 2) -> int:
    """How many sessions wait for the migration lock, once ``expected`` do or a minute passed."""
    deadline = time.monotonic() + WAIT_LIMIT_SECONDS
    with connect(server.superuser_url) as observer:
        while True:
            (waiting,) = single_row(
                observer,
                "SELECT count(*) FROM pg_locks WHERE NOT granted AND relation = %s::regclass",
                MIGRATION_LOCK_TABLE,
            )
            if waiting >= expected or time.monotonic() > deadline:
                return int(waiting)


@pytest.fixture
def older_server() -> Iterator[SuiteServer]:
    """A scratch server migrated to :data:`OLDER_REVISION` only."""
    server, base = started_server(target=OLDER_REVISION)
    try:
        yield server
    finally:
        stop_server(server, base)


def test_a_user_holding_the_old_advisory_lock_cannot_hang_migrate(
    database_user: Callable[..., Any], postgres_server: Any
) -> None:
    mallory = database_user("mallory")
    pool = ThreadPoolExecutor(max_workers=1)
    try:
        with psycopg.connect(conninfo(mallory.url)) as session:
            session.execute("SELECT pg_advisory_lock(hashtext('quantdesk-migrate'))")
            outcome = pool.submit(migrate, postgres_server.admin_url).result(
                timeout=WAIT_LIMIT_SECONDS
            )
    finally:
        # Only after the session (and its locks) ended: a migrate still waiting then finishes.
        pool.shutdown()
    assert outcome.after == newest_revision()


@pytest.mark.parametrize(
    "statement",
    [
        f"LOCK TABLE {MIGRATION_LOCK_TABLE} IN ACCESS EXCLUSIVE MODE",
        f"LOCK TABLE {MIGRATION_LOCK_TABLE} IN EXCLUSIVE MODE",
        f"SELECT * FROM {MIGRATION_LOCK_TABLE}",
    ],
)
def test_users_cannot_take_the_migration_lock(
    database_user: Callable[..., Any], statement: str
) -> None:
    mallory = database_user("mallory")
    with (
        psycopg.connect(conninfo(mallory.url)) as session,
        pytest.raises(pg_errors.InsufficientPrivilege),
    ):
        session.execute(statement)


def test_a_user_lock_on_a_table_fails_migrate_within_the_timeout_naming_the_holder(
    older_server: SuiteServer,
) -> None:
    name = "mallory_locks"
    credentials = add_user(older_server.admin_url, name)
    with psycopg.connect(conninfo(credentials.database_url)) as session:
        # A transaction left open in a notebook: it holds ACCESS SHARE on the table.
        session.execute("SELECT count(*) FROM quantdesk.backtests")
        (pid,) = single_row(session, "SELECT pg_backend_pid()")
        started = time.monotonic()
        with pytest.raises(StoreError) as failed:
            migrate(older_server.admin_url, lock_timeout_seconds=0.05)
        elapsed = time.monotonic() - started
    message = str(failed.value)
    assert "\n" not in message
    assert f"pid {pid} ({name})" in message
    assert "pg_terminate_backend" in message
    assert "quantdesk db migrate" in message
    assert elapsed < WAIT_LIMIT_SECONDS
    assert applied_revision(older_server) == OLDER_REVISION

    outcome = migrate(older_server.admin_url, lock_timeout_seconds=0.05)

    assert (outcome.before, outcome.after) == (OLDER_REVISION, newest_revision())


def test_concurrent_migrations_wait_for_each_other_and_apply_each_revision_once(
    older_server: SuiteServer,
) -> None:
    pool = ThreadPoolExecutor(max_workers=2)
    try:
        with connect(older_server.superuser_url) as holder:
            holder.execute("BEGIN")
            holder.execute(f"LOCK TABLE {MIGRATION_LOCK_TABLE} IN EXCLUSIVE MODE")
            runs = [pool.submit(migrate, older_server.admin_url) for _ in range(2)]
            assert waiting_for_the_migration_lock(older_server) == 2
            assert not any(run.done() for run in runs)
            holder.execute("COMMIT")
        outcomes = [run.result(timeout=WAIT_LIMIT_SECONDS) for run in runs]
    finally:
        pool.shutdown()
    head = newest_revision()
    assert sorted((outcome.before, outcome.after) for outcome in outcomes) == [
        (OLDER_REVISION, head),
        (head, head),
    ]


@pytest.mark.parametrize("seconds", [0, -1, float("nan"), 3e6])
def test_a_bad_migration_lock_timeout_is_refused_in_one_line(
    postgres_server: Any, seconds: float
) -> None:
    with pytest.raises(InvalidInputError, match="lock_timeout_seconds must be a number") as bad:
        migrate(postgres_server.admin_url, lock_timeout_seconds=seconds)
    assert "\n" not in str(bad.value)
