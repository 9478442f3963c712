"""Database users: create, list, rotate and remove the login role of each person.

Every person gets their own LOGIN role, a member of ``quantdesk_users`` (and
of ``quantdesk_admins`` for an admin). The manager role runs these operations;
it never sees a password in plain text on the server: passwords are random,
and only their SCRAM-SHA-256 verifier, computed here by libpq, is sent, so
neither the server log nor ``pg_stat_activity`` can reveal one.

Rows belong to a user by value (``owner = current_user``), not through
ownership of database objects, so ``REASSIGN OWNED`` cannot move them and
dropping a role would leave its rows behind for the next role of that name.
:func:`remove_user` therefore deletes the user's rows as the user before it
drops the role, and without ``purge`` it refuses while the user has any data
besides their profile.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql
from sqlalchemy import URL, Connection, CursorResult, text
from sqlalchemy.exc import DBAPIError

from quantdesk.config import DEFAULT_USER_CONNECTION_LIMIT
from quantdesk.errors import InvalidInputError, StoreError, UnknownUserError, describe_miss
from quantdesk.store.connection import (
    DRIVER,
    driver_connection,
    engine_for,
    single_use_connection,
    translated_errors,
)
from quantdesk.store.roles import (
    ADMINS_ROLE,
    GROUP_ROLES,
    MANAGER_ROLE,
    PEER_ROLE,
    SCHEMA,
    USERS_ROLE,
)
from quantdesk.store.session_limits import SessionLimits

MAX_NAME_LENGTH = 48
_NAME_PATTERN = re.compile(r"[a-z][a-z0-9_]*")
RESERVED_PREFIXES = ("pg_", "quantdesk")
RESERVED_NAMES = frozenset(
    {
        "all",
        "current_role",
        "current_user",
        "none",
        "postgres",
        "public",
        "root",
        "session_user",
        "system_user",
        "template0",
        "template1",
        "user",
    }
)
PASSWORD_BYTES = 32
DEFAULT_CONNECTION_LIMIT = DEFAULT_USER_CONNECTION_LIMIT
"""Sessions one user may hold at once unless an admin chooses otherwise."""
USER_SEARCH_PATH = (SCHEMA, "public")
"""Each user's default search_path, so their own SQL can name tables without the schema."""
PROFILES_TABLE = "profiles"
API_KEYS_TABLE = "api_keys"
VAULT_DELETE_FUNCTION = "quantdesk_vault.delete_key_by_id(uuid)"
"""Users cannot delete API-key rows themselves; this function does it and audits it."""
_DUPLICATE_OBJECT = "42710"
_OWN_ROLES = ", ".join(f"to_regrole('{role}')" for role in (*GROUP_ROLES, MANAGER_ROLE))
USER_ROLE_OIDS = f"""
    SELECT r.oid FROM pg_roles r
    JOIN pg_auth_members m ON m.member = r.oid AND m.roleid = to_regrole('{USERS_ROLE}')
    WHERE NOT r.rolsuper
      AND r.oid <> ALL(ARRAY[{_OWN_ROLES}])
      AND r.rolname NOT LIKE 'quantdesk%'
"""
"""SQL selecting the oids of the users' login roles: direct members of ``quantdesk_users``,
never a superuser, the manager or another of quantdesk's own roles."""


@dataclass(frozen=True)
class UserCredentials:
    """A user's name and the URL they connect with; the password is in the URL.

    Attributes
    ----------
    name
        The login role's name.
    database_url
        ``postgresql+psycopg`` URL with the user's password (hidden in the repr).
    admin
        Whether the user may read every user's rows.
    """

    name: str
    database_url: URL
    admin: bool = False

    def __repr__(self) -> str:
        shown = self.database_url.render_as_string(hide_password=True)
        return f"UserCredentials(name={self.name!r}, database_url={shown!r}, admin={self.admin})"

    def revealed_url(self, *, drivername: str = "postgresql") -> str:
        """The URL as text, password included, to hand to the user once.

        Parameters
        ----------
        drivername
            The scheme to print; plain ``postgresql`` also works with psql and libpq.

        Returns
        -------
        str
            For example ``postgresql://alice:PASSWORD@127.0.0.1:5432/quantdesk``.
        """
        return self.database_url.set(drivername=drivername).render_as_string(hide_password=False)


