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

GROUP_ROLES = (OWNER_ROLE, USERS_ROLE, ADMINS_ROLE, VAULT_ROLE)
"""The NOLOGIN roles, in the order they are created."""

SCHEMA = "quantdesk"
"""The schema holding every table and view."""

DATABASE = "quantdesk"
"""The database the embedded server creates."""
