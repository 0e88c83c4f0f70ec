"""The escalation test harness: the real local org (its clock moved forward), a migrated SQLite
store, a real SMTP server (aiosmtpd) and an HTTPS webhook capture server on 127.0.0.1, all on
one injected clock.

:class:`EscalationHarness` is what a test drives: ``seed_case`` opens a collections Case in the
org as of the org clock, ``at`` moves both clocks, ``run`` performs one
:func:`~sfsync.escalate.run_escalation`, and ``tasks`` / ``posts`` / ``case`` read what a
manager would see in Salesforce.
"""

from __future__ import annotations

import email
import email.policy
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from pydantic import SecretStr
from simple_salesforce import Salesforce
from simple_salesforce.format import format_soql
from sqlalchemy.orm import Session as DbSession
from sqlalchemy.orm import sessionmaker

from sfsync.alerts.base import Notifier
from sfsync.alerts.delivery import AlertDispatcher, RetryPolicy
from sfsync.alerts.email import EmailNotifier
from sfsync.alerts.routing import AlertRouter, AlertRouting
from sfsync.alerts.slack import SlackNotifier
from sfsync.alerts.teams import TeamsNotifier
from sfsync.clock import FixedClock, SystemClock
from sfsync.demo import load_policy
from sfsync.escalate import EscalationDeps, EscalationReport, run_escalation
from sfsync.escalation import EscalationPolicy
from sfsync.salesforce.client import SimpleSalesforceGateway
from sfsync.sandbox.certs import OrgCertificates, ensure_certificates
from sfsync.sandbox.server import OrgServer
from sfsync.store.db import upgrade_database
from tests.fixtures.databases import DIALECTS, empty_database, scratch_postgres_database
from tests.fixtures.gateways import org_gateway
from tests.fixtures.org import API_VERSION, LOGIN_DOMAIN
from tests.fixtures.services import free_port
from tests.fixtures.stores import store_sessions
from tests.fixtures.webhooks import WebhookCapture, serve_webhooks

CONFIG = Path(__file__).resolve().parents[2] / "config"
#: When the Cases are opened: Monday 2 March 2026, 09:00 UTC.
T0 = datetime(2026, 3, 2, 9, tzinfo=UTC)
SENDER = "ar-alerts@example.com"
MANAGER_MAIL = "morgan.boss@example.com"
FALLBACK_MAIL = "ar-lead@example.com"
RILEY = "riley.rep@sfsync.local"
CASEY = "casey.rep@sfsync.local"
MORGAN = "morgan.manager@sfsync.local"
#: Riley's alerts go to her manager by mail and to Slack; everybody else's to the fallback.
ROUTING = AlertRouting(
    managers={RILEY: (MANAGER_MAIL, "slack:collections"), MORGAN: (MANAGER_MAIL,)},
    fallback=(FALLBACK_MAIL,),
)


def config_policy() -> EscalationPolicy:
    """The escalation section of config/policy.yaml: 14 days → manager, 30 days → legal queue."""
    return load_policy(CONFIG / "policy.yaml").escalation


# --- SMTP ---------------------------------------------------------------------------------------


@dataclass
class SmtpCapture:
    """What the test SMTP server received, parsed."""

    port: int
    messages: list[tuple[list[str], EmailMessage]] = field(default_factory=list)

    def to(self, address: str) -> list[EmailMessage]:
        """Messages whose envelope names ``address``."""
        return [message for rcpt, message in self.messages if address in rcpt]


class _SmtpHandler:
    def __init__(self, capture: SmtpCapture) -> None:
        self._capture = capture

    async def handle_DATA(  # noqa: N802 - aiosmtpd's hook name
        self,
        server: SMTP,  # noqa: ARG002 - aiosmtpd's hook signature
        session: Session,  # noqa: ARG002
        envelope: Envelope,
    ) -> str:
        parsed = email.message_from_bytes(
            envelope.original_content or b"", policy=email.policy.default
        )
        assert isinstance(parsed, EmailMessage)
        self._capture.messages.append((list(envelope.rcpt_tos), parsed))
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp_server() -> Iterator[SmtpCapture]:
    """A real SMTP server on 127.0.0.1 (plain: the TLS handshake is the alerts tests' subject)."""
    capture = SmtpCapture(free_port())
    controller = Controller(
        _SmtpHandler(capture), hostname="127.0.0.1", port=capture.port, ready_timeout=10.0
    )
    controller.start()
    try:
        yield capture
    finally:
        controller.stop()


