"""sfsync escalate against the local org: a Case open past a threshold is escalated once per
level (Case fields, a Task for the manager, a Chatter post, an alert), whatever the reruns."""

from __future__ import annotations

import io
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from sfsync.domain import PromiseStatus
from sfsync.escalate import print_report
from sfsync.store.alerts import list_deliveries
from sfsync.store.escalations import EscalationState, list_escalations
from sfsync.store.models import Outcome, Promise, TaskLedgerEntry, TaskState
from tests.escalate.conftest import MANAGER_MAIL, MORGAN, RILEY, T0, EscalationHarness, days

pytestmark = pytest.mark.org


def test_a_case_open_fifteen_days_is_escalated_with_task_post_and_alerts(
    harness: EscalationHarness,
) -> None:
    case = harness.seed_case(owner=RILEY)
    harness.at(T0 + days(15))

    report = harness.run()

    assert report.escalated == [f"{case['Collections_Key__c']}:esc:manager"]
    after = harness.case(case["Id"])
    assert after["IsEscalated"] is True
    assert after["Status"] == "Escalated"
    assert after["Escalation_Reason__c"] == "Open 15 calendar days: no contact logged."
    tasks = harness.tasks(case["Id"])
    assert len(tasks) == 1
    assert tasks[0]["OwnerId"] == harness.user_id(MORGAN)
    assert tasks[0]["Priority"] == "High"
    assert tasks[0]["Collections_Key__c"] == f"{case['Collections_Key__c']}:esc:manager"
    assert tasks[0]["Subject"] == "Escalation: Customer 1 Ltd open 15 calendar days, USD 12,340.50"
    posts = harness.posts(case["Id"])
    assert [post["Body"] for post in posts] == [
        "Escalated to the manager after 15 calendar days. Why: no contact logged."
    ]
    mails = harness.smtp.to(MANAGER_MAIL)
    assert len(mails) == 1
    assert mails[0]["Subject"] == (
        f"Stale collections case {case['CaseNumber']}: Customer 1 Ltd, 15 days"
    )
    text = mails[0].get_body(preferencelist=("plain",))
    assert text is not None
    content = text.get_content()
    assert case["CaseNumber"] in content
    assert "USD 12,340.50" in content
    assert "no contact logged" in content
    assert f"{harness.server.url}/lightning/r/Case/{case['Id']}/view" in content
    assert len(harness.slack.bodies) == 1
    assert case["CaseNumber"] in harness.slack.text()


def test_a_rerun_changes_nothing_and_sends_nothing(harness: EscalationHarness) -> None:
    case = harness.seed_case()
    harness.at(T0 + days(15))
    harness.run()

    harness.at(T0 + days(15) + timedelta(hours=2))
    again = harness.run()

    assert again.escalated == []
    assert again.plan.escalations == ()
    assert again.calls.write == 0
    assert len(harness.tasks(case["Id"])) == 1
    assert len(harness.posts(case["Id"])) == 1
    assert len(harness.smtp.messages) == 1
    assert len(harness.slack.bodies) == 1


def test_a_case_younger_than_the_threshold_is_left_alone(harness: EscalationHarness) -> None:
    case = harness.seed_case()
    harness.at(T0 + days(13) + timedelta(hours=23))

    report = harness.run()

    assert report.escalated == []
    assert report.calls.write == 0
    assert harness.case(case["Id"])["IsEscalated"] is False
    assert harness.smtp.messages == []


def test_thirty_one_days_reaches_the_legal_level_once(harness: EscalationHarness) -> None:
    case = harness.seed_case()
    harness.at(T0 + days(15))
    harness.run()

    harness.at(T0 + days(31))
    legal = harness.run()
    harness.at(T0 + days(31) + timedelta(hours=1))
    again = harness.run()

    key = case["Collections_Key__c"]
    assert legal.escalated == [f"{key}:esc:legal"]
    assert again.escalated == []
    assert again.calls.write == 0
    tasks = sorted(harness.tasks(case["Id"]), key=lambda task: task["Collections_Key__c"])
    assert [task["Collections_Key__c"] for task in tasks] == [
        f"{key}:esc:legal",
        f"{key}:esc:manager",
    ]
    # A queue cannot own a Task: the legal queue gets the Case, the Task stays with the
    # integration user (no owners.task_queue_fallback configured).
    assert tasks[0]["OwnerId"] == harness.server.org.user_id
    assert harness.case(case["Id"])["OwnerId"] == harness.queue_id("Legal_Collections")
    bodies = sorted(post["Body"] for post in harness.posts(case["Id"]))
    assert bodies == [
        "Escalated to the manager after 15 calendar days. Why: no contact logged.",
        "Sent to legal after 31 calendar days. Why: no contact logged.",
    ]
    assert harness.case(case["Id"])["Escalation_Reason__c"] == (
        "Open 31 calendar days: no contact logged."
    )
    assert len(harness.smtp.to(MANAGER_MAIL)) == 2


