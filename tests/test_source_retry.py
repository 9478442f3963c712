"""Backoff with jitter: bounded retries of passing failures, none of fatal ones."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from quantdesk.data.retry import RetryClock, RetryPolicy, call_with_retries
from quantdesk.errors import FatalSourceError, RateLimitError, RetryableSourceError


class Recorder:
    """A clock that records the waits instead of sleeping, and draws the largest jitter."""

    def __init__(self, draw: float = 0.999) -> None:
        self.waits: list[float] = []
        self.clock = RetryClock(sleep=self.waits.append, draw=lambda: draw)


def failing(failures: list[Exception], result: str = "bars") -> tuple[list[int], Callable[[], str]]:
    calls: list[int] = []

    def operation() -> str:
        calls.append(1)
        if failures:
            raise failures.pop(0)
        return result

    return calls, operation


def test_passing_failures_are_retried_until_success_with_growing_jittered_waits() -> None:
    recorder = Recorder()
    calls, operation = failing([RetryableSourceError("reset")] * 3)
    policy = RetryPolicy(attempts=5, base_delay=1.0, max_delay=3.0)
    assert call_with_retries(operation, describe="x", policy=policy, clock=recorder.clock) == "bars"
    assert len(calls) == 4
    assert recorder.waits == pytest.approx([0.999, 1.998, 2.997])


def test_jitter_draws_anywhere_below_the_cap() -> None:
    policy = RetryPolicy(base_delay=2.0, max_delay=5.0)
    assert policy.delay(0, retry_after=None, draw=lambda: 0.0) == 0.0
    assert policy.delay(1, retry_after=None, draw=lambda: 0.5) == 2.0
    assert policy.delay(10, retry_after=None, draw=lambda: 0.5) == 2.5


def test_a_rate_limit_waits_as_long_as_the_provider_asks_within_the_cap() -> None:
    recorder = Recorder()
    failures: list[Exception] = [
        RateLimitError("429", retry_after=7.0),
        RateLimitError("429", retry_after=99.0),
    ]
    _, operation = failing(failures)
    policy = RetryPolicy(max_delay=30.0)
    call_with_retries(operation, describe="x", policy=policy, clock=recorder.clock)
    assert recorder.waits == [7.0, 30.0]


def test_giving_up_says_how_often_it_tried_and_keeps_the_error_kind() -> None:
    recorder = Recorder()
    calls, operation = failing([RateLimitError("HTTP 429 Too Many Requests")] * 9)
    policy = RetryPolicy(attempts=3, base_delay=0.1)
    with pytest.raises(RateLimitError, match=r"klines: gave up after 3 attempts \(HTTP 429"):
        call_with_retries(operation, describe="klines", policy=policy, clock=recorder.clock)
    assert len(calls) == 3
    assert len(recorder.waits) == 2


def test_a_fatal_failure_is_raised_at_once() -> None:
    recorder = Recorder()
    calls, operation = failing([FatalSourceError("unknown symbol 'BTC/XYZ'")])
    with pytest.raises(FatalSourceError, match="unknown symbol"):
        call_with_retries(operation, describe="x", clock=recorder.clock)
    assert len(calls) == 1
    assert recorder.waits == []


def test_a_policy_rejects_unknown_fields_and_bad_bounds() -> None:
    with pytest.raises(ValueError, match="attemps"):
        RetryPolicy(attemps=3)  # type: ignore[call-arg]
    with pytest.raises(ValueError, match="greater than or equal to 1"):
        RetryPolicy(attempts=0)
