"""Notifiers are built for the channels the settings configure, and only for those."""

from __future__ import annotations

from pydantic import SecretStr
from structlog.testing import capture_logs

from sfsync.alerts.base import NullNotifier
from sfsync.alerts.email import EmailNotifier
from sfsync.alerts.factory import build_notifiers
from sfsync.alerts.model import AlertMessage, AlertMode, Channel
from sfsync.clock import FixedClock
from sfsync.sandbox.certs import OrgCertificates
from sfsync.settings import AlertsSettings, SmtpSettings, WebhookSettings
from tests.alerts.conftest import (
    SENDER,
    SMTP_PASSWORD,
    SMTP_USER,
    SmtpCapture,
    WebhookCapture,
    make_alert,
)


def test_nothing_configured_builds_no_notifier(clock: FixedClock) -> None:
    assert build_notifiers(AlertsSettings(), clock) == []


def test_configured_channels_send_with_the_settings(
    smtp_server: SmtpCapture,
    webhook_server: WebhookCapture,
    certs: OrgCertificates,
    clock: FixedClock,
) -> None:
    settings = AlertsSettings(
        timeout_seconds=5,
        smtp=SmtpSettings(
            host=smtp_server.host,
            port=smtp_server.port,
            username=SMTP_USER,
            password=SecretStr(SMTP_PASSWORD),
            from_address=SENDER,
        ),
        slack=WebhookSettings(webhook_url=webhook_server.url("/slack")),
        teams=WebhookSettings(webhook_url=webhook_server.url("/teams")),
    )
    message = AlertMessage(AlertMode.IMMEDIATE, (make_alert(),))

    notifiers = build_notifiers(settings, clock, ca_bundle=certs.ca_cert)
    for notifier in notifiers:
        notifier.send("boss@example.com", message)

    assert [notifier.channel for notifier in notifiers] == [
        Channel.EMAIL,
        Channel.SLACK,
        Channel.TEAMS,
    ]
    assert isinstance(notifiers[0], EmailNotifier)
    assert [mail.message["From"] for mail in smtp_server.messages] == [SENDER]
    assert [request.path for request in webhook_server.requests] == ["/slack", "/teams"]


def test_null_notifier_logs_instead_of_sending() -> None:
    notifier = NullNotifier(Channel.SLACK)

    with capture_logs() as logs:
        notifier.send("collections", AlertMessage(AlertMode.DIGEST, (make_alert(1), make_alert(2))))

    assert notifier.channel is Channel.SLACK
    assert logs == [
        {
            "event": "alert_send_skipped_null_notifier",
            "log_level": "info",
            "channel": "slack",
            "recipient": "collections",
            "mode": "digest",
            "cases": ["00001001", "00001002"],
        }
    ]
