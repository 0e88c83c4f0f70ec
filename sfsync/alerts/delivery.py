"""Sending alerts: route, de-duplicate, retry with backoff, record every attempt.

For each alert the router picks recipients; each (alert, recipient) — or, for the daily digest,
each (recipient, date) — is one *delivery* with a key in the ``alert_deliveries`` table:

1. **claim** the key and commit *before* sending. A key already ``sent`` (or being sent by
   another worker) is skipped, so the same Case and threshold never alerts the same recipient
   twice, and a day's digest goes out once;
2. **send** through the channel's notifier, retrying :class:`~sfsync.errors.RetryableError`
   with bounded exponential backoff (honouring ``Retry-After``); each try is counted in the
   store and each backoff logged;
3. **record** ``sent``, or ``failed`` with the error. A failure never stops the other
   deliveries, and a failed key is claimed again by a later run.

Routing problems (owner left, unknown manager, nobody to send to) are logged and recorded as
well, so ``sfsync status`` (:func:`sfsync.store.alerts.delivery_problems`) shows them. When a
later dispatch routes the same Case and threshold without a problem and delivers it, those
problems are closed (``alert_routing_problem_closed``), so old noise does not pile up.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from sqlalchemy.orm import Session
from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt
from tenacity.wait import wait_exponential

from sfsync.alerts.base import Notifier, RateLimitedError
from sfsync.alerts.model import AlertMessage, AlertMode, Channel, StaleCaseAlert
from sfsync.alerts.routing import AlertRouter, Recipient, RoutingProblem
from sfsync.clock import Clock
from sfsync.errors import PermanentError, RetryableError
from sfsync.logs import get_logger
from sfsync.store.alerts import (
    DeliveryValues,
    claim_delivery,
    close_routing_problems,
    delivery_key,
    mark_delivery_failed,
    mark_delivery_sent,
    record_attempt,
    record_routing_problem,
)

_log = get_logger(__name__)

DEFAULT_MAX_ATTEMPTS = 4
#: A ``pending`` delivery untouched this long lost its sender (crash) and may be claimed again.
DEFAULT_STALE_AFTER = timedelta(minutes=15)


class DeliveryResult(StrEnum):
    """What happened to one delivery in this call."""

    SENT = "sent"
    FAILED = "failed"
    DUPLICATE = "duplicate"


@dataclass(frozen=True)
class DeliveryOutcome:
    """One delivery's result, for the caller's counts and tests."""

    channel: Channel
    recipient: str
    mode: AlertMode
    case_numbers: tuple[str, ...]
    status: DeliveryResult
    attempts: int = 0
    error: str | None = None


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded retries: ``max_attempts`` tries, exponential waits capped at ``max_wait``.

    ``sleep`` is injectable so tests wait zero seconds and can see the waits asked for.
    """

    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    base_wait: float = 2.0
    max_wait: float = 120.0
    sleep: Callable[[float], None] = time.sleep

    def wait_for(self, state: RetryCallState) -> float:
        """Exponential backoff, or the server's ``Retry-After`` when longer (both capped)."""
        backoff = wait_exponential(multiplier=self.base_wait, max=self.max_wait)(state)
        error = state.outcome.exception() if state.outcome is not None else None
        if isinstance(error, RateLimitedError) and error.retry_after is not None:
            return min(max(backoff, error.retry_after), self.max_wait)
        return backoff


@dataclass
class _Delivery:
    """One delivery in flight: what, to whom, and how many tries so far."""

    values: DeliveryValues
    recipient: Recipient
    message: AlertMessage
    tries: int = 0

    @property
    def cases(self) -> tuple[str, ...]:
        return tuple(alert.case_number for alert in self.message.alerts)

    @property
    def context(self) -> dict[str, object]:
        """Log context: channel, recipient, mode and the Case numbers."""
        return {
            "channel": self.values.channel,
            "recipient": self.values.recipient,
            "mode": self.values.mode,
            "cases": list(self.cases),
        }

    def outcome(self, status: DeliveryResult, error: str | None = None) -> DeliveryOutcome:
        return DeliveryOutcome(
            self.recipient.channel,
            str(self.recipient),
            self.message.mode,
            self.cases,
            status,
            attempts=self.tries,
            error=error,
        )


