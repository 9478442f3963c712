"""The exceptions and warnings quantdesk raises.

Every error carries a one-line message that names the problem and, where
possible, the fix. ``InvalidInputError`` marks mistakes in what the caller
passed; the CLI turns it into exit code 2. Source errors are split into
retryable ones (network, rate limit) and fatal ones (bad symbol, bad key).
Store errors never carry a password or a secret.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class QuantdeskError(Exception):
    """Base class of every error quantdesk raises on purpose."""


class InvalidInputError(QuantdeskError, ValueError):
    """The caller passed something that cannot be used as it is."""


class DataValidationError(InvalidInputError):
    """A frame is not a valid OHLCV frame and cannot be repaired."""


class ConfigurationError(InvalidInputError):
    """A setting is unknown or has a value it cannot take."""


class UnknownNameError(InvalidInputError, LookupError):
    """A registry lookup missed; the message lists the close matches or the options."""

    def __init__(self, kind: str, name: str, options: Iterable[str]) -> None:
        self.kind = kind
        self.name = name
        self.options = sorted(options)
        super().__init__(describe_miss(kind, name, self.options))


class SourceError(QuantdeskError):
    """A data source could not deliver the requested bars."""


class RetryableSourceError(SourceError):
    """A passing failure (network, rate limit); the same call may succeed later."""


class RateLimitError(RetryableSourceError):
    """The provider asked us to slow down (HTTP 429); ``retry_after`` is its wish in seconds."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class FatalSourceError(SourceError, InvalidInputError):
    """A failure that retrying will not fix (unknown symbol, bad key, unsupported timeframe)."""


class CacheError(QuantdeskError):
    """The on-disk cache could not be read or written."""


class StoreError(QuantdeskError):
    """The database refused or failed an operation on stored runs, keys or users."""


class DatabaseUnavailableError(StoreError):
    """The database could not be reached or went away; the same call may succeed later."""


class PermissionDeniedError(StoreError, PermissionError):
    """The database role may not do or see what was asked (e.g. a non-admin on an admin page)."""


class ApiKeyNotFoundError(StoreError, InvalidInputError, LookupError):
    """No API key matches; the same error whether it is missing or someone else's."""


class RunNotFoundError(StoreError, InvalidInputError, LookupError):
    """No saved run matches; the same error whether it is missing or someone else's."""


class JobNotFoundError(StoreError, InvalidInputError, LookupError):
    """No job with that id among the current user's (another user's job looks the same)."""


class ModelNotFoundError(StoreError, InvalidInputError, LookupError):
    """No model with that id among the current user's (another user's model looks the same)."""


class SavedDataMissingError(StoreError, LookupError):
    """A saved run lacks what was asked of it: it was saved before quantdesk kept that."""


class UnknownUserError(StoreError, InvalidInputError, LookupError):
    """No database user has that name."""


class ComputeError(QuantdeskError):
    """The Dask cluster could not be started, reached or stopped."""


class SchedulerUnavailableError(ComputeError):
    """The Dask scheduler could not be reached; the same call may succeed later."""


class HubError(QuantdeskError):
    """The hub cannot start, stop or serve a person as asked; the message names the fix."""


class QuantdeskWarning(UserWarning):
    """Base class of the warnings quantdesk emits."""


class DataRepairWarning(QuantdeskWarning):
    """A frame was repaired on the way in (sorted, de-duplicated, converted)."""


class NoTradesWarning(QuantdeskWarning):
    """A backtest's strategy signalled entries but none was filled: one lot costs too much."""


def describe_miss(kind: str, name: str, options: Iterable[str]) -> str:
    """Build the message for a name that is not among ``options``.

    Parameters
    ----------
    kind
        What was looked up, for example ``"source"``.
    name
        The name that missed.
    options
        Every valid name.

    Returns
    -------
    str
        One line naming the close matches, or all options when none is close.
    """
    choices = sorted(options)
    close = difflib.get_close_matches(name, choices, n=3, cutoff=0.6)
    if close:
        suggestion = " or ".join(repr(match) for match in close)
        return f"unknown {kind} {name!r}; did you mean {suggestion}?"
    listed = ", ".join(choices) if choices else "none are registered"
    return f"unknown {kind} {name!r}; choose one of: {listed}"
