"""Alembic's entry point: run the revisions on the connection the runner passes in.

:func:`quantdesk.store.migrate.migrate` opens the connection as the manager
role, switches to the owner role and hands it over through
``config.attributes["connection"]``; this file never opens one itself.
"""

from __future__ import annotations

from alembic import context

from quantdesk.store.migrate import VERSION_TABLE, VERSION_TABLE_SCHEMA

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations with quantdesk.store.migrate.migrate, not the alembic CLI")

context.configure(
    connection=connection,
    version_table=VERSION_TABLE,
    version_table_schema=VERSION_TABLE_SCHEMA,
    transactional_ddl=True,
)
with context.begin_transaction():
    context.run_migrations()
