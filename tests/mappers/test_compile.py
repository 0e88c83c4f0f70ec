"""Reading mappings.yaml and compiling it: every problem at once with its line, and compiled
mappings that turn domain values into Salesforce field dicts."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from sfsync.configfile import InvalidConfigError
from sfsync.domain import (
    AccountKey,
    AgingBuckets,
    CaseAction,
    CaseChange,
    CaseValues,
    Channel,
    InvoiceChange,
    InvoiceStatus,
    InvoiceValues,
    OwnerRule,
    Priority,
    PromiseStatus,
    TaskAction,
    TaskChange,
    TaskValues,
)
from sfsync.mappers.compile import (
    CompiledMappings,
    RecordContext,
    compile_mappings,
    compile_with_problems,
)
from sfsync.mappers.spec import LoadedMappings, load_mappings, read_mappings
from sfsync.mappers.validate import check_mappings_offline
from tests.mappers.conftest import SHIPPED_MAPPINGS, WriteMappings

ACCOUNT = AccountKey("erp", "C-1", "USD")
LENGTHS = {
    "case": {"subject": 255},
    "task": {"subject": 255},
    "ar_invoice__c": {"name": 80, "invoice_number__c": 80, "dispute_reason__c": 255},
}

CASE_VALUES = CaseValues(
    subject="Collections: Acme Ltd (USD)",
    owner=OwnerRule("case_owner"),
    priority=Priority.NORMAL,
    currency="USD",
    past_due=Decimal("1500.005"),
    aging=AgingBuckets(days_1_30=Decimal("1000"), days_31_60=Decimal("500.005")),
    open_invoice_count=3,
    oldest_days_past_due=45,
    next_action_date=date(2026, 3, 20),
    disputed_amount=Decimal(0),
    promise_status=PromiseStatus.PARTIALLY_KEPT,
    promise_date=None,
    promise_amount=None,
    step="day_7_call",
)
CASE_CHANGE = CaseChange(CaseAction.OPEN, "erp:C-1:USD:2", 2, CASE_VALUES, "h")


@pytest.fixture
def compiled(shipped: LoadedMappings) -> CompiledMappings:
    return compile_mappings(shipped, LENGTHS)


def test_the_shipped_case_mapping_produces_the_salesforce_fields(
    compiled: CompiledMappings,
) -> None:
    record = compiled.case_record(CASE_VALUES, RecordContext.for_case(ACCOUNT, CASE_CHANGE))

    assert record == {
        "Subject": "Collections: Acme Ltd (USD)",
        "Description": "Collections for customer C-1 in USD (episode 2)",
        "Origin": "Web",
        "Priority": "Medium",
        "Account": {"attributes": {"type": "Account"}, "Accounting_Id__c": "C-1"},
        "Collections_Currency__c": "USD",
        "Past_Due_Amount__c": 1500.01,
        "Open_Invoice_Count__c": 3,
        "Oldest_Days_Past_Due__c": 45,
        "Aging_1_30__c": 1000.0,
        "Aging_31_60__c": 500.01,
        "Aging_61_90__c": 0.0,
        "Aging_91_Plus__c": 0.0,
        "Disputed_Amount__c": 0.0,
        "Next_Action_Date__c": "2026-03-20",
        "Promise_Status__c": "Partially Kept",
        "Promise_Date__c": None,
        "Promise_Amount__c": None,
    }
    assert compiled.case.external_id == "Collections_Key__c"
    assert "Collections_Key__c" not in record  # the gateway places the key


def test_a_task_hangs_from_its_case_by_key_and_a_reminder_leaves_the_lookup_out(
    compiled: CompiledMappings,
) -> None:
    values = TaskValues(
        "day_7_call", "Call Acme", Channel.CALL, OwnerRule("case_owner"), Priority.HIGH,
        date(2026, 3, 23),
    )  # fmt: skip
    change = TaskChange(TaskAction.CREATE, "erp:C-1:USD:2:day_7_call", "erp:C-1:USD:2", values, "h")
    record = compiled.task_record(values, RecordContext.for_task(ACCOUNT, change))

    assert record == {
        "Subject": "Call Acme",
        "ActivityDate": "2026-03-23",
        "Status": "Not Started",
        "Priority": "High",
        "TaskSubtype": "Call",
        "What": {"attributes": {"type": "Case"}, "Collections_Key__c": "erp:C-1:USD:2"},
    }
    reminder = TaskChange(TaskAction.CREATE, "erp:C-1:USD:due-I1:r", None, values, "h")
    letter = TaskValues("r", "Letter", Channel.LETTER, OwnerRule("case_owner"), Priority.LOW,
                        date(2026, 3, 23))  # fmt: skip
    record = compiled.task_record(letter, RecordContext.for_task(ACCOUNT, reminder))
    assert "What" not in record
    assert record["TaskSubtype"] == "Task"  # value_map default


def test_an_invoice_record_names_account_and_case_by_key_and_truncates_text(
    compiled: CompiledMappings,
) -> None:
    values = InvoiceValues(
        number="INV-" + "9" * 100, currency="EUR", amount=Decimal("200"),
        balance=Decimal("50.5"), issue_date=date(2026, 1, 1), due_date=date(2026, 1, 31),
        days_past_due=44, status=InvoiceStatus.OPEN, disputed=True, dispute_reason="damaged",
    )  # fmt: skip
    change = InvoiceChange("erp:I1", "I1", "erp:C-1:USD:2", values, "h")
    record = compiled.invoice_record(values, RecordContext.for_invoice(ACCOUNT, change))

    assert len(record["Name"]) == 80
    assert record["Account__r"] == {"attributes": {"type": "Account"}, "Accounting_Id__c": "C-1"}
    assert record["Case__r"]["Collections_Key__c"] == "erp:C-1:USD:2"
    assert record["Status__c"] == "Open"
    assert (record["Balance__c"], record["Due_Date__c"], record["Disputed__c"]) == (
        50.5, "2026-01-31", True,
    )  # fmt: skip


def test_an_invoice_without_a_planned_case_leaves_its_case_lookup_alone(
    compiled: CompiledMappings,
) -> None:
    values = InvoiceValues(
        "N1", "USD", Decimal(1), Decimal(0), date(2026, 1, 1), date(2026, 1, 2), 0,
        InvoiceStatus.PAID, disputed=False, dispute_reason="",
    )  # fmt: skip
    change = InvoiceChange("erp:I1", "I1", None, values, "h")
    record = compiled.invoice_record(values, RecordContext.for_invoice(ACCOUNT, change))
    assert "Case__r" not in record
    assert "Case__c" not in record


def test_bare_truncate_needs_describe_lengths(shipped: LoadedMappings) -> None:
    with pytest.raises(InvalidConfigError) as caught:
        compile_mappings(shipped)
    assert {problem.key for problem in caught.value.problems} == {
        "case.Subject", "task.Subject", "invoice.Name", "invoice.Invoice_Number__c",
        "invoice.Dispute_Reason__c",
    }  # fmt: skip


BASE = """
    case:
      sobject: Case
      external_id: Collections_Key__c
      fields:
{case}
    task: {{sobject: Task, external_id: Collections_Key__c}}
    invoice: {{sobject: AR_Invoice__c, external_id: Invoice_Key__c}}
