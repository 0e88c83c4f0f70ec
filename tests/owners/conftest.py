"""The owners harness: the sync harness (real local org, SQLite store, SQL ledger, one clock).

``sfsync.sync`` builds its Applier with ``OwnerResolver(gateway, task_queue_fallback=...,
rules=policy.owner_rules, case_external_id=...)``, so these tests run the real cycle, the real
resolver and the real org.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from simple_salesforce.format import format_soql

from sfsync.demo import load_policy
from sfsync.policy import Policy
from sfsync.sandbox.server import OrgServer
from tests.sync.conftest import CONFIG, SyncHarness, make_harness

RILEY = "riley.rep@sfsync.local"
CASEY = "casey.rep@sfsync.local"
MORGAN = "morgan.manager@sfsync.local"


@pytest.fixture
def world(local_org: OrgServer, tmp_path: Path) -> Iterator[SyncHarness]:
    """A fresh sync world on SQLite, the org reset to its seed."""
    harness = make_harness(local_org, tmp_path)
    yield harness
    harness.close()


def shipped_policy(**changes: Any) -> Policy:
    """config/policy.yaml, with top-level sections replaced by ``changes`` (as plain data)."""
    data = load_policy(CONFIG / "policy.yaml").model_dump(mode="json")
    for key, value in changes.items():
        data[key] = {**data.get(key, {}), **value}
    return Policy.model_validate(data)


def user_id(world: SyncHarness, username: str) -> str:
    [row] = world.rows(format_soql("SELECT Id FROM User WHERE Username = {}", username))
    return str(row["Id"])


def queue_id(world: SyncHarness, name: str) -> str:
    soql = format_soql("SELECT Id FROM Group WHERE Type = 'Queue' AND DeveloperName = {}", name)
    return str(world.rows(soql)[0]["Id"])


def account(world: SyncHarness, customer: str, name: str, owner: str) -> str:
    """The customer's Account, owned by the user ``owner``."""
    gateway = world.gateway()
    [result] = gateway.create(
        "Account",
        [{"Name": name, "Accounting_Id__c": customer, "OwnerId": user_id(world, owner)}],
    )
    assert result.ok, result
    return str(result.id)


def tasks_by_key(world: SyncHarness) -> dict[str, dict[str, Any]]:
    rows = world.rows("SELECT Id, Collections_Key__c, OwnerId, WhatId, IsClosed FROM Task")
    return {str(row["Collections_Key__c"]): row for row in rows}


def cases_by_key(world: SyncHarness) -> dict[str, dict[str, Any]]:
    rows = world.rows("SELECT Id, Collections_Key__c, OwnerId, AccountId, IsClosed FROM Case")
    return {str(row["Collections_Key__c"]): row for row in rows}
