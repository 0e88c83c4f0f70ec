"""Delivery: routed, de-duplicated, retried with backoff, every attempt recorded in the store.

Real SMTP and HTTPS servers where the behaviour is about talking to them; ``responses`` where a
test needs an exact sequence of webhook answers (503, 503, 200; 400; 429 with Retry-After).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import pytest
import responses
from pydantic import SecretStr
from sqlalchemy.orm import Session, sessionmaker
from structlog.testing import capture_logs

from sfsync.alerts.base import Notifier
from sfsync.alerts.delivery import AlertDispatcher, DeliveryResult, RetryPolicy
from sfsync.alerts.email import EmailNotifier
from sfsync.alerts.model import AlertMessage, AlertMode, Channel
from sfsync.alerts.routing import AlertRouter, AlertRouting
from sfsync.alerts.slack import SlackNotifier
from sfsync.alerts.teams import TeamsNotifier
from sfsync.clock import FixedClock
from sfsync.jobs.status import alert_problem_counts, alert_problems, collect_status, render_status
from sfsync.sandbox.certs import OrgCertificates
from sfsync.store.alerts import AlertDelivery, DeliveryStatus, delivery_problems, list_deliveries
from tests.alerts.conftest import (
    SENDER,
    SMTP_PASSWORD,
    SMTP_USER,
    SmtpCapture,
    WebhookCapture,
    make_alert,
)
from tests.fixtures.services import free_port

BOSS = "jane.boss@example.com"
LEAD = "ar-lead@example.com"
SLACK_URL = "https://hooks.slack.test/services/T1/B1/secret-slack-token"
TEAMS_URL = "https://teams.example.test/webhookb2/secret-teams-token"

ROUTING = AlertRouting(
    managers={"005000000000001AAA": BOSS}, fallback=[LEAD], broadcast=["slack:collections"]
)

DispatcherFactory = Callable[..., AlertDispatcher]


def _to(recipient: str) -> AlertRouting:
    """Routing that sends the default alert owner's Cases to ``recipient``, without problems."""
    return AlertRouting(managers={"005000000000001AAA": recipient})


@pytest.fixture
def sleeps() -> list[float]:
    """The waits the retry policy asked for; nobody actually sleeps."""
    return []


@dataclass
class Harness:
    """The real servers, store and clock a delivery test talks to."""

    smtp: SmtpCapture
    webhook: WebhookCapture
    certs: OrgCertificates
    clock: FixedClock
    sessions: sessionmaker[Session]
    sleeps: list[float]

    def email(self, port: int = 0) -> EmailNotifier:
        return _email(self.smtp, self.certs, self.clock, port)

    def slack(self) -> SlackNotifier:
        return SlackNotifier(self.webhook.url("/slack"), ca_bundle=self.certs.ca_cert)


@pytest.fixture
def harness(
    request: pytest.FixtureRequest,
    smtp_server: SmtpCapture,
    webhook_server: WebhookCapture,
    certs: OrgCertificates,
) -> Harness:
    """The servers plus the same clock, store and sleep record the dispatcher gets."""
    return Harness(
        smtp_server,
        webhook_server,
        certs,
        request.getfixturevalue("clock"),
        request.getfixturevalue("sessions"),
        request.getfixturevalue("sleeps"),
    )


@pytest.fixture
def dispatcher_for(
    sessions: sessionmaker[Session], clock: FixedClock, sleeps: list[float]
) -> DispatcherFactory:
    def build(notifiers: Sequence[Notifier], routing: AlertRouting = ROUTING) -> AlertDispatcher:
        return AlertDispatcher(
            notifiers=notifiers,
            router=AlertRouter(routing),
            sessions=sessions,
            clock=clock,
            retry=RetryPolicy(max_attempts=4, sleep=sleeps.append),
        )

    return build


def _email(
    smtp: SmtpCapture, certs: OrgCertificates, clock: FixedClock, port: int = 0
) -> EmailNotifier:
    return EmailNotifier(
        host=smtp.host,
        port=port or smtp.port,
        sender=SENDER,
        clock=clock,
        timeout=5.0,
        username=SMTP_USER,
        password=SecretStr(SMTP_PASSWORD),
        ca_bundle=certs.ca_cert,
    )


def _rows(sessions: sessionmaker[Session]) -> list[AlertDelivery]:
    with sessions() as session:
        return list_deliveries(session)


# --- de-duplication ----------------------------------------------------------------------------