"""


def case_fields(*lines: str) -> str:
    return BASE.format(case="\n".join(" " * 8 + line for line in lines))


def test_compile_reports_every_bad_source_and_transform_with_its_line(
    write_mappings: WriteMappings,
) -> None:
    path = write_mappings(
        case_fields(
            "Subject: {source: subjet}",
            "Aging_1_30__c: {source: aging.days_1_31}",
            "OwnerId: {source: owner}",
            "Priority: {source: priority, transforms: [uper]}",
            "Past_Due_Amount__c: {source: past_due, transforms: [upper]}",
            "Description: {template: '{subject.__class__}'}",
            "Next_Action_Date__c: {source: next_action_date.year}",
        )
    )
    loaded = load_mappings(path)
    _, problems = compile_with_problems(loaded)

    found = {(problem.line, problem.field): problem for problem in problems}
    assert sorted(found) == [
        (5, "Subject"), (6, "Aging_1_30__c"), (7, "OwnerId"), (8, "Priority"),
        (9, "Past_Due_Amount__c"), (10, "Description"), (11, "Next_Action_Date__c"),
    ]  # fmt: skip
    assert found[5, "Subject"].message == "unknown source 'subjet'"
    assert found[5, "Subject"].fix.startswith("did you mean subject?")
    assert found[6, "Aging_1_30__c"].fix.startswith("did you mean aging.days_1_30?")
    assert "not a value a Salesforce field can hold" in found[7, "OwnerId"].message
    assert found[8, "Priority"].fix.startswith("did you mean upper?")
    assert found[9, "Past_Due_Amount__c"].message == "upper does not apply to a decimal value"
    assert "attribute access" in found[10, "Description"].message
    assert "has no attribute 'year'" in found[11, "Next_Action_Date__c"].message
    assert all(problem.file == str(path) for problem in problems)


def test_methods_and_properties_of_domain_values_are_not_sources(
    write_mappings: WriteMappings,
) -> None:
    path = write_mappings(
        case_fields("Subject: {source: canonical}", "X: {source: aging.past_due}")
    )
    _, problems = compile_with_problems(load_mappings(path))
    assert [problem.message for problem in problems] == [
        "unknown source 'canonical'",
        "unknown source 'aging.past_due': aging has no 'past_due'",
    ]


def test_a_yaml_syntax_error_is_the_only_problem_reported(write_mappings: WriteMappings) -> None:
    path = write_mappings(case_fields("Subject: {source: subject", "Origin: {const: Web}"))
    loaded, problems = read_mappings(path)

    assert loaded is None
    assert len(problems) == 1
    assert problems[0].line is not None
    assert problems[0].message.startswith("invalid YAML")
    assert "indentation or quoting" in problems[0].fix


def test_spec_errors_are_listed_together_with_lines(write_mappings: WriteMappings) -> None:
    path = write_mappings(
        """
        version: 1
        case:
          sobject: Case
          externl_id: Collections_Key__c
          fields:
            Subject: {source: subject, const: x}
            Origin: {const: Web, transform: [upper]}
        task: {sobject: Task, external_id: Collections_Key__c}
        """
    )
    loaded, problems = read_mappings(path)

    assert loaded is None
    by_line = {problem.line: problem for problem in problems}
    assert by_line[4].message == "unknown key 'externl_id'"
    assert "case.external_id is required" in [problem.message for problem in problems]
    assert "exactly one of source, const or template" in by_line[6].message
    assert by_line[6].fix == "keep one of source:, const: or template: for this field"
    assert by_line[7].message == "unknown key 'transform' in a field mapping"
    assert any(problem.key == "invoice" and problem.line is None for problem in problems)


def test_load_mappings_raises_a_config_error_listing_every_problem(
    write_mappings: WriteMappings,
) -> None:
    path = write_mappings("case: [1, 2]\n")
    with pytest.raises(InvalidConfigError) as caught:
        load_mappings(path)
    assert len(caught.value.problems) == 3  # case is not a section; task and invoice missing


def test_a_value_of_the_wrong_shape_is_one_problem_not_one_per_accepted_type(
    write_mappings: WriteMappings,
) -> None:
    path = write_mappings(
        case_fields(
            "Origin: {const: [Web]}",
            "Subject: {source: subject, transforms: [5]}",
        )
    )
    _, problems = read_mappings(path)

    assert [(problem.line, problem.key, problem.message) for problem in problems] == [
        (5, "case.Origin", "const must be a single value: text, a number, true/false or a date"),
        (6, "case.Subject", "a transform is a name or a one-key table"),
    ]


def test_the_offline_check_accepts_bare_truncate_and_reports_the_rest(
    write_mappings: WriteMappings,
) -> None:
    assert check_mappings_offline(SHIPPED_MAPPINGS) == []
    path = write_mappings(
        case_fields("Subject: {source: subject, transforms: [truncate, lowercase]}")
    )
    problems = check_mappings_offline(path)
    assert [(problem.line, problem.message) for problem in problems] == [
        (5, "unknown transform 'lowercase'")
    ]