# --- HTTPS webhook ------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def webhook_certs(tmp_path_factory: pytest.TempPathFactory) -> OrgCertificates:
    """A CA and a 127.0.0.1 certificate (made for the real time: TLS checks it)."""
    return ensure_certificates(tmp_path_factory.mktemp("escalate-certs"), SystemClock().now())


@pytest.fixture
def slack_server(webhook_certs: OrgCertificates) -> Iterator[WebhookCapture]:
    """An HTTPS server on 127.0.0.1 standing in for Slack's incoming webhook."""
    with serve_webhooks(webhook_certs) as capture:
        yield capture


# --- the store ----------------------------------------------------------------------------------


@pytest.fixture
def sessions(migrated_sqlite_url: str) -> Iterator[sessionmaker[DbSession]]:
    """A migrated SQLite store of its own for each test."""
    with store_sessions(migrated_sqlite_url) as factory:
        yield factory


@pytest.fixture(params=DIALECTS)
def empty_store_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """An empty database on SQLite and on PostgreSQL (migrate it yourself)."""
    with empty_database(request, request.param, "empty") as url:
        yield url


@pytest.fixture
def any_sessions(empty_store_url: str) -> Iterator[sessionmaker[DbSession]]:
    """Session factory on a migrated store of each dialect."""
    upgrade_database(empty_store_url)
    with store_sessions(empty_store_url) as factory:
        yield factory


@pytest.fixture
def postgres_sessions(postgres_url: str) -> Iterator[sessionmaker[DbSession]]:
    """Session factory on a migrated PostgreSQL store of its own."""
    with scratch_postgres_database(postgres_url, "escalate") as url:
        upgrade_database(url)
        with store_sessions(url) as factory:
            yield factory


# --- the harness --------------------------------------------------------------------------------


