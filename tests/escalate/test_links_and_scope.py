"""What escalation reads and where its links point: collections Cases only, the org's own URL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import select

from sfsync.escalate import open_escalation, run_escalation
from sfsync.salesforce.client import SimpleSalesforceGateway
from sfsync.settings import Settings
from sfsync.store.escalations import EscalationRecord
from tests.escalate.conftest import CONFIG, RILEY, T0, EscalationHarness, days, org_gateway

pytestmark = pytest.mark.org


def test_a_dispute_case_open_twenty_days_is_not_escalated_while_its_parent_is(
    harness: EscalationHarness,
) -> None:
    parent = harness.seed_case(owner=RILEY)
    child = harness.sf.Case.create(
        {
            "Subject": "Dispute: Customer 1 Ltd invoice INV-1",
            "AccountId": parent["AccountId"],
            "ParentId": parent["Id"],
            "Collections_Key__c": f"{parent['Collections_Key__c']}:dispute",
            "OwnerId": harness.user_id(RILEY),
            "Collections_Currency__c": "USD",
        }
    )
    harness.at(T0 + days(20))

    report = harness.run()

    assert report.escalated == [f"{parent['Collections_Key__c']}:esc:manager"]
    assert harness.case(parent["Id"])["IsEscalated"] is True
    dispute = harness.case(str(child["id"]))
    assert (dispute["IsEscalated"], dispute["Status"]) == (False, "New")
    assert harness.tasks(str(child["id"])) == []
    assert harness.posts(str(child["id"])) == []


def test_alert_links_point_at_the_org_the_gateway_logged_in_to(
    harness: EscalationHarness, tmp_path: Path
) -> None:
    """The configured login URL is not the org (embedded mode, My Domain): the link uses the
    instance URL the token named."""
    case = harness.seed_case(owner=RILEY)
    harness.at(T0 + days(15))
    settings = Settings(store={"url": f"sqlite:///{tmp_path / 'links.db'}"})
    assert settings.salesforce.login_url != harness.server.url

    @contextmanager
    def opener() -> Iterator[SimpleSalesforceGateway]:
        gateway = org_gateway(harness.server, harness.clock)
        try:
            yield gateway
        finally:
            gateway.close()

    with open_escalation(settings, CONFIG / "sfsync.yaml", harness.clock, opener) as deps:
        assert deps.instance_url == harness.server.url
        report = run_escalation(deps, dry_run=False)
        assert report.escalated == [f"{case['Collections_Key__c']}:esc:manager"]
        with deps.sessions() as session:
            [record] = session.scalars(select(EscalationRecord)).all()
    assert record.alert is not None
    assert record.alert["case_url"] == (f"{harness.server.url}/lightning/r/Case/{case['Id']}/view")
