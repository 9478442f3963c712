"""The local person's database user, for a single-machine ``quantdesk up``.

On a shared hub an admin creates each user with ``quantdesk users add`` and
hands out the URL. Locally, ``quantdesk up`` does that for whoever runs it:
it creates a role named after the OS account and keeps the URL in
``settings.local_credentials_file`` (mode 0600), which
:func:`quantdesk.store.connection.user_url` reads when
``QUANTDESK_DATABASE_URL`` is not set.
"""

from __future__ import annotations

import getpass
import re
from dataclasses import dataclass

from sqlalchemy import URL, text
from sqlalchemy.exc import DBAPIError

from quantdesk.config import Settings
from quantdesk.errors import ConfigurationError, InvalidInputError
from quantdesk.store.connection import (
    admin_url,
    parse_database_url,
    single_use_connection,
)
from quantdesk.store.private_file import write_private_text
from quantdesk.store.session_limits import SessionLimits
from quantdesk.store.users import (
    UserCredentials,
    add_user,
    list_users,
    rotate_password,
    validate_user_name,
)

FALLBACK_NAME = "local_user"


@dataclass(frozen=True)
class LocalUser:
    """The local database user ``quantdesk up`` ensured.

    Attributes
    ----------
    name
        The role's name.
    created
        True when this call created the role or gave it a new password.
    """

    name: str
    created: bool


def local_user_name(account: str | None = None) -> str:
    """The role name for an OS account: lowercased, other characters turned into ``_``.

    Parameters
    ----------
    account
        The OS account's name; the current one when None.

    Returns
    -------
    str
        A valid user name, or ``local_user`` when the account's name cannot be one.
    """
    raw = (account if account is not None else getpass.getuser()).lower()
    candidate = re.sub(r"[^a-z0-9_]", "_", raw)
    if not candidate[:1].isalpha():
        candidate = f"user_{candidate}"
    try:
        return validate_user_name(candidate)
    except InvalidInputError:
        return FALLBACK_NAME


def ensure_local_user(settings: Settings) -> LocalUser:
    """Make sure the local person has a working database login, creating it if needed.

    Parameters
    ----------
    settings
        The settings in effect. With ``database_url`` set, that URL is used
        as it is and nothing is created.

    Returns
    -------
    LocalUser
        The user's name and whether anything was created.

    Raises
    ------
    ConfigurationError
        If ``database_url`` is set but does not log in.
    """
    if settings.database_url is not None:
        url = parse_database_url(
            settings.database_url.get_secret_value(), origin="QUANTDESK_DATABASE_URL"
        )
        if not _logs_in(url):
            raise ConfigurationError(
                "QUANTDESK_DATABASE_URL does not log in; ask an admin for a new one with "
                "'quantdesk users rotate NAME'"
            )
        return LocalUser(name=str(url.username), created=False)
    credentials_file = settings.local_credentials_file
    if credentials_file.is_file():
        url = parse_database_url(credentials_file.read_text(), origin=str(credentials_file))
        if _logs_in(url):
            return LocalUser(name=str(url.username), created=False)
    manager = admin_url(settings)
    name = local_user_name()
    existing = {user.name for user in list_users(manager)}
    limits = SessionLimits.from_settings(settings)
    credentials = (
        rotate_password(manager, name, session_limits=limits)
        if name in existing
        else add_user(
            manager,
            name,
            admin=True,
            connection_limit=settings.user_connection_limit,
            session_limits=limits,
        )
    )
    _write_credentials(settings, credentials)
    return LocalUser(name=name, created=True)


def _logs_in(url: URL) -> bool:
    try:
        with single_use_connection(url) as connection:
            same = connection.execute(text("SELECT current_user = :name"), {"name": url.username})
            return bool(same.scalar())
    except DBAPIError:
        return False


def _write_credentials(settings: Settings, credentials: UserCredentials) -> None:
    path = settings.local_credentials_file
    path.parent.mkdir(parents=True, exist_ok=True)
    write_private_text(path, credentials.revealed_url() + "\n")
