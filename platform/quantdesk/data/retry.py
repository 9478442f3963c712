"""Retrying a source's passing failures: exponential backoff with full jitter, bounded.

Adapters turn a provider's answer into :class:`~quantdesk.errors.RetryableSourceError`
(network failures, HTTP 5xx) or :class:`~quantdesk.errors.RateLimitError`
(HTTP 429, carrying ``Retry-After``), and a fatal one for anything retrying
cannot fix; :func:`call_with_retries` retries only the first two.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from pydantic import BaseModel, ConfigDict, Field

from quantdesk.errors import FatalSourceError, RateLimitError, RetryableSourceError

T = TypeVar("T")
logger = logging.getLogger(__name__)


class RetryPolicy(BaseModel):
    """How often and how long to retry a passing failure.

    Attributes
    ----------
    attempts
        Calls in all, the first included.
    base_delay
        Seconds; the n-th retry waits a random time up to ``base_delay * 2**n``.
    max_delay
        Seconds; the most any one wait may last, ``Retry-After`` included.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    attempts: int = Field(default=5, ge=1, le=20)
    base_delay: float = Field(default=0.5, ge=0)
    max_delay: float = Field(default=30.0, ge=0)

    def delay(self, retry: int, *, retry_after: float | None, draw: Callable[[], float]) -> float:
        """The wait before retry number ``retry`` (0 for the first).

        Parameters
        ----------
        retry
            How many retries came before this one.
        retry_after
            The provider's ``Retry-After`` in seconds, if it sent one.
        draw
            A uniform random number in ``[0, 1)``.

        Returns
        -------
        float
            Seconds: the provider's wish if given, else full jitter, capped at ``max_delay``.
        """
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.max_delay)
        return float(draw() * min(self.max_delay, self.base_delay * 2**retry))


@dataclass(frozen=True)
class RetryClock:
    """What :func:`call_with_retries` waits with; tests pass one that records instead."""

    sleep: Callable[[float], None] = time.sleep
    draw: Callable[[], float] = random.random


def call_with_retries(
    operation: Callable[[], T],
    *,
    describe: str,
    policy: RetryPolicy | None = None,
    clock: RetryClock | None = None,
) -> T:
    """Call ``operation``, retrying passing failures with backoff.

    Parameters
    ----------
    operation
        The call; it raises ``RetryableSourceError`` for what may pass.
    describe
        What the call does, for the log and the final error (never a secret).
    policy
        The retry policy; :class:`RetryPolicy` defaults when None.
    clock
        How to wait and draw jitter; real time when None.

    Returns
    -------
    T
        What ``operation`` returned.

    Raises
    ------
    RetryableSourceError
        When every attempt failed; the message says how many and the last reason.
    FatalSourceError
        At once, for a failure retrying cannot fix.
    """
    policy = policy if policy is not None else RetryPolicy()
    clock = clock if clock is not None else RetryClock()
    for attempt in range(policy.attempts):
        try:
            return operation()
        except FatalSourceError:
            raise
        except RetryableSourceError as error:
            if attempt + 1 == policy.attempts:
                raise type(error)(
                    f"{describe}: gave up after {policy.attempts} attempts ({error}); "
                    "try again later"
                ) from None
            retry_after = error.retry_after if isinstance(error, RateLimitError) else None
            wait = policy.delay(attempt, retry_after=retry_after, draw=clock.draw)
            logger.info("%s: %s; retrying in %.2f s", describe, error, wait)
            clock.sleep(wait)
    raise AssertionError("unreachable: the loop returns or raises")  # pragma: no cover
