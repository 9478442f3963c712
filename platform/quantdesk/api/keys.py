"""API keys of data providers and brokers, encrypted in the database's vault.

Each function works as the current database user (``QUANTDESK_DATABASE_URL``,
or the local user ``quantdesk up`` set up), with the settings read from the
environment unless given; :func:`rotate_master_key` works as the manager
role. The secrets never appear in a repr, a listing or an error message.
"""

from __future__ import annotations

from dataclasses import dataclass

from quantdesk.config import Settings
from quantdesk.data.credentials import DEFAULT_LABEL, ApiKey
from quantdesk.store import vault
from quantdesk.store.key_audit import KeyAuditEntry
from quantdesk.store.key_audit import key_audit_log as read_key_audit_log
from quantdesk.store.vault import ApiKeyInfo

__all__ = [
    "DEFAULT_LABEL",
    "ApiKey",
    "ApiKeyInfo",
    "KeyAuditEntry",
    "MasterKeyRotation",
    "add_api_key",
    "get_api_key",
    "key_audit_log",
    "list_api_keys",
    "remove_api_key",
    "rotate_master_key",
]


@dataclass(frozen=True)
class MasterKeyRotation:
    """What :func:`rotate_master_key` did, and what is left for the server's operator.

    Attributes
    ----------
    rotated
        How many API keys were re-encrypted under the new master key.
    rename_required
        True for an external server, whose data directory quantdesk cannot
        reach: its operator must rename ``next_key_file`` over ``key_file``
        there (never delete it: the keys are encrypted with it). False for
        the embedded server, where that was done.
    key_file, next_key_file
        The names of the master key files in the server's data directory.
    """

    rotated: int
    rename_required: bool
    key_file: str = vault.KEY_FILE
    next_key_file: str = vault.NEXT_KEY_FILE


def add_api_key(
    provider: str,
    key_id: str,
    secret: str,
    *,
    label: str = DEFAULT_LABEL,
    replace: bool = False,
    settings: Settings | None = None,
) -> ApiKeyInfo:
    """Store ``provider``'s key id and secret, encrypted, as yours; neither is ever shown.

    Parameters
    ----------
    provider, label
        The provider (``"binance"``) and a name telling its keys apart.
    key_id, secret
        The credentials.
    replace
        Overwrite your key of the same provider and label.
    settings
        Read from the environment when None.

    Returns
    -------
    ApiKeyInfo
        What was stored, without the secret.
    """
    return vault.add_api_key(
        provider, key_id, secret, label=label, replace=replace, settings=settings
    )


def list_api_keys(settings: Settings | None = None) -> list[ApiKeyInfo]:
    """Your API keys by provider and label, without their secrets.

    Parameters
    ----------
    settings
        Read from the environment when None.

    Returns
    -------
    list of ApiKeyInfo
        One entry a key.
    """
    return vault.list_api_keys(settings)


def get_api_key(
    provider: str, *, label: str = DEFAULT_LABEL, settings: Settings | None = None
) -> ApiKey:
    """Your key of ``provider`` labelled ``label``, decrypted; the read is audited.

    Returns
    -------
    ApiKey
        The key id and secret; its repr hides both. ``settings`` are read
        from the environment when None.
    """
    return vault.get_api_key(provider, label=label, settings=settings)


def remove_api_key(
    provider: str, *, label: str = DEFAULT_LABEL, settings: Settings | None = None
) -> None:
    """Delete your key of ``provider`` labelled ``label``; settings from the environment if None."""
    vault.remove_api_key(provider, label=label, settings=settings)


def key_audit_log(*, limit: int = 100, settings: Settings | None = None) -> list[KeyAuditEntry]:
    """Your API-key audit trail, newest first: every create, read, delete and refusal.

    Returns
    -------
    list of KeyAuditEntry
        At most ``limit`` rows; ``settings`` are read from the environment when None.
    """
    return read_key_audit_log(limit=limit, settings=settings)


def rotate_master_key(settings: Settings | None = None) -> MasterKeyRotation:
    """Re-encrypt every user's API keys under a new master key, as the manager role.

    With the embedded server the new key file is written and renamed into
    place here; with an external server (``QUANTDESK_ADMIN_DATABASE_URL``) its
    operator writes the next key file first and renames it afterwards (see
    :func:`quantdesk.store.vault.rotate_master_key`).

    Parameters
    ----------
    settings
        quantdesk's settings; read from the environment when None.

    Returns
    -------
    MasterKeyRotation
        How many keys were re-encrypted, and whether the rename is left to do.
    """
    settings = settings if settings is not None else Settings.load()
    rotated = vault.rotate_master_key(settings)
    return MasterKeyRotation(
        rotated=rotated, rename_required=settings.admin_database_url is not None
    )
