"""Bad input gets the documented error, the server keeps serving, and nothing is half-written."""

from __future__ import annotations

import socket
import ssl
from pathlib import Path

import pytest
from simple_salesforce import Salesforce

from sfsync.sandbox.client import LocalOrgSession
from sfsync.sandbox.org import LocalOrg
from sfsync.sandbox.schema import DEFAULT_PROJECT_DIR, load_schema
from sfsync.sandbox.server import OrgServer, start_local_org
from tests.fixtures.org import API_VERSION, LOGIN_DOMAIN, OrgApi

pytestmark = pytest.mark.org


def test_malformed_json_is_json_parser_error_and_the_next_request_works(
    org_api: OrgApi, sf: Salesforce
) -> None:
    response = org_api.call(
        "POST",
        "sobjects/Account/",
        data=b'{"Name": "Acme",',
        headers={"Content-Type": "application/json"},
    )

    assert response.status_code == 400
    assert response.json()[0]["errorCode"] == "JSON_PARSER_ERROR"
    assert sf.Account.create({"Name": "Acme"})["success"] is True


def test_a_json_array_where_a_record_belongs(org_api: OrgApi) -> None:
    response = org_api.call("POST", "sobjects/Account/", json=["Acme"])

    assert response.status_code == 400
    assert response.json()[0]["errorCode"] == "JSON_PARSER_ERROR"


def test_wrong_content_type_is_415(org_api: OrgApi) -> None:
    response = org_api.call(
        "POST", "sobjects/Account/", data=b"Name=Acme", headers={"Content-Type": "text/plain"}
    )

    assert response.status_code == 415
    assert response.json()[0]["errorCode"] == "UNSUPPORTED_MEDIA_TYPE"


def test_uri_over_16384_bytes_is_414_and_the_server_keeps_serving(
    org_api: OrgApi, sf: Salesforce
) -> None:
    huge_in_list = ",".join(["'0018d000000000IAAQ'"] * 900)  # what an unchunked IN (...) sends

    response = org_api.call("GET", "query/", params={"q": huge_in_list})

    assert response.status_code == 414
    assert sf.query("SELECT COUNT() FROM Account")["totalSize"] == 0


def test_uri_over_the_stdlib_limit_is_refused_too(local_org: OrgServer, sf: Salesforce) -> None:
    context = ssl.create_default_context(cafile=local_org.ca_path)
    with (
        socket.create_connection(("127.0.0.1", local_org.port), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
    ):
        tls.sendall(b"GET /services/data/v59.0/" + b"x" * 70_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
        status_line = tls.recv(64)

    assert status_line.startswith(b"HTTP/1.1 414")
    assert sf.limits()["DailyApiRequests"]["Max"] == 15000


def test_unknown_resource_is_404_and_wrong_method_405(org_api: OrgApi) -> None:
    unknown = org_api.call("GET", "no/such/thing")
    wrong_method = org_api.call("PUT", "sobjects/Account/", json={})

    assert unknown.status_code == 404
    assert unknown.json()[0]["errorCode"] == "NOT_FOUND"
    assert wrong_method.status_code == 405
    assert wrong_method.json()[0]["errorCode"] == "METHOD_NOT_ALLOWED"


def test_unknown_object_in_a_query_is_invalid_type(org_api: OrgApi) -> None:
    response = org_api.call("GET", "query", params={"q": "SELECT Id FROM Nope__c"})

    assert response.status_code == 400
    assert response.json()[0]["errorCode"] == "INVALID_TYPE"


def test_a_half_bad_upsert_collection_writes_nothing_even_on_disk(tmp_path: Path) -> None:
    records = [
        {"attributes": {"type": "Case"}, "Collections_Key__c": "k1", "Subject": "ok"},
        {"attributes": {"type": "Case"}, "Collections_Key__c": "k2", "Promise_Status__c": "Bogus"},
    ]
    data_dir = tmp_path / "org"
    server = start_local_org(data_dir)
    session = LocalOrgSession(server.url, server.ca_path)
    try:
        sf = Salesforce(
            consumer_key=server.org.config.client_id,
            consumer_secret=server.org.config.client_secret,
            domain=LOGIN_DOMAIN,
            session=session,
            version=API_VERSION,
        )
        sf.Case.upsert("Collections_Key__c/k0", {"Subject": "committed before"})
        results = sf.restful(
            "composite/sobjects/Case/Collections_Key__c",
            method="PATCH",
            json={"allOrNone": True, "records": records},
        )
    finally:
        session.close()
        server.stop()
    reopened = LocalOrg(data_dir, load_schema(DEFAULT_PROJECT_DIR))
    try:
        keys_on_disk = [
            r["Collections_Key__c"] for r in reopened.store.records("Case", include_deleted=True)
        ]
    finally:
        reopened.close()

    assert [r["success"] for r in results] == [False, False]
    assert keys_on_disk == ["k0"]


def test_a_value_of_the_wrong_type_in_a_collection_refuses_the_request(
    local_org: OrgServer, org_api: OrgApi
) -> None:
    records = [
        {"attributes": {"type": "Account"}, "Name": "A"},
        {"attributes": {"type": "Account"}, "Name": "B", "ParentId": {"nested": True}},
    ]

    response = org_api.call("POST", "composite/sobjects", json={"records": records})

    assert response.status_code == 400
    assert local_org.org.store.records("Account", include_deleted=True) == []


def test_plain_http_on_the_tls_port_does_not_disturb_the_server(
    local_org: OrgServer, sf: Salesforce
) -> None:
    with socket.create_connection(("127.0.0.1", local_org.port), timeout=10) as raw:
        raw.sendall(b"GET /services/data/ HTTP/1.1\r\nHost: x\r\n\r\n")
        leftover = raw.recv(1024)

    assert not leftover.startswith(b"HTTP/1.1 200")
    assert sf.query("SELECT COUNT() FROM Account")["totalSize"] == 0


def test_uri_plus_headers_over_16384_bytes_is_431(org_api: OrgApi) -> None:
    response = org_api.call("GET", "limits", headers={"X-Padding": "p" * 17_000})

    assert response.status_code == 431
    assert response.json()[0]["errorCode"] == "REQUEST_HEADER_FIELDS_TOO_LARGE"


def test_a_bulk_upload_that_is_not_csv_is_415(org_api: OrgApi) -> None:
    job = org_api.call("POST", "jobs/ingest", json={"object": "Account", "operation": "insert"})

    response = org_api.call("PUT", f"jobs/ingest/{job.json()['id']}/batches", json=[{"Name": "A"}])

    assert response.status_code == 415
