"""One retry policy for Salesforce calls: tenacity, bounded in attempts and total delay.

Only transient faults are retried (:class:`RetryableError` except a session expiry, which the
client handles with one re-authentication). Each backoff is logged as ``salesforce_call_retried``.
Tests pass ``wait=wait_none()`` so retries cost no time.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    stop_after_delay,
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


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long a transient Salesforce fault is retried."""

    attempts: int = DEFAULT_ATTEMPTS
    max_delay_seconds: float = DEFAULT_MAX_DELAY_SECONDS
    wait: wait_base = field(default_factory=_default_wait)

    def retrying(
        self, *, idempotent: bool = True, only: type[BaseException] | None = None
    ) -> Retrying:
        """A fresh tenacity controller; the last error is re-raised when retries run out.

        ``only`` narrows retries to one error type (the resend of locked rows, whose calls
        already retry their own transport faults)."""

        def predicate(error: BaseException) -> bool:
            if only is not None:
                return isinstance(error, only)
            return is_transient(error, idempotent=idempotent)

        return Retrying(
            stop=stop_after_attempt(self.attempts) | stop_after_delay(self.max_delay_seconds),
            wait=self.wait,
            retry=retry_if_exception(predicate),
            before_sleep=_log_backoff,
            reraise=True,
        )