def _describe(error: BaseException | None) -> str:
    """``RetryableError: Slack webhook answered HTTP 503``: the error as recorded and logged."""
    return f"{type(error).__name__}: {error}" if error is not None else "unknown error"


class AlertDispatcher:
    """Routes alerts and delivers them on every configured channel, exactly once per key."""

    def __init__(
        self,
        *,
        notifiers: Iterable[Notifier],
        router: AlertRouter,
        sessions: Callable[[], Session],
        clock: Clock,
        retry: RetryPolicy | None = None,
        stale_after: timedelta = DEFAULT_STALE_AFTER,
    ) -> None:
        self._notifiers = {notifier.channel: notifier for notifier in notifiers}
        self._router = router
        self._sessions = sessions
        self._clock = clock
        self._retry = retry or RetryPolicy()
        self._stale_after = stale_after

    def send_immediate(self, alerts: Sequence[StaleCaseAlert]) -> list[DeliveryOutcome]:
        """One message per alert and recipient; a key already sent is not sent again."""
        outcomes = []
        for alert in alerts:
            route = self._router.route(alert)
            if route.problem is not None:
                self._record_problem(route.problem)
            message = AlertMessage(AlertMode.IMMEDIATE, (alert,))
            delivered = False
            for recipient in route.recipients:
                values = DeliveryValues(
                    key=delivery_key(
                        AlertMode.IMMEDIATE,
                        alert.case_id,
                        alert.threshold,
                        recipient.channel,
                        recipient.address,
                    ),
                    channel=recipient.channel.value,
                    recipient=str(recipient),
                    mode=AlertMode.IMMEDIATE.value,
                    case_id=alert.case_id,
                    case_number=alert.case_number,
                    threshold=alert.threshold,
                )
                outcome = self._deliver(values, recipient, message)
                delivered = delivered or outcome.status is DeliveryResult.SENT
                outcomes.append(outcome)
            if route.problem is None and delivered:
                self._close_problems(alert)
        _log_summary(AlertMode.IMMEDIATE, outcomes)
        return outcomes

    def send_digest(self, alerts: Sequence[StaleCaseAlert], on: date) -> list[DeliveryOutcome]:
        """One digest per recipient listing that recipient's stale Cases; once per day."""
        by_recipient: dict[Recipient, list[StaleCaseAlert]] = {}
        for alert in alerts:
            route = self._router.route(alert)
            if route.problem is not None:
                self._record_problem(route.problem)
            for recipient in route.recipients:
                by_recipient.setdefault(recipient, []).append(alert)
        outcomes = []
        for recipient, listed in by_recipient.items():
            values = DeliveryValues(
                key=delivery_key(
                    AlertMode.DIGEST, recipient.channel, recipient.address, on.isoformat()
                ),
                channel=recipient.channel.value,
                recipient=str(recipient),
                mode=AlertMode.DIGEST.value,
                digest_date=on,
            )
            message = AlertMessage(AlertMode.DIGEST, tuple(listed), digest_date=on)
            outcomes.append(self._deliver(values, recipient, message))
        _log_summary(AlertMode.DIGEST, outcomes)
        return outcomes

    # --- one delivery -------------------------------------------------------------------------

    def _deliver(
        self, values: DeliveryValues, recipient: Recipient, message: AlertMessage
    ) -> DeliveryOutcome:
        job = _Delivery(values, recipient, message)
        with self._sessions() as session:
            claimed = claim_delivery(
                session, values, now=self._clock.now(), stale_after=self._stale_after
            )
            session.commit()
        if not claimed:
            _log.info("alert_delivery_skipped_duplicate", **job.context)
            return job.outcome(DeliveryResult.DUPLICATE)
        notifier = self._notifiers.get(recipient.channel)
        if notifier is None:
            return self._fail(
                job,
                PermanentError(
                    f"channel {recipient.channel} is not configured (set "
                    f"alerts.{recipient.channel} in sfsync.yaml or its webhook variable)",
                    code="CHANNEL_NOT_CONFIGURED",
                ),
            )
        try:
            self._send_with_retry(notifier, job)
        except (RetryableError, PermanentError) as error:
            return self._fail(job, error)
        except Exception as error:  # noqa: BLE001 - a notifier bug must not drop the other alerts
            _log.exception("alert_notifier_crashed", **job.context)
            return self._fail(job, error)
        with self._sessions() as session:
            mark_delivery_sent(session, values.key, at=self._clock.now())
            session.commit()
        _log.info("alert_delivered", attempts=job.tries, **job.context)
        return job.outcome(DeliveryResult.SENT)

    def _fail(self, job: _Delivery, error: Exception) -> DeliveryOutcome:
        """Record the delivery as failed with ``error``, log it, and go on with the others."""
        text = _describe(error)
        with self._sessions() as session:
            mark_delivery_failed(session, job.values.key, error=text, at=self._clock.now())
            session.commit()
        _log.error("alert_delivery_failed", attempts=job.tries, error=text, **job.context)
        return job.outcome(DeliveryResult.FAILED, error=text)

    def _send_with_retry(self, notifier: Notifier, job: _Delivery) -> None:
        """Send, retrying retryable errors; every try is counted on ``job`` and in the store."""

        def log_backoff(state: RetryCallState) -> None:
            error = state.outcome.exception() if state.outcome is not None else None
            wait = state.next_action.sleep if state.next_action is not None else 0.0
            _log.warning(
                "alert_delivery_retrying",
                attempt=state.attempt_number,
                wait_seconds=wait,
                error=_describe(error),
                **job.context,
            )

        retrying = Retrying(
            stop=stop_after_attempt(self._retry.max_attempts),
            wait=self._retry.wait_for,
            retry=retry_if_exception_type(RetryableError),
            sleep=self._retry.sleep,
            before_sleep=log_backoff,
            reraise=True,
        )
        for attempt in retrying:
            with attempt:
                job.tries += 1
                try:
                    notifier.send(job.recipient.address, job.message)
                except Exception as error:
                    self._record_try(job.values.key, _describe(error))
                    raise
                self._record_try(job.values.key, None)

    def _record_try(self, key: str, error: str | None) -> None:
        with self._sessions() as session:
            record_attempt(session, key, at=self._clock.now(), error=error)
            session.commit()

    # --- routing problems ---------------------------------------------------------------------

    def _close_problems(self, alert: StaleCaseAlert) -> None:
        """Routed cleanly and delivered: earlier routing problems of this alert are over."""
        with self._sessions() as session:
            closed = close_routing_problems(
                session, alert.case_id, alert.threshold, at=self._clock.now()
            )
            session.commit()
        if closed:
            _log.info(
                "alert_routing_problem_closed",
                case=alert.case_number,
                threshold=alert.threshold,
                closed=closed,
            )

    def _record_problem(self, problem: RoutingProblem) -> None:
        alert = problem.alert
        _log.warning(
            "alert_routing_problem",
            problem=problem.kind.value,
            case=alert.case_number,
            owner_id=alert.owner_id,
            detail=problem.message,
        )
        values = DeliveryValues(
            key=delivery_key(
                Channel.ROUTING, alert.case_id, alert.threshold, problem.kind, alert.owner_id
            ),
            channel=Channel.ROUTING.value,
            recipient=alert.owner_username or alert.owner_id,
            mode=problem.kind.value,
            case_id=alert.case_id,
            case_number=alert.case_number,
            threshold=alert.threshold,
        )
        with self._sessions() as session:
            record_routing_problem(session, values, message=problem.message, at=self._clock.now())
            session.commit()


def _log_summary(mode: AlertMode, outcomes: Sequence[DeliveryOutcome]) -> None:
    """One canonical line per dispatch with counts by result."""
    counts = {status.value: 0 for status in DeliveryResult}
    for outcome in outcomes:
        counts[outcome.status.value] += 1
    _log.info("alerts_dispatched", mode=mode.value, **counts)