def test_same_alert_twice_sends_one_message_per_recipient(
    dispatcher_for: DispatcherFactory, harness: Harness
) -> None:
    slack = harness.slack()
    dispatcher = dispatcher_for([harness.email(), slack])
    alert = make_alert()

    first = dispatcher.send_immediate([alert])
    second = dispatcher.send_immediate([alert])

    assert [(o.channel, o.recipient, o.status) for o in first] == [
        (Channel.EMAIL, BOSS, DeliveryResult.SENT),
        (Channel.SLACK, "slack:collections", DeliveryResult.SENT),
    ]
    assert [o.status for o in second] == [DeliveryResult.DUPLICATE, DeliveryResult.DUPLICATE]
    assert len(harness.smtp.messages) == 1
    assert len(harness.webhook.requests) == 1
    rows = _rows(harness.sessions)
    assert [(r.channel, r.recipient, r.status, r.attempts) for r in rows] == [
        ("email", BOSS, DeliveryStatus.SENT, 1),
        ("slack", "slack:collections", DeliveryStatus.SENT, 1),
    ]
    assert rows[0].case_number == "00001001"
    assert rows[0].threshold == "14d"
    assert rows[0].sent_at == harness.clock.now()


def test_a_new_threshold_for_the_same_case_alerts_again(
    dispatcher_for: DispatcherFactory, harness: Harness
) -> None:
    dispatcher = dispatcher_for([harness.email()], _to(BOSS))

    dispatcher.send_immediate([make_alert(threshold="14d")])
    dispatcher.send_immediate([make_alert(threshold="30d")])

    assert len(harness.smtp.messages) == 2


def test_digest_of_the_day_is_sent_once_per_recipient(
    dispatcher_for: DispatcherFactory, harness: Harness
) -> None:
    routing = AlertRouting(
        managers={"005000000000001AAA": BOSS, "005000000000002AAA": LEAD}, fallback=[LEAD]
    )
    dispatcher = dispatcher_for([harness.email()], routing)
    alerts = [make_alert(1), make_alert(2, owner_id="005000000000002AAA"), make_alert(3)]
    today = date(2026, 3, 2)

    first = dispatcher.send_digest(alerts, on=today)
    again = dispatcher.send_digest(alerts, on=today)
    tomorrow = dispatcher.send_digest(alerts, on=today + timedelta(days=1))

    assert [(o.recipient, o.case_numbers) for o in first] == [
        (BOSS, ("00001001", "00001003")),
        (LEAD, ("00001002",)),
    ]
    assert {o.status for o in again} == {DeliveryResult.DUPLICATE}
    assert {o.status for o in tomorrow} == {DeliveryResult.SENT}
    received = [(m.envelope_to, m.message["Subject"]) for m in harness.smtp.messages]
    assert received == [
        ([BOSS], "Collections digest 2026-03-02: 2 stale cases"),
        ([LEAD], "Collections digest 2026-03-02: 1 stale case"),
        ([BOSS], "Collections digest 2026-03-03: 2 stale cases"),
        ([LEAD], "Collections digest 2026-03-03: 1 stale case"),
    ]


# --- failures: retried, recorded, never stopping the others ------------------------------------


def test_unreachable_smtp_is_retried_recorded_failed_and_slack_still_sent(
    dispatcher_for: DispatcherFactory, harness: Harness
) -> None:
    closed = harness.email(port=free_port())
    slack = harness.slack()
    dispatcher = dispatcher_for([closed, slack])

    with capture_logs() as logs:
        outcomes = dispatcher.send_immediate([make_alert()])

    email_outcome, slack_outcome = outcomes
    assert email_outcome.status is DeliveryResult.FAILED
    assert email_outcome.attempts == 4
    assert slack_outcome.status is DeliveryResult.SENT
    assert len(harness.webhook.requests) == 1
    assert harness.sleeps == [2.0, 4.0, 8.0]
    retries = [line for line in logs if line["event"] == "alert_delivery_retrying"]
    assert [(line["attempt"], line["wait_seconds"]) for line in retries] == [
        (1, 2.0),
        (2, 4.0),
        (3, 8.0),
    ]
    [failed] = [line for line in logs if line["event"] == "alert_delivery_failed"]
    assert failed["log_level"] == "error"
    assert failed["recipient"] == BOSS
    assert "unreachable: ConnectionRefusedError" in failed["error"]
    with harness.sessions() as session:
        [problem] = delivery_problems(session)
    assert problem.channel == "email"
    assert problem.attempts == 4
    assert problem.last_error is not None
    assert problem.last_error.startswith("RetryableError: SMTP server 127.0.0.1:")