@dataclass
class EscalationHarness:
    """One scenario: the org, the store, the alert servers and the shared clock."""

    server: OrgServer
    sf: Salesforce
    sessions: sessionmaker[DbSession]
    clock: FixedClock
    smtp: SmtpCapture
    slack: WebhookCapture
    certs: OrgCertificates
    policy: EscalationPolicy = field(default_factory=config_policy)
    routing: AlertRouting = ROUTING
    smtp_port: int | None = None
    slack_url: str | None = None
    teams_url: str | None = None
    #: Let runs send the scheduled digest (``routing.digest_time``), as the CLI and job do.
    scheduled_digest: bool = False
    gateways: list[SimpleSalesforceGateway] = field(default_factory=list)
    accounts: int = 0

    # --- the org ---------------------------------------------------------------------------------

    def at(self, when: datetime) -> None:
        """Move the org clock and the service clock to ``when`` (both stand still there).

        Sessions expire on the org clock, so the reading client signs in again.
        """
        self.server.org.clock.set(when, frozen=True)
        self.clock.set(when)
        config = self.server.org.config
        self.sf = Salesforce(
            consumer_key=config.client_id,
            consumer_secret=config.client_secret,
            domain=LOGIN_DOMAIN,
            session=self.sf.session,
            version=API_VERSION,
        )

    def user_id(self, username: str) -> str:
        rows = self.sf.query(format_soql("SELECT Id FROM User WHERE Username = {}", username))[
            "records"
        ]
        return str(rows[0]["Id"])

    def queue_id(self, developer_name: str) -> str:
        soql = format_soql(
            "SELECT Id FROM Group WHERE Type = 'Queue' AND DeveloperName = {}", developer_name
        )
        rows = self.sf.query(soql)["records"]
        return str(rows[0]["Id"])

    def seed_case(
        self, owner: str = RILEY, amount: str = "12340.50", key: str | None = None
    ) -> dict[str, Any]:
        """An Account and its open collections Case, created at the org clock's time."""
        self.accounts += 1
        number = self.accounts
        account = self.sf.Account.create(
            {"Name": f"Customer {number} Ltd", "Accounting_Id__c": f"C{number}"}
        )
        case_key = key or f"erp:C{number}:USD:1"
        created = self.sf.Case.create(
            {
                "Subject": f"Collections: Customer {number} Ltd",
                "AccountId": account["id"],
                "Collections_Key__c": case_key,
                "OwnerId": self.user_id(owner),
                "Past_Due_Amount__c": float(amount),
                "Collections_Currency__c": "USD",
            }
        )
        return self.case(str(created["id"]))

    def case(self, case_id: str) -> dict[str, Any]:
        soql = format_soql(
            "SELECT Id, CaseNumber, Collections_Key__c, Status, IsEscalated, "
            "Escalation_Reason__c, OwnerId, AccountId FROM Case WHERE Id = {}",
            case_id,
        )
        return dict(self.sf.query(soql)["records"][0])

    def tasks(self, case_id: str) -> list[dict[str, Any]]:
        """Every Task on the Case."""
        soql = format_soql(
            "SELECT Id, Subject, OwnerId, Priority, Status, Collections_Key__c FROM Task "
            "WHERE WhatId = {}",
            case_id,
        )
        return [dict(row) for row in self.sf.query(soql)["records"]]

    def posts(self, case_id: str) -> list[dict[str, Any]]:
        """Every Chatter post on the Case."""
        soql = format_soql("SELECT Id, Body FROM FeedItem WHERE ParentId = {}", case_id)
        return [dict(row) for row in self.sf.query(soql)["records"]]

    # --- running -----------------------------------------------------------------------------

    def notifiers(self) -> list[Notifier]:
        port = self.smtp_port if self.smtp_port is not None else self.smtp.port
        return [
            EmailNotifier(
                host="127.0.0.1",
                port=port,
                sender=SENDER,
                clock=self.clock,
                timeout=5.0,
                starttls=False,
            ),
            SlackNotifier(
                SecretStr(self.slack_url or f"{self.slack.base_url}/services/T000/B000/XXXX"),
                connect_timeout=5.0,
                read_timeout=5.0,
                ca_bundle=self.certs.ca_cert,
            ),
            *(
                [TeamsNotifier(SecretStr(self.teams_url), connect_timeout=5.0, read_timeout=5.0)]
                if self.teams_url is not None
                else []
            ),
        ]

    def deps(self, *, holder: str = "test-run") -> EscalationDeps:
        """A fresh gateway and dispatcher (retry waits recorded, never slept)."""
        gateway = org_gateway(self.server, self.clock)
        self.gateways.append(gateway)
        dispatcher = AlertDispatcher(
            notifiers=self.notifiers(),
            router=AlertRouter(self.routing),
            sessions=self.sessions,
            clock=self.clock,
            retry=RetryPolicy(max_attempts=2, sleep=lambda _seconds: None),
        )
        return EscalationDeps(
            gateway=gateway,
            sessions=self.sessions,
            policy=self.policy,
            clock=self.clock,
            dispatcher=dispatcher,
            instance_url=self.server.url,
            holder=holder,
            digest_routing=self.routing if self.scheduled_digest else None,
            alert_fallback=self.routing.fallback,
        )

    def run(self, *, dry_run: bool = False) -> EscalationReport:
        return run_escalation(self.deps(), dry_run=dry_run)

    def close(self) -> None:
        for gateway in self.gateways:
            gateway.close()


@pytest.fixture
def harness(
    *,
    local_org: OrgServer,
    sf: Salesforce,
    sessions: sessionmaker[DbSession],
    smtp_server: SmtpCapture,
    slack_server: WebhookCapture,
    webhook_certs: OrgCertificates,
) -> Iterator[EscalationHarness]:
    """The org at T0 with the legal queue config/policy.yaml names, and everything else running."""
    clock = FixedClock(T0)
    local_org.org.clock.set(T0, frozen=True)
    sf.Group.create(
        {"Name": "Legal Collections", "DeveloperName": "Legal_Collections", "Type": "Queue"}
    )
    scenario = EscalationHarness(
        local_org, sf, sessions, clock, smtp_server, slack_server, webhook_certs
    )
    try:
        yield scenario
    finally:
        scenario.close()


def days(count: float) -> timedelta:
    return timedelta(days=count)


def money(text: str) -> Decimal:
    return Decimal(text)
