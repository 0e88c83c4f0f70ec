"""What a rep sees in the local org, independent of record ids: for comparing two runs."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pydantic import SecretStr
from tenacity import wait_none

from sfsync.clock import SystemClock
from sfsync.salesforce.client import SimpleSalesforceGateway, connect
from sfsync.salesforce.retry import RetryPolicy
from sfsync.sandbox.server import OrgServer
from sfsync.settings import Settings

API_VERSION = "59.0"

CASE_FIELDS = (
    "Collections_Key__c, Subject, Status, Priority, Past_Due_Amount__c, Open_Invoice_Count__c, "
    "Oldest_Days_Past_Due__c, Aging_1_30__c, Aging_31_60__c, Aging_61_90__c, Aging_91_Plus__c, "
    "Next_Action_Date__c, AccountId"
)
TASK_FIELDS = "Collections_Key__c, Subject, ActivityDate, Status, Priority, WhatId"
INVOICE_FIELDS = "Invoice_Key__c, Case__c, Account__c, Balance__c, Status__c"


@contextmanager
def open_org_gateway(server: OrgServer) -> Iterator[SimpleSalesforceGateway]:
    """A real gateway logged in to the local org (client credentials, its CA), closed after."""
    config = server.org.config
    settings = Settings().salesforce.model_copy(
        update={
            "auth": "client_credentials",
            "login_url": server.url,
            "client_id": config.client_id,
            "client_secret": SecretStr(config.client_secret),
            "ca_bundle": Path(server.ca_path),
            "api_version": API_VERSION,
        }
    )
    gateway = connect(settings, SystemClock(), retry=RetryPolicy(attempts=3, wait=wait_none()))
    try:
        yield gateway
    finally:
        gateway.close()


def rows(server: OrgServer, soql: str) -> list[dict[str, Any]]:
    with open_org_gateway(server) as gateway:
        return [_plain(row) for row in gateway.query(soql)]


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in row.items() if key != "attributes"}


def org_state(server: OrgServer) -> dict[str, dict[str, dict[str, Any]]]:
    """Cases, Tasks and invoice records keyed by their collections keys, ids replaced by keys.

    Two runs that did the same work produce equal states even though record ids differ.
    """
    accounts = {
        row["Id"]: row["Accounting_Id__c"]
        for row in rows(server, "SELECT Id, Accounting_Id__c FROM Account")
    }
    cases: dict[str, dict[str, Any]] = {}
    case_keys: dict[str, str] = {}
    for row in rows(server, f"SELECT Id, {CASE_FIELDS} FROM Case"):  # noqa: S608 - constants
        case_keys[row["Id"]] = row["Collections_Key__c"]
        row["AccountId"] = accounts.get(row["AccountId"])
        cases[row.pop("Collections_Key__c")] = _without_id(row)
    tasks: dict[str, dict[str, Any]] = {}
    for row in rows(server, f"SELECT Id, {TASK_FIELDS} FROM Task"):  # noqa: S608 - constants
        row["WhatId"] = case_keys.get(row["WhatId"])
        tasks[row.pop("Collections_Key__c")] = _without_id(row)
    invoices: dict[str, dict[str, Any]] = {}
    soql = f"SELECT Id, {INVOICE_FIELDS} FROM AR_Invoice__c"  # noqa: S608 - constants
    for row in rows(server, soql):
        row["Case__c"] = case_keys.get(row["Case__c"])
        row["Account__c"] = accounts.get(row["Account__c"])
        invoices[row.pop("Invoice_Key__c")] = _without_id(row)
    return {"cases": cases, "tasks": tasks, "invoices": invoices}


def _without_id(row: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in row.items() if key != "Id"}


def state_differences(
    left: dict[str, dict[str, dict[str, Any]]], right: dict[str, dict[str, dict[str, Any]]]
) -> list[tuple[str, str, dict[str, Any] | None, dict[str, Any] | None]]:
    """(section, key, left row, right row) for every record that differs: readable failures."""
    found = []
    for section in sorted(set(left) | set(right)):
        mine, theirs = left.get(section, {}), right.get(section, {})
        for key in sorted(set(mine) | set(theirs)):
            a, b = mine.get(key), theirs.get(key)
            if a != b:
                changed_a = (
                    None if a is None else {k: v for k, v in a.items() if (b or {}).get(k) != v}
                )
                changed_b = (
                    None if b is None else {k: v for k, v in b.items() if (a or {}).get(k) != v}
                )
                found.append((section, key, changed_a, changed_b))
    return found
