"""Storage in PostgreSQL: per-user roles, row-level security, the key vault and saved runs.

Isolation is enforced by the database, not by this package: every user
connects as their own role and every table has FORCE ROW LEVEL SECURITY with
policies on ``current_user``. This package only builds connections, runs the
migrations and turns database errors into one-line quantdesk errors.
"""