@dataclass(frozen=True)
class UserInfo:
    """One database user as :func:`list_users` reports it.

    Attributes
    ----------
    name
        The login role's name.
    admin
        Whether the role is a member of ``quantdesk_admins``.
    can_login
        False while the role is locked (for example half-way through a removal).
    """

    name: str
    admin: bool
    can_login: bool


def validate_user_name(name: str) -> str:
    """Check that ``name`` can be a quantdesk user's role name.

    Parameters
    ----------
    name
        The proposed name.

    Returns
    -------
    str
        The name, unchanged.

    Raises
    ------
    InvalidInputError
        If it breaks a rule; the message names the rule.
    """
    shown = repr(name) if len(name) <= 60 else repr(name[:60] + "…")
    if not name:
        raise InvalidInputError("a user name cannot be empty; use lowercase letters, e.g. alice")
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidInputError(
            f"user name {shown} is longer than {MAX_NAME_LENGTH} characters; choose a shorter one"
        )
    if _NAME_PATTERN.fullmatch(name) is None:
        raise InvalidInputError(
            f"user name {shown} is not allowed: use lowercase letters, digits and underscores, "
            "starting with a letter (e.g. alice_2)"
        )
    if name in RESERVED_NAMES or name.startswith(RESERVED_PREFIXES):
        raise InvalidInputError(
            f"user name {shown} is reserved (names such as postgres and public, and names "
            "starting with pg_ or quantdesk, belong to the server); choose another"
        )
    return name


def add_user(
    admin_url: URL,
    name: str,
    *,
    admin: bool = False,
    connection_limit: int = DEFAULT_CONNECTION_LIMIT,
    session_limits: SessionLimits | None = None,
) -> UserCredentials:
    """Create a user's login role and profile, with a new random password.

    Parameters
    ----------
    admin_url
        The manager role's URL (see :func:`quantdesk.store.connection.admin_url`).
    name
        The new user's name (see :func:`validate_user_name`).
    admin
        Also make the user a member of ``quantdesk_admins`` (reads every user's rows).
    connection_limit
        How many sessions the user may hold at once, so one user cannot take
        every connection slot; users cannot raise it themselves.
    session_limits
        The timeouts the role gets (see :func:`platform_role_settings`); the defaults when None.

    Returns
    -------
    UserCredentials
        The name and the URL to connect with; the password is not stored anywhere else.

    Raises
    ------
    InvalidInputError
        If the name is invalid or already taken.
    StoreError
        If the database refuses; nothing is left half-created.
    """
    validate_user_name(name)
    password = secrets.token_urlsafe(PASSWORD_BYTES)
    groups = [USERS_ROLE, ADMINS_ROLE] if admin else [USERS_ROLE]
    with translated_errors(f"creating user {name!r}"), _admin_connection(admin_url) as connection:
        _refuse_taken_name(connection, name)
        _refuse_retired_name(connection, name)
        verifier = scram_verifier(driver_connection(connection), name, password)
        statement = sql.SQL(
            "CREATE ROLE {name} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS "
            "NOREPLICATION INHERIT CONNECTION LIMIT {limit} PASSWORD {verifier} IN ROLE {groups}"
        ).format(
            name=sql.Identifier(name),
            limit=sql.Literal(_checked_connection_limit(connection_limit)),
            verifier=sql.Literal(verifier),
            groups=sql.SQL(", ").join(sql.Identifier(group) for group in groups),
        )
        try:
            _execute(connection, statement)
        except DBAPIError as error:
            if getattr(error.orig, "sqlstate", None) != _DUPLICATE_OBJECT:
                raise
            connection.rollback()
            raise _taken_error(name) from None
        _reset_role_settings(connection, name, session_limits)
        connection.commit()
    credentials = UserCredentials(name, _user_url(admin_url, name, password), admin)
    try:
        with (
            translated_errors(f"logging in as the new user {name!r}"),
            single_use_connection(credentials.database_url) as connection,
        ):
            connection.execute(
                text(f"INSERT INTO {SCHEMA}.{PROFILES_TABLE} (display_name) VALUES (:name)"),
                {"name": name},
            )
            connection.commit()
    except StoreError:
        with (
            translated_errors(f"undoing the half-created user {name!r}"),
            _admin_connection(admin_url) as connection,
        ):
            _execute(connection, sql.SQL("DROP ROLE {}").format(sql.Identifier(name)))
            connection.commit()
        raise
    return credentials


