"""Bad input: an unknown manager, an owner who left, an unreachable SMTP server, a webhook that
refuses, a missing status or queue. A clear log line and status entry; the other alerts still go
out; the escalation itself is never undone."""

from __future__ import annotations

import pytest
from structlog.testing import capture_logs

from sfsync.errors import ConfigError
from sfsync.escalate import run_escalation
from sfsync.escalation import EscalationLevel, EscalationPolicy
from sfsync.store.alerts import delivery_problems
from sfsync.store.escalations import AlertState, list_escalations
from sfsync.store.models import SyncRun
from tests.escalate.conftest import (
    CASEY,
    FALLBACK_MAIL,
    MANAGER_MAIL,
    MORGAN,
    RILEY,
    T0,
    EscalationHarness,
    days,
)
from tests.fixtures.services import free_port

pytestmark = pytest.mark.org


def test_an_owner_missing_from_the_routing_map_alerts_the_fallback_and_is_listed(
    harness: EscalationHarness,
) -> None:
    case = harness.seed_case(owner=CASEY)
    harness.at(T0 + days(15))

    report = harness.run()

    assert len(report.escalated) == 1
    assert harness.tasks(case["Id"])[0]["OwnerId"] == harness.user_id(MORGAN)
    assert len(harness.smtp.to(FALLBACK_MAIL)) == 1
    assert harness.smtp.to(MANAGER_MAIL) == []
    with harness.sessions() as session:
        problems = delivery_problems(session)
    assert [(row.channel, row.mode, row.case_number) for row in problems] == [
        ("routing", "unknown_manager", case["CaseNumber"])
    ]
    assert "no manager configured for owner Casey Rep" in (problems[0].last_error or "")


def test_an_owner_without_a_manager_sends_the_task_to_the_fallback_queue(
    harness: EscalationHarness,
) -> None:
    case = harness.seed_case(owner=MORGAN)
    harness.at(T0 + days(15))

    with capture_logs() as logs:
        harness.run()

    # A queue cannot own a Task: the Case goes to the queue, the Task to the integration user
    # (no owners.task_queue_fallback configured).
    assert harness.tasks(case["Id"])[0]["OwnerId"] == harness.server.org.user_id
    assert harness.case(case["Id"])["OwnerId"] == harness.queue_id("Collections_Managers")
    (line,) = [entry for entry in logs if entry["event"] == "case_escalated"]
    assert line["routed_to_fallback"] is True
    assert line["task_owner"] == "queue:Collections_Managers"


def test_an_owner_who_left_is_replaced_by_the_fallback_and_logged(
    harness: EscalationHarness,
) -> None:
    case = harness.seed_case(owner=RILEY)
    harness.sf.User.update(harness.user_id(RILEY), {"IsActive": False})
    harness.at(T0 + days(15))

    with capture_logs() as logs:
        report = harness.run()

    queue = harness.queue_id("Collections_Managers")
    after = harness.case(case["Id"])
    assert report.escalated == [f"{case['Collections_Key__c']}:esc:manager"]
    assert (after["OwnerId"], after["IsEscalated"]) == (queue, True)
    assert harness.tasks(case["Id"])[0]["OwnerId"] == harness.server.org.user_id  # not a queue
    (line,) = [entry for entry in logs if entry["event"] == "case_owner_inactive"]
    assert line["reassigned_to"] == "queue:Collections_Managers"
    assert line["log_level"] == "warning"
    assert len(harness.smtp.to(FALLBACK_MAIL)) == 1
    with harness.sessions() as session:
        kinds = [row.mode for row in delivery_problems(session)]
    assert kinds == ["owner_inactive"]


