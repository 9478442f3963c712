"""A lint of the database catalog: does the schema still enforce isolation?

Row-level security only protects what it covers. These checks read
``pg_catalog`` and report every table, role, function, view, grant or policy
that would let one user reach another's rows: a table without FORCE RLS, a
login role with BYPASSRLS, a SECURITY DEFINER function whose ``search_path``
can be hijacked, a view that runs with its owner's rights, and so on. System
schemas and objects belonging to extensions are left out.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial

from sqlalchemy import URL, Connection, text

from quantdesk.store.connection import engine_for, translated_errors
from quantdesk.store.definer_pins import missing_pins
from quantdesk.store.roles import (
    ADMINS_ROLE,
    AGENT_ROLE,
    DBLINK_SCHEMA,
    GROUP_ROLES,
    MANAGER_ROLE,
    OWNER_ROLE,
    USERS_ROLE,
    VAULT_ROLE,
)
from quantdesk.store.session_limits import (
    ROLE_LIMIT_SETTINGS,
    TEMP_FILE_LIMIT,
    SessionLimits,
    is_unlimited_size,
    turns_limit_off,
)

_USER_SCHEMAS = """
    n.nspname NOT IN ('pg_catalog', 'information_schema')
    AND n.nspname NOT LIKE 'pg\\_toast%'
    AND n.nspname NOT LIKE 'pg\\_temp\\_%'
"""
_NOT_FROM_EXTENSION = """
    NOT EXISTS (SELECT 1 FROM pg_depend d
                WHERE d.classid = {catalog}::regclass AND d.objid = {oid} AND d.deptype = 'e')
"""
_LIBRARY_ROLES_CTE = """
    WITH RECURSIVE members(oid) AS (
        SELECT m.member FROM pg_auth_members m
        WHERE m.roleid IN (to_regrole(:users), to_regrole(:admins))
        UNION
        SELECT m.member FROM pg_auth_members m JOIN members ON m.roleid = members.oid
    ),
    library_roles AS (
        SELECT oid FROM members
        UNION
        SELECT oid FROM pg_roles WHERE rolname = ANY(:library_names)
    )