def test_failed_delivery_is_retried_by_a_later_run_and_then_not_again(
    dispatcher_for: DispatcherFactory, harness: Harness
) -> None:
    routing = _to(BOSS)
    dispatcher_for([harness.email(port=free_port())], routing).send_immediate([make_alert()])
    dispatcher = dispatcher_for([harness.email()], routing)

    retried = dispatcher.send_immediate([make_alert()])
    repeated = dispatcher.send_immediate([make_alert()])

    assert [o.status for o in retried] == [DeliveryResult.SENT]
    assert [o.status for o in repeated] == [DeliveryResult.DUPLICATE]
    assert len(harness.smtp.messages) == 1
    [row] = _rows(harness.sessions)
    assert (row.status, row.attempts) == (DeliveryStatus.SENT, 5)
    with harness.sessions() as session:
        assert delivery_problems(session) == []


def test_wrong_smtp_password_fails_once_without_retry_and_is_recorded(
    dispatcher_for: DispatcherFactory, harness: Harness
) -> None:
    wrong = EmailNotifier(
        host=harness.smtp.host,
        port=harness.smtp.port,
        sender=SENDER,
        clock=harness.clock,
        username=SMTP_USER,
        password=SecretStr("not-the-password"),
        ca_bundle=harness.certs.ca_cert,
    )

    [outcome] = dispatcher_for([wrong], _to(BOSS)).send_immediate([make_alert()])

    assert outcome.status is DeliveryResult.FAILED
    assert outcome.attempts == 1
    assert harness.sleeps == []
    [row] = _rows(harness.sessions)
    assert row.status is DeliveryStatus.FAILED
    assert row.last_error is not None
    assert row.last_error.startswith("PermanentError: AUTH_FAILED: SMTP server")
    assert "not-the-password" not in row.last_error


@responses.activate
def test_slack_503_503_200_is_sent_after_two_retries(
    dispatcher_for: DispatcherFactory, sessions: sessionmaker[Session], sleeps: list[float]
) -> None:
    for status in (503, 503, 200):
        responses.post(SLACK_URL, status=status, body="ok" if status == 200 else "busy")
    dispatcher = dispatcher_for([SlackNotifier(SecretStr(SLACK_URL))], _to("slack:x"))

    [outcome] = dispatcher.send_immediate([make_alert()])

    assert outcome.status is DeliveryResult.SENT
    assert outcome.attempts == 3
    assert len(responses.calls) == 3
    assert sleeps == [2.0, 4.0]
    [row] = _rows(sessions)
    assert (row.status, row.attempts) == (DeliveryStatus.SENT, 3)
    assert row.last_error == "RetryableError: Slack webhook answered HTTP 503: busy"


@responses.activate
def test_teams_400_fails_without_retry_and_is_recorded(
    dispatcher_for: DispatcherFactory, sessions: sessionmaker[Session], sleeps: list[float]
) -> None:
    responses.post(TEAMS_URL, status=400, body="Bad payload: card is invalid")
    dispatcher = dispatcher_for([TeamsNotifier(SecretStr(TEAMS_URL))], _to("teams:ar"))

    with capture_logs() as logs:
        [outcome] = dispatcher.send_immediate([make_alert()])

    assert outcome.status is DeliveryResult.FAILED
    assert len(responses.calls) == 1
    assert sleeps == []
    with sessions() as session:
        [problem] = delivery_problems(session)
    assert (problem.channel, problem.recipient, problem.attempts) == ("teams", "teams:ar", 1)
    assert problem.last_error == (
        "PermanentError: HTTP_400: Teams webhook answered HTTP 400: Bad payload: card is invalid"
    )
    assert "secret-teams-token" not in repr(logs)


@responses.activate
def test_slack_429_waits_as_long_as_retry_after_says(
    dispatcher_for: DispatcherFactory, sleeps: list[float]
) -> None:
    responses.post(SLACK_URL, status=429, headers={"Retry-After": "7"}, body="rate_limited")
    responses.post(SLACK_URL, status=200, body="ok")
    dispatcher = dispatcher_for([SlackNotifier(SecretStr(SLACK_URL))], _to("slack:x"))

    [outcome] = dispatcher.send_immediate([make_alert()])

    assert outcome.status is DeliveryResult.SENT
    assert sleeps == [7.0]


