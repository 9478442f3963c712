"""The database roles quantdesk creates, and what each may do.

Users never share a role: each has their own LOGIN role, a member of
:data:`USERS_ROLE`. Row-level security compares each row's ``owner`` with
``current_user``, so isolation holds for any SQL a user runs.
"""

from __future__ import annotations

OWNER_ROLE = "quantdesk_owner"
"""NOLOGIN. Owns the ``quantdesk`` schema, its tables and views; under FORCE RLS it sees no rows."""

USERS_ROLE = "quantdesk_users"
"""NOLOGIN. Holds the table grants every user inherits."""

ADMINS_ROLE = "quantdesk_admins"
"""NOLOGIN. Read-all policies for admin users; never BYPASSRLS."""

VAULT_ROLE = "quantdesk_vault"
"""NOLOGIN. Owns the vault's SECURITY DEFINER functions and may read the master-key file."""

MANAGER_ROLE = "quantdesk_manager"
"""LOGIN, CREATEROLE, not a superuser: runs migrations and creates user roles (the admin URL)."""

PEER_ROLE = "quantdesk_peer_login"
"""NOLOGIN, no privileges. Its members log in over the Unix socket by ``peer`` authentication:
the OS account of the same name, and only it, connects as the role without a password. The hub
adds the people whose OS account it created (see :mod:`quantdesk.hub.provisioning`)."""

GROUP_ROLES = (OWNER_ROLE, USERS_ROLE, ADMINS_ROLE, VAULT_ROLE)
"""The NOLOGIN roles, in the order they are created."""

SCHEMA = "quantdesk"
"""The schema holding every table and view."""

DATABASE = "quantdesk"
"""The database the embedded server creates."""

OWN_ROWS = "owner = current_user AND current_user = session_user"
"""The users' row-level security condition, in USING and WITH CHECK.

A row is the login role's own. ``current_user = session_user`` shuts out a
user who ``SET ROLE quantdesk_users``: as the group, rows owned by it would
be shared by every user (PostgreSQL 15 has no ``GRANT ... WITH SET FALSE``).
Both are the login's identity, never a session variable.
"""

READ_FILE_FUNCTION = "pg_catalog.pg_read_file(text, bigint, bigint, boolean)"
"""The function the vault role reads its master-key file with; a superuser grants it EXECUTE."""

AGENT_ROLE = "quantdesk_vault_agent"
"""LOGIN, a member of :data:`VAULT_ROLE`, with no password: only the server's own OS account
logs in as it (peer authentication on the Unix socket). The vault's entry points do their work
in an agent session over dblink, so what they write commits whatever the caller then does."""

DBLINK_SCHEMA = "quantdesk_dblink"
"""Holds the dblink extension; only the vault role may use it."""

DBLINK_FUNCTIONS = (
    "dblink_connect_u(text, text)",
    "dblink(text, text)",
    "dblink_disconnect(text)",
    "dblink_get_connections()",
)
"""The dblink functions the vault role runs; no one else may run any dblink function."""
