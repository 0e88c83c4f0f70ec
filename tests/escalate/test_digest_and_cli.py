"""The daily digest, and ``sfsync escalate`` end to end on the embedded local org."""

from __future__ import annotations

import json
import shutil
from datetime import timedelta
from pathlib import Path

import pytest
from simple_salesforce import Salesforce
from simple_salesforce.format import format_soql
from typer.testing import CliRunner

from sfsync.alerts.model import AlertMode
from sfsync.cli import app
from sfsync.clock import SystemClock
from sfsync.escalate import send_escalation_digest
from sfsync.sandbox.client import LocalOrgSession
from sfsync.sandbox.server import start_local_org
from tests.escalate.conftest import (
    API_VERSION,
    CONFIG,
    MANAGER_MAIL,
    RILEY,
    T0,
    EscalationHarness,
    days,
)
from tests.fixtures.org import LOGIN_DOMAIN

pytestmark = pytest.mark.org


def test_the_digest_lists_each_recipients_stale_cases_once_a_day(
    harness: EscalationHarness,
) -> None:
    first = harness.seed_case(owner=RILEY)
    second = harness.seed_case(owner=RILEY)
    harness.at(T0 + days(10))
    young = harness.seed_case(owner=RILEY)
    harness.at(T0 + days(16))

    outcomes = send_escalation_digest(harness.deps())
    again = send_escalation_digest(harness.deps())
    harness.at(T0 + days(17))
    next_day = send_escalation_digest(harness.deps())

    assert {(outcome.mode, outcome.recipient) for outcome in outcomes} == {
        (AlertMode.DIGEST, MANAGER_MAIL),
        (AlertMode.DIGEST, "slack:collections"),
    }
    assert {outcome.status.value for outcome in again} == {"duplicate"}
    assert {outcome.status.value for outcome in next_day} == {"sent"}
    mails = harness.smtp.to(MANAGER_MAIL)
    assert [mail["Subject"] for mail in mails] == [
        "Collections digest 2026-03-18: 2 stale cases",
        "Collections digest 2026-03-19: 2 stale cases",
    ]
    body = mails[0].get_body(preferencelist=("plain",))
    assert body is not None
    text = body.get_content()
    assert first["CaseNumber"] in text
    assert second["CaseNumber"] in text
    assert young["CaseNumber"] not in text


def _seed_embedded_org(data_dir: Path) -> str:
    """An embedded org with one collections Case opened 20 days ago (org clock moved back)."""
    server = start_local_org(data_dir)
    try:
        server.org.clock.set(SystemClock().now() - timedelta(days=20))
        config = server.org.config
        session = LocalOrgSession(server.url, server.ca_path)
        sf = Salesforce(
            consumer_key=config.client_id,
            consumer_secret=config.client_secret,
            domain=LOGIN_DOMAIN,
            session=session,
            version=API_VERSION,
        )
        riley = sf.query(format_soql("SELECT Id FROM User WHERE Username = {}", RILEY))
        account = sf.Account.create({"Name": "Acme Ltd", "Accounting_Id__c": "C1"})
        case = sf.Case.create(
            {
                "Subject": "Collections: Acme Ltd",
                "AccountId": account["id"],
                "Collections_Key__c": "demo:C1:USD:1",
                "OwnerId": riley["records"][0]["Id"],
                "Past_Due_Amount__c": 700.0,
                "Collections_Currency__c": "USD",
            }
        )
        session.close()
        return str(case["id"])
    finally:
        server.stop()


def _embedded_case(data_dir: Path, case_id: str) -> dict[str, object]:
    server = start_local_org(data_dir)
    try:
        record = server.org.store.get(case_id)
        assert record is not None
        return dict(record)
    finally:
        server.stop()


def test_escalate_dry_run_then_for_real_on_the_embedded_org(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "config"
    shutil.copytree(CONFIG, config)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", "200")
    case_id = _seed_embedded_org(tmp_path / "var" / "org")
    runner = CliRunner()
    arguments = ["--log-format", "json", "escalate", "--config", str(config / "sfsync.yaml")]

    dry = runner.invoke(app, [*arguments, "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "Would escalate (dry run)" in dry.output
    assert "Acme Ltd" in dry.output
    assert "20 calendar days" in dry.output
    assert _embedded_case(tmp_path / "var" / "org", case_id)["IsEscalated"] is False

    real = runner.invoke(app, arguments)
    assert real.exit_code == 0, real.output
    finished = [
        json.loads(line)
        for line in real.output.splitlines()
        if line.startswith("{") and '"escalation_run_finished"' in line
    ]
    assert [(line["escalated"], line["failed"]) for line in finished] == [(1, 0)]
    after = _embedded_case(tmp_path / "var" / "org", case_id)
    assert (after["IsEscalated"], after["Status"]) == (True, "Escalated")

    both = runner.invoke(app, [*arguments, "--dry-run", "--digest"])
    assert both.exit_code == 2
    assert "cannot be combined" in both.output
