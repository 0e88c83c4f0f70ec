"""Real servers for the alert tests: an SMTP server (aiosmtpd, STARTTLS + AUTH) and an HTTPS
server that captures webhook posts, both on 127.0.0.1 with certificates from the local org's CA;
and a migrated state store (SQLite, and PostgreSQL for the repository tests).
"""

from __future__ import annotations

import email
import email.policy
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from sqlalchemy.orm import Session as DbSession
from sqlalchemy.orm import sessionmaker

from sfsync.alerts.model import StaleCaseAlert
from sfsync.clock import FixedClock, SystemClock
from sfsync.sandbox.certs import OrgCertificates, ensure_certificates
from sfsync.store.db import upgrade_database
from tests.fixtures.databases import DIALECTS, empty_database, scratch_postgres_database
from tests.fixtures.services import free_port
from tests.fixtures.stores import store_sessions
from tests.fixtures.webhooks import WebhookCapture, serve_webhooks, server_tls_context

T0 = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
SMTP_USER = "alerts@example.com"
SMTP_PASSWORD = "s3cret-smtp-pass"
SENDER = "ar-alerts@example.com"


# --- alerts ------------------------------------------------------------------------------------


def make_alert(number: int = 1, **overrides: Any) -> StaleCaseAlert:
    """A stale Case alert with readable defaults; ``number`` varies ids and names."""
    values: dict[str, Any] = {
        "case_id": f"500000000000{number:03d}AAA",
        "case_number": f"{1000 + number:08d}",
        "case_url": f"https://acme.my.salesforce.com/lightning/r/Case/500000000000{number:03d}AAA/view",
        "account_name": f"Customer {number} Ltd",
        "currency": "USD",
        "past_due_amount": Decimal("12340.50") * number,
        "age_days": 14 + number,
        "age_mode": "calendar",
        "owner_id": "005000000000001AAA",
        "owner_name": "Rita Rep",
        "owner_username": "rita@example.com",
        "reason": "no contact made",
        "threshold": "14d",
    }
    values.update(overrides)
    return StaleCaseAlert(**values)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(T0)


# --- certificates ------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def certs(tmp_path_factory: pytest.TempPathFactory) -> OrgCertificates:
    """A CA and a 127.0.0.1 server certificate (made for the real time: TLS checks it)."""
    return ensure_certificates(tmp_path_factory.mktemp("alert-certs"), SystemClock().now())


# --- SMTP --------------------------------------------------------------------------------------


@dataclass
class ReceivedMail:
    """One message the SMTP server accepted, with how the session got there."""

    envelope_from: str
    envelope_to: list[str]
    message: EmailMessage
    tls: bool
    login: str | None


@dataclass
class SmtpCapture:
    """What the test SMTP server received."""

    host: str
    port: int
    messages: list[ReceivedMail] = field(default_factory=list)
    failed_logins: list[str] = field(default_factory=list)
    unknown_recipients: set[str] = field(default_factory=set)
    data_reply: str = "250 Message accepted for delivery"


class _Handler:
    def __init__(self, capture: SmtpCapture) -> None:
        self._capture = capture

    async def handle_RCPT(  # noqa: N802 - aiosmtpd's hook name
        self,
        server: SMTP,  # noqa: ARG002 - aiosmtpd's hook signature
        session: Session,  # noqa: ARG002 - aiosmtpd's hook signature
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],  # noqa: ARG002 - aiosmtpd's hook signature
    ) -> str:
        if address in self._capture.unknown_recipients:
            return "550 5.1.1 No such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(  # noqa: N802 - aiosmtpd's hook name
        self,
        server: SMTP,  # noqa: ARG002 - aiosmtpd's hook signature
        session: Session,
        envelope: Envelope,
    ) -> str:
        if not self._capture.data_reply.startswith("250"):
            return self._capture.data_reply
        content = envelope.original_content or b""
        parsed = email.message_from_bytes(content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        login = session.auth_data.decode() if isinstance(session.auth_data, bytes) else None
        self._capture.messages.append(
            ReceivedMail(
                envelope_from=envelope.mail_from or "",
                envelope_to=list(envelope.rcpt_tos),
                message=parsed,
                tls=session.ssl is not None,
                login=login,
            )
        )
        return "250 Message accepted for delivery"


def _authenticator(capture: SmtpCapture) -> Callable[..., AuthResult]:
    def authenticate(
        server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: object
    ) -> AuthResult:
        assert isinstance(auth_data, LoginPassword)
        if auth_data.login.decode() == SMTP_USER and auth_data.password.decode() == SMTP_PASSWORD:
            return AuthResult(success=True, auth_data=auth_data.login)
        capture.failed_logins.append(auth_data.login.decode())
        return AuthResult(success=False, handled=False)

    return authenticate


def _run_smtp(capture: SmtpCapture, **options: Any) -> Iterator[SmtpCapture]:
    controller = Controller(
        _Handler(capture),
        hostname=capture.host,
        port=capture.port,
        ready_timeout=10.0,
        **options,
    )
    controller.start()
    try:
        yield capture
    finally:
        controller.stop()


@pytest.fixture
def smtp_server(certs: OrgCertificates) -> Iterator[SmtpCapture]:
    """A real SMTP server: STARTTLS required, AUTH required (only over TLS)."""
    capture = SmtpCapture("127.0.0.1", free_port())
    yield from _run_smtp(
        capture,
        tls_context=server_tls_context(certs),
        require_starttls=True,
        authenticator=_authenticator(capture),
        auth_required=True,
        auth_require_tls=True,
    )


@pytest.fixture
def plaintext_smtp_server() -> Iterator[SmtpCapture]:
    """An SMTP server that offers no STARTTLS and would accept mail in the clear."""
    yield from _run_smtp(SmtpCapture("127.0.0.1", free_port()))


# --- HTTPS webhook capture ---------------------------------------------------------------------


@pytest.fixture
def webhook_server(certs: OrgCertificates) -> Iterator[WebhookCapture]:
    """An HTTPS server on 127.0.0.1 whose certificate is signed by the test CA."""
    with serve_webhooks(certs) as capture:
        yield capture


# --- store -------------------------------------------------------------------------------------


@pytest.fixture(params=DIALECTS)
def any_store_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """A migrated store on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        yield request.getfixturevalue("migrated_sqlite_url")
        return
    with scratch_postgres_database(request.getfixturevalue("postgres_url"), "alerts") as url:
        upgrade_database(url, "head")
        yield url


@pytest.fixture(params=DIALECTS)
def empty_store_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """An empty database (no tables) on SQLite and on PostgreSQL, for migration tests."""
    with empty_database(request, request.param, "empty") as url:
        yield url


@pytest.fixture
def sessions(migrated_sqlite_url: str) -> Iterator[sessionmaker[DbSession]]:
    """Session factory on a migrated SQLite store (what the dispatcher is given)."""
    with store_sessions(migrated_sqlite_url) as factory:
        yield factory


@pytest.fixture
def any_sessions(any_store_url: str) -> Iterator[sessionmaker[DbSession]]:
    """Session factory on a migrated store of each dialect."""
    with store_sessions(any_store_url) as factory:
        yield factory
