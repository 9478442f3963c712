"""Database users: add, rotate, remove and list them, as the manager role.

Each person logs in as their own role and sees only their rows. These are the
workflows behind ``quantdesk users``; a new password is returned once and
stored nowhere else.
"""

from __future__ import annotations

from quantdesk.config import Settings
from quantdesk.store import users as store_users
from quantdesk.store.connection import admin_url
from quantdesk.store.local_user import LocalUser, ensure_local_user
from quantdesk.store.session_limits import SessionLimits
from quantdesk.store.users import UserCredentials, UserInfo

__all__ = [
    "LocalUser",
    "UserCredentials",
    "UserInfo",
    "add_user",
    "ensure_local_user",
    "list_users",
    "remove_user",
    "rotate_user_password",
]


def add_user(
    name: str,
    *,
    admin: bool = False,
    connection_limit: int | None = None,
    settings: Settings,
) -> UserCredentials:
    """Create user ``name`` with a new random password.

    Parameters
    ----------
    name
        The user's role name.
    admin
        Let the user read every user's rows (never write).
    connection_limit
        Sessions the user may hold at once; ``user_connection_limit`` when None.
    settings
        quantdesk's settings: the admin URL and the session limits.

    Returns
    -------
    UserCredentials
        The user's database URL, shown only now.
    """
    return store_users.add_user(
        admin_url(settings),
        name,
        admin=admin,
        connection_limit=connection_limit or settings.user_connection_limit,
        session_limits=SessionLimits.from_settings(settings),
    )


def rotate_user_password(name: str, *, settings: Settings) -> UserCredentials:
    """Give user ``name`` a new random password; the old one and its sessions stop working.

    Parameters
    ----------
    name
        The user's role name.
    settings
        quantdesk's settings: the admin URL and the session limits.

    Returns
    -------
    UserCredentials
        The user's new database URL, shown only now.
    """
    return store_users.rotate_password(
        admin_url(settings), name, session_limits=SessionLimits.from_settings(settings)
    )


def remove_user(name: str, *, purge: bool = False, settings: Settings) -> int:
    """Delete user ``name``'s rows and drop their role.

    Parameters
    ----------
    name
        The user's role name.
    purge
        Also delete their runs, jobs, models and API keys; without it a user
        who still has data is kept.
    settings
        quantdesk's settings: the admin URL and the session limits.

    Returns
    -------
    int
        How many rows were deleted.
    """
    return store_users.remove_user(
        admin_url(settings), name, purge=purge, session_limits=SessionLimits.from_settings(settings)
    )


def list_users(settings: Settings) -> list[UserInfo]:
    """The database users, with whether each is an admin and can log in.

    Parameters
    ----------
    settings
        quantdesk's settings: the admin URL.

    Returns
    -------
    list of UserInfo
        One entry a user.
    """
    return store_users.list_users(admin_url(settings))
