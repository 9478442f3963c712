"""Jobs keep their results: a sweep's or walk-forward's summary commits with its completion.

``job_results`` holds one JSON document per job, written in the transaction
that marks the job completed (see :func:`quantdesk.store.jobs.complete_job`),
so a completed job always has its results and a failed one never has.
Like every user-data table it has FORCE ROW LEVEL SECURITY with the owners'
policy, keys that lead with ``owner`` and no planner statistics.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import importlib

from alembic import op

from quantdesk.store.roles import SCHEMA

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

RESULTS = f"{SCHEMA}.job_results"
COLUMNS = ("owner", "job_id", "result", "created_at")


def upgrade() -> None:
    """Create ``job_results`` with its policies, grants and no statistics."""
    core = importlib.import_module("quantdesk.store.migrations.versions.0001_core")
    statements = [
        f"""CREATE TABLE {RESULTS} (
            {core.OWNED_ROW},
            job_id uuid NOT NULL,
            result jsonb NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (owner, job_id),
            FOREIGN KEY (owner, job_id) REFERENCES {SCHEMA}.jobs (owner, id) ON DELETE CASCADE
        )""",
        *core.protect_table(RESULTS, "job_results"),
        *(f"ALTER TABLE {RESULTS} ALTER COLUMN {column} SET STATISTICS 0" for column in COLUMNS),
    ]
    for statement in statements:
        op.execute(statement)


def downgrade() -> None:
    """Drop ``job_results``."""
    op.execute(f"DROP TABLE {RESULTS}")
