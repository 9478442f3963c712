"""Core schema: profiles, jobs, backtests with their equity and trades, models, predictions.

Every table is owned by ``quantdesk_owner`` and has ENABLE and FORCE ROW
LEVEL SECURITY. Users reach rows only through policies comparing ``owner``
with ``current_user``, and only as the login role itself (``roles.OWN_ROWS``);
admins get a separate read-all policy. Child tables reference their parent
through ``(parent_id, owner)``, so a child row always has its parent's owner.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

from alembic import op

from quantdesk.store.roles import ADMINS_ROLE, OWN_ROWS, OWNER_ROLE, SCHEMA, USERS_ROLE

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# Role names compare in the "C" collation (the type ``name``'s); an owner
# column in the same collation lets ``owner = current_user``, the policies'
# test, use the indexes that lead with ``owner``.
OWNED_ROW = 'owner text COLLATE "C" NOT NULL DEFAULT current_user'
TABLES: dict[str, str] = {
    "profiles": f"""
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        {OWNED_ROW} UNIQUE,
        display_name text,
        created_at timestamptz NOT NULL DEFAULT now()
    """,
    "jobs": f"""
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        {OWNED_ROW},
        kind text NOT NULL,
        status text NOT NULL DEFAULT 'queued'
            CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
        progress double precision CHECK (progress BETWEEN 0 AND 1),
        message text,
        parameters jsonb NOT NULL DEFAULT '{{}}'::jsonb,
        created_at timestamptz NOT NULL DEFAULT now(),
        started_at timestamptz,
        finished_at timestamptz,
        UNIQUE (id, owner)
    """,
    "backtests": f"""
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        {OWNED_ROW},
        created_at timestamptz NOT NULL DEFAULT now(),
        name text,
        strategy text,
        source text,
        symbol text,
        timeframe text,
        start_time timestamptz,
        end_time timestamptz,
        parameters jsonb NOT NULL,
        config jsonb NOT NULL,
        stats jsonb NOT NULL,
        data_fingerprint text,
        engine_version text NOT NULL,
        bar_count integer NOT NULL CHECK (bar_count >= 0),
        trade_count integer NOT NULL CHECK (trade_count >= 0),
        final_equity double precision,
        job_id uuid,
        UNIQUE (id, owner),
        FOREIGN KEY (job_id, owner) REFERENCES {SCHEMA}.jobs (id, owner)
            ON DELETE SET NULL (job_id)
    """,
    "backtest_equity": f"""
        backtest_id uuid PRIMARY KEY,
        {OWNED_ROW},
        point_count integer NOT NULL CHECK (point_count >= 0),
        data bytea NOT NULL,
        FOREIGN KEY (backtest_id, owner) REFERENCES {SCHEMA}.backtests (id, owner)
            ON DELETE CASCADE
    """,
    "backtest_trades": f"""
        backtest_id uuid PRIMARY KEY,
        {OWNED_ROW},
        trade_count integer NOT NULL CHECK (trade_count >= 0),
        data bytea NOT NULL,
        FOREIGN KEY (backtest_id, owner) REFERENCES {SCHEMA}.backtests (id, owner)
            ON DELETE CASCADE
    """,
    "models": f"""
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        {OWNED_ROW},
        name text NOT NULL,
        kind text NOT NULL,
        symbol text,
        timeframe text,
        parameters jsonb NOT NULL DEFAULT '{{}}'::jsonb,
        metrics jsonb NOT NULL DEFAULT '{{}}'::jsonb,
        data_fingerprint text,
        artifact bytea,
        created_at timestamptz NOT NULL DEFAULT now(),
        UNIQUE (id, owner)
    """,
    "predictions": f"""
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        {OWNED_ROW},
        model_id uuid NOT NULL,
        symbol text,
        timeframe text,
        horizon integer CHECK (horizon > 0),
        created_at timestamptz NOT NULL DEFAULT now(),
        data bytea,
        FOREIGN KEY (model_id, owner) REFERENCES {SCHEMA}.models (id, owner) ON DELETE CASCADE
    """,
}
COMPRESSED_ELSEWHERE = {
    "backtest_equity": "data",
    "backtest_trades": "data",
    "models": "artifact",
    "predictions": "data",
}
INDEXES = (
    f"CREATE INDEX backtests_owner_newest ON {SCHEMA}.backtests (owner, created_at DESC, id)",
    f"CREATE INDEX jobs_owner_newest ON {SCHEMA}.jobs (owner, created_at DESC, id)",
    f"CREATE INDEX models_owner_newest ON {SCHEMA}.models (owner, created_at DESC, id)",
    f"CREATE INDEX predictions_model ON {SCHEMA}.predictions (model_id, owner)",
    f"CREATE INDEX backtests_job ON {SCHEMA}.backtests (job_id, owner) WHERE job_id IS NOT NULL",
)


def protect_table(qualified_name: str, policy_prefix: str) -> list[str]:
    """The statements giving a table FORCE RLS, owner-only policies and user grants.

    Parameters
    ----------
    qualified_name
        ``schema.table``.
    policy_prefix
        Prefix of the policy names, usually the table name.

    Returns
    -------
    list of str
        SQL statements, in order.
    """
    return [
        f"ALTER TABLE {qualified_name} ENABLE ROW LEVEL SECURITY",
        f"ALTER TABLE {qualified_name} FORCE ROW LEVEL SECURITY",
        f"CREATE POLICY {policy_prefix}_own_rows ON {qualified_name} FOR ALL TO {USERS_ROLE} "
        f"USING ({OWN_ROWS}) WITH CHECK ({OWN_ROWS})",
        f"CREATE POLICY {policy_prefix}_admins_read ON {qualified_name} FOR SELECT "
        f"TO {ADMINS_ROLE} USING (true)",
        f"REVOKE ALL ON {qualified_name} FROM PUBLIC",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON {qualified_name} TO {USERS_ROLE}",
        f"GRANT SELECT ON {qualified_name} TO {ADMINS_ROLE}",
    ]


def upgrade() -> None:
    """Create the schema, its tables, policies and grants."""
    from quantdesk.store.migrate import VERSION_TABLE, VERSION_TABLE_SCHEMA

    version_table = f"{VERSION_TABLE_SCHEMA}.{VERSION_TABLE}"
    statements = [
        "REVOKE CREATE ON SCHEMA public FROM PUBLIC",
        f"REVOKE ALL ON SCHEMA {VERSION_TABLE_SCHEMA} FROM PUBLIC",
        f"ALTER TABLE {version_table} ENABLE ROW LEVEL SECURITY",
        f"ALTER TABLE {version_table} FORCE ROW LEVEL SECURITY",
        f"CREATE POLICY migrations_owner_only ON {version_table} TO {OWNER_ROLE} "
        "USING (true) WITH CHECK (true)",
        f"CREATE SCHEMA {SCHEMA}",
        f"REVOKE ALL ON SCHEMA {SCHEMA} FROM PUBLIC",
        f"GRANT USAGE ON SCHEMA {SCHEMA} TO {USERS_ROLE}, {ADMINS_ROLE}",
    ]
    for table, columns in TABLES.items():
        qualified_name = f"{SCHEMA}.{table}"
        statements.append(f"CREATE TABLE {qualified_name} ({columns})")
        statements.extend(protect_table(qualified_name, table))
    for table, column in COMPRESSED_ELSEWHERE.items():
        statements.append(
            f"ALTER TABLE {SCHEMA}.{table} ALTER COLUMN {column} SET STORAGE EXTERNAL"
        )
    statements.extend(INDEXES)
    for statement in statements:
        op.execute(statement)


def downgrade() -> None:
    """Drop the schema and everything in it."""
    op.execute(f"DROP SCHEMA {SCHEMA} CASCADE")