def rotate_password(
    admin_url: URL, name: str, *, session_limits: SessionLimits | None = None
) -> UserCredentials:
    """Give a user a new random password and end the sessions opened with the old one.

    Parameters
    ----------
    admin_url
        The manager role's URL.
    name
        An existing user.
    session_limits
        The timeouts the role gets again with the platform's other settings; the
        defaults when None.

    Returns
    -------
    UserCredentials
        The new URL; the old password stops working at once.

    Raises
    ------
    UnknownUserError
        If ``name`` is not a quantdesk user.
    """
    validate_user_name(name)
    password = secrets.token_urlsafe(PASSWORD_BYTES)
    with (
        translated_errors(f"rotating the password of {name!r}"),
        _admin_connection(admin_url) as connection,
    ):
        user = _existing_user(connection, name)
        _reset_role_settings(connection, name, session_limits)
        _set_password(connection, name, password)
        connection.commit()
        _end_sessions(connection, name)
    return UserCredentials(name, _user_url(admin_url, name, password), user.admin)


def allow_peer_login(admin_url: URL, name: str) -> None:
    """Let the OS account called ``name`` log in as the user of that name without a password.

    The user joins :data:`~quantdesk.store.roles.PEER_ROLE`, whose members the
    embedded server's ``pg_hba.conf`` admits by ``peer`` authentication over its
    Unix socket: the kernel's OS account is checked by the operating system, so no
    password sits in the server's environment. Only for accounts the platform made
    for that person (see :mod:`quantdesk.hub.accounts`). Idempotent.

    Parameters
    ----------
    admin_url
        The manager role's URL.
    name
        An existing user.

    Raises
    ------
    UnknownUserError
        If ``name`` is not a quantdesk user.
    """
    validate_user_name(name)
    with (
        translated_errors(f"letting {name!r} log in by peer authentication"),
        _admin_connection(admin_url) as connection,
    ):
        _existing_user(connection, name)
        _execute(
            connection,
            sql.SQL("GRANT {} TO {}").format(sql.Identifier(PEER_ROLE), sql.Identifier(name)),
        )
        connection.commit()


def list_users(admin_url: URL) -> list[UserInfo]:
    """Every quantdesk user, by name.

    Parameters
    ----------
    admin_url
        The manager role's URL.

    Returns
    -------
    list of UserInfo
        The direct members of ``quantdesk_users``, sorted by name.
    """
    with translated_errors("listing the users"), _admin_connection(admin_url) as connection:
        return _users(connection)


