"""Exactly once under overlap and crashes: concurrent runs and a run that dies between writes."""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from sfsync.escalate import EscalationReport, run_escalation
from sfsync.salesforce.ports import ItemResult
from sfsync.store.escalations import EscalationState, list_escalations
from tests.escalate.conftest import MANAGER_MAIL, T0, EscalationHarness, days

pytestmark = pytest.mark.org


def test_two_concurrent_runs_escalate_each_case_once(harness: EscalationHarness) -> None:
    _race_two_runs(harness)


@pytest.mark.postgres
def test_two_concurrent_runs_on_a_postgresql_store_escalate_each_case_once(
    harness: EscalationHarness, postgres_sessions: sessionmaker[Session]
) -> None:
    harness.sessions = postgres_sessions
    _race_two_runs(harness)


def _race_two_runs(harness: EscalationHarness) -> None:
    """Two runs start together on the same stale Cases; each Case is escalated once."""
    cases = [harness.seed_case() for _ in range(4)]
    harness.at(T0 + days(15))
    first, second = harness.deps(holder="run-a"), harness.deps(holder="run-b")
    start = threading.Barrier(2)
    reports: list[EscalationReport] = []
    errors: list[BaseException] = []

    def run(deps: Any) -> None:
        try:
            start.wait(timeout=30)
            reports.append(run_escalation(deps, dry_run=False))
        except BaseException as error:  # noqa: BLE001 - surfaced by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=run, args=(deps,)) for deps in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert errors == []
    escalated = sorted(key for report in reports for key in report.escalated)
    assert escalated == sorted(f"{case['Collections_Key__c']}:esc:manager" for case in cases)
    for case in cases:
        assert len(harness.tasks(case["Id"])) == 1
        assert len(harness.posts(case["Id"])) == 1
    assert len(harness.smtp.to(MANAGER_MAIL)) == 4
    # Every key a run planned was either escalated by it or found held by the other run.
    planned = sum(len(report.plan.escalations) for report in reports)
    assert sum(len(report.held_elsewhere) for report in reports) == planned - len(cases)


class SimulatedCrashError(Exception):
    """The process dies right after Salesforce accepted the Chatter post."""


class CrashingGateway:
    """The real gateway, except the process "dies" once a FeedItem create has been applied."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def create(self, object_name: str, records: Sequence[Mapping[str, Any]]) -> list[ItemResult]:
        results: list[ItemResult] = self._inner.create(object_name, records)
        if object_name == "FeedItem":
            raise SimulatedCrashError
        return results


def test_a_run_that_dies_after_posting_is_resumed_without_a_second_post(
    harness: EscalationHarness,
) -> None:
    case = harness.seed_case()
    harness.at(T0 + days(15))
    deps = harness.deps(holder="crashed")
    crashing = type(deps)(**{**deps.__dict__, "gateway": CrashingGateway(deps.gateway)})
    with pytest.raises(SimulatedCrashError):
        run_escalation(crashing, dry_run=False)
    with harness.sessions() as session:
        (row,) = list_escalations(session)
    assert (row.state, row.holder) == (EscalationState.SENT, "crashed")

    harness.at(T0 + days(15) + timedelta(minutes=5))
    too_soon = harness.run()
    harness.at(T0 + days(15) + timedelta(minutes=20))
    resumed = harness.run()

    key = f"{case['Collections_Key__c']}:esc:manager"
    assert too_soon.held_elsewhere == [key]
    assert resumed.escalated == [key]
    assert len(harness.posts(case["Id"])) == 1
    assert len(harness.tasks(case["Id"])) == 1
    assert harness.case(case["Id"])["IsEscalated"] is True
    with harness.sessions() as session:
        (row,) = list_escalations(session)
    assert row.state is EscalationState.APPLIED
    assert row.feed_item_id == harness.posts(case["Id"])[0]["Id"]
    assert len(harness.smtp.to(MANAGER_MAIL)) == 1


class DroppingGateway:
    """The real gateway; the org drops the connection after committing the Task create."""

    def __init__(self, inner: Any, faults: Any) -> None:
        self._inner = inner
        self._faults = faults

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def create(self, object_name: str, records: Sequence[Mapping[str, Any]]) -> list[ItemResult]:
        if object_name == "Task":
            self._faults.drop_after_commit(1)
        results: list[ItemResult] = self._inner.create(object_name, records)
        return results


def test_a_task_lost_in_a_dropped_connection_is_found_by_its_key(
    harness: EscalationHarness,
) -> None:
    case = harness.seed_case()
    harness.at(T0 + days(15))
    deps = harness.deps(holder="dropped")
    faults = harness.server.org.faults
    dropping = type(deps)(**{**deps.__dict__, "gateway": DroppingGateway(deps.gateway, faults)})

    first = run_escalation(dropping, dry_run=False)
    harness.at(T0 + days(15) + timedelta(hours=1))
    second = harness.run()

    key = f"{case['Collections_Key__c']}:esc:manager"
    assert [failed_key for failed_key, _ in first.failed] == [key]
    assert second.escalated == [key]
    assert len(harness.tasks(case["Id"])) == 1
    assert len(harness.posts(case["Id"])) == 1
    assert "may or may not exist" in first.failed[0][1]
