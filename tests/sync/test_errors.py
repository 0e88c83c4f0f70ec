"""Refused writes, bad source rows and unmatched customers: listed with reasons, nothing lost."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sfsync.cli import app
from sfsync.deadletters import list_errors, retry_dead_letters
from sfsync.runner import compile_for_org
from sfsync.store.models import TaskState
from sfsync.store.repositories import get_task
from sfsync.sync import run_cycle
from tests.sync.conftest import (
    CONFIG,
    FaultingGateway,
    SyncHarness,
    case_rows,
    invoice_rows,
    org_gateway,
    task_rows,
)

pytestmark = pytest.mark.org

LONG_ID = "X" * 90  # its number "INV-XXX..." is longer than Invoice_Number__c's 80 characters


def _untruncated_mappings(world: SyncHarness, tmp_path: Path) -> None:
    """A mapping an admin got wrong: the invoice number is sent without truncation."""
    text = (CONFIG / "mappings.yaml").read_text(encoding="utf-8")
    text = text.replace(
        "Invoice_Number__c: {source: number, transforms: [truncate]}",
        "Invoice_Number__c: {source: number}",
    )
    path = tmp_path / "mappings.yaml"
    path.write_text(text, encoding="utf-8")
    gateway = org_gateway(world.server, world.clock)
    world.gateways.append(gateway)
    world.mappings = compile_for_org(path, gateway)


def test_refused_records_are_dead_lettered_and_the_rest_applied(
    harness: SyncHarness, tmp_path: Path
) -> None:
    _untruncated_mappings(harness, tmp_path)
    for customer in ("C1", "C2"):
        harness.account(customer, f"Customer {customer}")
        harness.ledger.customer(customer, f"Customer {customer}")
        harness.ledger.invoice(f"{customer}-1", customer, "500.00", due=date(2026, 3, 1))
    harness.ledger.invoice(LONG_ID, "C2", "250.00", due=date(2026, 3, 2))

    report = harness.run()

    assert report.counts["dead_lettered"] == 1
    assert report.counts["invoices_upserted"] == 2
    # The watermark moves; the customer of the refused record is listed to be read by key.
    assert report.watermark_advanced
    assert report.held == ("C2",)
    assert len(case_rows(harness)) == 2
    assert [row["Invoice_Key__c"] for row in invoice_rows(harness)] == ["erp:C1-1", "erp:C2-1"]
    [letter] = list_errors(harness.sessions).dead_letters
    assert (letter.sobject, letter.record_key, letter.operation) == (
        "AR_Invoice__c",
        f"erp:{LONG_ID}",
        "upsert",
    )
    assert letter.error_code == "STRING_TOO_LONG"
    assert "max length=80" in letter.message

    # The next cycle reads C2 again by key and sends the refused record again; it fails
    # again: one letter, 2 attempts.
    harness.advance(hours=1)
    again = harness.run()
    assert again.held == ("C2",)
    [letter] = list_errors(harness.sessions).dead_letters
    assert letter.attempts == 2

    # The admin fixes the mapping: the next cycle writes it and resolves the letter.
    harness.mappings = compile_for_org(CONFIG / "mappings.yaml", harness.gateway())
    harness.advance(hours=1)
    fixed = harness.run()
    assert fixed.settled
    assert list_errors(harness.sessions).dead_letters == []
    assert len(invoice_rows(harness)) == 3


def test_dlq_retry_replays_a_refused_write_once_the_org_is_fixed(harness: SyncHarness) -> None:
    account_id = harness.account("C1", "Acme Ltd")
    harness.ledger.customer("C1", "Acme Ltd")
    harness.ledger.invoice("I1", "C1", "700.00", due=date(2026, 3, 6))
    harness.run()
    # Someone edits the Account's accounting id in Salesforce: the Case update is refused.
    gateway = harness.gateway()
    assert gateway.update("Account", [{"Id": account_id, "Accounting_Id__c": "C1-typo"}])[0].ok
    harness.advance(days=1)
    refused = harness.run()
    [letter] = list_errors(harness.sessions).dead_letters
    assert (letter.sobject, letter.record_key, letter.error_code) == (
        "Case",
        "erp:C1:USD:1",
        "INVALID_FIELD",
    )
    assert refused.counts["skipped"] == 1  # the invoice waits for its Case
    early = retry_dead_letters(gateway, harness.sessions, harness.clock, ids=[letter.id])
    assert [letter_id for letter_id, _ in early.failed] == [letter.id]
    assert list_errors(harness.sessions).dead_letters[0].attempts == 2

    assert gateway.update("Account", [{"Id": account_id, "Accounting_Id__c": "C1"}])[0].ok
    result = retry_dead_letters(gateway, harness.sessions, harness.clock, ids=[letter.id])

    assert result.resolved == [letter.id]
    assert list_errors(harness.sessions).dead_letters == []
    assert case_rows(harness)[0]["Oldest_Days_Past_Due__c"] == 11


def test_bad_source_rows_are_quarantined_and_the_cycle_completes(harness: SyncHarness) -> None:
    harness.account("C1", "Acme Ltd")
    harness.ledger.customer("C1", "Acme Ltd")
    harness.ledger.invoice("I1", "C1", "700.00", due=date(2026, 3, 6))
    harness.ledger.bad_invoice("I2", "C1", due_date="2026-02-30")
    harness.ledger.bad_invoice("I3", "C1", amount="1,200.00 EUR")
    harness.ledger.bad_invoice("I4", "")

    report = harness.run()

    assert report.status == "succeeded"
    assert report.counts["quarantined"] == 3
    assert case_rows(harness)[0]["Past_Due_Amount__c"] == 700
    reasons = {row.row_key: row.reason for row in list_errors(harness.sessions).quarantined}
    assert set(reasons) == {"erp:I2", "erp:I3", "erp:I4"}
    assert "2026-02-30" in reasons["erp:I2"]
    assert "has no customer" in reasons["erp:I4"]

    # The accountant fixes the date: the row leaves the quarantine and reaches the Case.
    harness.advance(hours=1)
    harness.ledger.correct("I2", due_date="2026-02-28")
    harness.run()
    left = {row.row_key for row in list_errors(harness.sessions).quarantined}
    assert left == {"erp:I3", "erp:I4"}
    assert case_rows(harness)[0]["Past_Due_Amount__c"] == 800


def test_unmatched_customers_are_listed_then_synced_once_their_account_exists(
    harness: SyncHarness,
) -> None:
    harness.ledger.customer("C9", "Nobody Inc")
    harness.ledger.invoice("I9", "C9", "400.00", due=date(2026, 3, 1))

    listed = harness.run()

    assert listed.unmatched == ("C9",)
    assert case_rows(harness) == []
    assert listed.watermark_advanced
    assert listed.held == ("C9",)
    [row] = list_errors(harness.sessions).quarantined
    assert row.row_key == "account:C9"
    assert "Accounting_Id__c" in row.reason

    harness.account("C9", "Nobody Inc")
    harness.advance(hours=1)
    matched = harness.run()
    assert matched.unmatched == ()
    assert matched.counts["cases_opened"] == 1
    assert list_errors(harness.sessions).quarantined == []


def test_missing_accounts_are_created_when_configured(harness: SyncHarness) -> None:
    harness.ledger.customer("C9", "Nobody Inc")
    harness.ledger.invoice("I9", "C9", "400.00", due=date(2026, 3, 1))
    deps = harness.deps()
    settings = harness.settings.model_copy(
        update={"sync": harness.settings.sync.model_copy(update={"create_missing_accounts": True})}
    )

    report = run_cycle(replace(deps, settings=settings))

    assert report.unmatched == ()
    assert report.counts["accounts_created"] == 1
    [account] = harness.rows("SELECT Id, Name FROM Account WHERE Accounting_Id__c = 'C9'")
    assert account["Name"] == "Nobody Inc"
    assert case_rows(harness)[0]["AccountId"] == account["Id"]


def test_dlq_list_prints_refused_writes_and_quarantined_rows(
    harness: SyncHarness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _untruncated_mappings(harness, tmp_path)
    harness.account("C2", "Globex")
    harness.ledger.customer("C2", "Globex")
    harness.ledger.invoice(LONG_ID, "C2", "250.00", due=date(2026, 3, 2))
    harness.ledger.bad_invoice("I3", "C2", due_date="2026-02-30")
    harness.run()
    store = harness.sessions.kw["bind"].url.render_as_string(hide_password=False)
    monkeypatch.setenv("SFSYNC_STORE__URL", store)
    monkeypatch.setenv("COLUMNS", "250")

    result = CliRunner().invoke(app, ["dlq", "list", "--config", str(CONFIG / "sfsync.yaml")])

    assert result.exit_code == 0, result.output
    assert "STRING_TOO_LONG" in result.output
    assert f"erp:{LONG_ID}" in result.output
    assert "erp:I3" in result.output
    assert "2026-02-30" in result.output


def test_dlq_retry_creates_a_refused_task_once_through_the_ledger(
    harness: SyncHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    harness.account("C1", "Acme Ltd")
    harness.ledger.customer("C1", "Acme Ltd")
    harness.ledger.invoice("I1", "C1", "700.00", due=date(2026, 3, 6))
    locked = FaultingGateway(harness, "create", "Task", fault="lock")
    refused = run_cycle(replace(harness.deps(), gateway=locked))
    assert refused.counts["dead_lettered"] == 1
    assert task_rows(harness) == []
    [letter] = list_errors(harness.sessions).dead_letters
    assert (letter.sobject, letter.operation, letter.error_code) == (
        "Task",
        "create",
        "UNABLE_TO_LOCK_ROW",
    )
    config = harness.org.config
    for name, value in {
        "SFSYNC_STORE__URL": harness.sessions.kw["bind"].url.render_as_string(hide_password=False),
        "SFSYNC_EMBEDDED__ENABLED": "false",
        "SFSYNC_SALESFORCE__LOGIN_URL": harness.server.url,
        "SFSYNC_SALESFORCE__CLIENT_ID": config.client_id,
        "SFSYNC_SALESFORCE__CLIENT_SECRET": config.client_secret,
        "SFSYNC_SALESFORCE__CA_BUNDLE": str(harness.server.ca_path),
    }.items():
        monkeypatch.setenv(name, value)

    result = CliRunner().invoke(
        app, ["dlq", "retry", "--all", "--config", str(CONFIG / "sfsync.yaml")]
    )

    assert result.exit_code == 0, result.output
    assert "resolved 1, still failing 0" in result.output
    [task] = task_rows(harness)
    assert task["Collections_Key__c"] == "erp:C1:USD:1:day_7_call"
    with harness.sessions() as session:
        entry = get_task(session, "erp:C1:USD:1:day_7_call")
        assert entry is not None
        assert (entry.state, entry.salesforce_id) == (TaskState.CREATED, task["Id"])
    # The next cycle finds the Task in the ledger: it is not created twice.
    harness.advance(hours=1)
    assert harness.run().counts["tasks_created"] == 0
    assert len(task_rows(harness)) == 1