def remove_user(
    admin_url: URL,
    name: str,
    *,
    purge: bool = False,
    session_limits: SessionLimits | None = None,
) -> int:
    """Delete a user's rows and drop their login role.

    The user is locked out first (a new random password, then NOLOGIN, then
    their open sessions are ended), so nothing can be written between the
    deletion and the drop. Rows the users' role may never delete, such as the
    API-key audit trail, are history: they stay, and the name is retired
    (:func:`add_user` refuses it) so no later user inherits them.

    Parameters
    ----------
    admin_url
        The manager role's URL.
    name
        An existing user.
    purge
        Also delete the user's data (runs, jobs, models, API keys...). Without
        it, a user who has any rows besides their profile and history is not removed.
    session_limits
        The timeouts the role runs the deletion under; the defaults when None.

    Returns
    -------
    int
        How many rows were deleted, the profile included.

    Raises
    ------
    UnknownUserError
        If ``name`` is not a quantdesk user.
    InvalidInputError
        If the user still has data and ``purge`` is false.
    StoreError
        If deletable rows remain (written concurrently); the role is then left
        locked, not dropped, and running the removal again finishes it.
    """
    validate_user_name(name)
    temporary_password = secrets.token_urlsafe(PASSWORD_BYTES)
    with translated_errors(f"removing user {name!r}"), _admin_connection(admin_url) as connection:
        _existing_user(connection, name)
        if not purge:
            deletable = _deletable_tables(connection)
            kept = {
                table: count
                for table, count in _rows_seen_by_admins(connection, name).items()
                if table in deletable and table != PROFILES_TABLE and count
            }
            if kept:
                raise InvalidInputError(
                    f"user {name!r} still has {_describe_counts(kept)}; delete them first or "
                    f"run 'quantdesk users rm {name} --purge' to delete them with the user"
                )
        _refuse_objects_elsewhere(connection, name)
        if not purge:
            owned = _large_object_count(connection, name)
            if owned:
                raise InvalidInputError(
                    f"user {name!r} owns {owned} large object(s); run "
                    f"'quantdesk users rm {name} --purge' to delete them with the user"
                )
        # Settings the user gave their own role (a role to switch to, say) would
        # apply to the session below: gone first. LOGIN again in case an earlier
        # removal stopped after locking the role.
        _reset_role_settings(connection, name, session_limits)
        _set_password(connection, name, temporary_password, allow_login=True)
        connection.commit()
    user_url = _user_url(admin_url, name, temporary_password)
    with (
        translated_errors(f"deleting the rows of {name!r}"),
        single_use_connection(user_url) as user_connection,
    ):
        _refuse_switched_session(user_connection, name)
        with _admin_connection(admin_url) as connection:
            _execute(connection, sql.SQL("ALTER ROLE {} NOLOGIN").format(sql.Identifier(name)))
            connection.commit()
            _end_sessions(connection, name, keep=_backend_pid(user_connection))
        deleted = _delete_own_rows(user_connection)
        # Large objects, default privileges and grants the role holds, in this database.
        _execute(user_connection, sql.SQL("DROP OWNED BY {}").format(sql.Identifier(name)))
        user_connection.commit()
        deletable = _deletable_tables(user_connection)
        left = {
            table: count
            for table, count in _own_row_counts(user_connection).items()
            if table in deletable and count
        }
    if left:
        raise StoreError(
            f"user {name!r} is locked but not removed: {_describe_counts(left)} appeared "
            f"while deleting; run 'quantdesk users rm {name} --purge' again"
        )
    with (
        translated_errors(f"dropping the role of {name!r}"),
        _admin_connection(admin_url) as connection,
    ):
        _execute(connection, sql.SQL("DROP ROLE {}").format(sql.Identifier(name)))
        connection.commit()
    return deleted


@contextmanager
def _admin_connection(admin_url: URL) -> Iterator[Connection]:
    with engine_for(admin_url).connect() as connection:
        try:
            yield connection
        finally:
            connection.rollback()


def _execute(
    connection: Connection, statement: sql.Composable, parameters: tuple[Any, ...] | None = None
) -> CursorResult[Any]:
    """Run a statement composed with safely quoted identifiers and literals."""
    return connection.exec_driver_sql(
        statement.as_string(driver_connection(connection)), parameters
    )