def test_a_case_first_seen_past_both_levels_gets_only_the_highest(
    harness: EscalationHarness,
) -> None:
    case = harness.seed_case()
    harness.at(T0 + days(40))

    report = harness.run()
    harness.at(T0 + days(41))
    again = harness.run()

    key = case["Collections_Key__c"]
    assert report.escalated == [f"{key}:esc:legal"]
    assert [task["Collections_Key__c"] for task in harness.tasks(case["Id"])] == [
        f"{key}:esc:legal"
    ]
    assert len(harness.posts(case["Id"])) == 1
    with harness.sessions() as session:
        states = {row.key: (row.state, row.settled_by) for row in list_escalations(session)}
    assert states == {
        f"{key}:esc:legal": (EscalationState.APPLIED, None),
        f"{key}:esc:manager": (EscalationState.APPLIED, f"{key}:esc:legal"),
    }
    assert again.escalated == []


def test_the_reason_comes_from_the_ledger(harness: EscalationHarness) -> None:
    case = harness.seed_case()
    key = case["Collections_Key__c"]
    harness.sf.AR_Invoice__c.create(
        {
            "Name": "INV-9",
            "Invoice_Key__c": "erp:INV-9",
            "Account__c": case["AccountId"],
            "Case__c": case["Id"],
            "Status__c": "Open",
            "Disputed__c": True,
        }
    )
    with harness.sessions() as session:
        for number in range(4):
            session.add(
                Outcome(
                    salesforce_task_id=f"00T00000000000{number}AAA",
                    task_key=f"{key}:call-{number}",
                    case_key=key,
                    outcome_code="no_answer" if number else "Left Voicemail",
                    completed_at=T0 + days(number + 1),
                    recorded_at=T0 + days(number + 1),
                )
            )
        session.add(
            Promise(
                promise_key=f"{key}:p1",
                customer_id="C1",
                case_key=key,
                promised_date=date(2026, 3, 6),
                amount=Decimal("500.00"),
                currency="USD",
                status=PromiseStatus.BROKEN,
                created_at=T0 + days(1),
            )
        )
        session.commit()
    harness.at(T0 + days(15))

    harness.run()

    assert harness.case(case["Id"])["Escalation_Reason__c"] == (
        "Open 15 calendar days: promise broken on 2026-03-06; dispute open on 1 invoice; "
        "no response after 4 attempts."
    )
    mail = harness.smtp.to(MANAGER_MAIL)[0].get_body(preferencelist=("plain",))
    assert mail is not None
    assert "no response after 4 attempts" in mail.get_content()


def test_the_escalation_task_goes_through_the_task_ledger(harness: EscalationHarness) -> None:
    case = harness.seed_case()
    harness.at(T0 + days(15))

    harness.run()

    key = f"{case['Collections_Key__c']}:esc:manager"
    task = harness.tasks(case["Id"])[0]
    with harness.sessions() as session:
        statement = select(TaskLedgerEntry).where(TaskLedgerEntry.task_key == key)
        entry = session.scalars(statement).one()
        record = list_escalations(session)[0]
    assert (entry.state, entry.salesforce_id, entry.case_key) == (
        TaskState.CREATED,
        task["Id"],
        case["Collections_Key__c"],
    )
    assert (record.task_id, record.feed_item_id) == (task["Id"], harness.posts(case["Id"])[0]["Id"])


def test_dry_run_lists_what_and_why_and_writes_nothing(harness: EscalationHarness) -> None:
    young = harness.seed_case()
    old = harness.seed_case(owner=MORGAN)
    harness.at(T0 + days(15))
    harness.sf.Case.update(young["Id"], {"Status": "Working"})
    harness.at(T0 + days(15))

    report = harness.run(dry_run=True)
    out = io.StringIO()
    print_report(report, out)

    assert report.calls.write == 0
    assert [(row.action, row.case_number, row.level) for row in report.rows] == [
        ("escalate", young["CaseNumber"], "manager"),
        ("escalate", old["CaseNumber"], "manager"),
    ]
    assert report.rows[1].assign_to == "queue:Collections_Managers"
    assert report.rows[1].note == "owner has no manager: Task to the fallback"
    text = out.getvalue()
    assert "Would escalate (dry run)" in text
    assert young["CaseNumber"] in text
    assert "no contact logged" in text
    assert harness.case(old["Id"])["IsEscalated"] is False
    assert harness.tasks(old["Id"]) == []
    with harness.sessions() as session:
        assert list_escalations(session) == []
        assert session.scalar(select(func.count()).select_from(TaskLedgerEntry)) == 0
        assert list_deliveries(session) == []
    assert harness.smtp.messages == []


def test_a_case_escalated_by_a_person_is_skipped_and_listed(harness: EscalationHarness) -> None:
    case = harness.seed_case()
    harness.sf.Case.update(case["Id"], {"IsEscalated": True})
    harness.at(T0 + days(15))

    report = harness.run()

    assert report.escalated == []
    assert [(row.action, row.reasons) for row in report.rows] == [
        ("skip", "already escalated in Salesforce outside sfsync")
    ]
    assert harness.tasks(case["Id"]) == []
