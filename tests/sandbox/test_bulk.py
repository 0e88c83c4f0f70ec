"""Bulk API 2.0 through simple-salesforce's ``bulk2``: ingest jobs, results, state machine,
query jobs with Sforce-Locator paging."""

from __future__ import annotations

import csv
import io

import pytest
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceOperationError

from sfsync.sandbox.server import OrgServer
from tests.fixtures.org import OrgApi

pytestmark = pytest.mark.org


def _rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_insert_reports_successes_and_failures(sf: Salesforce) -> None:
    records = [
        {"Subject": "One", "Collections_Key__c": "b1"},
        {"Subject": "x" * 300, "Collections_Key__c": "b2"},
        {"Subject": "Three", "Collections_Key__c": "b3"},
    ]

    [result] = sf.bulk2.Case.insert(records=records, wait=0)
    job_id = result["job_id"]
    successes = _rows(sf.bulk2.Case.get_successful_records(job_id))
    failures = _rows(sf.bulk2.Case.get_failed_records(job_id))

    assert result["numberRecordsProcessed"] == 3
    assert result["numberRecordsFailed"] == 1
    assert [(r["sf__Created"], r["Subject"]) for r in successes] == [
        ("true", "One"),
        ("true", "Three"),
    ]
    assert all(r["sf__Id"].startswith("500") for r in successes)
    assert failures[0]["sf__Error"].startswith("STRING_TOO_LONG:")
    assert failures[0]["Collections_Key__c"] == "b2"


def test_upsert_creates_then_updates(sf: Salesforce) -> None:
    first = [{"Name": "Acme", "Accounting_Id__c": "C1"}, {"Name": "Beta", "Accounting_Id__c": "C2"}]
    second = [
        {"Name": "Acme Ltd", "Accounting_Id__c": "C1"},
        {"Name": "Gamma", "Accounting_Id__c": "C3"},
    ]

    sf.bulk2.Account.upsert(records=first, external_id_field="Accounting_Id__c", wait=0)
    [result] = sf.bulk2.Account.upsert(records=second, external_id_field="Accounting_Id__c", wait=0)
    successes = _rows(sf.bulk2.Account.get_successful_records(result["job_id"]))

    assert [(r["Accounting_Id__c"], r["sf__Created"]) for r in successes] == [
        ("C1", "false"),
        ("C3", "true"),
    ]
    assert sf.Account.get_by_custom_id("Accounting_Id__c", "C1")["Name"] == "Acme Ltd"


def test_update_and_delete_by_id(local_org: OrgServer, sf: Salesforce) -> None:
    ids = [sf.Account.create({"Name": n})["id"] for n in ("A", "B")]

    sf.bulk2.Account.update(records=[{"Id": ids[0], "Industry": "Retail"}], wait=0)
    [deleted] = sf.bulk2.Account.delete(records=[{"Id": ids[1]}], wait=0)

    assert sf.Account.get(ids[0])["Industry"] == "Retail"
    assert deleted["numberRecordsFailed"] == 0
    live = local_org.org.store.records("Account", include_deleted=False)
    assert [r["Id"] for r in live] == [ids[0]]


def test_empty_cells_leave_values_and_na_clears_them(org_api: OrgApi, sf: Salesforce) -> None:
    account_id = sf.Account.create({"Name": "A", "Industry": "Retail", "Phone": "1"})["id"]
    job = org_api.call("POST", "jobs/ingest", json={"object": "Account", "operation": "update"})
    job_id = job.json()["id"]

    org_api.call(
        "PUT",
        f"jobs/ingest/{job_id}/batches",
        data=f"Id,Industry,Phone\n{account_id},,#N/A\n".encode(),
        headers={"Content-Type": "text/csv"},
    )
    org_api.call("PATCH", f"jobs/ingest/{job_id}", json={"state": "UploadComplete"})

    record = sf.Account.get(account_id)
    assert (record["Industry"], record["Phone"]) == ("Retail", None)


def test_unknown_column_fails_the_job(sf: Salesforce) -> None:
    with pytest.raises(SalesforceOperationError) as caught:
        sf.bulk2.Account.insert(records=[{"Name": "A", "Colour__c": "red"}], wait=0)

    assert "Field name not found : Colour__c" in str(caught.value)