def scram_verifier(driver: psycopg.Connection[Any], name: str, password: str) -> str:
    """The SCRAM-SHA-256 verifier of ``password``, so the plain password never reaches the server.

    Parameters
    ----------
    driver
        Any open psycopg connection (its libpq computes the verifier locally).
    name
        The role's name.
    password
        The new password.

    Returns
    -------
    str
        A ``SCRAM-SHA-256$...`` string for ``ALTER ROLE ... PASSWORD``.
    """
    encrypted = driver.pgconn.encrypt_password(password.encode(), name.encode(), b"scram-sha-256")
    return encrypted.decode("ascii")


def _set_password(
    connection: Connection, name: str, password: str, *, allow_login: bool = False
) -> None:
    verifier = scram_verifier(driver_connection(connection), name, password)
    _execute(
        connection,
        sql.SQL("ALTER ROLE {name} {login} PASSWORD {verifier}").format(
            name=sql.Identifier(name),
            login=sql.SQL("LOGIN" if allow_login else ""),
            verifier=sql.Literal(verifier),
        ),
    )


def _user_url(admin_url: URL, name: str, password: str) -> URL:
    return admin_url.set(drivername=DRIVER, username=name, password=password)


def _users(connection: Connection) -> list[UserInfo]:
    rows = connection.execute(
        text(
            """
            SELECT r.rolname, r.rolcanlogin,
                   EXISTS (SELECT 1 FROM pg_auth_members a
                           WHERE a.member = r.oid AND a.roleid = to_regrole(:admins)) AS admin
            FROM pg_roles r
            JOIN pg_auth_members m ON m.member = r.oid AND m.roleid = to_regrole(:users)
            WHERE r.rolname NOT LIKE 'quantdesk%'
            ORDER BY r.rolname
            """
        ),
        {"users": USERS_ROLE, "admins": ADMINS_ROLE},
    ).all()
    return [UserInfo(name=row[0], admin=bool(row[2]), can_login=bool(row[1])) for row in rows]


def _existing_user(connection: Connection, name: str) -> UserInfo:
    users = _users(connection)
    for user in users:
        if user.name == name:
            return user
    raise UnknownUserError(describe_miss("user", name, [user.name for user in users]))


def _refuse_taken_name(connection: Connection, name: str) -> None:
    taken = connection.execute(
        text("SELECT 1 FROM pg_roles WHERE rolname = :name"), {"name": name}
    ).first()
    if taken is not None:
        raise _taken_error(name)


def _refuse_retired_name(connection: Connection, name: str) -> None:
    left = {
        table: count for table, count in _rows_seen_by_admins(connection, name).items() if count
    }
    if left:
        raise InvalidInputError(
            f"the name {name!r} belonged to a removed user whose rows remain "
            f"({_describe_counts(left)}); choose another name so nobody inherits them"
        )


def _taken_error(name: str) -> InvalidInputError:
    return InvalidInputError(
        f"user {name!r} already exists; give them a new password with "
        f"'quantdesk users rotate {name}', or choose another name"
    )


def _owned_tables(connection: Connection) -> list[str]:
    """The tables of our schema with an ``owner`` column, parents before children."""
    rows = connection.execute(
        text(
            """
            WITH RECURSIVE owned AS (
                SELECT c.oid, c.relname
                FROM pg_class c
                JOIN pg_namespace n ON n.oid = c.relnamespace
                JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'owner'
                                   AND NOT a.attisdropped
                WHERE n.nspname = :schema AND c.relkind IN ('r', 'p') AND NOT c.relispartition
            ),
            depth(oid, level) AS (
                SELECT oid, 0 FROM owned
                UNION ALL
                SELECT f.conrelid, depth.level + 1
                FROM depth JOIN pg_constraint f
                  ON f.confrelid = depth.oid AND f.contype = 'f' AND f.conrelid <> f.confrelid
                WHERE depth.level < 32
            )
            SELECT owned.relname
            FROM owned JOIN depth ON depth.oid = owned.oid
            GROUP BY owned.relname
            ORDER BY max(depth.level), owned.relname
            """
        ),
        {"schema": SCHEMA},
    ).all()
    return [row[0] for row in rows]