def test_an_unreachable_smtp_server_keeps_the_escalation_and_slack_still_goes_out(
    harness: EscalationHarness,
) -> None:
    case = harness.seed_case(owner=RILEY)
    harness.smtp_port = free_port()  # nothing listens there
    harness.at(T0 + days(15))

    with capture_logs() as logs:
        report = harness.run()

    assert report.escalated == [f"{case['Collections_Key__c']}:esc:manager"]
    assert harness.case(case["Id"])["IsEscalated"] is True
    assert len(harness.slack.bodies) == 1
    assert report.counts["alerts_failed"] == 1
    assert report.counts["alerts_sent"] == 1
    with harness.sessions() as session:
        problems = delivery_problems(session)
        (row,) = list_escalations(session)
    assert [(problem.channel, problem.recipient) for problem in problems] == [
        ("email", MANAGER_MAIL)
    ]
    assert row.alert_state is AlertState.FAILED
    assert any(entry["event"] == "alert_delivery_failed" for entry in logs)

    harness.smtp_port = None  # the mail server is back
    harness.at(T0 + days(15) + days(0.1))
    later = harness.run()

    assert later.escalated == []
    assert len(harness.smtp.to(MANAGER_MAIL)) == 1
    assert len(harness.slack.bodies) == 1  # Slack already had it: not sent twice
    with harness.sessions() as session:
        assert list_escalations(session)[0].alert_state is AlertState.SENT


def test_a_webhook_refusing_the_post_is_recorded_and_the_mail_still_goes(
    harness: EscalationHarness,
) -> None:
    case = harness.seed_case(owner=RILEY)
    harness.slack.statuses.append(400)
    harness.at(T0 + days(15))

    report = harness.run()

    assert harness.case(case["Id"])["IsEscalated"] is True
    assert len(harness.smtp.to(MANAGER_MAIL)) == 1
    failed = [outcome for outcome in report.alerts if outcome.error]
    assert [outcome.recipient for outcome in failed] == ["slack:collections"]
    assert "400" in (failed[0].error or "")
    with harness.sessions() as session:
        assert [row.channel for row in delivery_problems(session)] == ["slack"]


def test_a_status_the_org_lacks_stops_before_any_write(harness: EscalationHarness) -> None:
    case = harness.seed_case()
    harness.policy = EscalationPolicy(
        levels=(EscalationLevel(name="manager", after_days=14, status="Stale"),)
    )
    harness.at(T0 + days(15))
    deps = harness.deps()

    with pytest.raises(ConfigError, match="'Stale' is not a Case Status value") as raised:
        run_escalation(deps, dry_run=False)

    assert "Case Status picklist" in str(raised.value)
    assert deps.gateway.calls.write == 0
    assert harness.case(case["Id"])["IsEscalated"] is False
    with harness.sessions() as session:
        run = session.query(SyncRun).one()
    assert run.status.value == "failed"
    assert "Stale" in (run.error or "")


def test_an_unknown_queue_is_a_config_error_naming_it(harness: EscalationHarness) -> None:
    case = harness.seed_case(owner=MORGAN)
    harness.policy = EscalationPolicy(
        levels=(
            EscalationLevel(name="manager", after_days=14, fallback="queue:No_Such_Queue"),  # type: ignore[arg-type]
        )
    )
    harness.at(T0 + days(15))

    with pytest.raises(ConfigError, match="queue:No_Such_Queue does not exist in the org"):
        harness.run()

    assert harness.case(case["Id"])["IsEscalated"] is False
    assert harness.tasks(case["Id"]) == []


def test_a_manager_who_left_gets_no_task_the_fallback_queue_does(
    harness: EscalationHarness,
) -> None:
    case = harness.seed_case(owner=RILEY)
    harness.sf.User.update(harness.user_id(MORGAN), {"IsActive": False})
    harness.at(T0 + days(15))

    report = harness.run()

    assert report.failed == []
    assert harness.tasks(case["Id"])[0]["OwnerId"] == harness.server.org.user_id  # not a queue
    assert harness.case(case["Id"])["OwnerId"] == harness.queue_id("Collections_Managers")
    assert [row.note for row in report.rows] == ["owner has no manager: Task to the fallback"]