def test_state_machine_refuses_a_second_upload_and_allows_abort(
    org_api: OrgApi, sf: Salesforce
) -> None:
    job = org_api.call(
        "POST",
        "jobs/ingest",
        json={"object": "Account", "operation": "insert", "contentType": "CSV"},
    ).json()
    batches = f"jobs/ingest/{job['id']}/batches"
    csv_headers = {"Content-Type": "text/csv"}

    first = org_api.call("PUT", batches, data=b"Name\nA\n", headers=csv_headers)
    second = org_api.call("PUT", batches, data=b"Name\nB\n", headers=csv_headers)
    aborted = org_api.call("PATCH", f"jobs/ingest/{job['id']}", json={"state": "Aborted"})
    unprocessed = org_api.call("GET", f"jobs/ingest/{job['id']}/unprocessedrecords")
    reopen = org_api.call("PATCH", f"jobs/ingest/{job['id']}", json={"state": "UploadComplete"})

    assert job["state"] == "Open"
    assert job["contentUrl"] == f"services/data/v59.0/jobs/ingest/{job['id']}/batches"
    assert (first.status_code, second.status_code) == (201, 409)
    assert aborted.json()["state"] == "Aborted"
    assert _rows(unprocessed.text) == [{"Name": "A"}]
    assert reopen.status_code == 409
    assert sf.query("SELECT COUNT() FROM Account")["totalSize"] == 0


def test_job_info_moves_from_upload_complete_to_job_complete(org_api: OrgApi) -> None:
    job = org_api.call(
        "POST", "jobs/ingest", json={"object": "Account", "operation": "insert"}
    ).json()
    org_api.call(
        "PUT",
        f"jobs/ingest/{job['id']}/batches",
        data=b"Name\nA\n",
        headers={"Content-Type": "text/csv"},
    )

    closed = org_api.call("PATCH", f"jobs/ingest/{job['id']}", json={"state": "UploadComplete"})
    polled = org_api.call("GET", f"jobs/ingest/{job['id']}")

    assert closed.json()["state"] == "UploadComplete"
    assert polled.json()["state"] == "JobComplete"
    assert polled.json()["numberRecordsProcessed"] == 1
    assert polled.json()["jobType"] == "V2Ingest"


def test_query_job_pages_with_locator(sf: Salesforce) -> None:
    records = [{"Name": f"A{i:03d}", "Accounting_Id__c": f"C{i:03d}"} for i in range(250)]
    sf.bulk2.Account.insert(records=records, wait=0)

    pages = list(
        sf.bulk2.Account.query(
            "SELECT Name, Accounting_Id__c FROM Account", max_records=100, wait=0
        )
    )

    assert len(pages) == 3
    rows = [row for page in pages for row in _rows(page)]
    assert len(rows) == 250
    assert set(rows[0]) == {"Name", "Accounting_Id__c"}
    assert {r["Name"] for r in rows} == {f"A{i:03d}" for i in range(250)}


def test_query_job_headers(org_api: OrgApi, sf: Salesforce) -> None:
    sf.Account.create({"Name": "Acme"})
    job = org_api.call(
        "POST", "jobs/query", json={"operation": "query", "query": "SELECT Id, Name FROM Account"}
    ).json()

    results = org_api.call("GET", f"jobs/query/{job['id']}/results", params={"maxRecords": 10})

    assert results.headers["Sforce-Locator"] == "null"
    assert results.headers["Sforce-NumberOfRecords"] == "1"
    assert results.headers["Content-Type"].startswith("text/csv")
    assert _rows(results.text)[0]["Name"] == "Acme"


def test_query_job_with_a_bad_query_is_refused(org_api: OrgApi) -> None:
    response = org_api.call(
        "POST", "jobs/query", json={"operation": "query", "query": "SELECT Nope__c FROM Account"}
    )

    assert response.status_code == 400
    assert response.json()[0]["errorCode"] == "INVALID_FIELD"


def test_hard_delete_erases_and_failures_keep_the_named_id(
    local_org: OrgServer, sf: Salesforce
) -> None:
    account_id = sf.Account.create({"Name": "A"})["id"]
    missing = "001" + account_id[3:14] + "Z"

    [result] = sf.bulk2.Account.hard_delete(records=[{"Id": account_id}, {"Id": missing}], wait=0)
    failures = _rows(sf.bulk2.Account.get_failed_records(result["job_id"]))

    assert result["numberRecordsFailed"] == 1
    assert failures[0]["sf__Id"] == missing
    assert local_org.org.store.get(account_id) is None


def test_query_all_job_includes_deleted_rows(sf: Salesforce) -> None:
    kept = sf.Account.create({"Name": "Kept"})["id"]
    gone = sf.Account.create({"Name": "Gone"})["id"]
    sf.Account.delete(gone)

    live = [
        r for page in sf.bulk2.Account.query("SELECT Id FROM Account", wait=0) for r in _rows(page)
    ]
    everything = [
        r
        for page in sf.bulk2.Account.query_all("SELECT Id, IsDeleted FROM Account", wait=0)
        for r in _rows(page)
    ]

    assert [r["Id"] for r in live] == [kept]
    assert {(r["Id"], r["IsDeleted"]) for r in everything} == {(kept, "false"), (gone, "true")}
