"""One retry policy for Salesforce calls: tenacity, bounded in attempts and total delay.

Only transient faults are retried (:class:`RetryableError` except a session expiry, which the
client handles with one re-authentication). Each backoff is logged as ``salesforce_call_retried``.
Tests pass ``wait=wait_none()`` so retries cost no time, or an injected ``sleep`` to see them.

The bounds hold per *public gateway call*, not per retry loop: one call may nest loops (a
re-login inside a call, the resend of locked rows around its requests), and all of them draw on
one :class:`RetryBudget` — at most ``attempts - 1`` retries and ``max_delay_seconds`` of backoff
in all. Nesting therefore never multiplies the ceiling.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    wait_exponential_jitter,
)
from tenacity.wait import wait_base

from sfsync.errors import RetryableError, SessionExpiredError
from sfsync.logs import get_logger
from sfsync.salesforce.errors import OutcomeUnknownError

_log = get_logger(__name__)

DEFAULT_ATTEMPTS = 5
DEFAULT_MAX_DELAY_SECONDS = 60.0


def _default_wait() -> wait_base:
    return wait_exponential_jitter(initial=1, max=20)


def is_transient(error: BaseException, *, idempotent: bool = True) -> bool:
    """True for faults worth another try: transient ones, and for idempotent calls also a sent
    request that got no answer."""
    if isinstance(error, SessionExpiredError):
        return False
    if isinstance(error, OutcomeUnknownError):
        return idempotent
    return isinstance(error, RetryableError)


def _log_backoff(state: RetryCallState) -> None:
    outcome = state.outcome
    error = outcome.exception() if outcome is not None else None
    _log.warning(
        "salesforce_call_retried",
        attempt=state.attempt_number,
        wait_seconds=round(state.upcoming_sleep, 3),
        error=type(error).__name__ if error is not None else None,
        reason=str(error) if error is not None else None,
    )


class RetryBudget:
    """The retries and backoff seconds one public gateway call may still spend.

    Shared by every retry loop the call runs, so the policy's bounds hold for the call as a
    whole: a loop stops when the budget has no retry left or when the next backoff would take
    the call's total waiting past ``max_delay_seconds``."""

    def __init__(self, attempts: int, max_delay_seconds: float) -> None:
        self.retries_left = max(attempts - 1, 0)
        self.delay_left = max_delay_seconds
        self.retries = 0
        self.waited = 0.0

    def exhausted(self, state: RetryCallState) -> bool:
        """tenacity stop: no retry left, or the upcoming backoff would overrun the delay."""
        return self.retries_left <= 0 or state.upcoming_sleep > self.delay_left

    def spend(self, state: RetryCallState) -> None:
        """Charge one retry and its backoff (called just before tenacity sleeps)."""
        self.retries_left -= 1
        self.delay_left -= state.upcoming_sleep
        self.retries += 1
        self.waited += state.upcoming_sleep


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long a transient Salesforce fault is retried."""

    attempts: int = DEFAULT_ATTEMPTS
    max_delay_seconds: float = DEFAULT_MAX_DELAY_SECONDS
    wait: wait_base = field(default_factory=_default_wait)
    sleep: Callable[[float], None] = time.sleep

    def budget(self) -> RetryBudget:
        """A fresh budget for one public gateway call."""
        return RetryBudget(self.attempts, self.max_delay_seconds)

    def retrying(
        self,
        budget: RetryBudget | None = None,
        *,
        idempotent: bool = True,
        only: type[BaseException] | None = None,
    ) -> Retrying:
        """A tenacity controller drawing on ``budget`` (a fresh one when None); the last error
        is re-raised when the budget runs out.

        ``only`` narrows retries to one error type (the resend of locked rows, whose calls
        retry their own transport faults from the same budget)."""
        shared = budget if budget is not None else self.budget()

        def predicate(error: BaseException) -> bool:
            if only is not None:
                return isinstance(error, only)
            return is_transient(error, idempotent=idempotent)

        def before_sleep(state: RetryCallState) -> None:
            shared.spend(state)
            _log_backoff(state)

        return Retrying(
            stop=shared.exhausted,
            wait=self.wait,
            sleep=self.sleep,
            retry=retry_if_exception(predicate),
            before_sleep=before_sleep,
            reraise=True,
        )
