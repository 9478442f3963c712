"""Bring the database schema to the newest revision.

Migrations run as the manager role with ``SET ROLE quantdesk_owner``, so
every table, view and the version table belong to the owner role. Each run
holds :data:`MIGRATION_LOCK_TABLE` locked for its whole transaction, so
concurrent runs wait for each other instead of racing; no user has any
privilege on that table, so no user can take the lock first (an advisory
lock, which any role may take, once let a user hang every migration). The
revisions' own locks wait at most ``lock_timeout_seconds``, so a user's open
transaction on a quantdesk table makes the run fail with the holder's name
instead of hanging.
"""

from __future__ import annotations

from dataclasses import dataclass

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import URL, Connection, text
from sqlalchemy.exc import DBAPIError, IntegrityError

from quantdesk.config import DEFAULT_MIGRATION_LOCK_TIMEOUT_SECONDS
from quantdesk.errors import StoreError
from quantdesk.store.binaries import MINIMUM_MAJOR_VERSION
from quantdesk.store.connection import engine_for, translated_errors
from quantdesk.store.roles import OWNER_ROLE
from quantdesk.store.session_limits import milliseconds

VERSION_TABLE = "alembic_version"
VERSION_TABLE_SCHEMA = "quantdesk_migrations"
SCRIPT_LOCATION = "quantdesk.store:migrations"
MIGRATION_LOCK_TABLE = f"{VERSION_TABLE_SCHEMA}.migration_lock"
"""Every run holds this table locked; only the owner role has any privilege on it."""
_LOCK_NOT_AVAILABLE = "55P03"
_CREATE_ATTEMPTS = 3


@dataclass(frozen=True)
class MigrationOutcome:
    """What a migration run did.

    Attributes
    ----------
    before
        The revision the database was at, or None for an empty database.
    after
        The revision it is at now (the newest one unless a target was given).
    """

    before: str | None
    after: str

    @property
    def changed(self) -> bool:
        """Whether any revision was applied."""
        return self.before != self.after


def alembic_config() -> Config:
    """The Alembic configuration of quantdesk's migrations.

    Returns
    -------
    alembic.config.Config
        A configuration pointing at the packaged revisions.
    """
    config = Config()
    config.set_main_option("script_location", SCRIPT_LOCATION)
    return config


def newest_revision() -> str:
    """The newest revision the installed package ships.

    Returns
    -------
    str
        The head revision id.
    """
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise StoreError("quantdesk ships no migrations; reinstall the package")
    return head


def current_revision(connection: Connection) -> str | None:
    """The revision a database is at.

    Parameters
    ----------
    connection
        A connection as the manager role.

    Returns
    -------
    str or None
        The applied revision, or None before the first migration.
    """
    connection.execute(text(f"SET ROLE {OWNER_ROLE}"))
    try:
        exists = connection.execute(
            text("SELECT to_regclass(:name) IS NOT NULL"),
            {"name": f"{VERSION_TABLE_SCHEMA}.{VERSION_TABLE}"},
        ).scalar_one()
        if not exists:
            return None
        context = MigrationContext.configure(
            connection,
            opts={"version_table": VERSION_TABLE, "version_table_schema": VERSION_TABLE_SCHEMA},
        )
        return context.get_current_revision()
    finally:
        connection.execute(text("RESET ROLE"))


