"""API keys for data providers and brokers: a redacting value type, and where keys come from.

A source that needs credentials calls :func:`find_api_key`. It looks in the
environment first, then asks every installed credential store (the
entry-point group ``quantdesk.credential_stores``; quantdesk's own is the
encrypted vault in the database, see :mod:`quantdesk.store.vault`). Stores
sit in outer layers, so the data layer never imports the database. A store
that fails surfaces as a source error: a database that cannot be reached as
:class:`~quantdesk.errors.RetryableSourceError`, any other store failure as
:class:`~quantdesk.errors.FatalSourceError`; both name the environment
variables that bypass the vault. :func:`environment_api_key` looks in the
environment only, for sources that would rather not ask the vault.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any, NoReturn

from quantdesk.config import Settings
from quantdesk.errors import (
    DatabaseUnavailableError,
    FatalSourceError,
    RetryableSourceError,
    SourceError,
    StoreError,
)

CREDENTIAL_STORES_GROUP = "quantdesk.credential_stores"
DEFAULT_LABEL = "default"
ENVIRONMENT_LABEL = "environment"
_REDACTED = "<redacted>"

CredentialStore = Callable[[str, str, Settings], "ApiKey | None"]
"""``store(provider, label, settings)`` returns the key, or None when it holds none."""


@dataclass(frozen=True, repr=False)
class ApiKey:
    """A decrypted API key. Its repr and str hide the secret and most of the key id.

    It cannot be pickled or deep-copied into another object graph by accident:
    pass the provider and label around and call :func:`get_api_key` where the
    key is needed.

    Attributes
    ----------
    provider
        The data provider or broker.
    label
        Which of the provider's keys.
    key_id
        The key id (sometimes called API key or access key).
    secret
        The secret that signs requests.
    """

    provider: str
    label: str
    key_id: str
    secret: str

    @property
    def key_id_hint(self) -> str:
        """The key id with its middle hidden, e.g. ``"AKIA…WXYZ"``."""
        return key_id_hint(self.key_id)

    def __repr__(self) -> str:
        return (
            f"ApiKey(provider={self.provider!r}, label={self.label!r}, "
            f"key_id={self.key_id_hint!r}, secret={_REDACTED!r})"
        )

    __str__ = __repr__

    def __reduce_ex__(self, protocol: Any) -> NoReturn:
        raise TypeError(
            "an ApiKey cannot be pickled, so its secret never lands in a file, cache or log; "
            "pass provider and label instead and call quantdesk.get_api_key where it is used"
        )

    def __copy__(self) -> ApiKey:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> ApiKey:
        return self


def key_id_hint(key_id: str) -> str:
    """Hide the middle of a key id, showing at most a third of it.

    Parameters
    ----------
    key_id
        The full key id.

    Returns
    -------
    str
        Four characters of each end for ids of 24 characters or more, fewer
        for shorter ids and none below 6 characters, joined by ``…``. The
        database computes the stored hint with the same rule.
    """
    shown = min(4, len(key_id) // 6)
    return f"{key_id[:shown]}…{key_id[len(key_id) - shown :]}"


def find_api_key(
    provider: str,
    settings: Settings,
    *,
    environment: tuple[str, str],
    label: str = DEFAULT_LABEL,
) -> ApiKey | None:
    """The API key for ``provider``: from the environment, else from a credential store.

    Parameters
    ----------
    provider
        The provider's name as keys are stored under it, e.g. ``"alpaca"``.
    settings
        The settings in effect, handed to the stores.
    environment
        The names of the environment variables holding the key id and the
        secret, e.g. ``("APCA_API_KEY_ID", "APCA_API_SECRET_KEY")``.
    label
        Which of the provider's stored keys.

    Returns
    -------
    ApiKey or None
        The key, or None when neither the environment nor any store has one.

    Raises
    ------
    FatalSourceError
        When only one of the two environment variables is set, or a store
        fails in a way retrying cannot mend (the message names the fix).
    RetryableSourceError
        When a store's database cannot be reached.
    """
    from_environment = environment_api_key(provider, environment=environment)
    if from_environment is not None:
        return from_environment
    for store in credential_stores():
        failure: SourceError | None = None
        try:
            found = store(provider, label, settings)
        except StoreError as error:
            failure = _store_failure(error, provider, environment)
        if failure is not None:
            # Raised outside the handler: a database error may quote its connection.
            raise failure
        if found is not None:
            return found
    return None


def environment_api_key(provider: str, *, environment: tuple[str, str]) -> ApiKey | None:
    """The API key for ``provider`` from the environment only; no store is asked.

    Parameters
    ----------
    provider
        The provider's name, e.g. ``"binance"``.
    environment
        The names of the environment variables holding the key id and the secret.

    Returns
    -------
    ApiKey or None
        The key, labelled :data:`ENVIRONMENT_LABEL`, or None when neither variable is set.

    Raises
    ------
    FatalSourceError
        When only one of the two variables is set.
    """
    key_id_name, secret_name = environment
    key_id, secret = os.environ.get(key_id_name), os.environ.get(secret_name)
    if key_id and secret:
        return ApiKey(provider=provider, label=ENVIRONMENT_LABEL, key_id=key_id, secret=secret)
    if key_id or secret:
        missing = secret_name if key_id else key_id_name
        present = key_id_name if key_id else secret_name
        raise FatalSourceError(
            f"{present} is set but {missing} is not; set both, or unset {present} to use "
            f"the key stored with 'quantdesk keys add {provider}'"
        )
    return None


def _store_failure(error: StoreError, provider: str, environment: tuple[str, str]) -> SourceError:
    detail = " ".join(str(error).split())
    key_id_name, secret_name = environment
    if isinstance(error, DatabaseUnavailableError):
        return RetryableSourceError(
            f"the key vault is unavailable ({detail}); retry, or set {key_id_name} and "
            f"{secret_name}"
        )
    return FatalSourceError(
        f"could not read the {provider} key from the key vault ({detail}); fix that, "
        f"or set {key_id_name} and {secret_name} to use a key without the vault"
    )


def credential_stores() -> list[CredentialStore]:
    """The installed credential stores, in entry-point name order.

    Returns
    -------
    list
        Callables ``store(provider, label, settings) -> ApiKey | None``.
    """
    found = sorted(entry_points(group=CREDENTIAL_STORES_GROUP), key=lambda point: point.name)
    return [point.load() for point in found]
