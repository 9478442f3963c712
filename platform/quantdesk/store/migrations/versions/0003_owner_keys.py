"""Keys and indexes lead with ``owner``; no planner statistics on user data.

Two ways a user learned about other users' rows without reading them:

- Ids. Primary keys were indexes on ``id`` alone, so in a range predicate on
  ``id`` the index did the searching and the policy only filtered:
  ``EXPLAIN ANALYZE`` counted other users' rows as "Rows Removed by Filter",
  and inserting a row with someone else's id failed with a duplicate key.
  Every primary key, unique key, foreign key and index of a user-data table
  now begins with ``owner``, so the policy's ``owner = current_user`` bounds
  every index search and ids are unique per owner only.
- Values. ``ANALYZE`` gathered most-common values, histograms and distinct
  counts over every user's rows, and plain ``EXPLAIN`` estimates built from
  them revealed others' values. Every column of every table in the schema now
  has ``SET STATISTICS 0``, so ``ANALYZE`` collects nothing for it. Statistics
  already gathered stay in ``pg_statistic`` until the column's type changes,
  so each column is re-declared with its own type, which drops them; the
  policies and views that pin those columns are lifted around that and
  recreated exactly as the catalog held them.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from alembic import op

from quantdesk.store.roles import SCHEMA

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# (table, the column its old primary key was on alone)
PRIMARY_KEYS = (
    ("profiles", "id"),
    ("jobs", "id"),
    ("backtests", "id"),
    ("backtest_equity", "backtest_id"),
    ("backtest_trades", "backtest_id"),
    ("models", "id"),
    ("predictions", "id"),
    ("api_keys", "id"),
    ("api_key_audit", "id"),
)
OLD_UNIQUE_KEYS = (
    ("jobs", "jobs_id_owner_key"),
    ("backtests", "backtests_id_owner_key"),
    ("models", "models_id_owner_key"),
)
# (table, old name, new name, column, parent, action)
FOREIGN_KEYS = (
    (
        "backtests",
        "backtests_job_id_owner_fkey",
        "backtests_owner_job_id_fkey",
        "job_id",
        "jobs",
        "ON DELETE SET NULL (job_id)",
    ),
    (
        "backtest_equity",
        "backtest_equity_backtest_id_owner_fkey",
        "backtest_equity_owner_backtest_id_fkey",
        "backtest_id",
        "backtests",
        "ON DELETE CASCADE",
    ),
    (
        "backtest_trades",
        "backtest_trades_backtest_id_owner_fkey",
        "backtest_trades_owner_backtest_id_fkey",
        "backtest_id",
        "backtests",
        "ON DELETE CASCADE",
    ),
    (
        "predictions",
        "predictions_model_id_owner_fkey",
        "predictions_owner_model_id_fkey",
        "model_id",
        "models",
        "ON DELETE CASCADE",
    ),
)
# (name, table, new columns, old columns, predicate)
INDEXES = (
    ("predictions_model", "predictions", "owner, model_id", "model_id, owner", ""),
    ("backtests_job", "backtests", "owner, job_id", "job_id, owner", " WHERE job_id IS NOT NULL"),
)

# Re-declares every column of every table in the schema with its own type and
# collation (which drops its collected statistics) and the given statistics
# target, keeping its storage and compression (a type change resets both: the
# blobs 0001 stores EXTERNAL would be compressed again). Policies and views
# referencing the columns would refuse the type change, so they are dropped
# first and recreated from their catalog definitions, with their options,
# grants and comments as they were.
RESET_STATISTICS = """DO $reset$
DECLARE
    target pg_catalog.int4 := {target};
    recreate pg_catalog.text[] := '{{}}';
    item record;
    statement pg_catalog.text;