def _rows_seen_by_admins(connection: Connection, name: str) -> dict[str, int]:
    """Count ``name``'s rows through the admins' read-all policies (manager connection)."""
    counts: dict[str, int] = {}
    tables = _owned_tables(connection)
    _execute(connection, sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(ADMINS_ROLE)))
    for table in tables:
        readable = _may(connection, table, "SELECT")
        if readable:
            counts[table] = _count(connection, table, name)
    connection.rollback()
    return counts


def _own_row_counts(connection: Connection) -> dict[str, int]:
    user = connection.execute(text("SELECT current_user")).scalar_one()
    counts: dict[str, int] = {}
    for table in _owned_tables(connection):
        readable = _may(connection, table, "SELECT")
        if readable:
            counts[table] = _count(connection, table, user)
    connection.rollback()
    return counts


def _count(connection: Connection, table: str, owner: str) -> int:
    statement = sql.SQL("SELECT count(*) FROM {} WHERE owner = %s").format(
        sql.Identifier(SCHEMA, table)
    )
    return int(_execute(connection, statement, (owner,)).scalar_one())


def _may(connection: Connection, table: str, privilege: str, *, role: str | None = None) -> bool:
    """Whether ``role`` (the current one by default) may SELECT the owner column or DELETE.

    The table is found by oid: looking it up by name would need USAGE on the
    schema, which the manager role lacks.
    """
    check = (
        "has_column_privilege(:role, c.oid, 'owner', 'SELECT')"
        if privilege == "SELECT"
        else "has_table_privilege(:role, c.oid, 'DELETE')"
    )
    allowed = connection.execute(
        text(
            f"SELECT {check} FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = :schema AND c.relname = :table"
        ),
        {"role": role or _current_role(connection), "schema": SCHEMA, "table": table},
    ).scalar_one()
    return bool(allowed)


def _current_role(connection: Connection) -> str:
    return str(connection.execute(text("SELECT current_user")).scalar_one())


def _deletable_tables(connection: Connection) -> set[str]:
    """The tables whose rows a user can delete: directly, or API keys through the vault."""
    deletable = set()
    for table in _owned_tables(connection):
        direct = _may(connection, table, "DELETE", role=USERS_ROLE)
        if direct or (table == API_KEYS_TABLE and _vault_can_delete(connection)):
            deletable.add(table)
    return deletable


def _vault_can_delete(connection: Connection) -> bool:
    found = connection.execute(
        text("SELECT to_regprocedure(:function) IS NOT NULL"),
        {"function": VAULT_DELETE_FUNCTION},
    ).scalar_one()
    return bool(found)


def _delete_own_rows(connection: Connection) -> int:
    deleted = 0
    for table in reversed(_owned_tables(connection)):
        directly = _may(connection, table, "DELETE")
        if directly:
            result = _execute(
                connection,
                sql.SQL("DELETE FROM {} WHERE owner = current_user").format(
                    sql.Identifier(SCHEMA, table)
                ),
            )
            deleted += max(result.rowcount, 0)
        elif table == API_KEYS_TABLE and _vault_can_delete(connection):
            deleted += int(
                _execute(
                    connection,
                    sql.SQL(
                        "SELECT count(*) FILTER (WHERE {function}(id)) FROM {table} "
                        "WHERE owner = current_user"
                    ).format(
                        function=sql.SQL(VAULT_DELETE_FUNCTION.partition("(")[0]),
                        table=sql.Identifier(SCHEMA, table),
                    ),
                ).scalar_one()
            )
    connection.commit()
    return deleted


def _end_sessions(connection: Connection, name: str, *, keep: int | None = None) -> None:
    """End every session of role ``name``, matched by oid (a role name can hide behind SET ROLE)."""
    end_sessions_where(
        connection,
        "usesysid = to_regrole(:name) AND pid IS DISTINCT FROM :keep",
        {"name": name, "keep": keep},
    )


