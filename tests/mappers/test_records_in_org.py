"""The records compiled mappings produce are accepted by the org as they are: written by key
with simple-salesforce, their lookups by external id land on the right Account and Case."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from simple_salesforce import Salesforce, format_soql

from sfsync.domain import (
    AccountKey,
    Channel,
    InvoiceChange,
    InvoiceStatus,
    InvoiceValues,
    TaskAction,
    TaskChange,
    TaskValues,
)
from sfsync.mappers.compile import RecordContext, compile_mappings
from sfsync.mappers.spec import LoadedMappings
from sfsync.mappers.validate import field_lengths
from tests.mappers.test_compile import CASE_CHANGE, CASE_VALUES

pytestmark = pytest.mark.org

ACCOUNT = AccountKey("erp", "C-1", "USD")


def one(sf: Salesforce, soql: str) -> dict[str, Any]:
    records = sf.query(soql)["records"]
    assert len(records) == 1, records
    return dict(records[0])


def test_mapped_case_task_and_invoice_are_written_and_linked_by_external_ids(
    sf: Salesforce, shipped: LoadedMappings, describes: dict[str, dict[str, Any]]
) -> None:
    mappings = compile_mappings(shipped, field_lengths(describes))
    account_id = sf.Account.create({"Name": "Acme Ltd", "Accounting_Id__c": "C-1"})["id"]

    case = mappings.case_record(CASE_VALUES, RecordContext.for_case(ACCOUNT, CASE_CHANGE))
    sf.Case.upsert(f"{mappings.case.external_id}/{CASE_CHANGE.key}", case)
    task_values = TaskValues(
        "day_7_call", "Call Acme", Channel.CALL, CASE_VALUES.owner, CASE_VALUES.priority,
        date(2026, 3, 23),
    )  # fmt: skip
    task_change = TaskChange(
        TaskAction.CREATE, f"{CASE_CHANGE.key}:day_7_call", CASE_CHANGE.key, task_values, "h"
    )
    task = mappings.task_record(task_values, RecordContext.for_task(ACCOUNT, task_change))
    sf.Task.create({mappings.task.external_id: task_change.key, **task})
    invoice_values = InvoiceValues(
        "INV-1", "USD", Decimal("200"), Decimal("150.25"), date(2026, 1, 1),
        date(2026, 1, 31), 44, InvoiceStatus.OPEN, disputed=False, dispute_reason="",
    )  # fmt: skip
    invoice_change = InvoiceChange("erp:INV-1", "INV-1", CASE_CHANGE.key, invoice_values, "h")
    invoice = mappings.invoice_record(
        invoice_values, RecordContext.for_invoice(ACCOUNT, invoice_change)
    )
    sf.AR_Invoice__c.upsert(f"{mappings.invoice.external_id}/{invoice_change.key}", invoice)

    stored_case = one(
        sf,
        format_soql(
            "SELECT Id, AccountId, Priority, Promise_Status__c, Past_Due_Amount__c FROM Case "
            "WHERE Collections_Key__c = {}",
            CASE_CHANGE.key,
        ),
    )
    assert stored_case["AccountId"] == account_id
    assert (stored_case["Priority"], stored_case["Promise_Status__c"]) == (
        "Medium",
        "Partially Kept",
    )
    assert stored_case["Past_Due_Amount__c"] == pytest.approx(1500.01)
    stored_task = one(
        sf,
        format_soql(
            "SELECT WhatId, TaskSubtype FROM Task WHERE Collections_Key__c = {}", task_change.key
        ),
    )
    assert stored_task == {
        "attributes": stored_task["attributes"],
        "WhatId": stored_case["Id"],
        "TaskSubtype": "Call",
    }
    stored_invoice = one(
        sf,
        "SELECT Account__c, Case__c, Status__c, Balance__c FROM AR_Invoice__c "
        "WHERE Invoice_Key__c = 'erp:INV-1'",
    )
    assert (stored_invoice["Account__c"], stored_invoice["Case__c"]) == (
        account_id,
        stored_case["Id"],
    )
    assert (stored_invoice["Status__c"], stored_invoice["Balance__c"]) == ("Open", 150.25)