BEGIN
    FOR item IN
        SELECT pol.polname, pol.polrelid::pg_catalog.regclass AS relation,
            CASE WHEN pol.polpermissive THEN 'PERMISSIVE' ELSE 'RESTRICTIVE' END AS kind,
            CASE pol.polcmd WHEN 'r' THEN 'SELECT' WHEN 'a' THEN 'INSERT'
                WHEN 'w' THEN 'UPDATE' WHEN 'd' THEN 'DELETE' ELSE 'ALL' END AS command,
            (SELECT pg_catalog.string_agg(CASE WHEN r = 0 THEN 'PUBLIC'
                    ELSE pg_catalog.quote_ident(pg_catalog.pg_get_userbyid(r)) END, ', ')
             FROM pg_catalog.unnest(pol.polroles) AS r) AS roles,
            pg_catalog.pg_get_expr(pol.polqual, pol.polrelid) AS using_expression,
            pg_catalog.pg_get_expr(pol.polwithcheck, pol.polrelid) AS check_expression
        FROM pg_catalog.pg_policy AS pol
        JOIN pg_catalog.pg_class AS c ON c.oid = pol.polrelid
        WHERE c.relnamespace = '{schema}'::pg_catalog.regnamespace
        ORDER BY c.relname, pol.polname
    LOOP
        recreate := recreate || pg_catalog.format('CREATE POLICY %I ON %s AS %s FOR %s TO %s%s%s',
            item.polname, item.relation, item.kind, item.command, item.roles,
            ' USING (' || item.using_expression || ')',
            ' WITH CHECK (' || item.check_expression || ')');
        EXECUTE pg_catalog.format('DROP POLICY %I ON %s', item.polname, item.relation);
    END LOOP;
    FOR item IN
        SELECT c.oid::pg_catalog.regclass AS relation, c.reloptions, c.relacl,
            pg_catalog.pg_get_viewdef(c.oid) AS definition,
            pg_catalog.obj_description(c.oid, 'pg_class') AS description
        FROM pg_catalog.pg_class AS c
        WHERE c.relnamespace = '{schema}'::pg_catalog.regnamespace AND c.relkind = 'v'
        ORDER BY c.relname
    LOOP
        recreate := recreate || pg_catalog.format('CREATE VIEW %s%s AS %s', item.relation,
            ' WITH (' || pg_catalog.array_to_string(item.reloptions, ', ') || ')',
            item.definition);
        recreate := recreate || pg_catalog.format('REVOKE ALL ON %s FROM PUBLIC', item.relation);
        IF item.description IS NOT NULL THEN
            recreate := recreate || pg_catalog.format('COMMENT ON VIEW %s IS %L', item.relation,
                item.description);
        END IF;
        recreate := recreate || ARRAY(
            SELECT pg_catalog.format('GRANT %s ON %s TO %s', a.privilege_type, item.relation,
                CASE WHEN a.grantee = 0 THEN 'PUBLIC'
                    ELSE pg_catalog.quote_ident(pg_catalog.pg_get_userbyid(a.grantee)) END)
            FROM pg_catalog.aclexplode(item.relacl) AS a
            WHERE a.grantee <> a.grantor
            ORDER BY a.grantee, a.privilege_type);
        EXECUTE pg_catalog.format('DROP VIEW %s', item.relation);
    END LOOP;
    FOR item IN
        SELECT c.oid::pg_catalog.regclass AS relation,
            pg_catalog.string_agg(pg_catalog.format(
                'ALTER COLUMN %I TYPE %s%s, ALTER COLUMN %I SET STATISTICS %s, '
                'ALTER COLUMN %I SET STORAGE %s, ALTER COLUMN %I SET COMPRESSION %s',
                a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod),
                CASE WHEN a.attcollation <> 0 THEN pg_catalog.format(' COLLATE %s.%I',
                    pg_catalog.quote_ident(collation_schema.nspname), named_collation.collname)
                    ELSE '' END,
                a.attname, target,
                a.attname, CASE a.attstorage WHEN 'p' THEN 'PLAIN' WHEN 'e' THEN 'EXTERNAL'
                    WHEN 'm' THEN 'MAIN' ELSE 'EXTENDED' END,
                a.attname, CASE a.attcompression WHEN 'p' THEN 'pglz' WHEN 'l' THEN 'lz4'
                    ELSE 'DEFAULT' END), ', ' ORDER BY a.attnum) AS changes
        FROM pg_catalog.pg_class AS c
        JOIN pg_catalog.pg_attribute AS a ON a.attrelid = c.oid
        LEFT JOIN pg_catalog.pg_collation AS named_collation
            ON named_collation.oid = a.attcollation
        LEFT JOIN pg_catalog.pg_namespace AS collation_schema
            ON collation_schema.oid = named_collation.collnamespace
        WHERE c.relnamespace = '{schema}'::pg_catalog.regnamespace
            AND c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped
        GROUP BY c.oid
        ORDER BY c.oid::pg_catalog.regclass::pg_catalog.text
    LOOP
        EXECUTE pg_catalog.format('ALTER TABLE %s %s', item.relation, item.changes);
    END LOOP;
    FOREACH statement IN ARRAY recreate LOOP
        EXECUTE statement;
    END LOOP;
