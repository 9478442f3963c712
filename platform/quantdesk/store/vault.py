"""The API-key vault: provider keys encrypted in the database, readable by their owner only.

Keys are encrypted and decrypted inside the database under a master key that
lives in a file in the server's data directory; it never reaches a user's
role, session or kernel. The SECURITY DEFINER functions a user calls (schema
``quantdesk_vault``) forward each request over dblink to a session of the
vault agent, where the work and its audit row commit on their own: a vault
call is its own transaction, and the caller cannot roll its audit row back.
Asking for someone else's key looks exactly like asking for a missing one.

The secret never travels as a plain statement parameter (the server would log
it with ``log_statement = all``): the server hands out a one-time pad, and the
key id and secret are sent XOR-ed with it.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shlex
import unicodedata
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, overload

from filelock import FileLock, Timeout
from sqlalchemy import Connection, Engine, text

from quantdesk.config import Settings
from quantdesk.data.credentials import DEFAULT_LABEL, ApiKey, key_id_hint
from quantdesk.errors import (
    ApiKeyNotFoundError,
    ConfigurationError,
    InvalidInputError,
    StoreError,
)
from quantdesk.store.connection import (
    admin_engine,
    driver_rows,
    translated_errors,
    user_engine,
    user_url,
)
from quantdesk.store.private_file import sync_directory, write_private_text

__all__ = [
    "DEFAULT_LABEL",
    "KEY_FILE",
    "NEXT_KEY_FILE",
    "ApiKey",
    "ApiKeyInfo",
    "add_api_key",
    "get_api_key",
    "get_api_key_by_id",
    "key_id_hint",
    "list_api_keys",
    "remove_api_key",
    "remove_api_key_by_id",
    "rotate_master_key",
    "stored_api_key",
    "write_master_key_file",
]

KEY_FILE = "quantdesk_vault.key"
"""The master key's file in the server's data directory: 64 lowercase hex characters."""
NEXT_KEY_FILE = "quantdesk_vault.key.next"
"""The next master key while a rotation is under way; renamed over :data:`KEY_FILE` after it."""
AGENT_CONNINFO_FILE = "quantdesk_vault_agent.conninfo"
"""Optional, in the data directory: how the vault reaches its agent (a libpq connection string).

Without it the vault connects over the server's first Unix socket directory and port, which
suits the embedded server's peer-authenticated agent login."""

NAME_LIMIT = 100
KEY_ID_LIMIT = 1024
SECRET_BYTES_LIMIT = 16384
_MASTER_KEY_BYTES = 32
_ROTATION_LOCK = ".rotate.lock"
_ROTATION_LOCK_SECONDS = 600


@dataclass(frozen=True)
class ApiKeyInfo:
    """What may be shown about a stored API key: never the secret, only a hint of the key id.

    Attributes
    ----------
    id
        The key's UUID.
    provider
        The data provider or broker, e.g. ``"binance"``.
    label
        Tells several keys of one provider apart; ``"default"`` unless chosen.
    hint
        A few characters of each end of the key id, e.g. ``"AKIA…WXYZ"``.
    created_at
        When the key was stored (or last replaced).
    last_used_at
        When its owner last read it, or None.
    """

    id: uuid.UUID
    provider: str
    label: str
    hint: str
    created_at: datetime
    last_used_at: datetime | None

    def to_json(self) -> dict[str, Any]:
        """The fields as JSON-ready values (timestamps in ISO 8601)."""
        return {
            "id": str(self.id),
            "provider": self.provider,
            "label": self.label,
            "hint": self.hint,
            "created_at": self.created_at.isoformat(),
            "last_used_at": None if self.last_used_at is None else self.last_used_at.isoformat(),
        }


