"""sObject REST through the real simple-salesforce client: CRUD, upsert and external-id reads."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from simple_salesforce import Salesforce, format_external_id
from simple_salesforce.exceptions import (
    SalesforceMalformedRequest,
    SalesforceMoreThanOneRecord,
    SalesforceResourceNotFound,
)

from sfsync.sandbox.ids import checksum
from sfsync.sandbox.server import OrgServer
from tests.fixtures.org import OrgApi

pytestmark = pytest.mark.org


def test_create_answers_201_with_id_and_location(org_api: OrgApi) -> None:
    response = org_api.call("POST", "sobjects/Account/", json={"Name": "Acme"})

    assert response.status_code == 201
    body = response.json()
    assert body == {"id": body["id"], "success": True, "errors": []}
    assert response.headers["Location"] == f"/services/data/v59.0/sobjects/Account/{body['id']}"


def test_created_ids_have_key_prefix_and_checksum(sf: Salesforce) -> None:
    account_id = sf.Account.create({"Name": "Acme"})["id"]
    case_id = sf.Case.create({"Subject": "Overdue"})["id"]

    assert account_id.startswith("001")
    assert case_id.startswith("500")
    for record_id in (account_id, case_id):
        assert len(record_id) == 18
        assert record_id[15:] == checksum(record_id[:15])


def test_get_returns_every_field_with_attributes(sf: Salesforce) -> None:
    account_id = sf.Account.create({"Name": "Acme", "Accounting_Id__c": "C-1"})["id"]

    record = sf.Account.get(account_id)

    assert record["attributes"] == {
        "type": "Account",
        "url": f"/services/data/v59.0/sobjects/Account/{account_id}",
    }
    assert record["Id"] == account_id
    assert record["Name"] == "Acme"
    assert record["Accounting_Id__c"] == "C-1"
    assert record["Industry"] is None
    assert record["IsDeleted"] is False


def test_get_accepts_the_15_character_id_and_a_field_list(sf: Salesforce) -> None:
    account_id = sf.Account.create({"Name": "Acme"})["id"]

    record = sf.Account.get(account_id[:15], params={"fields": "Id,Name"})

    assert list(record) == ["attributes", "Id", "Name"]
    assert record["Id"] == account_id


def test_update_answers_204_and_changes_the_record(sf: Salesforce) -> None:
    case_id = sf.Case.create({"Subject": "Overdue"})["id"]

    status = sf.Case.update(case_id, {"Subject": "Still overdue", "Priority": "High"})

    assert status == 204
    record = sf.Case.get(case_id)
    assert (record["Subject"], record["Priority"]) == ("Still overdue", "High")


def test_delete_answers_204_and_the_record_is_gone(sf: Salesforce, org_api: OrgApi) -> None:
    case_id = sf.Case.create({"Subject": "Overdue"})["id"]

    assert sf.Case.delete(case_id) == 204

    response = org_api.call("GET", f"sobjects/Case/{case_id}")
    assert response.status_code == 404
    assert response.json() == [
        {"message": "entity is deleted", "errorCode": "ENTITY_IS_DELETED", "fields": []}
    ]


def test_get_of_an_unknown_id_is_404_not_found(sf: Salesforce) -> None:
    missing = "500" + "8d" + "0000000zzz"
    missing += checksum(missing)

    with pytest.raises(SalesforceResourceNotFound) as caught:
        sf.Case.get(missing)

    assert caught.value.content == [
        {"message": "The requested resource does not exist", "errorCode": "NOT_FOUND"}
    ]


def test_upsert_creates_with_201_then_updates_with_200_on_v46_plus(
    sf: Salesforce, org_api: OrgApi
) -> None:
    account_id = sf.Account.create({"Name": "Acme"})["id"]
    body = {"Subject": "Overdue", "AccountId": account_id}

    created = org_api.call("PATCH", "sobjects/Case/Collections_Key__c/qb:C1:1", json=body)
    updated = org_api.call(
        "PATCH", "sobjects/Case/Collections_Key__c/qb:C1:1", json={"Priority": "High"}
    )

    assert created.status_code == 201
    case_id = created.json()["id"]
    assert created.json() == {"id": case_id, "success": True, "errors": [], "created": True}
    assert updated.status_code == 200
    assert updated.json() == {"id": case_id, "success": True, "errors": [], "created": False}
    assert sf.Case.get(case_id)["Priority"] == "High"


def test_upsert_status_codes_through_simple_salesforce(sf: Salesforce) -> None:
    assert sf.Case.upsert("Collections_Key__c/qb:C2:1", {"Subject": "New"}) == 201
    assert sf.Case.upsert("Collections_Key__c/qb:C2:1", {"Subject": "Again"}) == 200


def test_upsert_before_v46_updates_with_204_and_no_created_flag(org_api: OrgApi) -> None:
    path = "/services/data/v45.0/sobjects/Case/Collections_Key__c/k-45"

    created = org_api.call("PATCH", path, json={"Subject": "Old API"})
    updated = org_api.call("PATCH", path, json={"Subject": "Old API again"})

    assert created.status_code == 201
    assert "created" not in created.json()
    assert updated.status_code == 204
    assert updated.content == b""


def test_upsert_matching_several_records_answers_300(sf: Salesforce, org_api: OrgApi) -> None:
    first = sf.Contact.create({"LastName": "One", "Email": "ap@example.com"})["id"]
    second = sf.Contact.create({"LastName": "Two", "Email": "AP@example.com"})["id"]

    response = org_api.call("PATCH", "sobjects/Contact/Email/ap@example.com", json={"Title": "AP"})

    assert response.status_code == 300
    assert sorted(response.json()) == sorted(
        f"/services/data/v59.0/sobjects/Contact/{record_id}" for record_id in (first, second)
    )
    with pytest.raises(SalesforceMoreThanOneRecord):
        sf.Contact.get_by_custom_id("Email", "ap@example.com")


def test_upsert_on_an_unknown_field_is_404(org_api: OrgApi) -> None:
    response = org_api.call("PATCH", "sobjects/Case/No_Such__c/x", json={"Subject": "x"})

    assert response.status_code == 404
    assert response.json()[0]["errorCode"] == "NOT_FOUND"


def test_upsert_on_a_field_that_is_not_an_external_id_is_refused(sf: Salesforce) -> None:
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.Case.upsert("Subject/x", {"Priority": "High"})

    assert caught.value.content[0]["errorCode"] == "INVALID_FIELD"


def test_upsert_with_update_only_does_not_create(org_api: OrgApi) -> None:
    response = org_api.call(
        "PATCH",
        "sobjects/Case/Collections_Key__c/absent",
        params={"updateOnly": "true"},
        json={"Subject": "x"},
    )

    assert response.status_code == 404


def test_external_id_matching_is_case_insensitive(sf: Salesforce) -> None:
    account_id = sf.Account.create({"Name": "Acme", "Accounting_Id__c": "CUST-9"})["id"]

    record = sf.Account.get_by_custom_id("Accounting_Id__c", "cust-9")

    assert record["Id"] == account_id


def test_external_id_values_may_contain_slashes(sf: Salesforce) -> None:
    status = sf.Case.upsert(format_external_id("Collections_Key__c", "qb/C 1/ep"), {"Subject": "x"})

    assert status == 201
    assert sf.Case.get_by_custom_id("Collections_Key__c", "qb/C 1/ep")["Subject"] == "x"


def test_get_by_unknown_external_id_value_is_404(sf: Salesforce) -> None:
    with pytest.raises(SalesforceResourceNotFound):
        sf.Account.get_by_custom_id("Accounting_Id__c", "nobody")


def test_upsert_links_a_parent_by_its_external_id(sf: Salesforce) -> None:
    account_id = sf.Account.create({"Name": "Acme", "Accounting_Id__c": "C-7"})["id"]

    sf.AR_Invoice__c.upsert(
        "Invoice_Key__c/INV-1",
        {"Account__r": {"Accounting_Id__c": "C-7"}, "Amount__c": 120.5, "Status__c": "Open"},
    )

    invoice = sf.AR_Invoice__c.get_by_custom_id("Invoice_Key__c", "INV-1")
    assert invoice["Account__c"] == account_id
    assert invoice["Amount__c"] == 120.5


def test_describe_lists_objects_and_fields(sf: Salesforce) -> None:
    names = {o["name"] for o in sf.describe()["sobjects"]}
    case_fields = {f["name"] for f in sf.Case.describe()["fields"]}

    assert {"Account", "Case", "Task", "AR_Invoice__c"} <= names
    assert {"CaseNumber", "Collections_Key__c", "IsClosed"} <= case_fields


def test_unknown_object_in_the_url_is_404(org_api: OrgApi) -> None:
    response = org_api.call("POST", "sobjects/Nope__c/", json={"Name": "x"})

    assert response.status_code == 404
    assert response.json() == [
        {"message": "The requested resource does not exist", "errorCode": "NOT_FOUND"}
    ]


def test_versions_list_needs_no_session(org_api: OrgApi) -> None:
    response = org_api.session.get(org_api.url("/services/data/"))

    assert response.status_code == 200
    versions = [v["version"] for v in response.json()]
    assert "42.0" in versions
    assert "66.0" in versions
    assert "Sforce-Limit-Info" not in response.headers


def test_unsupported_api_version_is_404(org_api: OrgApi) -> None:
    response = org_api.call("GET", "/services/data/v30.0/limits")

    assert response.status_code == 404


def test_metadata_and_deleted_and_updated_windows(local_org: OrgServer, sf: Salesforce) -> None:
    local_org.org.clock.set(datetime(2026, 7, 1, 10, 0, tzinfo=UTC), frozen=True)
    kept = sf.Case.create({"Subject": "kept"})["id"]
    gone = sf.Case.create({"Subject": "gone"})["id"]
    sf.Case.delete(gone)
    start = datetime(2026, 7, 1, 9, 0, tzinfo=UTC)
    end = datetime(2026, 7, 1, 11, 0, tzinfo=UTC)

    metadata = sf.Case.metadata()
    updated = sf.Case.updated(start, end)
    deleted = sf.Case.deleted(start, end)

    assert metadata["objectDescribe"]["name"] == "Case"
    assert metadata["objectDescribe"]["keyPrefix"] == "500"
    assert updated["ids"] == [kept]
    assert [d["id"] for d in deleted["deletedRecords"]] == [gone]


def test_is_sandbox_reads_the_organization(sf: Salesforce) -> None:
    assert sf.is_sandbox() is True
