"""Mappings validated against the local org's live describe (fetched over HTTPS by the real
simple-salesforce client): the shipped mapping fits; a broken one lists every problem."""

from __future__ import annotations

from typing import Any

import pytest

from sfsync.mappers.spec import LoadedMappings, MappingProblem, load_mappings
from sfsync.mappers.validate import validate_mappings
from tests.mappers.conftest import WriteMappings

pytestmark = pytest.mark.org

Describes = dict[str, dict[str, Any]]

BROKEN = """
version: 1
account: {sobject: Account, external_id: Accounting_Id__c}
case:
  sobject: Case
  external_id: Escalation_Reason__c
  fields:
    Subject: {source: subject}
    Past_Due_Amnt__c: {source: past_due}
    Next_Action_Date__c: {source: past_due}
    IsClosed: {const: true}
    Origin: {const: Fax}
    Priority: {source: priority}
    Collections_Currency__c: {const: Dollars}
    Aging_1_30__c: {source: aging.days_1_30, transforms: [round_mony]}
task:
  sobject: Tsk
  external_id: Collections_Key__c
invoice:
  sobject: AR_Invoice__c
  external_id: Invoice_Key__c
  fields:
    Case__c: {source: customer_id, transforms: [account_lookup]}
    Status__c: {source: status}
    Disputed__c: {source: dispute_reason}
"""


def by_field(problems: list[MappingProblem]) -> dict[tuple[str, str], list[MappingProblem]]:
    found: dict[tuple[str, str], list[MappingProblem]] = {}
    for problem in problems:
        found.setdefault((problem.object, problem.field), []).append(problem)
    return found


def test_the_shipped_mapping_fits_the_shipped_metadata(
    shipped: LoadedMappings, describes: Describes, visible: list[str]
) -> None:
    assert validate_mappings(shipped, describes, visible) == []


def test_a_broken_mapping_lists_every_problem_with_line_and_fix(
    write_mappings: WriteMappings, describes: Describes, visible: list[str]
) -> None:
    path = write_mappings(BROKEN)
    problems = validate_mappings(load_mappings(path), describes, visible)
    found = by_field(problems)

    def one(obj: str, field: str) -> MappingProblem:
        assert len(found[obj, field]) == 1, found[obj, field]
        return found[obj, field][0]

    key = one("case", "external_id")
    assert (key.line, key.message) == (
        5,
        (
            "Case.Escalation_Reason__c is not a unique external id, so sfsync cannot upsert by "
            "it without risking duplicates"
        ),
    )
    missing = one("case", "Past_Due_Amnt__c")
    assert (missing.line, missing.message) == (8, "Case has no field Past_Due_Amnt__c")
    assert missing.fix == "did you mean Past_Due_Amount__c?"
    wrong_type = one("case", "Next_Action_Date__c")
    assert wrong_type.message == (
        "Case.Next_Action_Date__c is a date field but the mapping gives a decimal value"
    )
    assert wrong_type.line == 9
    assert one("case", "IsClosed").message.startswith("Case.IsClosed is not createable")
    assert one("case", "IsClosed").fix == (
        "remove Case.IsClosed from the mapping: Salesforce computes it"
    )
    picklist = one("case", "Origin")
    assert (picklist.line, picklist.message) == (11, "'Fax' is not a value of picklist Case.Origin")
    assert picklist.fix == "use one of Phone, Email, Web, or add 'Fax' to Case.Origin in Setup"
    assert [problem.message for problem in found["case", "Priority"]] == [
        "'high' is not a value of picklist Case.Priority",
        "'low' is not a value of picklist Case.Priority",
        "'normal' is not a value of picklist Case.Priority",
    ]
    too_long = one("case", "Collections_Currency__c")
    assert too_long.message == "'Dollars' is 7 characters; Case.Collections_Currency__c holds 3"
    unknown = one("case", "Aging_1_30__c")
    assert (unknown.line, unknown.message) == (14, "unknown transform 'round_mony'")
    assert unknown.fix.startswith("did you mean round_money?")
    hidden = one("task", "sobject")
    assert hidden.message == "object Tsk does not exist or the integration user cannot see it"
    assert hidden.fix.startswith("did you mean task?")
    lookup = one("invoice", "Case__c")
    assert lookup.message == "Case__c looks up Case, not Account"
    restricted = found["invoice", "Status__c"][0]
    assert restricted.message == "'open' is not a value of picklist AR_Invoice__c.Status__c"
    assert len(found["invoice", "Status__c"]) == 3
    assert one("invoice", "Disputed__c").fix == (
        "map a true/false source (disputed) or const: true/false"
    )
    assert all(problem.file == str(path) and problem.fix for problem in problems)
    assert len(problems) == 16