def add_api_key(
    provider: str,
    key_id: str,
    secret: str,
    *,
    label: str = DEFAULT_LABEL,
    replace: bool = False,
    settings: Settings | None = None,
) -> ApiKeyInfo:
    """Encrypt and store an API key for the current database user.

    Parameters
    ----------
    provider
        The data provider or broker, e.g. ``"binance"``.
    key_id
        The key id.
    secret
        The secret; it is never logged, shown or put in an error message.
    label
        Tells several keys of one provider apart.
    replace
        Overwrite an existing key with the same provider and label.
    settings
        The settings in effect; read from the environment when None.

    Returns
    -------
    ApiKeyInfo
        What was stored, without the secret.

    Raises
    ------
    InvalidInputError
        For a bad provider, label, key id or secret, or when the key exists
        and ``replace`` is false.
    StoreError
        If the database refuses (for example the master key file is missing).
    """
    provider = _checked_name("provider", provider)
    label = _checked_name("label", label)
    key_id_bytes = _checked_credential("key id", key_id, KEY_ID_LIMIT * 4)
    secret_bytes = _checked_credential("secret", secret, SECRET_BYTES_LIMIT)
    if len(key_id) > KEY_ID_LIMIT:
        raise InvalidInputError(f"the key id is longer than {KEY_ID_LIMIT} characters")
    plain = key_id_bytes + secret_bytes
    with translated_errors("storing the API key"), user_engine(settings).begin() as connection:
        pad = bytes(
            _unlogged_row(
                connection, "SELECT quantdesk_vault.new_pad(%(size)s)", {"size": len(plain)}
            )[0]
        )
        masked = _xor(plain, pad)
        stored_id = connection.execute(
            text(
                "SELECT quantdesk_vault.add_key(:provider, :label, :masked_key_id, "
                ":masked_secret, :replace)"
            ),
            {
                "provider": provider,
                "label": label,
                "masked_key_id": masked[: len(key_id_bytes)],
                "masked_secret": masked[len(key_id_bytes) :],
                "replace": replace,
            },
        ).scalar_one()
        info = None if stored_id is None else _info_of(connection, stored_id)
    if info is None:
        raise InvalidInputError(
            f"an API key for {provider!r} with label {label!r} already exists; remove it with "
            f"'quantdesk keys rm {_shell_words(provider, label)}' or pass replace=True "
            "(--replace)"
        )
    return info


def list_api_keys(settings: Settings | None = None) -> list[ApiKeyInfo]:
    """The current user's stored API keys, without their secrets.

    Parameters
    ----------
    settings
        The settings in effect; read from the environment when None.

    Returns
    -------
    list of ApiKeyInfo
        Sorted by provider and label.
    """
    with translated_errors("listing the API keys"), user_engine(settings).connect() as connection:
        rows = connection.execute(
            text(
                "SELECT id, provider, label, hint, created_at, last_used_at "
                "FROM quantdesk.api_key_listing WHERE owner = current_user "
                "ORDER BY provider, label"
            )
        ).all()
    return [ApiKeyInfo(*row) for row in rows]


def get_api_key(
    provider: str, *, label: str = DEFAULT_LABEL, settings: Settings | None = None
) -> ApiKey:
    """Decrypt one of the current user's API keys.

    Parameters
    ----------
    provider
        The data provider or broker.
    label
        Which of the provider's keys.
    settings
        The settings in effect; read from the environment when None.

    Returns
    -------
    ApiKey
        The key id and secret; its repr hides both.

    Raises
    ------
    ApiKeyNotFoundError
        If the user has no such key. The read attempt is audited either way.
    """
    provider = _checked_name("provider", provider)
    label = _checked_name("label", label)
    with translated_errors("reading the API key"), user_engine(settings).begin() as connection:
        row = _unlogged_row(
            connection,
            "SELECT key_id, secret FROM quantdesk_vault.read_key(%(provider)s, %(label)s)",
            {"provider": provider, "label": label},
            required=False,
        )
    if row is None:
        raise ApiKeyNotFoundError(_missing_by_name(provider, label))
    return ApiKey(provider=provider, label=label, key_id=row[0], secret=row[1])


def stored_api_key(provider: str, label: str, settings: Settings) -> ApiKey | None:
    """The vault as a credential store for data sources (``quantdesk.credential_stores``).

    Parameters
    ----------
    provider
        The data provider or broker.
    label
        Which of the provider's keys.
    settings
        The settings in effect.

    Returns
    -------
    ApiKey or None
        The current user's key, or None when they stored none or no database
        is configured.
    """
    try:
        user_url(settings)
    except ConfigurationError:
        return None
    try:
        return get_api_key(provider, label=label, settings=settings)
    except ApiKeyNotFoundError:
        return None


def get_api_key_by_id(key_id: uuid.UUID | str, *, settings: Settings | None = None) -> ApiKey:
    """Decrypt one of the current user's API keys by its UUID.

    Parameters
    ----------
    key_id
        The key's UUID, as listed by :func:`list_api_keys`.
    settings
        The settings in effect; read from the environment when None.

    Returns
    -------
    ApiKey
        The key id and secret; its repr hides both.

    Raises
    ------
    ApiKeyNotFoundError
        If no key with this UUID belongs to the user, whether it is missing or
        someone else's (the owner's audit trail records the attempt).
    """
    wanted = _checked_uuid(key_id)
    with translated_errors("reading the API key"), user_engine(settings).begin() as connection:
        row = _unlogged_row(
            connection,
            "SELECT provider, label, key_id, secret FROM quantdesk_vault.read_key_by_id(%(id)s)",
            {"id": wanted},
            required=False,
        )
    if row is None:
        raise ApiKeyNotFoundError(_missing_by_id(wanted))
    provider, label, stored_key_id, secret = row
    return ApiKey(provider=provider, label=label, key_id=stored_key_id, secret=secret)


