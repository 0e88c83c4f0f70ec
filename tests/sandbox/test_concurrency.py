"""Concurrent clients: requests are serialised at the store, so overlapping upserts of the same
keys never create duplicates and every client sees consistent results."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from simple_salesforce import Salesforce

from sfsync.sandbox.client import LocalOrgSession
from sfsync.sandbox.server import OrgServer
from tests.fixtures.org import API_VERSION, LOGIN_DOMAIN

pytestmark = pytest.mark.org

WORKERS = 4
ROUNDS = 5
KEYS = 60


def _worker(server: OrgServer, worker: int) -> list[bool]:
    config = server.org.config
    with LocalOrgSession(server.url, server.ca_path) as session:
        sf = Salesforce(
            consumer_key=config.client_id,
            consumer_secret=config.client_secret,
            domain=LOGIN_DOMAIN,
            session=session,
            version=API_VERSION,
        )
        outcomes: list[bool] = []
        for round_number in range(ROUNDS):
            records = [
                {
                    "attributes": {"type": "Account"},
                    "Accounting_Id__c": f"shared-{i}",
                    "Name": f"w{worker} r{round_number} #{i}",
                }
                for i in range(KEYS)
            ]
            results = sf.restful(
                "composite/sobjects/Account/Accounting_Id__c",
                method="PATCH",
                json={"allOrNone": True, "records": records},
            )
            outcomes.extend(r["success"] for r in results)
        return outcomes


def test_overlapping_upserts_from_several_clients_create_each_key_once(
    local_org: OrgServer,
) -> None:
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        outcomes = [
            ok
            for result in pool.map(lambda w: _worker(local_org, w), range(WORKERS))
            for ok in result
        ]

    accounts = local_org.org.store.records("Account", include_deleted=True)
    assert all(outcomes)
    assert len(outcomes) == WORKERS * ROUNDS * KEYS
    assert sorted(a["Accounting_Id__c"] for a in accounts) == sorted(
        f"shared-{i}" for i in range(KEYS)
    )
