"""Build the notifiers the settings switch on, once at start-up.

A channel is on when it is configured (``alerts.smtp.host``, a Slack or Teams webhook URL).
A channel that is off has *no* notifier: a delivery routed to it is recorded as failed with
the setting to fix, instead of pretending to send (which a Null notifier would).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import SecretStr

from sfsync.alerts.base import Notifier
from sfsync.alerts.email import EmailNotifier
from sfsync.alerts.slack import SlackNotifier
from sfsync.alerts.teams import TeamsNotifier
from sfsync.alerts.webhook import WebhookNotifier
from sfsync.clock import Clock
from sfsync.settings import AlertsSettings

#: Seconds to wait for a TCP/TLS connection; the read timeout is ``alerts.timeout_seconds``.
CONNECT_TIMEOUT = 5.0


def build_notifiers(
    settings: AlertsSettings, clock: Clock, *, ca_bundle: Path | None = None
) -> list[Notifier]:
    """One notifier per configured channel; ``ca_bundle`` adds a trusted CA (private relays).

    ``alerts.smtp.ca_bundle``, when set, is the CA the SMTP relay's certificate is checked with.
    """
    notifiers: list[Notifier] = []
    smtp = settings.smtp
    if smtp.host is not None and smtp.from_address is not None:
        notifiers.append(
            EmailNotifier(
                host=smtp.host,
                port=smtp.port,
                sender=smtp.from_address,
                clock=clock,
                timeout=settings.timeout_seconds,
                starttls=smtp.starttls,
                username=smtp.username,
                password=smtp.password,
                ca_bundle=smtp.ca_bundle if smtp.ca_bundle is not None else ca_bundle,
            )
        )
    connect = min(CONNECT_TIMEOUT, settings.timeout_seconds)
    webhooks: tuple[tuple[SecretStr | None, type[WebhookNotifier]], ...] = (
        (settings.slack.webhook_url, SlackNotifier),
        (settings.teams.webhook_url, TeamsNotifier),
    )
    for url, notifier in webhooks:
        if url is not None:
            notifiers.append(
                notifier(
                    url,
                    connect_timeout=connect,
                    read_timeout=settings.timeout_seconds,
                    ca_bundle=ca_bundle,
                )
            )
    return notifiers