"""
PRIVILEGED_ROLES = (
    OWNER_ROLE,
    VAULT_ROLE,
    AGENT_ROLE,
    MANAGER_ROLE,
    "pg_read_server_files",
    "pg_write_server_files",
    "pg_execute_server_program",
)
"""Roles no user may belong to: each reaches rows or files past row-level security."""

ROW_ALL_ROLES = (OWNER_ROLE, VAULT_ROLE, ADMINS_ROLE)
"""The only roles a policy may give every row to (admins for reading only)."""

_TRUE_VALUES = frozenset({"true", "on", "yes", "1"})


@dataclass(frozen=True)
class CatalogProblem:
    """One way the catalog weakens isolation.

    Attributes
    ----------
    subject
        The object, e.g. ``table quantdesk.jobs`` or ``role alice``.
    problem
        What is wrong with it.
    fix
        The statement or step that repairs it.
    """

    subject: str
    problem: str
    fix: str

    def __str__(self) -> str:
        return f"{self.subject}: {self.problem}; fix: {self.fix}"


def check_catalog(
    admin_url: URL, *, session_limits: SessionLimits | None = None
) -> list[CatalogProblem]:
    """Run every catalog check against the database at ``admin_url``.

    Parameters
    ----------
    admin_url
        The manager role's URL; the checks only read ``pg_catalog``.
    session_limits
        The timeouts every user's role should carry; the defaults when None.

    Returns
    -------
    list of CatalogProblem
        Empty when the schema enforces isolation as designed.
    """
    with (
        translated_errors("checking the database catalog"),
        engine_for(admin_url).connect() as connection,
    ):
        try:
            return catalog_problems(connection, session_limits=session_limits)
        finally:
            connection.rollback()


def catalog_problems(
    connection: Connection, *, session_limits: SessionLimits | None = None
) -> list[CatalogProblem]:
    """Run every catalog check on an open connection.

    Parameters
    ----------
    connection
        Any connection to the database; the checks only read ``pg_catalog``.
    session_limits
        The timeouts every user's role should carry; the defaults when None.

    Returns
    -------
    list of CatalogProblem
        The problems, grouped by check.
    """
    checks: tuple[Callable[[Connection], Iterable[CatalogProblem]], ...] = (
        _table_problems,
        _role_problems,
        _membership_problems,
        _definer_function_problems,
        _view_problems,
        _dangerous_grant_problems,
        _partition_grant_problems,
        _policy_problems,
        _create_privilege_problems,
        _owner_first_key_problems,
        _statistics_problems,
        partial(_user_role_setting_problems, session_limits=session_limits),
        _temp_file_limit_problems,
        _manager_membership_problems,
        _cluster_privilege_problems,
        _vault_agent_problems,
    )
    return [problem for check in checks for problem in check(connection)]


def _role_parameters() -> dict[str, object]:
    return {
        "users": USERS_ROLE,
        "admins": ADMINS_ROLE,
        "library_names": [*GROUP_ROLES, MANAGER_ROLE, AGENT_ROLE],
    }


def _table_problems(connection: Connection) -> Iterable[CatalogProblem]:
    rows = connection.execute(
        text(
            f"""
            SELECT c.oid::regclass::text, c.relkind, c.relrowsecurity, c.relforcerowsecurity,
                   pg_get_userbyid(c.relowner)
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE c.relkind IN ('r', 'p', 'm') AND {_USER_SCHEMAS}
              AND {_NOT_FROM_EXTENSION.format(catalog="'pg_class'", oid="c.oid")}
            ORDER BY 1
            """
        )
    ).all()
    for name, kind, row_security, forced, owner in rows:
        if kind == "m":
            yield CatalogProblem(
                f"materialized view {name}",
                "a materialized view cannot have row-level security, so it shows every row",
                f"DROP MATERIALIZED VIEW {name}; use a view WITH (security_invoker = true)",
            )
            continue
        subject = f"table {name}"
        if not row_security:
            yield CatalogProblem(
                subject,
                "row-level security is not enabled",
                f"ALTER TABLE {name} ENABLE ROW LEVEL SECURITY",
            )
        if not forced:
            yield CatalogProblem(
                subject,
                "row-level security is not forced, so its owner bypasses the policies",
                f"ALTER TABLE {name} FORCE ROW LEVEL SECURITY",
            )
        if owner != OWNER_ROLE:
            yield CatalogProblem(
                subject,
                f"it belongs to {owner}, not {OWNER_ROLE}",
                f"ALTER TABLE {name} OWNER TO {OWNER_ROLE}",
            )


def _role_problems(connection: Connection) -> Iterable[CatalogProblem]:
    rows = connection.execute(
        text(
            _LIBRARY_ROLES_CTE
            + """
            SELECT r.rolname, r.rolcanlogin, r.rolsuper, r.rolbypassrls, r.rolreplication,
                   r.rolcreaterole
            FROM pg_roles r JOIN library_roles l ON l.oid = r.oid
            ORDER BY r.rolname
            """
        ),
        _role_parameters(),
    ).all()
    for name, can_login, superuser, bypasses, replicates, creates_roles in rows:
        subject = f"role {name}"
        if superuser:
            yield CatalogProblem(
                subject,
                "is a superuser and bypasses row-level security",
                f"ALTER ROLE {name} NOSUPERUSER",
            )
        if bypasses:
            yield CatalogProblem(
                subject, "has BYPASSRLS and sees every row", f"ALTER ROLE {name} NOBYPASSRLS"
            )
        if replicates:
            yield CatalogProblem(
                subject,
                "has REPLICATION and can stream every row",
                f"ALTER ROLE {name} NOREPLICATION",
            )
        if name in GROUP_ROLES and can_login:
            yield CatalogProblem(
                subject, "is a group role but can log in", f"ALTER ROLE {name} NOLOGIN"
            )
        if creates_roles and name != MANAGER_ROLE:
            yield CatalogProblem(
                subject,
                "has CREATEROLE and could grant itself the admins role",
                f"ALTER ROLE {name} NOCREATEROLE",
            )


def _membership_problems(connection: Connection) -> Iterable[CatalogProblem]:
    rows = connection.execute(
        text(
            """
            WITH RECURSIVE members(oid) AS (
                SELECT m.member FROM pg_auth_members m
                WHERE m.roleid IN (to_regrole(:users), to_regrole(:admins))
                UNION
                SELECT m.member FROM pg_auth_members m JOIN members ON m.roleid = members.oid
            )
            SELECT r.rolname, p.rolname
            FROM members JOIN pg_roles r ON r.oid = members.oid
            CROSS JOIN pg_roles p
            WHERE p.rolname = ANY(:privileged) AND r.rolname <> ALL(:library_names)
              AND pg_has_role(r.oid, p.oid, 'MEMBER')
            ORDER BY 1, 2
            """
        ),
        {**_role_parameters(), "privileged": list(PRIVILEGED_ROLES)},
    ).all()
    for member, privileged in rows:
        yield CatalogProblem(
            f"role {member}",
            f"is a user but also a member of {privileged}, which reaches past row-level security",
            f"REVOKE {privileged} FROM {member}",
        )


def _definer_function_problems(connection: Connection) -> Iterable[CatalogProblem]:
    rows = connection.execute(
        text(
            f"""
            SELECT p.oid::regprocedure::text, p.proconfig, o.rolsuper,
                   p.proacl IS NULL
                   OR EXISTS (SELECT 1 FROM aclexplode(p.proacl) a
                              WHERE a.grantee = 0 AND a.privilege_type = 'EXECUTE')
            FROM pg_proc p
            JOIN pg_namespace n ON n.oid = p.pronamespace
            JOIN pg_roles o ON o.oid = p.proowner
            WHERE p.prosecdef AND {_USER_SCHEMAS}
              AND {_NOT_FROM_EXTENSION.format(catalog="'pg_proc'", oid="p.oid")}
            ORDER BY 1
            """
        )
    ).all()
    for signature, settings, owned_by_superuser, public_executes in rows:
        subject = f"function {signature}"
        search_path = _search_path_setting(settings or [])
        if search_path is None:
            yield CatalogProblem(
                subject,
                "is SECURITY DEFINER without a pinned search_path",
                f"ALTER FUNCTION {signature} SET search_path = ''",
            )
        elif not _search_path_is_pinned(search_path):
            yield CatalogProblem(
                subject,
                f"is SECURITY DEFINER with search_path {search_path!r}, which callers can "
                "influence ($user, or pg_temp not last)",
                f"ALTER FUNCTION {signature} SET search_path = ''",
            )
        unpinned = missing_pins(settings or [])
        if unpinned:
            yield CatalogProblem(
                subject,
                "is SECURITY DEFINER but lets the caller's settings print its plans, parameters "
                f"or traces (unpinned: {', '.join(pin.partition(' ')[0] for pin in unpinned)})",
                f"ALTER FUNCTION {signature} {' '.join('SET ' + pin for pin in unpinned)}",
            )
        if public_executes:
            yield CatalogProblem(
                subject,
                "is SECURITY DEFINER and PUBLIC may execute it",
                f"REVOKE EXECUTE ON FUNCTION {signature} FROM PUBLIC",
            )
        if owned_by_superuser:
            yield CatalogProblem(
                subject,
                "is SECURITY DEFINER and owned by a superuser, so it runs with every right",
                f"ALTER FUNCTION {signature} OWNER TO {VAULT_ROLE}",
            )


def _search_path_setting(settings: list[str]) -> str | None:
    for setting in settings:
        key, _, value = setting.partition("=")
        if key.strip().lower() == "search_path":
            return value
    return None


def _search_path_is_pinned(search_path: str) -> bool:
    entries = [entry.strip().strip('"') for entry in search_path.split(",")]
    entries = [entry for entry in entries if entry]
    if "$user" in entries:
        return False
    return "pg_temp" not in entries or entries[-1] == "pg_temp"


def _view_problems(connection: Connection) -> Iterable[CatalogProblem]:
    rows = connection.execute(
        text(
            f"""
            SELECT c.oid::regclass::text, c.reloptions
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE c.relkind = 'v' AND {_USER_SCHEMAS}
              AND {_NOT_FROM_EXTENSION.format(catalog="'pg_class'", oid="c.oid")}
            ORDER BY 1
            """
        )
    ).all()
    for name, options in rows:
        settings = dict(option.partition("=")[::2] for option in options or [])
        if settings.get("security_invoker", "").lower() not in _TRUE_VALUES:
            yield CatalogProblem(
                f"view {name}",
                "runs with its owner's rights, not the caller's (no security_invoker)",
                f"ALTER VIEW {name} SET (security_invoker = true)",
            )


def _dangerous_grant_problems(connection: Connection) -> Iterable[CatalogProblem]:
    rows = connection.execute(
        text(
            f"""
            SELECT DISTINCT c.oid::regclass::text, a.privilege_type,
                   CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(a.grantee) END
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace,
                 aclexplode(c.relacl) a
            WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND {_USER_SCHEMAS}
              AND a.privilege_type IN ('TRUNCATE', 'TRIGGER') AND a.grantee <> c.relowner
            ORDER BY 1, 2, 3
            """
        )
    ).all()
    for name, privilege, grantee in rows:
        reason = (
            "empties the table past row-level security"
            if privilege == "TRUNCATE"
            else "lets a trigger run as whoever writes a row"
        )
        yield CatalogProblem(
            f"table {name}",
            f"{grantee} holds {privilege}, which {reason}",
            f"REVOKE {privilege} ON {name} FROM {grantee}",
        )


def _partition_grant_problems(connection: Connection) -> Iterable[CatalogProblem]:
    rows = connection.execute(
        text(
            f"""
            SELECT DISTINCT c.oid::regclass::text,
                   CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(a.grantee) END
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace,
                 aclexplode(c.relacl) a
            WHERE c.relispartition AND {_USER_SCHEMAS} AND a.grantee <> c.relowner
            ORDER BY 1, 2
            """
        )
    ).all()
    for name, grantee in rows:
        yield CatalogProblem(
            f"partition {name}",
            f"{grantee} may use the partition directly instead of through its parent",
            f"REVOKE ALL ON {name} FROM {grantee}",
        )


def _policy_problems(connection: Connection) -> Iterable[CatalogProblem]:
    rows = connection.execute(
        text(
            f"""
            SELECT pol.polname, c.oid::regclass::text, pol.polcmd,
                   coalesce(pg_get_expr(pol.polqual, pol.polrelid), ''),
                   coalesce(pg_get_expr(pol.polwithcheck, pol.polrelid), ''),
                   ARRAY(SELECT CASE WHEN r = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(r) END
                         FROM unnest(pol.polroles) r ORDER BY 1)
            FROM pg_policy pol
            JOIN pg_class c ON c.oid = pol.polrelid
            JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE {_USER_SCHEMAS}
            ORDER BY 2, 1
            """
        )
    ).all()
    for policy, table, command, using, check, roles in rows:
        subject = f"policy {policy} on {table}"
        if "current_setting(" in using.lower() or "current_setting(" in check.lower():
            yield CatalogProblem(
                subject,
                "takes identity from a session variable, which any user can set",
                "compare the owner column with current_user instead",
            )
        every_row = using.strip().lower() == "true" or check.strip().lower() == "true"
        if not every_row:
            continue
        too_wide = [role for role in roles if role not in ROW_ALL_ROLES]
        if too_wide:
            yield CatalogProblem(
                subject,
                f"gives every row to {', '.join(too_wide)}",
                f"limit it to {ADMINS_ROLE} for reading, or compare owner with current_user",
            )
        if ADMINS_ROLE in roles and command != "r":
            yield CatalogProblem(
                subject,
                f"lets {ADMINS_ROLE} change every row, not only read it",
                f"recreate it FOR SELECT TO {ADMINS_ROLE}",
            )


_OWNED_TABLES = f"""
    SELECT c.oid, quote_ident(n.nspname) || '.' || quote_ident(c.relname) AS name
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind IN ('r', 'p') AND {_USER_SCHEMAS}
      AND n.nspname NOT IN ('quantdesk_vault', 'quantdesk_migrations')
      AND {_NOT_FROM_EXTENSION.format(catalog="'pg_class'", oid="c.oid")}
      AND EXISTS (SELECT 1 FROM pg_attribute a
                  WHERE a.attrelid = c.oid AND a.attname = 'owner' AND a.attnum > 0
                    AND NOT a.attisdropped)
      AND has_any_column_privilege('{USERS_ROLE}', c.oid, 'SELECT')
