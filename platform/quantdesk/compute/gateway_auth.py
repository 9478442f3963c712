"""Per-user passwords for the Dask gateway, kept as scrypt hashes in a private file.

dask-gateway's own ``SimpleAuthenticator`` checks one password shared by every
user and believes whatever user name comes with it, so anyone who knows it can
claim to be anyone and reach their clusters. :class:`PasswordFileAuthenticator`
checks each user's own password instead, against a JSON file (mode 0600,
readable by the gateway only) that maps a user name to the salt and scrypt
hash of their password; :func:`add_gateway_user` writes it. A user name is an
OS account under the gateway's ``LocalBackend``, so an account with uid 0
is never accepted. With JupyterHub (see the README) the gateway asks the hub
instead, and each user's token needs scope ``access:services!service=dask-gateway``.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import hmac
import json
import os
import pwd
import secrets
from pathlib import Path
from typing import Any

from dask_gateway_server.auth import Authenticator, User, unauthorized
from traitlets import Unicode

from quantdesk.errors import ConfigurationError

_SCRYPT_COST = {"n": 2**14, "r": 8, "p": 1}
_USER_NAME_MAXIMUM = 32


def password_hash(password: str, salt: bytes) -> bytes:
    """The scrypt hash of ``password`` with ``salt``.

    Parameters
    ----------
    password
        The password.
    salt
        Random bytes stored beside the hash.

    Returns
    -------
    bytes
        32 bytes.
    """
    return hashlib.scrypt(password.encode(), salt=salt, dklen=32, **_SCRYPT_COST)


def read_password_file(path: Path) -> dict[str, dict[str, str]]:
    """The users in the password file at ``path``: name to hex ``salt`` and ``scrypt``.

    Parameters
    ----------
    path
        The gateway's password file; missing means no users.

    Returns
    -------
    dict
        The entries.
    """
    try:
        entries = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as error:
        raise ConfigurationError(
            f"the gateway's password file {path} is unreadable ({error}); "
            "remove it and add the users again"
        ) from None
    return entries if isinstance(entries, dict) else {}


def add_gateway_user(path: Path, user_name: str) -> str:
    """Give ``user_name`` a new random gateway password, replacing any old one.

    Parameters
    ----------
    path
        The gateway's password file; created mode 0600.
    user_name
        An existing OS account other than root (clusters run under it).

    Returns
    -------
    str
        The new password; only its hash is stored.

    Raises
    ------
    ConfigurationError
        If there is no such account or it has uid 0.
    """
    _check_account(user_name)
    entries = read_password_file(path)
    password = secrets.token_urlsafe(24)
    salt = secrets.token_bytes(16)
    entries[user_name] = {"salt": salt.hex(), "scrypt": password_hash(password, salt).hex()}
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        json.dump(entries, handle)
    temporary.replace(path)
    return password


def _check_account(user_name: str) -> None:
    if not user_name or len(user_name) > _USER_NAME_MAXIMUM:
        raise ConfigurationError(f"{user_name!r} is not a user name; name an OS account")
    try:
        account = pwd.getpwnam(user_name)
    except KeyError:
        raise ConfigurationError(
            f"there is no OS account {user_name!r}; create it first (useradd {user_name})"
        ) from None
    if account.pw_uid == 0:
        raise ConfigurationError(
            f"{user_name!r} has uid 0; the gateway never runs clusters as root"
        )


class PasswordFileAuthenticator(Authenticator):  # type: ignore[misc]
    """HTTP Basic authentication of each user against their own scrypt-hashed password."""

    password_file = Unicode(
        help="The JSON file of user names to password salts and hashes (mode 0600).",
        config=True,
    )

    async def authenticate(self, request: Any) -> Any:
        """The user the request's Basic credentials prove, else HTTP 401.

        Parameters
        ----------
        request
            The aiohttp request.

        Returns
        -------
        dask_gateway_server.auth.User
            The authenticated user.
        """
        kind, _, encoded = request.headers.get("Authorization", "").partition(" ")
        if kind != "Basic":
            raise unauthorized("Basic")
        try:
            user_name, _, password = base64.b64decode(encoded).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            raise unauthorized("Basic") from None
        entry = read_password_file(Path(self.password_file)).get(user_name)
        # An unknown user costs a hash too, so timing does not tell names apart.
        salt = bytes.fromhex(entry["salt"]) if entry else b"\0" * 16
        expected = bytes.fromhex(entry["scrypt"]) if entry else b""
        matches = hmac.compare_digest(password_hash(password, salt), expected)
        if not matches or entry is None:
            raise unauthorized("Basic")
        with contextlib.suppress(ConfigurationError):
            _check_account(user_name)
            return User(user_name)
        raise unauthorized("Basic")
