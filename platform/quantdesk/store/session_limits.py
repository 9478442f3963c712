"""The limits the platform puts on every user's sessions, so one user cannot hold up the rest.

Three of them are stored on each user's role (by ``users add``, ``users
rotate`` and ``users rm``'s reset), so every session of the user starts with
them:

- ``statement_timeout`` (5 minutes): the store's own queries take
  milliseconds to seconds (see the store benchmark), so five minutes leaves
  room for a heavy query of one's own while ending a runaway one.
- ``idle_in_transaction_session_timeout`` (10 minutes): a transaction left
  open in a forgotten notebook cell holds its locks and keeps VACUUM from
  cleaning up; ten minutes is enough to step through cells by hand.
- ``lock_timeout`` (1 minute): a session waiting for a lock gives up instead
  of queueing forever; a queued ``LOCK TABLE`` also makes every later query
  on that table wait behind it, so this bounds how long it can do so.

PostgreSQL lets every role ``SET`` these in its own session (they are
USERSET), so they bound what a user does by accident, not what a hostile
user does on purpose. ``temp_file_limit`` is SUSET, so no user can change it:
the embedded server's configuration and the database's own setting hold it.

Migrations wait for a user's table lock 10 seconds by default
(``migration_lock_timeout_seconds``): short, because while a migration's DDL
waits for a lock, every later query on that table waits behind it.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, fields

from quantdesk.config import (
    DEFAULT_IDLE_IN_TRANSACTION_TIMEOUT_SECONDS,
    DEFAULT_LOCK_TIMEOUT_SECONDS,
    DEFAULT_STATEMENT_TIMEOUT_SECONDS,
    MAXIMUM_TIMEOUT_SECONDS,
    Settings,
)
from quantdesk.errors import InvalidInputError

TEMP_FILE_LIMIT = "1GB"
"""The most temporary-file space one session may use; users cannot raise it (SUSET)."""
ROLE_LIMIT_SETTINGS = ("statement_timeout", "idle_in_transaction_session_timeout", "lock_timeout")
"""The settings :meth:`SessionLimits.role_settings` stores on every user's role."""

_ZERO = re.compile(r"0+(\.0*)?\s*[a-z]*", re.IGNORECASE)


@dataclass(frozen=True, kw_only=True)
class SessionLimits:
    """The timeouts every user's role gets, in seconds.

    Attributes
    ----------
    statement_timeout_seconds
        The longest one statement may run.
    idle_in_transaction_timeout_seconds
        The longest a session may sit idle inside an open transaction.
    lock_timeout_seconds
        The longest a statement may wait for a lock.

    Raises
    ------
    InvalidInputError
        If a value is not a number of seconds between 0.001 and about 24.8 days.
    """

    statement_timeout_seconds: float = DEFAULT_STATEMENT_TIMEOUT_SECONDS
    idle_in_transaction_timeout_seconds: float = DEFAULT_IDLE_IN_TRANSACTION_TIMEOUT_SECONDS
    lock_timeout_seconds: float = DEFAULT_LOCK_TIMEOUT_SECONDS

    def __post_init__(self) -> None:
        for field in fields(self):
            milliseconds(getattr(self, field.name), name=field.name)

    @classmethod
    def from_settings(cls, settings: Settings) -> SessionLimits:
        """The limits the settings ask for.

        Parameters
        ----------
        settings
            The settings in effect (``user_*_timeout_seconds``).

        Returns
        -------
        SessionLimits
            The limits to give users' roles.
        """
        return cls(
            statement_timeout_seconds=settings.user_statement_timeout_seconds,
            idle_in_transaction_timeout_seconds=settings.user_idle_in_transaction_timeout_seconds,
            lock_timeout_seconds=settings.user_lock_timeout_seconds,
        )

    def role_settings(self) -> dict[str, str]:
        """The limits as ``ALTER ROLE ... SET`` values: whole milliseconds.

        Returns
        -------
        dict
            Setting name to its value as SQL text, in :data:`ROLE_LIMIT_SETTINGS` order.
        """
        values = (
            self.statement_timeout_seconds,
            self.idle_in_transaction_timeout_seconds,
            self.lock_timeout_seconds,
        )
        return {
            setting: str(milliseconds(value))
            for setting, value in zip(ROLE_LIMIT_SETTINGS, values, strict=True)
        }


def milliseconds(seconds: float, *, name: str = "timeout") -> int:
    """A timeout in seconds as PostgreSQL's whole milliseconds, checked.

    Parameters
    ----------
    seconds
        The timeout.
    name
        What the value is, named in the error.

    Returns
    -------
    int
        Milliseconds, at least 1.

    Raises
    ------
    InvalidInputError
        If ``seconds`` is not a finite number from 0.001 to :data:`MAXIMUM_TIMEOUT_SECONDS`.
    """
    number = isinstance(seconds, (int, float)) and not isinstance(seconds, bool)
    if not number or not math.isfinite(seconds) or not 0.001 <= seconds <= MAXIMUM_TIMEOUT_SECONDS:
        raise InvalidInputError(
            f"{name} must be a number of seconds from 0.001 to {MAXIMUM_TIMEOUT_SECONDS:g}, "
            f"not {seconds!r}; 0 (no limit) is not allowed"
        )
    return round(seconds * 1000)


def turns_limit_off(value: str) -> bool:
    """Whether a stored timeout value such as ``0`` or ``'0ms'`` means no limit at all.

    Parameters
    ----------
    value
        The text after ``=`` in a stored role setting.

    Returns
    -------
    bool
        True for zero in any unit.
    """
    return _ZERO.fullmatch(value.strip().strip("'\"")) is not None


def is_unlimited_size(value: str) -> bool:
    """Whether a stored size value such as ``temp_file_limit``'s means no limit (-1).

    Parameters
    ----------
    value
        The setting's value as PostgreSQL stores or shows it.

    Returns
    -------
    bool
        True for a negative value, which PostgreSQL reads as unlimited.
    """
    return value.strip().strip("'\"").startswith("-")