"""
"""Tables with an ``owner`` column that users may query (so EXPLAIN them), outside the
vault's and Alembic's schemas."""


def _owner_first_key_problems(connection: Connection) -> Iterable[CatalogProblem]:
    rows = connection.execute(
        text(
            f"""
            WITH owned AS ({_OWNED_TABLES})
            SELECT owned.name, quote_ident(n.nspname) || '.' || quote_ident(i.relname),
                   coalesce(con.contype, ''), x.indisunique,
                   ARRAY(SELECT pg_get_indexdef(x.indexrelid, k, true)
                         FROM generate_series(1, x.indnkeyatts) AS k ORDER BY k)
            FROM owned
            JOIN pg_index x ON x.indrelid = owned.oid
            JOIN pg_class i ON i.oid = x.indexrelid
            JOIN pg_namespace n ON n.oid = i.relnamespace
            LEFT JOIN pg_constraint con
                ON con.conindid = x.indexrelid AND con.conrelid = owned.oid
               AND con.contype IN ('p', 'u', 'x')
            WHERE x.indkey[0] = 0
               OR x.indkey[0] <> (SELECT a.attnum FROM pg_attribute a
                                  WHERE a.attrelid = owned.oid AND a.attname = 'owner')
            ORDER BY 1, 2
            """
        )
    ).all()
    kinds = {"p": "primary key", "u": "unique constraint", "x": "exclusion constraint"}
    for table, index, constraint_kind, unique, columns in rows:
        kind = kinds.get(constraint_kind, "unique index" if unique else "index")
        suggested = ", ".join(["owner", *(column for column in columns if column != "owner")])
        example = {
            "p": f"PRIMARY KEY ({suggested})",
            "u": f"UNIQUE ({suggested})",
        }.get(
            constraint_kind, f"CREATE {'UNIQUE ' if unique else ''}INDEX ON {table} ({suggested})"
        )
        yield CatalogProblem(
            f"{kind} {index} on {table}",
            f"its first column is {columns[0] if columns else '?'}, not owner, so a search "
            "on it passes over other users' rows before the policy filters them out "
            "(EXPLAIN ANALYZE counts them, a duplicate key error confirms them)",
            f"recreate it with owner as the first column, e.g. {example}",
        )


def _statistics_problems(connection: Connection) -> Iterable[CatalogProblem]:
    rows = connection.execute(
        text(
            f"""
            WITH owned AS ({_OWNED_TABLES})
            SELECT owned.name, quote_ident(a.attname), a.attstattarget
            FROM owned JOIN pg_attribute a ON a.attrelid = owned.oid
            WHERE a.attnum > 0 AND NOT a.attisdropped AND a.attstattarget <> 0
            ORDER BY 1, a.attnum
            """
        )
    ).all()
    for table, column, target in rows:
        yield CatalogProblem(
            f"column {table}.{column}",
            f"ANALYZE gathers statistics on it (target {target}) from every user's rows, "
            "and plain EXPLAIN estimates show them to any user",
            f"ALTER TABLE {table} ALTER COLUMN {column} SET STATISTICS 0",
        )


def _create_privilege_problems(connection: Connection) -> Iterable[CatalogProblem]:
    rows = connection.execute(
        text(
            _LIBRARY_ROLES_CTE
            + f"""
            , user_roles AS (
                SELECT r.oid, r.rolname FROM pg_roles r JOIN library_roles l ON l.oid = r.oid
                WHERE r.rolname <> ALL(:trusted)
            )
            SELECT 'schema ' || quote_ident(n.nspname), u.rolname, 'CREATE ON SCHEMA '
                   || quote_ident(n.nspname)
            FROM pg_namespace n CROSS JOIN user_roles u
            WHERE {_USER_SCHEMAS} AND has_schema_privilege(u.oid, n.oid, 'CREATE')
            UNION ALL
            SELECT 'database ' || quote_ident(current_database()), u.rolname,
                   'CREATE ON DATABASE ' || quote_ident(current_database())
            FROM user_roles u
            WHERE has_database_privilege(u.oid, current_database(), 'CREATE')
            ORDER BY 1, 2
            """
        ),
        {**_role_parameters(), "trusted": [OWNER_ROLE, VAULT_ROLE, MANAGER_ROLE]},
    ).all()
    for subject, role, privilege in rows:
        yield CatalogProblem(
            subject,
            f"{role} may create objects there, which can shadow or hijack ours",
            f"REVOKE {privilege} FROM {role} (and from PUBLIC)",
        )


def _user_role_setting_problems(
    connection: Connection, session_limits: SessionLimits | None
) -> Iterable[CatalogProblem]:
    """User roles with settings the platform did not give them, without its limits, or none."""
    from quantdesk.store.users import platform_role_settings, stored_role_settings

    expected = platform_role_settings(session_limits)
    for name, connection_limit, settings in stored_role_settings(connection):
        # Settings for every database are "name=value"; those for one are "database: name=value".
        stored = dict(setting.partition("=")[::2] for setting in settings if ": " not in setting)
        # temp_file_limit only a superuser can set; _temp_file_limit_problems judges it.
        extra = [
            setting
            for setting in settings
            if _setting_name(setting) != "temp_file_limit"
            and (": " in setting or _setting_name(setting) not in expected)
        ]
        fix = f"quantdesk users rotate {name} (resets the role's settings)"
        if extra:
            yield CatalogProblem(
                f"role {name}",
                f"has settings the platform did not give it ({', '.join(extra)})",
                fix,
            )
        for setting, value in expected.items():
            found = stored.get(setting)
            if found == value:
                continue
            if found is None:
                problem = f"lacks the platform's {setting}={value}"
            elif setting in ROLE_LIMIT_SETTINGS and turns_limit_off(found):
                problem = f"has {setting}={found}, which turns the platform's limit off"
            else:
                problem = f"has {setting}={found}, not the platform's {value}"
            yield CatalogProblem(f"role {name}", problem, fix)
        if connection_limit < 0:
            yield CatalogProblem(
                f"role {name}",
                "may open connections without limit and so take every slot",
                f"ALTER ROLE {name} CONNECTION LIMIT 10",
            )


def _setting_name(setting: str) -> str:
    return setting.rpartition(": ")[2].partition("=")[0]


def _temp_file_limit_problems(connection: Connection) -> Iterable[CatalogProblem]:
    """An unlimited ``temp_file_limit`` as a user's session would get it."""
    from quantdesk.store.users import stored_role_settings

    database = connection.execute(text("SELECT current_database()")).scalar_one()
    database_value = connection.execute(
        text(
            "SELECT split_part(setting, '=', 2) FROM pg_db_role_setting s, "
            "unnest(s.setconfig) AS setting WHERE s.setrole = 0 AND s.setdatabase = "
            "(SELECT oid FROM pg_database WHERE datname = current_database()) "
            "AND starts_with(setting, 'temp_file_limit=')"
        )
    ).scalar_one_or_none()
    if database_value is None:
        # The manager carries no temp_file_limit of its own, so what it started
        # with is the server's value, which a user without one starts with too.
        database_value = connection.execute(
            text("SELECT reset_val FROM pg_settings WHERE name = 'temp_file_limit'")
        ).scalar_one()
    if is_unlimited_size(database_value):
        yield CatalogProblem(
            f"database {database}",
            "users' sessions may write temporary files without limit (temp_file_limit is "
            f"{database_value}) and so fill the server's disk",
            f"as a superuser: ALTER DATABASE {database} SET temp_file_limit = '{TEMP_FILE_LIMIT}'",
        )
    for name, _, settings in stored_role_settings(connection):
        for setting in settings:
            scope, _, assignment = setting.rpartition(": ")
            value = assignment.partition("=")[2]
            if _setting_name(setting) == "temp_file_limit" and is_unlimited_size(value):
                in_database = f" IN DATABASE {scope}" if scope else ""
                yield CatalogProblem(
                    f"role {name}",
                    "may write temporary files without limit (its own temp_file_limit is "
                    f"{value}{' in ' + scope if scope else ''})",
                    f"as a superuser: ALTER ROLE {name}{in_database} RESET temp_file_limit",
                )


