"""E-mail alerts through a real SMTP server (aiosmtpd) with STARTTLS and AUTH on 127.0.0.1."""

from __future__ import annotations

import re
from email.message import EmailMessage

import pytest
from pydantic import SecretStr

from sfsync.alerts.email import EmailNotifier
from sfsync.alerts.model import AlertMessage, AlertMode
from sfsync.clock import FixedClock
from sfsync.errors import PermanentError, RetryableError
from sfsync.sandbox.certs import OrgCertificates
from tests.alerts.conftest import SENDER, SMTP_PASSWORD, SMTP_USER, SmtpCapture, make_alert
from tests.fixtures.services import free_port

MANAGER = "jane.boss@example.com"


def _notifier(
    smtp: SmtpCapture,
    certs: OrgCertificates,
    clock: FixedClock,
    *,
    password: str = SMTP_PASSWORD,
    trust_test_ca: bool = True,
    port: int | None = None,
) -> EmailNotifier:
    return EmailNotifier(
        host=smtp.host,
        port=port or smtp.port,
        sender=SENDER,
        clock=clock,
        timeout=5.0,
        username=SMTP_USER,
        password=SecretStr(password),
        ca_bundle=certs.ca_cert if trust_test_ca else None,
    )


def _parts(message: EmailMessage) -> tuple[str, str]:
    plain = message.get_body(preferencelist=("plain",))
    rich = message.get_body(preferencelist=("html",))
    assert plain is not None
    assert rich is not None
    return plain.get_content(), rich.get_content()


def test_immediate_alert_arrives_over_tls_after_login_with_both_parts(
    smtp_server: SmtpCapture, certs: OrgCertificates, clock: FixedClock
) -> None:
    alert = make_alert(1, account_name="Acme Corp", reason="promise broken")

    _notifier(smtp_server, certs, clock).send(MANAGER, AlertMessage(AlertMode.IMMEDIATE, (alert,)))

    [mail] = smtp_server.messages
    assert mail.tls
    assert mail.login == SMTP_USER
    assert mail.envelope_from == SENDER
    assert mail.envelope_to == [MANAGER]
    message = mail.message
    assert message["Subject"] == "Stale collections case 00001001: Acme Corp, 15 days"
    assert message["From"] == SENDER
    assert message["To"] == MANAGER
    assert message.get_content_type() == "multipart/alternative"
    plain, rich = _parts(message)
    row = next(line for line in plain.splitlines() if line.startswith("00001001"))
    cells = [cell.strip() for cell in row.split("|")]
    assert cells == [
        "00001001",
        "Acme Corp",
        "USD 12,340.50",
        "15 days",
        "Rita Rep",
        "promise broken",
        alert.case_url,
    ]
    assert f'<a href="{alert.case_url}">Open Case 00001001</a>' in rich
    assert "<td>USD 12,340.50</td>" in rich


def test_digest_lists_every_case_and_escapes_html(
    smtp_server: SmtpCapture, certs: OrgCertificates, clock: FixedClock
) -> None:
    alerts = (
        make_alert(1),
        make_alert(2, account_name="<script>alert('x')</script> & Sons"),
        make_alert(3, age_days=11, age_mode="business"),
    )
    message = AlertMessage(AlertMode.DIGEST, alerts, digest_date=clock.now().date())

    _notifier(smtp_server, certs, clock).send(MANAGER, message)

    [mail] = smtp_server.messages
    assert mail.message["Subject"] == "Collections digest 2026-03-02: 3 stale cases"
    plain, rich = _parts(mail.message)
    rows = re.findall(r"<tr><td>(.*?)</td>", rich)
    assert rows == ["00001001", "00001002", "00001003"]
    assert "<script>" not in rich
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; Sons" in rich
    assert "<script>alert('x')</script> & Sons" in plain  # plain text stays readable
    assert "11 business days" in plain
    for alert in alerts:
        assert alert.case_url in plain
        assert f'href="{alert.case_url}"' in rich


