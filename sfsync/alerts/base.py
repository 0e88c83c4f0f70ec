"""The notifier port: every alert channel (e-mail, Slack, Teams) implements :class:`Notifier`.

Adapters translate their failures into the project's error tree, by remedy:

* :class:`~sfsync.errors.RetryableError` — the same send may work in a moment: timeouts,
  connection refused or reset, HTTP 5xx, SMTP 4xx replies; :class:`RateLimitedError` (HTTP 429)
  also says how long the server asked us to wait (``Retry-After``);
* :class:`~sfsync.errors.PermanentError` — retrying cannot help: HTTP 4xx other than 429, SMTP
  authentication failure, a refused recipient, a certificate that does not verify.

Error messages never carry a webhook URL or a password: both are secrets.
"""

from __future__ import annotations

from typing import Protocol

from sfsync.alerts.model import AlertMessage, Channel
from sfsync.errors import RetryableError
from sfsync.logs import get_logger

_log = get_logger(__name__)


class RateLimitedError(RetryableError):
    """The channel said "too many requests"; ``retry_after`` is its wait in seconds, if given."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message, retry_after)
        self.message = message
        self.retry_after = retry_after

    def __str__(self) -> str:
        return self.message


class Notifier(Protocol):
    """Sends one rendered alert message to one recipient of its channel.

    ``recipient`` is an e-mail address for e-mail, and the channel label from the routing
    configuration for webhooks (a webhook posts where it was created for). Raises
    RetryableError or PermanentError; returns normally only when the channel accepted it.
    """

    @property
    def channel(self) -> Channel: ...

    def send(self, recipient: str, message: AlertMessage) -> None: ...


class NullNotifier:
    """A notifier for a channel that is switched off: logs what it would have sent, sends nothing.

    Chosen at start-up (like warehouse's null e-mail sender) for demos and dry runs, so the rest
    of the code never asks whether a channel exists.
    """

    def __init__(self, channel: Channel) -> None:
        self._channel = channel

    @property
    def channel(self) -> Channel:
        return self._channel

    def send(self, recipient: str, message: AlertMessage) -> None:
        """Log the message instead of sending it."""
        _log.info(
            "alert_send_skipped_null_notifier",
            channel=self._channel.value,
            recipient=recipient,
            mode=message.mode.value,
            cases=[alert.case_number for alert in message.alerts],
        )