def test_required_fields_without_a_mapping_are_reported(
    write_mappings: WriteMappings, describes: Describes
) -> None:
    account = describes["Account"]
    # An org where Task.Description is required on create (an admin made it so).
    task = dict(describes["Task"])
    task["fields"] = [
        {**field, "nillable": False} if field["name"] == "Description" else field
        for field in task["fields"]
    ]
    path = write_mappings(BROKEN.replace("sobject: Tsk", "sobject: Task"))
    problems = validate_mappings(
        load_mappings(path), {**describes, "Task": task, "Account": account}
    )
    required = by_field(problems)["task", "Description"]
    assert [problem.message for problem in required] == [
        "Task.Description is required when creating a record but is not mapped"
    ]
    assert required[0].line == 15


def test_an_updateable_check_applies_to_upserted_objects_only(
    write_mappings: WriteMappings, describes: Describes
) -> None:
    path = write_mappings(
        """
        case:
          sobject: Case
          external_id: Collections_Key__c
          fields: {Subject: {source: subject, transforms: [{truncate: 10}]}}
        task:
          sobject: Task
          external_id: Collections_Key__c
          fields: {TaskSubtype: {const: Call}}
        invoice: {sobject: AR_Invoice__c, external_id: Invoice_Key__c}
        """
    )
    case = dict(describes["Case"])
    case["fields"] = [
        {**field, "updateable": False} if field["name"] == "Subject" else field
        for field in case["fields"]
    ]
    problems = validate_mappings(load_mappings(path), {**describes, "Case": case})

    assert [(problem.key, problem.message) for problem in problems] == [
        (
            "case.Subject",
            "Case.Subject is not updateable: sfsync updates Case records and cannot write it",
        )
    ]
    assert (
        problems[0].fix
        == "remove Case.Subject: it can be set only on create, and sfsync also updates"
    )


def test_free_text_into_a_restricted_picklist_and_dates_into_text_get_their_fixes(
    write_mappings: WriteMappings, describes: Describes
) -> None:
    path = write_mappings(
        """
        case: {sobject: Case, external_id: Collections_Key__c}
        task: {sobject: Task, external_id: Collections_Key__c}
        invoice:
          sobject: AR_Invoice__c
          external_id: Invoice_Key__c
          fields:
            Status__c: {source: dispute_reason}
            Dispute_Reason__c: {source: due_date}
            Invoice_Number__c: {source: due_date, transforms: [{format_date: '%d/%m/%Y'}]}
        """
    )
    problems = validate_mappings(load_mappings(path), describes)

    assert [(problem.field, problem.message, problem.fix) for problem in problems] == [
        (
            "Status__c",
            (
                "AR_Invoice__c.Status__c is a restricted picklist but the mapped values are not "
                "limited to its list"
            ),
            "add a value_map to one of: Open, Paid, Void",
        ),
        (
            "Dispute_Reason__c",
            "AR_Invoice__c.Dispute_Reason__c is a string field but the mapping gives a date value",
            "add format_date to write the date as text",
        ),
    ]


def test_truncate_on_a_field_the_org_lacks_is_reported_once_as_the_missing_field(
    write_mappings: WriteMappings, describes: Describes
) -> None:
    path = write_mappings(
        """
        case:
          sobject: Case
          external_id: Collections_Key__c
          fields: {Escalation_Reasn__c: {source: subject, transforms: [truncate]}}
        task: {sobject: Task, external_id: Collections_Key__c}
        invoice: {sobject: AR_Invoice__c, external_id: Invoice_Key__c}
        """
    )
    problems = validate_mappings(load_mappings(path), describes)

    assert [(problem.message, problem.fix) for problem in problems] == [
        ("Case has no field Escalation_Reasn__c", "did you mean Escalation_Reason__c?")
    ]