def end_sessions_where(
    connection: Connection, condition: str, parameters: Mapping[str, Any]
) -> list[int]:
    """End the sessions in ``pg_stat_activity`` that match ``condition``, as the manager.

    Parameters
    ----------
    connection
        A manager connection; its transaction is committed.
    condition
        A SQL condition on ``pg_stat_activity``'s columns (``pid``, ``usesysid``),
        with ``:name`` placeholders; match roles by oid, never by name.
    parameters
        The placeholders' values.

    Returns
    -------
    list of int
        The process ids that were signalled to end.
    """
    # The manager is NOINHERIT: it signals as the predefined role, for this transaction only.
    connection.execute(text("SET LOCAL ROLE pg_signal_backend"))
    rows = connection.execute(
        text(
            f"SELECT pid, pg_terminate_backend(pid) FROM pg_stat_activity WHERE {condition} "
            "ORDER BY pid"
        ),
        dict(parameters),
    ).all()
    connection.commit()
    return [int(pid) for pid, ended in rows if ended]


def _backend_pid(connection: Connection) -> int:
    return int(connection.execute(text("SELECT pg_backend_pid()")).scalar_one())


def _reset_role_settings(
    connection: Connection, name: str, session_limits: SessionLimits | None
) -> None:
    """Drop every setting of the role (its own and per database), then apply the platform's."""
    databases = connection.execute(
        text(
            "SELECT DISTINCT d.datname FROM pg_db_role_setting s "
            "JOIN pg_database d ON d.oid = s.setdatabase WHERE s.setrole = to_regrole(:name)"
        ),
        {"name": name},
    ).scalars()
    for database in list(databases):
        _execute(
            connection,
            sql.SQL("ALTER ROLE {} IN DATABASE {} RESET ALL").format(
                sql.Identifier(name), sql.Identifier(database)
            ),
        )
    _execute(connection, sql.SQL("ALTER ROLE {} RESET ALL").format(sql.Identifier(name)))
    for setting, value in platform_role_settings(session_limits).items():
        _execute(
            connection,
            sql.SQL("ALTER ROLE {} SET {} TO {}").format(
                sql.Identifier(name), sql.Identifier(setting), sql.SQL(value)
            ),
        )


def reset_drifted_role_settings(
    connection: Connection, session_limits: SessionLimits | None = None
) -> dict[str, list[str]]:
    """Re-apply the platform's settings to every user role whose stored settings drifted.

    Parameters
    ----------
    connection
        A manager connection; the resets are committed.
    session_limits
        The timeouts the platform gives users; the defaults when None.

    Returns
    -------
    dict
        Each reset role's name and the names of the settings it had that the
        platform did not give it (values are left out: a user may put anything there).
    """
    drifted = drifted_role_settings(connection, session_limits)
    for name in drifted:
        _reset_role_settings(connection, name, session_limits)
    connection.commit()
    return {
        name: sorted({setting.partition("=")[0].rpartition(": ")[2] for setting in extra})
        for name, extra in drifted.items()
    }


def drifted_role_settings(
    connection: Connection, session_limits: SessionLimits | None = None
) -> dict[str, list[str]]:
    """The user roles whose stored settings differ from :func:`platform_role_settings`.

    ``temp_file_limit`` is left out: only a superuser may set it, and the
    manager could not reset it (``db check`` reports an unlimited one).

    Parameters
    ----------
    connection
        Any connection; only ``pg_catalog`` is read.
    session_limits
        The timeouts the platform gives users; the defaults when None.

    Returns
    -------
    dict
        Role name to the stored settings the platform did not give it, each
        ``name=value`` (prefixed ``database: `` when set for one database);
        an empty list when only the platform's own are missing or changed.
    """
    expected = {
        _normalized_setting(f"{name}={value}")
        for name, value in platform_role_settings(session_limits).items()
    }
    drifted: dict[str, list[str]] = {}
    for name, _, settings in stored_role_settings(connection):
        stored = {
            _normalized_setting(setting): setting
            for setting in settings
            if setting.rpartition(": ")[2].partition("=")[0] != "temp_file_limit"
        }
        if set(stored) != expected:
            drifted[name] = sorted(
                setting for normal, setting in stored.items() if normal not in expected
            )
    return drifted


