"""Alembic migrations of the quantdesk schema.

Run them with :func:`quantdesk.store.migrate.migrate` (``quantdesk db migrate``).
"""
