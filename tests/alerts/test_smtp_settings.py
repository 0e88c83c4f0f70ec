"""SMTP settings: no password in clear, and a private relay's CA from the settings."""

from __future__ import annotations

import pytest
from pydantic import SecretStr, ValidationError

from sfsync.alerts.factory import build_notifiers
from sfsync.alerts.model import AlertMessage, AlertMode
from sfsync.clock import FixedClock
from sfsync.sandbox.certs import OrgCertificates
from sfsync.settings import AlertsSettings, SmtpSettings
from tests.alerts.conftest import SENDER, SMTP_PASSWORD, SMTP_USER, SmtpCapture, make_alert


def _smtp(host: str, **changes: object) -> SmtpSettings:
    values: dict[str, object] = {
        "host": host,
        "from_address": SENDER,
        "username": SMTP_USER,
        "password": SecretStr(SMTP_PASSWORD),
        "starttls": False,
        **changes,
    }
    return SmtpSettings.model_validate(values)


@pytest.mark.parametrize(
    "changes",
    [{}, {"allow_plaintext_auth": True}],
    ids=["plain", "allowed-but-remote"],
)
def test_a_login_without_starttls_to_a_remote_relay_is_refused(changes: dict[str, bool]) -> None:
    with pytest.raises(ValidationError) as raised:
        _smtp("smtp.example.com", **changes)

    (error,) = raised.value.errors()
    assert error["loc"] == ("starttls",)
    assert "in clear" in error["msg"]
    assert "starttls: true" in error["ctx"]["fix"]


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1"])
def test_a_loopback_relay_may_take_a_plaintext_login_when_explicitly_allowed(host: str) -> None:
    with pytest.raises(ValidationError):
        _smtp(host)

    assert _smtp(host, allow_plaintext_auth=True).allow_plaintext_auth


def test_starttls_off_without_a_login_is_accepted() -> None:
    settings = _smtp("smtp.example.com", username=None, password=None)

    assert (settings.starttls, settings.username) == (False, None)


def test_the_smtp_ca_bundle_setting_verifies_a_private_relay(
    smtp_server: SmtpCapture, certs: OrgCertificates, clock: FixedClock
) -> None:
    settings = AlertsSettings(
        timeout_seconds=5,
        smtp=SmtpSettings(
            host=smtp_server.host,
            port=smtp_server.port,
            username=SMTP_USER,
            password=SecretStr(SMTP_PASSWORD),
            from_address=SENDER,
            ca_bundle=certs.ca_cert,
        ),
    )

    (notifier,) = build_notifiers(settings, clock)  # no ca_bundle argument: from the settings
    notifier.send("boss@example.com", AlertMessage(AlertMode.IMMEDIATE, (make_alert(),)))

    assert [mail.message["From"] for mail in smtp_server.messages] == [SENDER]
