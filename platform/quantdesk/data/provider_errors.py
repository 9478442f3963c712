"""Turning a provider's failure into a quantdesk message: one helper per job, for every adapter.

- :func:`provider_message` puts a provider's error text on one short line.
- :func:`without_secrets` takes an API key's id and secret out of a text.
- :func:`retry_after_seconds` reads how long a rate-limited provider asks to wait.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping

from quantdesk.data.credentials import ApiKey

MESSAGE_LENGTH = 240
"""The longest provider text a message quotes, in characters."""
REDACTED = "<redacted>"


def provider_message(text: object, *, limit: int = MESSAGE_LENGTH) -> str:
    """A provider's error text on one line, cut to ``limit`` characters.

    Parameters
    ----------
    text
        The provider's text, or an exception; a JSON object body with a
        string ``message`` (Alpaca's error layout) stands for that message.
    limit
        The longest line returned; a cut line ends with ``…``.

    Returns
    -------
    str
        The text with its whitespace runs, newlines included, made single spaces.
    """
    body = str(text)
    try:
        parsed = json.loads(body)
    except ValueError:
        parsed = None
    if isinstance(parsed, dict) and isinstance(parsed.get("message"), str):
        body = parsed["message"]
    line = " ".join(body.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def without_secrets(text: str, key: ApiKey | None) -> str:
    """``text`` with ``key``'s secret and key id replaced by ``<redacted>``.

    Parameters
    ----------
    text
        A message that may quote a request (its URL, headers or signature).
    key
        The key the request was sent with; None leaves the text as it is.

    Returns
    -------
    str
        The text, safe to log or raise.
    """
    if key is not None:
        for secret in (key.secret, key.key_id):
            if secret:
                text = text.replace(secret, REDACTED)
    return text


def retry_after_seconds(headers: Mapping[str, str] | None) -> float | None:
    """Seconds to wait from ``Retry-After``, else from ``X-RateLimit-Reset`` (epoch seconds).

    Parameters
    ----------
    headers
        The rate-limited answer's headers; None when there are none.

    Returns
    -------
    float or None
        Zero or more seconds, or None when neither header holds a number.
    """
    if not headers:
        return None
    for header, relative in (("Retry-After", True), ("X-RateLimit-Reset", False)):
        value = headers.get(header)
        if value is None:
            continue
        try:
            seconds = float(value)
        except ValueError:
            continue
        return max(0.0, seconds if relative else seconds - time.time())
    return None
