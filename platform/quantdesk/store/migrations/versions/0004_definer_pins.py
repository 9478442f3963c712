"""Pin the vault's SECURITY DEFINER functions against settings that print plans.

With ``debug_print_plan``, ``client_min_messages = log`` and
``plan_cache_mode = force_custom_plan`` in their own session, a user saw the
master key and their secret as constants of the vault's plan trees, in
notices and in the server log. Each definer function now runs with the
settings of :data:`quantdesk.store.definer_pins.PINNED_SETTINGS`.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

from alembic import op

from quantdesk.store.definer_pins import PINNED_SETTINGS, set_clauses
from quantdesk.store.roles import OWNER_ROLE, VAULT_ROLE

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

VAULT_SCHEMA = "quantdesk_vault"


def _for_each_definer(action: str) -> str:
    """A DO block running ``ALTER FUNCTION <each vault definer function> <action>``."""
    return f"""DO $pins$
    DECLARE
        signature pg_catalog.regprocedure;
    BEGIN
        FOR signature IN
            SELECT p.oid::pg_catalog.regprocedure FROM pg_catalog.pg_proc AS p
            WHERE p.prosecdef AND p.pronamespace = '{VAULT_SCHEMA}'::pg_catalog.regnamespace
        LOOP
            EXECUTE pg_catalog.format('ALTER FUNCTION %s {action.replace("'", "''")}', signature);
        END LOOP;
    END
    $pins$"""


def upgrade() -> None:
    """Add the pins to every definer function of the vault."""
    op.execute(f"SET LOCAL ROLE {VAULT_ROLE}")
    op.execute(_for_each_definer(set_clauses()))
    op.execute(f"SET LOCAL ROLE {OWNER_ROLE}")


def downgrade() -> None:
    """Remove the pins again (search_path stays pinned)."""
    op.execute(f"SET LOCAL ROLE {VAULT_ROLE}")
    resets = " ".join(f"RESET {name}" for name in PINNED_SETTINGS if name != "search_path")
    op.execute(_for_each_definer(resets))
    op.execute(f"SET LOCAL ROLE {OWNER_ROLE}")