@responses.activate
def test_retries_are_bounded(
    dispatcher_for: DispatcherFactory, sessions: sessionmaker[Session], sleeps: list[float]
) -> None:
    responses.post(SLACK_URL, status=500)
    dispatcher = dispatcher_for([SlackNotifier(SecretStr(SLACK_URL))], _to("slack:x"))

    [outcome] = dispatcher.send_immediate([make_alert()])

    assert outcome.status is DeliveryResult.FAILED
    assert len(responses.calls) == 4
    assert len(sleeps) == 3
    [row] = _rows(sessions)
    assert (row.status, row.attempts) == (DeliveryStatus.FAILED, 4)


# --- routing problems and unconfigured channels ------------------------------------------------


def test_owner_who_left_alerts_the_fallback_and_records_the_problem(
    dispatcher_for: DispatcherFactory, harness: Harness
) -> None:
    dispatcher = dispatcher_for(
        [harness.email()],
        AlertRouting(managers={"005000000000001AAA": BOSS}, fallback=[LEAD]),
    )
    gone = make_alert(1, owner_active=False, owner_name="Former Rep")
    stays = make_alert(2)

    with capture_logs() as logs:
        dispatcher.send_immediate([gone, stays])
        dispatcher.send_immediate([gone, stays])

    assert [m.envelope_to for m in harness.smtp.messages] == [[LEAD], [BOSS]]
    warnings = [line for line in logs if line["event"] == "alert_routing_problem"]
    assert warnings[0]["log_level"] == "warning"
    assert warnings[0]["problem"] == "owner_inactive"
    assert "owner Former Rep (rita@example.com) has left" in warnings[0]["detail"]
    with harness.sessions() as session:
        [problem] = delivery_problems(session)
    assert problem.channel == "routing"
    assert problem.mode == "owner_inactive"
    assert problem.case_number == "00001001"
    assert problem.attempts == 2  # seen on both runs, recorded once
    assert problem.last_error is not None
    assert f"alert sent to fallback {LEAD}" in problem.last_error


def test_unknown_manager_with_no_fallback_is_recorded_and_others_still_go_out(
    dispatcher_for: DispatcherFactory, harness: Harness
) -> None:
    routing = AlertRouting(managers={"005000000000001AAA": BOSS})
    dispatcher = dispatcher_for([harness.email()], routing)
    orphan = make_alert(1, owner_id="005000000000555AAA", owner_username=None)

    outcomes = dispatcher.send_immediate([orphan, make_alert(2)])

    assert [(o.recipient, o.case_numbers) for o in outcomes] == [(BOSS, ("00001002",))]
    assert [m.envelope_to for m in harness.smtp.messages] == [[BOSS]]
    with harness.sessions() as session:
        [problem] = delivery_problems(session)
    assert (problem.channel, problem.mode) == ("routing", "no_recipient")
    assert problem.recipient == "005000000000555AAA"


def test_recipient_on_an_unconfigured_channel_is_recorded_failed(
    dispatcher_for: DispatcherFactory, sessions: sessionmaker[Session]
) -> None:
    [outcome] = dispatcher_for([], _to("teams:ar")).send_immediate([make_alert()])

    assert outcome.status is DeliveryResult.FAILED
    assert outcome.attempts == 0
    with sessions() as session:
        [problem] = delivery_problems(session)
    assert problem.last_error == (
        "PermanentError: CHANNEL_NOT_CONFIGURED: channel teams is not configured "
        "(set alerts.teams in sfsync.yaml or its webhook variable)"
    )


def test_every_dispatch_writes_one_summary_line(
    dispatcher_for: DispatcherFactory, harness: Harness
) -> None:
    dispatcher = dispatcher_for([harness.email()], _to(BOSS))

    with capture_logs() as logs:
        dispatcher.send_immediate([make_alert(1), make_alert(2)])
        dispatcher.send_digest([make_alert(1)], on=date(2026, 3, 2))

    summaries = [line for line in logs if line["event"] == "alerts_dispatched"]
    assert summaries == [
        {
            "event": "alerts_dispatched",
            "log_level": "info",
            "mode": AlertMode.IMMEDIATE.value,
            "sent": 2,
            "failed": 0,
            "duplicate": 0,
        },
        {
            "event": "alerts_dispatched",
            "log_level": "info",
            "mode": AlertMode.DIGEST.value,
            "sent": 1,
            "failed": 0,
            "duplicate": 0,
        },
    ]


class CrashingNotifier:
    """A notifier with a bug: every send raises an error outside the error tree."""

    @property
    def channel(self) -> Channel:
        return Channel.TEAMS

    def send(self, recipient: str, message: AlertMessage) -> None:
        raise ValueError(f"cannot render {len(message.alerts)} alerts for {recipient}")


