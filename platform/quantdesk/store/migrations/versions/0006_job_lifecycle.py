"""Jobs get their lifecycle: completed and lost states, heartbeats, errors, notifications.

A job moves ``queued`` -> ``running`` -> ``completed`` | ``failed`` |
``cancelled``, and ``lost`` when the process that submitted it stopped
beating. The database, not the library, holds the rules: a trigger refuses
any other move (a finished job never changes state again) and a new job that
does not start ``queued``; ``error`` is one line. ``heartbeat_at`` is written
by the submitting process with every state change and while the job runs.

Every insert and update notifies channel ``quantdesk_jobs`` with the job's
id and nothing else: any role may LISTEN on any channel, so the payload must
tell a listener nothing it could not learn from its own rows. A random id
does not.

No release wrote jobs before this revision, so there are no ``succeeded`` rows
to rename; the new check would refuse the migration if there were.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

from alembic import op

from quantdesk.store.roles import SCHEMA

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

JOBS = f"{SCHEMA}.jobs"
STATUSES = ("queued", "running", "completed", "failed", "cancelled", "lost")
NOTIFY_CHANNEL = "quantdesk_jobs"
ERROR_LENGTH_LIMIT = 1000

# (from, to) pairs the transition trigger lets through; a status may also stay as it is.
TRANSITIONS = (
    ("queued", "running"),
    ("queued", "failed"),
    ("queued", "cancelled"),
    ("queued", "lost"),
    ("running", "completed"),
    ("running", "failed"),
    ("running", "cancelled"),
    ("running", "lost"),
)


def _sql_list(values: tuple[str, ...]) -> str:
    return ", ".join(f"'{value}'" for value in values)


TRANSITION_FUNCTION = f"""
CREATE FUNCTION {SCHEMA}.jobs_checked_transition() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog AS $transition$
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF NEW.status <> 'queued' THEN
            RAISE EXCEPTION 'a new job starts queued, not %', NEW.status
                USING ERRCODE = 'check_violation';
        END IF;
        RETURN NEW;
    END IF;
    IF NEW.id <> OLD.id OR NEW.kind <> OLD.kind OR NEW.created_at <> OLD.created_at THEN
        RAISE EXCEPTION 'a job''s id, kind and creation time do not change'
            USING ERRCODE = 'check_violation';
    END IF;
    IF NEW.status <> OLD.status AND NOT (OLD.status, NEW.status) IN ({
    ", ".join(f"('{old}', '{new}')" for old, new in TRANSITIONS)
}) THEN
        RAISE EXCEPTION 'job % is %; it cannot become %', OLD.id, OLD.status, NEW.status
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END
$transition$
"""

NOTIFY_FUNCTION = f"""
CREATE FUNCTION {SCHEMA}.jobs_notify() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog AS $notify$
BEGIN
    PERFORM pg_notify('{NOTIFY_CHANNEL}', NEW.id::text);
    RETURN NULL;
END
$notify$
"""


def upgrade() -> None:
    """Add the states, heartbeat and error columns, the transition rules and notifications."""
    statements = [
        f"ALTER TABLE {JOBS} DROP CONSTRAINT jobs_status_check",
        f"ALTER TABLE {JOBS} ADD CONSTRAINT jobs_status_check "
        f"CHECK (status IN ({_sql_list(STATUSES)}))",
        f"ALTER TABLE {JOBS} ADD COLUMN heartbeat_at timestamptz NOT NULL DEFAULT now()",
        f"ALTER TABLE {JOBS} ADD COLUMN error text CONSTRAINT jobs_error_one_line CHECK ("
        f"error IS NULL OR (error <> '' AND strpos(error, E'\\n') = 0 "
        f"AND length(error) <= {ERROR_LENGTH_LIMIT}))",
        f"ALTER TABLE {JOBS} ALTER COLUMN heartbeat_at SET STATISTICS 0",
        f"ALTER TABLE {JOBS} ALTER COLUMN error SET STATISTICS 0",
        f"CREATE INDEX jobs_owner_unfinished ON {JOBS} (owner, heartbeat_at) "
        "WHERE status IN ('queued', 'running')",
        TRANSITION_FUNCTION,
        f"REVOKE ALL ON FUNCTION {SCHEMA}.jobs_checked_transition() FROM PUBLIC",
        f"CREATE TRIGGER jobs_checked_transition BEFORE INSERT OR UPDATE ON {JOBS} "
        f"FOR EACH ROW EXECUTE FUNCTION {SCHEMA}.jobs_checked_transition()",
        NOTIFY_FUNCTION,
        f"REVOKE ALL ON FUNCTION {SCHEMA}.jobs_notify() FROM PUBLIC",
        f"CREATE TRIGGER jobs_notify AFTER INSERT OR UPDATE ON {JOBS} "
        f"FOR EACH ROW EXECUTE FUNCTION {SCHEMA}.jobs_notify()",
    ]
    for statement in statements:
        op.execute(statement)


def downgrade() -> None:
    """Back to revision 0005's jobs table."""
    statements = [
        f"DROP TRIGGER jobs_notify ON {JOBS}",
        f"DROP FUNCTION {SCHEMA}.jobs_notify()",
        f"DROP TRIGGER jobs_checked_transition ON {JOBS}",
        f"DROP FUNCTION {SCHEMA}.jobs_checked_transition()",
        f"DROP INDEX {SCHEMA}.jobs_owner_unfinished",
        f"ALTER TABLE {JOBS} DROP COLUMN error",
        f"ALTER TABLE {JOBS} DROP COLUMN heartbeat_at",
        f"ALTER TABLE {JOBS} DROP CONSTRAINT jobs_status_check",
        f"ALTER TABLE {JOBS} ADD CONSTRAINT jobs_status_check CHECK (status IN "
        "('queued', 'running', 'succeeded', 'failed', 'cancelled'))",
    ]
    for statement in statements:
        op.execute(statement)