MANAGER_PREDEFINED_ROLES = {
    "pg_signal_backend": "ends a user's sessions (rotation, removal, the watchdog)",
    "pg_read_all_stats": "lets the watchdog see which user sessions sit idle in a transaction",
}
"""PostgreSQL's predefined roles the manager must belong to, and what for."""


def _manager_membership_problems(connection: Connection) -> Iterable[CatalogProblem]:
    """Predefined roles the manager needs but does not belong to."""
    missing = connection.execute(
        text(
            "SELECT granted FROM unnest(CAST(:roles AS text[])) AS granted "
            "WHERE to_regrole(:manager) IS NOT NULL AND to_regrole(granted) IS NOT NULL "
            "AND NOT pg_has_role(to_regrole(:manager), to_regrole(granted), 'MEMBER') "
            "ORDER BY 1"
        ),
        {"roles": list(MANAGER_PREDEFINED_ROLES), "manager": MANAGER_ROLE},
    ).scalars()
    for role in missing:
        yield CatalogProblem(
            f"role {MANAGER_ROLE}",
            f"is not a member of {role}, which {MANAGER_PREDEFINED_ROLES[role]}",
            f"as a superuser: GRANT {role} TO {MANAGER_ROLE}",
        )


def _cluster_privilege_problems(connection: Connection) -> Iterable[CatalogProblem]:
    """Other databases users may enter, and large objects anyone may create."""
    from quantdesk.store.server import LARGE_OBJECT_CREATORS

    databases = connection.execute(
        text(
            """
            SELECT d.datname, a.privilege_type
            FROM pg_database d, aclexplode(coalesce(d.datacl, acldefault('d', d.datdba))) a
            WHERE d.datallowconn AND a.grantee = 0
              AND a.privilege_type IN ('CONNECT', 'TEMPORARY')
            ORDER BY 1, 2
            """
        )
    ).all()
    for database, privilege in databases:
        yield CatalogProblem(
            f"database {database}",
            f"PUBLIC holds {privilege}, so every user may "
            + ("connect to it" if privilege == "CONNECT" else "create temporary tables there"),
            f"as a superuser: REVOKE {privilege} ON DATABASE {database} FROM PUBLIC",
        )
    creators = connection.execute(
        text(
            "SELECT f FROM unnest(CAST(:functions AS text[])) AS f "
            "WHERE to_regprocedure(f) IS NOT NULL "
            "AND has_function_privilege('public', to_regprocedure(f), 'EXECUTE')"
        ),
        {"functions": list(LARGE_OBJECT_CREATORS)},
    ).scalars()
    for function in creators:
        yield CatalogProblem(
            f"function {function}",
            "PUBLIC may execute it, so a user can create large objects that outlive their rows",
            f"as a superuser: REVOKE EXECUTE ON FUNCTION {function} FROM PUBLIC",
        )