def test_wrong_password_is_a_permanent_error_naming_the_login_not_the_password(
    smtp_server: SmtpCapture, certs: OrgCertificates, clock: FixedClock
) -> None:
    notifier = _notifier(smtp_server, certs, clock, password="wrong-password")

    with pytest.raises(PermanentError) as raised:
        notifier.send(MANAGER, AlertMessage(AlertMode.IMMEDIATE, (make_alert(),)))

    assert raised.value.code == "AUTH_FAILED"
    assert "refused the login for alerts@example.com: 535" in str(raised.value)
    assert "wrong-password" not in str(raised.value)
    assert set(smtp_server.failed_logins) == {SMTP_USER}  # smtplib tries each AUTH mechanism
    assert smtp_server.messages == []


def test_server_certificate_from_an_untrusted_ca_is_refused(
    smtp_server: SmtpCapture, certs: OrgCertificates, clock: FixedClock
) -> None:
    notifier = _notifier(smtp_server, certs, clock, trust_test_ca=False)

    with pytest.raises(PermanentError) as raised:
        notifier.send(MANAGER, AlertMessage(AlertMode.IMMEDIATE, (make_alert(),)))

    assert raised.value.code == "TLS_VERIFY_FAILED"
    assert smtp_server.messages == []


def test_closed_port_is_retryable(
    smtp_server: SmtpCapture, certs: OrgCertificates, clock: FixedClock
) -> None:
    notifier = _notifier(smtp_server, certs, clock, port=free_port())

    with pytest.raises(RetryableError, match=r"unreachable: ConnectionRefusedError"):
        notifier.send(MANAGER, AlertMessage(AlertMode.IMMEDIATE, (make_alert(),)))


def test_line_breaks_in_an_account_name_cannot_inject_headers(
    smtp_server: SmtpCapture, certs: OrgCertificates, clock: FixedClock
) -> None:
    alert = make_alert(account_name="Evil\r\nBcc: victim@example.com")

    _notifier(smtp_server, certs, clock).send(MANAGER, AlertMessage(AlertMode.IMMEDIATE, (alert,)))

    [mail] = smtp_server.messages
    assert mail.envelope_to == [MANAGER]
    assert mail.message["Bcc"] is None
    assert mail.message["Subject"].strip() == (
        "Stale collections case 00001001: Evil Bcc: victim@example.com, 15 days"
    )


def test_server_without_starttls_is_refused_before_login_or_mail(
    plaintext_smtp_server: SmtpCapture, certs: OrgCertificates, clock: FixedClock
) -> None:
    notifier = _notifier(plaintext_smtp_server, certs, clock)

    with pytest.raises(PermanentError) as raised:
        notifier.send(MANAGER, AlertMessage(AlertMode.IMMEDIATE, (make_alert(),)))

    assert raised.value.code == "SMTP_UNSUPPORTED"
    assert "STARTTLS" in str(raised.value)
    assert plaintext_smtp_server.messages == []


def test_unknown_recipient_is_permanent(
    smtp_server: SmtpCapture, certs: OrgCertificates, clock: FixedClock
) -> None:
    smtp_server.unknown_recipients.add("gone@example.com")

    with pytest.raises(PermanentError) as raised:
        _notifier(smtp_server, certs, clock).send(
            "gone@example.com", AlertMessage(AlertMode.IMMEDIATE, (make_alert(),))
        )

    assert raised.value.code == "BAD_RECIPIENT"
    assert "refused recipient gone@example.com" in str(raised.value)


@pytest.mark.parametrize(
    "case",
    [
        ("451 4.3.0 Try again later", RetryableError, None),
        ("554 5.7.1 Message rejected as spam", PermanentError, "SMTP_554"),
    ],
)
def test_data_replies_are_translated_by_their_class(
    smtp_server: SmtpCapture,
    certs: OrgCertificates,
    clock: FixedClock,
    case: tuple[str, type[Exception], str | None],
) -> None:
    reply, error, code = case
    smtp_server.data_reply = reply

    with pytest.raises(error) as raised:
        _notifier(smtp_server, certs, clock).send(
            MANAGER, AlertMessage(AlertMode.IMMEDIATE, (make_alert(),))
        )

    assert f"answered {reply}" in str(raised.value)
    assert getattr(raised.value, "code", None) == code
