"""The API-key audit trail as its owner reads it: who did what to which key, and when.

The vault writes a row for every create, read, delete and rotation, and for
every refused attempt on one of the owner's keys (``repeated`` counts the
refusals folded into one row). Row-level security shows each person their
own rows; the query names ``owner = current_user`` too, so an admin reading
here sees only theirs.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text

from quantdesk.config import Settings
from quantdesk.errors import InvalidInputError
from quantdesk.store.connection import translated_errors, user_engine

__all__ = ["KeyAuditEntry", "key_audit_log"]

_SELECT = text(
    "SELECT at, actor, action, outcome, provider, label, api_key_id, repeated "
    "FROM quantdesk.api_key_audit WHERE owner = current_user "
    "ORDER BY at DESC, id LIMIT :limit"
)


@dataclass(frozen=True)
class KeyAuditEntry:
    """One audited action on one of the owner's API keys; never a secret.

    Attributes
    ----------
    at
        When it happened.
    actor
        The role that acted: the owner, or someone refused.
    action, outcome
        ``create``, ``read``, ``delete`` or ``rotate``; ``ok``, ``not_found`` or ``denied``.
    provider, label, api_key_id
        Which key, as far as it was named or found.
    repeated
        Further identical refusals folded into this row.
    """

    at: datetime
    actor: str
    action: str
    outcome: str
    provider: str | None
    label: str | None
    api_key_id: uuid.UUID | None
    repeated: int


def key_audit_log(*, limit: int = 100, settings: Settings | None = None) -> list[KeyAuditEntry]:
    """The current user's API-key audit rows, newest first.

    Parameters
    ----------
    limit
        At most this many rows.
    settings
        The settings in effect; read from the environment when None.

    Returns
    -------
    list of KeyAuditEntry
        Newest first.
    """
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise InvalidInputError(f"limit must be a positive whole number, not {limit!r}")
    with translated_errors("reading the API-key audit log"), user_engine(settings).connect() as c:
        rows = c.execute(_SELECT, {"limit": limit}).all()
    return [KeyAuditEntry(*row) for row in rows]