def _vault_agent_problems(connection: Connection) -> Iterable[CatalogProblem]:
    """The vault agent's role, the dblink functions only the vault may run, shared counters."""
    from quantdesk.store.server import SHARED_COUNTER_FUNCTIONS

    agent = connection.execute(
        text(
            "SELECT r.rolcanlogin, pg_has_role(r.oid, to_regrole(:vault), 'USAGE') "
            "FROM pg_roles r WHERE r.rolname = :agent"
        ),
        {"agent": AGENT_ROLE, "vault": VAULT_ROLE},
    ).one_or_none()
    if agent is None or not all(agent):
        yield CatalogProblem(
            f"role {AGENT_ROLE}",
            "is missing, cannot log in or does not inherit the vault role, so no vault call works",
            f"run 'quantdesk db up' (embedded) or, as a superuser, the {AGENT_ROLE} statements "
            "of 'quantdesk db bootstrap-script'",
        )
    runnable = connection.execute(
        text(
            "SELECT p.oid::regprocedure::text FROM pg_proc p "
            "WHERE p.pronamespace = to_regnamespace(:schema) "
            "AND (has_function_privilege('public', p.oid, 'EXECUTE') "
            "OR has_function_privilege(to_regrole(:users), p.oid, 'EXECUTE')) ORDER BY 1"
        ),
        {"schema": DBLINK_SCHEMA, "users": USERS_ROLE},
    ).scalars()
    for function in runnable:
        yield CatalogProblem(
            f"function {function}",
            "users may run it and so open connections from the server itself",
            f"as a superuser: REVOKE EXECUTE ON FUNCTION {function} FROM PUBLIC, {USERS_ROLE}",
        )
    counters = connection.execute(
        text(
            f"SELECT counters.counter::text FROM ({SHARED_COUNTER_FUNCTIONS}) AS counters "
            "WHERE has_function_privilege('public', counters.counter, 'EXECUTE') ORDER BY 1"
        )
    ).scalars()
    for function in counters:
        yield CatalogProblem(
            f"function {function}",
            "PUBLIC may execute it, and its counters add up every user's reads, writes and "
            "refused vault calls",
            f"as a superuser: REVOKE EXECUTE ON FUNCTION {function} FROM PUBLIC",
        )