def test_a_crashing_notifier_is_recorded_and_the_other_channels_still_send(
    dispatcher_for: DispatcherFactory, harness: Harness
) -> None:
    routing = AlertRouting(managers={"005000000000001AAA": [BOSS, "teams:ar"]})
    dispatcher = dispatcher_for([CrashingNotifier(), harness.email()], routing)

    with capture_logs() as logs:
        outcomes = dispatcher.send_immediate([make_alert()])

    assert [(o.channel, o.status) for o in outcomes] == [
        (Channel.EMAIL, DeliveryResult.SENT),
        (Channel.TEAMS, DeliveryResult.FAILED),
    ]
    assert [m.envelope_to for m in harness.smtp.messages] == [[BOSS]]
    assert "alert_notifier_crashed" in [line["event"] for line in logs]
    with harness.sessions() as session:
        [problem] = delivery_problems(session)
    assert (problem.recipient, problem.attempts) == ("teams:ar", 1)
    assert problem.last_error == "ValueError: cannot render 1 alerts for ar"


# --- routing problems close; status counts by kind ---------------------------------------------

ORPHAN_OWNER = "005000000000555AAA"


def test_a_routing_problem_closes_when_a_later_alert_is_delivered_and_reopens(
    dispatcher_for: DispatcherFactory, harness: Harness
) -> None:
    orphan = make_alert(1, owner_id=ORPHAN_OWNER, owner_username=None)
    dispatcher_for([harness.email()], AlertRouting()).send_immediate([orphan])  # nobody to send to
    with harness.sessions() as session:
        [problem] = delivery_problems(session)
    assert (problem.channel, problem.mode) == ("routing", "no_recipient")

    harness.clock.advance(timedelta(hours=1))
    fixed = AlertRouting(managers={ORPHAN_OWNER: BOSS})  # the routing map is fixed
    with capture_logs() as logs:
        dispatcher_for([harness.email()], fixed).send_immediate([orphan])

    assert [m.envelope_to for m in harness.smtp.messages] == [[BOSS]]
    with harness.sessions() as session:
        assert delivery_problems(session) == []
        [closed] = [row for row in list_deliveries(session) if row.channel == "routing"]
    assert (closed.status, closed.sent_at) == (DeliveryStatus.SENT, harness.clock.now())
    assert closed.last_error is not None  # what the problem was is kept
    assert [line["event"] for line in logs if "routing_problem" in line["event"]] == [
        "alert_routing_problem_closed"
    ]

    harness.clock.advance(timedelta(hours=1))
    dispatcher_for([harness.email()], AlertRouting()).send_immediate([orphan])  # broken again
    with harness.sessions() as session:
        [reopened] = delivery_problems(session)
    assert (reopened.mode, reopened.status) == ("no_recipient", DeliveryStatus.FAILED)


def test_a_problem_routed_to_the_fallback_in_the_same_dispatch_stays_open(
    dispatcher_for: DispatcherFactory, harness: Harness
) -> None:
    gone = make_alert(1, owner_active=False)

    dispatcher_for([harness.email()], AlertRouting(fallback=[LEAD])).send_immediate([gone])

    assert [m.envelope_to for m in harness.smtp.messages] == [[LEAD]]
    with harness.sessions() as session:
        [problem] = delivery_problems(session)
    assert problem.mode == "owner_inactive"


def test_status_counts_every_problem_by_kind_when_more_exist_than_are_listed(
    dispatcher_for: DispatcherFactory, harness: Harness
) -> None:
    orphans = [make_alert(n, owner_id=ORPHAN_OWNER, owner_username=None) for n in range(1, 26)]
    dispatcher_for([harness.email()], AlertRouting()).send_immediate(orphans)
    harness.clock.advance(timedelta(minutes=1))
    harness.smtp.unknown_recipients.add("gone@example.com")
    dispatcher_for([harness.email()], _to("gone@example.com")).send_immediate([make_alert(30)])

    now = harness.clock.now()
    with harness.sessions() as session:
        counts = alert_problem_counts(session, now)
        newest = alert_problems(session, now)
        lines = render_status(collect_status(session, None, now))

    assert counts == (("routing no_recipient", 25), ("email failed", 1))
    assert len(newest) == 20
    assert newest[0].startswith("email → gone@example.com: PermanentError")
    assert (
        "Alert delivery problems: 26 open (routing no_recipient 25, email failed 1); newest 20:"
    ) in lines
