"""Row ids as users type them: a UUID, or its text with stray spaces."""

from __future__ import annotations

import uuid

from quantdesk.errors import InvalidInputError


def checked_id(value: object, *, what: str, listing: str) -> uuid.UUID:
    """``value`` as a UUID, or a one-line error naming the command that lists the ids.

    Parameters
    ----------
    value
        A UUID or its text.
    what
        What the id names, e.g. ``"run"``.
    listing
        The command that shows the user's ids, e.g. ``"quantdesk runs list"``.

    Returns
    -------
    uuid.UUID
        The id.

    Raises
    ------
    InvalidInputError
        When ``value`` is no UUID.
    """
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value).strip())
    except ValueError:
        raise InvalidInputError(
            f"{value!r} is not a {what} id; '{listing}' shows the ids of your {what}s"
        ) from None