def stored_role_settings(connection: Connection) -> list[tuple[str, int, list[str]]]:
    """Each user role's name, connection limit and stored settings.

    Parameters
    ----------
    connection
        Any connection; only ``pg_catalog`` is read.

    Returns
    -------
    list of tuple
        ``(name, connection limit, settings)`` by name; a setting is ``name=value``,
        prefixed ``database: `` when the role set it for one database only.
    """
    rows = connection.execute(
        text(
            f"""
            SELECT r.rolname, r.rolconnlimit,
                   ARRAY(SELECT coalesce(d.datname || ': ', '') || setting
                         FROM pg_db_role_setting s
                         LEFT JOIN pg_database d ON d.oid = s.setdatabase,
                         unnest(s.setconfig) AS setting
                         WHERE s.setrole = r.oid ORDER BY 1)
            FROM pg_roles r
            WHERE r.oid IN ({USER_ROLE_OIDS})
            ORDER BY 1
            """
        )
    ).all()
    return [(name, limit, list(settings)) for name, limit, settings in rows]


def _normalized_setting(setting: str) -> str:
    """``name=value`` with its list items stripped of blanks and quotes, as stored."""
    name, _, value = setting.partition("=")
    items = (item.strip().strip("'") for item in value.split(","))
    return f"{name.strip().lower()}={','.join(items)}"


def platform_role_settings(session_limits: SessionLimits | None = None) -> dict[str, str]:
    """The settings every user's role gets, as SQL; anything else on a role is the user's own.

    Parameters
    ----------
    session_limits
        The statement, idle-in-transaction and lock timeouts; the defaults when None.

    Returns
    -------
    dict
        Setting name to its value as SQL text, written exactly as the catalog stores it.
    """
    limits = session_limits if session_limits is not None else SessionLimits()
    return {"search_path": ", ".join(USER_SEARCH_PATH), **limits.role_settings()}


def _refuse_switched_session(connection: Connection, name: str) -> None:
    current, session = connection.execute(text("SELECT current_user, session_user")).one()
    if current != name or session != name:
        raise StoreError(
            f"a session of {name!r} runs as {current!r} after its settings were reset; "
            f"run 'quantdesk users rm {name}' again"
        )


def _large_object_count(connection: Connection, name: str) -> int:
    return int(
        connection.execute(
            text("SELECT count(*) FROM pg_largeobject_metadata WHERE lomowner = to_regrole(:name)"),
            {"name": name},
        ).scalar_one()
    )


def _refuse_objects_elsewhere(connection: Connection, name: str) -> None:
    """Refuse before changing anything when the role owns or holds objects in other databases."""
    elsewhere = connection.execute(
        text(
            "SELECT DISTINCT d.datname FROM pg_shdepend s JOIN pg_database d ON d.oid = s.dbid "
            "WHERE s.refclassid = 'pg_authid'::regclass AND s.refobjid = to_regrole(:name) "
            "AND s.dbid <> (SELECT oid FROM pg_database WHERE datname = current_database()) "
            "ORDER BY 1"
        ),
        {"name": name},
    ).scalars()
    databases = list(elsewhere)
    if databases:
        raise InvalidInputError(
            f"user {name!r} owns or holds objects in database(s) {', '.join(databases)}; as a "
            f"superuser connect to each and run 'DROP OWNED BY {name}', then retry"
        )


def _checked_connection_limit(limit: int) -> int:
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise InvalidInputError(
            f"a connection limit must be a whole number >= 1, not {limit!r}; the default is "
            f"{DEFAULT_CONNECTION_LIMIT}"
        )
    return limit


def _describe_counts(counts: Mapping[str, int]) -> str:
    return ", ".join(f"{count} row(s) in {table}" for table, count in sorted(counts.items()))