END
$reset$"""

DEFAULT_STATISTICS = """DO $default$
DECLARE
    item record;
BEGIN
    FOR item IN
        SELECT a.attrelid::pg_catalog.regclass AS relation, a.attname
        FROM pg_catalog.pg_attribute AS a
        JOIN pg_catalog.pg_class AS c ON c.oid = a.attrelid
        WHERE c.relnamespace = '{schema}'::pg_catalog.regnamespace
            AND c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped
    LOOP
        EXECUTE pg_catalog.format('ALTER TABLE %s ALTER COLUMN %I SET STATISTICS -1',
            item.relation, item.attname);
    END LOOP;
END
$default$"""


def _table(name: str) -> str:
    return f"{SCHEMA}.{name}"


def upgrade() -> None:
    """Re-key every user-data table on owner first; statistics target 0 on every column."""
    statements = [
        f"ALTER TABLE {_table(table)} DROP CONSTRAINT {old}"
        for table, old, _new, _column, _parent, _action in FOREIGN_KEYS
    ]
    statements.extend(
        f"ALTER TABLE {_table(table)} DROP CONSTRAINT {name}" for table, name in OLD_UNIQUE_KEYS
    )
    statements.extend(
        f"ALTER TABLE {_table(table)} DROP CONSTRAINT {table}_pkey, "
        f"ADD CONSTRAINT {table}_pkey PRIMARY KEY (owner, {column})"
        for table, column in PRIMARY_KEYS
    )
    statements.extend(
        f"ALTER TABLE {_table(table)} ADD CONSTRAINT {new} FOREIGN KEY (owner, {column}) "
        f"REFERENCES {_table(parent)} (owner, id) {action}"
        for table, _old, new, column, parent, action in FOREIGN_KEYS
    )
    for name, table, columns, _old_columns, predicate in INDEXES:
        statements.append(f"DROP INDEX {SCHEMA}.{name}")
        statements.append(f"CREATE INDEX {name} ON {_table(table)} ({columns}){predicate}")
    statements.append(RESET_STATISTICS.format(target=0, schema=SCHEMA))
    for statement in statements:
        op.execute(statement)


def downgrade() -> None:
    """Back to keys on id and default statistics targets (ANALYZE gathers them again)."""
    statements = [
        f"ALTER TABLE {_table(table)} DROP CONSTRAINT {new}"
        for table, _old, new, _column, _parent, _action in FOREIGN_KEYS
    ]
    for name, table, _columns, old_columns, predicate in INDEXES:
        statements.append(f"DROP INDEX {SCHEMA}.{name}")
        statements.append(f"CREATE INDEX {name} ON {_table(table)} ({old_columns}){predicate}")
    statements.extend(
        f"ALTER TABLE {_table(table)} DROP CONSTRAINT {table}_pkey, "
        f"ADD CONSTRAINT {table}_pkey PRIMARY KEY ({column})"
        for table, column in PRIMARY_KEYS
    )
    statements.extend(
        f"ALTER TABLE {_table(table)} ADD CONSTRAINT {name} UNIQUE (id, owner)"
        for table, name in OLD_UNIQUE_KEYS
    )
    statements.extend(
        f"ALTER TABLE {_table(table)} ADD CONSTRAINT {old} FOREIGN KEY ({column}, owner) "
        f"REFERENCES {_table(parent)} (id, owner) {action}"
        for table, old, _new, column, parent, action in FOREIGN_KEYS
    )
    statements.append(DEFAULT_STATISTICS.format(schema=SCHEMA))
    for statement in statements:
        op.execute(statement)
