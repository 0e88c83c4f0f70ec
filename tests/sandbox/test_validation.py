"""Validation with the real error codes and body shapes, and the fields the org sets itself."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from simple_salesforce import Salesforce

from sfsync.sandbox.server import OrgServer
from tests.fixtures.org import OrgApi

pytestmark = pytest.mark.org


def _error(org_api: OrgApi, method: str, path: str, body: object) -> tuple[int, list[dict]]:
    response = org_api.call(method, path, json=body)
    return response.status_code, response.json()


def test_required_field_missing(org_api: OrgApi) -> None:
    status, body = _error(org_api, "POST", "sobjects/Contact", {"FirstName": "Ada"})

    assert status == 400
    assert body == [
        {
            "message": "Required fields are missing: [LastName]",
            "errorCode": "REQUIRED_FIELD_MISSING",
            "fields": ["LastName"],
        }
    ]


def test_clearing_a_required_field_on_update_is_refused(sf: Salesforce, org_api: OrgApi) -> None:
    account_id = sf.Account.create({"Name": "Acme"})["id"]

    status, body = _error(org_api, "PATCH", f"sobjects/Account/{account_id}", {"Name": None})

    assert status == 400
    assert body[0]["errorCode"] == "REQUIRED_FIELD_MISSING"
    assert sf.Account.get(account_id)["Name"] == "Acme"


def test_unknown_field_is_invalid_field(org_api: OrgApi) -> None:
    status, body = _error(org_api, "POST", "sobjects/Case", {"Subject": "x", "Colour__c": "red"})

    assert status == 400
    assert body == [
        {
            "message": "No such column 'Colour__c' on sobject of type Case",
            "errorCode": "INVALID_FIELD",
        }
    ]


@pytest.mark.parametrize("field", ["IsClosed", "CaseNumber", "ClosedDate", "CreatedDate"])
def test_read_only_fields_are_invalid_for_insert_update(org_api: OrgApi, field: str) -> None:
    value = {
        "IsClosed": True,
        "CaseNumber": "1",
        "ClosedDate": "2026-01-01T00:00:00Z",
        "CreatedDate": "2026-01-01T00:00:00Z",
    }[field]

    status, body = _error(org_api, "POST", "sobjects/Case", {"Subject": "x", field: value})

    assert status == 400
    assert body[0]["errorCode"] == "INVALID_FIELD_FOR_INSERT_UPDATE"
    assert body[0]["fields"] == [field]
    assert body[0]["message"].startswith(f"Unable to create/update fields: {field}.")


def test_id_in_a_create_body_is_refused(org_api: OrgApi) -> None:
    status, body = _error(
        org_api, "POST", "sobjects/Account", {"Name": "x", "Id": "001000000000000AAA"}
    )

    assert status == 400
    assert body[0]["errorCode"] == "INVALID_FIELD_FOR_INSERT_UPDATE"
    assert body[0]["fields"] == ["Id"]


def test_task_subtype_is_settable_on_create_only(sf: Salesforce, org_api: OrgApi) -> None:
    task_id = sf.Task.create({"Subject": "Call", "TaskSubtype": "Call"})["id"]

    status, body = _error(org_api, "PATCH", f"sobjects/Task/{task_id}", {"TaskSubtype": "Email"})

    assert status == 400
    assert body[0]["errorCode"] == "INVALID_FIELD_FOR_INSERT_UPDATE"


def test_restricted_picklist_refuses_unknown_values(org_api: OrgApi) -> None:
    status, body = _error(
        org_api, "POST", "sobjects/Case", {"Subject": "x", "Promise_Status__c": "Maybe"}
    )

    assert status == 400
    assert body[0]["errorCode"] == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
    assert body[0]["fields"] == ["Promise_Status__c"]
    assert "bad value for restricted picklist field: Maybe" in body[0]["message"]


def test_string_too_long(org_api: OrgApi) -> None:
    status, body = _error(org_api, "POST", "sobjects/Case", {"Subject": "x" * 256})

    assert status == 400
    assert body[0]["errorCode"] == "STRING_TOO_LONG"
    assert body[0]["fields"] == ["Subject"]
    assert body[0]["message"].endswith("(max length=255)")


def test_malformed_id_in_a_lookup(org_api: OrgApi) -> None:
    status, body = _error(org_api, "POST", "sobjects/Case", {"Subject": "x", "AccountId": "nope"})

    assert status == 400
    assert body == [
        {
            "message": "Account ID: id value of incorrect type: nope",
            "errorCode": "MALFORMED_ID",
            "fields": ["AccountId"],
        }
    ]


def test_malformed_id_in_the_url(org_api: OrgApi) -> None:
    response = org_api.call("PATCH", "sobjects/Case/500xyz", json={"Subject": "x"})

    assert response.status_code == 400
    assert response.json()[0]["errorCode"] == "MALFORMED_ID"


def test_lookup_to_a_missing_deleted_or_wrong_object_record(
    sf: Salesforce, org_api: OrgApi
) -> None:
    case_id = sf.Case.create({"Subject": "x"})["id"]
    account_id = sf.Account.create({"Name": "Acme"})["id"]
    sf.Account.delete(account_id)

    wrong_type = _error(org_api, "POST", "sobjects/Case", {"Subject": "x", "AccountId": case_id})
    missing_id = "001" + case_id[3:15]
    missing = _error(org_api, "POST", "sobjects/Case", {"Subject": "x", "AccountId": missing_id})
    deleted = _error(org_api, "POST", "sobjects/Case", {"Subject": "x", "AccountId": account_id})

    assert wrong_type[0] == 400
    assert wrong_type[1][0]["errorCode"] == "INVALID_CROSS_REFERENCE_KEY"
    assert missing[0] == 400
    assert missing[1][0]["errorCode"] == "INVALID_CROSS_REFERENCE_KEY"
    assert deleted == (
        400,
        [
            {
                "message": f"entity is deleted: {account_id}",
                "errorCode": "ENTITY_IS_DELETED",
                "fields": ["AccountId"],
            }
        ],
    )
    assert sf.query("SELECT COUNT() FROM Case")["totalSize"] == 1


def test_duplicate_value_on_a_unique_field(sf: Salesforce, org_api: OrgApi) -> None:
    first = sf.Account.create({"Name": "A", "Accounting_Id__c": "C-1"})["id"]

    status, body = _error(
        org_api, "POST", "sobjects/Account", {"Name": "B", "Accounting_Id__c": "c-1"}
    )

    assert status == 400
    assert body[0]["errorCode"] == "DUPLICATE_VALUE"
    assert body[0]["message"] == (
        f"duplicate value found: Accounting_Id__c duplicates value on record with id: {first}"
    )


def test_values_of_the_wrong_type_are_json_parser_errors(org_api: OrgApi) -> None:
    status, body = _error(
        org_api, "POST", "sobjects/Case", {"Subject": "x", "Past_Due_Amount__c": "lots"}
    )

    assert status == 400
    assert body[0]["errorCode"] == "JSON_PARSER_ERROR"


def test_numbers_dates_and_datetimes_are_stored_in_wire_form(sf: Salesforce) -> None:
    case_id = sf.Case.create(
        {"Subject": "x", "Past_Due_Amount__c": 100, "Promise_Date__c": "2026-02-03"}
    )["id"]
    task_id = sf.Task.create({"Subject": "Call", "ActivityDate": "2026-02-04"})["id"]

    case = sf.Case.get(case_id)
    task = sf.Task.get(task_id)

    assert case["Past_Due_Amount__c"] == 100.0
    assert case["Promise_Date__c"] == "2026-02-03"
    assert task["ActivityDate"] == "2026-02-04"


def test_system_fields_come_from_the_org_clock(local_org: OrgServer, sf: Salesforce) -> None:
    when = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)
    local_org.org.clock.set(when, frozen=True)

    case_id = sf.Case.create({"Subject": "x"})["id"]
    local_org.org.clock.advance(timedelta(hours=2))
    sf.Case.update(case_id, {"Subject": "y"})
    case = sf.Case.get(case_id)

    assert case["CreatedDate"] == "2026-03-04T05:06:07.000+0000"
    assert case["LastModifiedDate"] == "2026-03-04T07:06:07.000+0000"
    assert case["SystemModstamp"] == "2026-03-04T07:06:07.000+0000"
    assert case["CreatedById"] == local_org.org.user_id
    assert case["OwnerId"] == local_org.org.user_id


def test_case_numbers_are_sequential_and_statuses_default(sf: Salesforce) -> None:
    first = sf.Case.get(sf.Case.create({"Subject": "a"})["id"])
    second = sf.Case.get(sf.Case.create({"Subject": "b"})["id"])

    assert int(second["CaseNumber"]) == int(first["CaseNumber"]) + 1
    assert len(first["CaseNumber"]) == 8
    assert (first["Status"], first["Priority"], first["IsClosed"]) == ("New", "Medium", False)


def test_closing_a_case_sets_is_closed_and_closed_date(
    local_org: OrgServer, sf: Salesforce
) -> None:
    local_org.org.clock.set(datetime(2026, 5, 1, 12, 0, tzinfo=UTC), frozen=True)
    case_id = sf.Case.create({"Subject": "x"})["id"]

    sf.Case.update(case_id, {"Status": "Closed"})
    closed = sf.Case.get(case_id)
    sf.Case.update(case_id, {"Status": "Working"})
    reopened = sf.Case.get(case_id)

    assert (closed["IsClosed"], closed["ClosedDate"]) == (True, "2026-05-01T12:00:00.000+0000")
    assert (reopened["IsClosed"], reopened["ClosedDate"]) == (False, None)


def test_task_account_is_derived_from_what_id(sf: Salesforce) -> None:
    account_id = sf.Account.create({"Name": "Acme"})["id"]
    case_id = sf.Case.create({"Subject": "x", "AccountId": account_id})["id"]

    on_case = sf.Task.get(sf.Task.create({"Subject": "Call", "WhatId": case_id})["id"])
    on_account = sf.Task.get(sf.Task.create({"Subject": "Call", "WhatId": account_id})["id"])

    assert on_case["AccountId"] == account_id
    assert on_account["AccountId"] == account_id


def test_completing_a_task_closes_it(sf: Salesforce) -> None:
    task_id = sf.Task.create({"Subject": "Call", "Priority": "High"})["id"]

    sf.Task.update(task_id, {"Status": "Completed"})
    task = sf.Task.get(task_id)

    assert task["IsClosed"] is True
    assert task["IsHighPriority"] is True
    assert task["CompletedDateTime"] is not None


def test_contact_name_is_composed_from_first_and_last(sf: Salesforce) -> None:
    contact_id = sf.Contact.create({"FirstName": "Ada", "LastName": "Lovelace"})["id"]

    assert sf.Contact.get(contact_id)["Name"] == "Ada Lovelace"


def test_owner_may_be_a_queue(local_org: OrgServer, sf: Salesforce) -> None:
    queue_id = local_org.org.store.find("Group", "DeveloperName", "Disputes")[0]

    case_id = sf.Case.create({"Subject": "x", "OwnerId": queue_id})["id"]

    assert sf.Case.get(case_id)["OwnerId"] == queue_id