def migrate(
    admin_url: URL,
    *,
    lock_timeout_seconds: float = DEFAULT_MIGRATION_LOCK_TIMEOUT_SECONDS,
    target: str = "head",
) -> MigrationOutcome:
    """Apply every revision the database lacks, in one transaction.

    Parameters
    ----------
    admin_url
        The manager role's URL (see :func:`quantdesk.store.connection.admin_url`).
    lock_timeout_seconds
        How long each statement waits for a table lock (a user's open
        transaction may hold one) before the run fails and names who holds it.
    target
        The revision to stop at; the newest one unless a test needs an older schema.

    Returns
    -------
    MigrationOutcome
        The revision before and after.

    Raises
    ------
    StoreError
        If the database refuses a revision or a lock stays taken; nothing of it is applied.
    """
    config = alembic_config()
    timeout = milliseconds(lock_timeout_seconds, name="lock_timeout_seconds")
    with translated_errors("migrating the database"), engine_for(admin_url).connect() as connection:
        try:
            _refuse_old_server(connection)
            _create_migration_lock(connection)
            connection.execute(text(f"SET ROLE {OWNER_ROLE}"))
            # EXCLUSIVE serializes runs yet leaves ACCESS SHARE free, which any role takes
            # for a moment on any relation it names by oid (pg_relation_size does).
            connection.execute(text(f"LOCK TABLE {MIGRATION_LOCK_TABLE} IN EXCLUSIVE MODE"))
            connection.execute(text(f"SET LOCAL lock_timeout = {timeout}"))
            connection.execute(text("RESET ROLE"))
            before = current_revision(connection)
            connection.execute(text(f"SET ROLE {OWNER_ROLE}"))
            config.attributes["connection"] = connection
            try:
                command.upgrade(config, target)
            except DBAPIError as error:
                if getattr(error.orig, "sqlstate", None) != _LOCK_NOT_AVAILABLE:
                    raise
                connection.rollback()
                raise _lock_timeout_error(connection, lock_timeout_seconds) from None
            connection.execute(text("RESET ROLE"))
            after = current_revision(connection)
            connection.commit()
        finally:
            connection.rollback()
            connection.execute(text("RESET ROLE"))
            connection.commit()
    if after is None:
        raise StoreError("the migration ran but recorded no revision; run 'quantdesk db migrate'")
    return MigrationOutcome(before=before, after=after)


def _create_migration_lock(connection: Connection) -> None:
    """Create the table migrations lock, once; it has no grants, so no user can lock it."""
    for _ in range(_CREATE_ATTEMPTS):
        connection.execute(text(f"SET LOCAL ROLE {OWNER_ROLE}"))
        exists = connection.execute(
            text("SELECT to_regclass(:name) IS NOT NULL"), {"name": MIGRATION_LOCK_TABLE}
        ).scalar_one()
        if exists:
            connection.commit()
            return
        try:
            for statement in (
                f"CREATE SCHEMA IF NOT EXISTS {VERSION_TABLE_SCHEMA}",
                f"REVOKE ALL ON SCHEMA {VERSION_TABLE_SCHEMA} FROM PUBLIC",
                f"CREATE TABLE IF NOT EXISTS {MIGRATION_LOCK_TABLE} ()",
                f"REVOKE ALL ON {MIGRATION_LOCK_TABLE} FROM PUBLIC",
                f"ALTER TABLE {MIGRATION_LOCK_TABLE} ENABLE ROW LEVEL SECURITY",
                f"ALTER TABLE {MIGRATION_LOCK_TABLE} FORCE ROW LEVEL SECURITY",
            ):
                connection.execute(text(statement))
            connection.commit()
            return
        except IntegrityError:
            # Another run created the schema or table first: look again.
            connection.rollback()
    raise StoreError("could not create the migration lock table; retry 'quantdesk db migrate'")


def _lock_timeout_error(connection: Connection, waited_seconds: float) -> StoreError:
    """Name the sessions holding locks on quantdesk's tables, and how to get past them."""
    holders = connection.execute(
        text(
            """
            SELECT DISTINCT l.pid, coalesce(a.usename, '?')
            FROM pg_locks l
            JOIN pg_class c ON c.oid = l.relation
            JOIN pg_namespace n ON n.oid = c.relnamespace
            LEFT JOIN pg_stat_activity a ON a.pid = l.pid
            WHERE l.granted AND l.pid <> pg_backend_pid() AND l.database = (
                SELECT oid FROM pg_database WHERE datname = current_database())
              AND n.nspname LIKE 'quantdesk%'
            ORDER BY 1
            """
        )
    ).all()
    connection.rollback()
    sessions = ", ".join(f"pid {pid} ({role})" for pid, role in holders) or "sessions now gone"
    return StoreError(
        f"migrating the database: a table stayed locked for {waited_seconds:g}s, held by "
        f"{sessions}; nothing was applied: end those sessions (as a superuser: SELECT "
        "pg_terminate_backend(PID)) or let them finish, then run 'quantdesk db migrate' again "
        "(QUANTDESK_MIGRATION_LOCK_TIMEOUT_SECONDS waits longer)"
    )


def _refuse_old_server(connection: Connection) -> None:
    version = int(connection.execute(text("SHOW server_version_num")).scalar_one())
    if version < MINIMUM_MAJOR_VERSION * 10_000:
        raise StoreError(
            f"the database server runs PostgreSQL {version // 10_000}; quantdesk's schema needs "
            f"PostgreSQL >= {MINIMUM_MAJOR_VERSION} (security_invoker views): upgrade the server"
        )