def remove_api_key(
    provider: str, *, label: str = DEFAULT_LABEL, settings: Settings | None = None
) -> None:
    """Delete one of the current user's API keys.

    Parameters
    ----------
    provider
        The data provider or broker.
    label
        Which of the provider's keys.
    settings
        The settings in effect; read from the environment when None.

    Raises
    ------
    ApiKeyNotFoundError
        If the user has no such key.
    """
    provider = _checked_name("provider", provider)
    label = _checked_name("label", label)
    with translated_errors("removing the API key"), user_engine(settings).begin() as connection:
        removed = connection.execute(
            text("SELECT quantdesk_vault.delete_key(:provider, :label)"),
            {"provider": provider, "label": label},
        ).scalar_one()
    if not removed:
        raise ApiKeyNotFoundError(_missing_by_name(provider, label))


def remove_api_key_by_id(key_id: uuid.UUID | str, *, settings: Settings | None = None) -> None:
    """Delete one of the current user's API keys by its UUID.

    Parameters
    ----------
    key_id
        The key's UUID.
    settings
        The settings in effect; read from the environment when None.

    Raises
    ------
    ApiKeyNotFoundError
        If no key with this UUID belongs to the user.
    """
    wanted = _checked_uuid(key_id)
    with translated_errors("removing the API key"), user_engine(settings).begin() as connection:
        removed = connection.execute(
            text("SELECT quantdesk_vault.delete_key_by_id(:id)"), {"id": wanted}
        ).scalar_one()
    if not removed:
        raise ApiKeyNotFoundError(_missing_by_id(wanted))


def rotate_master_key(settings: Settings | None = None) -> int:
    """Re-encrypt every stored API key under a new master key.

    With the embedded server, this writes a new random key to
    :data:`NEXT_KEY_FILE` in the data directory (mode 0600, owned by the
    server's account), re-encrypts every key in one transaction, then renames
    the file over :data:`KEY_FILE`. A rotation cut short is finished by the
    next call, which reuses the waiting next key (it is only ever created,
    never replaced). Concurrent rotations take turns on a lock file in the
    server's directory.

    An external server's data directory is out of reach: its operator writes
    the new key (64 lowercase hex characters, e.g. ``openssl rand -hex 32``)
    to ``quantdesk_vault.key.next`` in the data directory, readable only by
    the server account, calls this, then renames it over
    ``quantdesk_vault.key``. Until then the server reads with either file and
    encrypts with the next one; deleting the next file instead of renaming it
    loses the keys.

    Parameters
    ----------
    settings
        The settings in effect; read from the environment when None.

    Returns
    -------
    int
        How many API keys were re-encrypted.

    Raises
    ------
    StoreError
        If the database refuses, a key file is missing, or the embedded data
        directory cannot be written.
    """
    settings = settings if settings is not None else Settings.load()
    if settings.admin_database_url is not None:
        return _rotate_in_database(admin_engine(settings))
    server_directory, data_directory = _embedded_directories(settings)
    next_file = data_directory / NEXT_KEY_FILE
    try:
        # One rotation at a time: another one's rename must not retire a key
        # this one is encrypting with, nor may it replace the next key.
        with FileLock(str(server_directory / _ROTATION_LOCK), timeout=_ROTATION_LOCK_SECONDS):
            # A next key a rotation cut short left is reused, never replaced.
            with contextlib.suppress(FileExistsError):
                write_master_key_file(next_file, exclusive=True)
            try:
                rotated = _rotate_in_database(admin_engine(settings))
            except StoreError as error:
                raise type(error)(
                    f"{error}; {NEXT_KEY_FILE} stays in place (new keys are already encrypted "
                    "with it, so never delete it): fix this and run 'quantdesk keys "
                    "rotate-master' again to finish"
                ) from None
            next_file.replace(data_directory / KEY_FILE)
            sync_directory(data_directory)
    except Timeout:
        raise StoreError(
            "rotating the master key: another rotation has held its lock for "
            f"{_ROTATION_LOCK_SECONDS} seconds; retry when it has finished"
        ) from None
    except OSError as error:
        raise StoreError(
            f"rotating the master key: cannot write {error.filename or next_file} "
            f"({error.strerror}); run this as the account that owns {data_directory} or as root"
        ) from None
    return rotated


def _rotate_in_database(engine: Engine) -> int:
    with translated_errors("rotating the master key"), engine.begin() as connection:
        return int(connection.execute(text("SELECT quantdesk_vault.rotate_master()")).scalar_one())


