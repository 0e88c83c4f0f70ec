"""Posting JSON to an incoming webhook (Slack, Teams) with timeouts and error translation.

The webhook URL is the credential, so it is registered with the log redactor and never put in
an error message: errors name the channel and the HTTP status, not the URL.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, ClassVar

import requests
from pydantic import SecretStr

from sfsync.alerts.base import RateLimitedError
from sfsync.alerts.model import AlertMessage, Channel
from sfsync.errors import PermanentError, RetryableError
from sfsync.logs import register_secret

#: How much of an error body is kept: enough for Slack's ``invalid_blocks``, never a page.
_BODY_EXCERPT = 200
_USER_AGENT = "sfsync-alerts/1"


class WebhookPoster:
    """POSTs JSON to one webhook URL, verifying TLS (``ca_bundle`` adds a trusted CA).

    Alerts are few, so each post uses its own short-lived session: no pooled connection
    outlives the call.
    """

    def __init__(
        self,
        name: str,
        url: SecretStr,
        *,
        connect_timeout: float,
        read_timeout: float,
        ca_bundle: Path | None = None,
    ) -> None:
        register_secret(url)
        self._name = name
        self._url = url
        self._timeout = (connect_timeout, read_timeout)
        self._verify: bool | str = str(ca_bundle) if ca_bundle is not None else True

    def post(self, payload: dict[str, Any]) -> None:
        """Deliver ``payload``; raise RetryableError/PermanentError when it was not accepted."""
        try:
            response = requests.post(
                self._url.get_secret_value(),
                json=payload,
                timeout=self._timeout,
                verify=self._verify,
                headers={"User-Agent": _USER_AGENT},
            )
        except requests.exceptions.SSLError as error:
            raise PermanentError(
                f"{self._name} webhook TLS certificate did not verify", code="TLS_VERIFY_FAILED"
            ) from error
        except requests.exceptions.Timeout as error:
            raise RetryableError(f"{self._name} webhook timed out") from error
        except requests.exceptions.ConnectionError as error:
            raise RetryableError(f"{self._name} webhook unreachable (connection failed)") from error
        except requests.exceptions.RequestException as error:  # invalid URL, bad redirect, ...
            raise PermanentError(
                f"{self._name} webhook request could not be made ({type(error).__name__})",
                code="BAD_REQUEST",
            ) from error
        _raise_for_status(self._name, response)


class WebhookNotifier(ABC):
    """A notifier posting each message as one JSON payload to one incoming webhook.

    Slack and Teams differ only in their channel and in how a message becomes a payload, so a
    subclass names ``CHANNEL`` and implements :meth:`build_payload`; the timeouts, the secret
    URL and the error translation live here once.
    """

    CHANNEL: ClassVar[Channel]

    def __init__(
        self,
        webhook_url: SecretStr,
        *,
        connect_timeout: float = 5.0,
        read_timeout: float = 10.0,
        ca_bundle: Path | None = None,
    ) -> None:
        self._poster = WebhookPoster(
            self.CHANNEL.value.capitalize(),
            webhook_url,
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            ca_bundle=ca_bundle,
        )

    @property
    def channel(self) -> Channel:
        return self.CHANNEL

    @abstractmethod
    def build_payload(self, message: AlertMessage) -> dict[str, Any]:
        """The webhook body for ``message`` (the channel's own format)."""

    def send(self, recipient: str, message: AlertMessage) -> None:  # noqa: ARG002 - the webhook fixes where it posts
        """Post ``message``; the recipient label is only for the delivery record."""
        self._poster.post(self.build_payload(message))


def _raise_for_status(name: str, response: requests.Response) -> None:
    """Translate the webhook's answer: 2xx accepted, 429/5xx retryable, other 4xx permanent."""
    status = response.status_code
    if 200 <= status < 300:
        return
    body = response.text.strip()[:_BODY_EXCERPT]
    message = f"{name} webhook answered HTTP {status}" + (f": {body}" if body else "")
    if status == 429:
        raise RateLimitedError(message, parse_retry_after(response.headers.get("Retry-After")))
    if status >= 500:
        raise RetryableError(message)
    raise PermanentError(message, code=f"HTTP_{status}")


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header; None when absent or an HTTP date.

    Slack and Teams send delta-seconds. Turning an HTTP date into a wait would need the wall
    clock, so a date counts as unknown and the ordinary backoff applies.
    """
    if value is None or not value.strip().isdigit():
        return None
    return float(value.strip())