def _embedded_directories(settings: Settings) -> tuple[Path, Path]:
    """The embedded server's directory and its data directory."""
    from quantdesk.store.server import EmbeddedPostgres

    server = EmbeddedPostgres(settings)
    return Path(server.directory), Path(server.data_directory)


def write_master_key_file(path: Path, key: str | None = None, *, exclusive: bool = False) -> str:
    """Write a master key file atomically, readable only by the account owning its directory.

    Parameters
    ----------
    path
        The file, in the server's data directory (owned by the server's account).
    key
        64 lowercase hex characters; a new random key when None.
    exclusive
        Never replace an existing file.

    Returns
    -------
    str
        The key written.

    Raises
    ------
    FileExistsError
        If ``exclusive`` and the file exists; it is left untouched.
    """
    key = key if key is not None else secrets.token_hex(_MASTER_KEY_BYTES)
    if len(key) != _MASTER_KEY_BYTES * 2 or not set(key) <= set("0123456789abcdef"):
        raise InvalidInputError("a master key must be 64 lowercase hex characters")
    directory = path.parent.stat()
    owner = (directory.st_uid, directory.st_gid) if os.geteuid() == 0 else None
    write_private_text(path, f"{key}\n", owner=owner, exclusive=exclusive)
    return key


@overload
def _unlogged_row(
    connection: Connection, statement: str, parameters: dict[str, Any]
) -> tuple[Any, ...]: ...
@overload
def _unlogged_row(
    connection: Connection, statement: str, parameters: dict[str, Any], *, required: bool
) -> tuple[Any, ...] | None: ...
def _unlogged_row(
    connection: Connection, statement: str, parameters: dict[str, Any], *, required: bool = True
) -> tuple[Any, ...] | None:
    """The first row of ``statement``, run on the driver's cursor so no logger sees it."""
    rows = driver_rows(connection, statement, parameters)
    if not rows and required:
        raise StoreError("the vault returned no row; run 'quantdesk db migrate' and retry")
    return rows[0] if rows else None


def _info_of(connection: Connection, stored_id: uuid.UUID) -> ApiKeyInfo:
    row = connection.execute(
        text(
            "SELECT id, provider, label, hint, created_at, last_used_at "
            "FROM quantdesk.api_key_listing WHERE id = :id"
        ),
        {"id": stored_id},
    ).one()
    return ApiKeyInfo(*row)


def _xor(plain: bytes, pad: bytes) -> bytes:
    if len(pad) != len(plain):
        raise StoreError("the database returned a pad of the wrong length; retry")
    return (int.from_bytes(plain, "big") ^ int.from_bytes(pad, "big")).to_bytes(len(plain), "big")


def _checked_name(kind: str, value: object) -> str:
    if not isinstance(value, str):
        raise InvalidInputError(f"the {kind} must be text, not {type(value).__name__}")
    if not value:
        raise InvalidInputError(f"the {kind} is empty")
    if len(value) > NAME_LIMIT:
        raise InvalidInputError(
            f"the {kind} has {len(value)} characters; at most {NAME_LIMIT} are allowed"
        )
    if value != value.strip():
        raise InvalidInputError(f"the {kind} {value!r} starts or ends with blanks; remove them")
    if any(unicodedata.category(character) == "Cc" for character in value):
        raise InvalidInputError(f"the {kind} {value!r} contains control characters")
    return value


def _checked_credential(kind: str, value: object, byte_limit: int) -> bytes:
    """Check a key id or secret; messages never quote the value."""
    if not isinstance(value, str):
        raise InvalidInputError(f"the {kind} must be text, not {type(value).__name__}")
    if not value:
        raise InvalidInputError(f"the {kind} is empty")
    if value != value.strip():
        raise InvalidInputError(
            f"the {kind} starts or ends with blanks or a line break; remove them"
        )
    if "\x00" in value:
        raise InvalidInputError(f"the {kind} contains a NUL character")
    encoded = value.encode("utf-8", errors="strict")
    if len(encoded) > byte_limit:
        raise InvalidInputError(f"the {kind} is longer than {byte_limit} bytes")
    return encoded


def _checked_uuid(value: uuid.UUID | str) -> uuid.UUID:
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise InvalidInputError(
            f"{value!r} is not an API key id; 'quantdesk keys list --json' shows the ids"
        ) from None


def _missing_by_name(provider: str, label: str) -> str:
    return (
        f"no API key for {provider!r} with label {label!r}; add one with "
        f"'quantdesk keys add {_shell_words(provider, label)}' (you are then prompted)"
    )


def _shell_words(provider: str, label: str) -> str:
    return f"{shlex.quote(provider)} --label {shlex.quote(label)}"


def _missing_by_id(key_id: uuid.UUID) -> str:
    return f"no API key with id {key_id}; 'quantdesk keys list' shows yours"
