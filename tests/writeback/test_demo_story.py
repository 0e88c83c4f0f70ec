"""``make demo`` end to end: run_demo against a local org in temporary directories, then the
org is served again from its data directory (as the printed instructions say) and checked."""

from __future__ import annotations

import io
import sqlite3
from pathlib import Path

import pytest
from rich.console import Console
from simple_salesforce.api import Salesforce

from sfsync.demo import run_demo
from sfsync.sandbox.client import LocalOrgSession
from sfsync.sandbox.server import start_local_org

pytestmark = pytest.mark.org

CONFIG = Path(__file__).resolve().parents[2] / "config" / "sfsync.yaml"


def _run(tmp_path: Path) -> str:
    buffer = io.StringIO()
    console = Console(file=buffer, width=220, color_system=None)
    code = run_demo(CONFIG, console, org_dir=tmp_path / "org", work_dir=tmp_path / "work")
    assert code == 0
    return buffer.getvalue()


def _query(sf: Salesforce, soql: str) -> list[dict[str, object]]:
    return list(sf.query_all(soql)["records"])


def test_the_demo_tells_the_story_and_leaves_it_in_the_org(tmp_path: Path) -> None:
    _run(tmp_path)
    text = _run(tmp_path)  # a second run starts over: same story, no leftovers

    assert "Customers with no Salesforce Account" in text
    assert "CUST-000299" in text
    assert "promise kept" in text
    assert "promise broken" in text
    assert "sfsync sandbox serve --data" in text
    server = start_local_org(tmp_path / "org", port=0)
    try:
        config = server.org.config
        sf = Salesforce(
            consumer_key=config.client_id,
            consumer_secret=config.client_secret,
            domain="localorg.my",
            session=LocalOrgSession(server.url, server.ca_path),
            version="59.0",
        )
        kept = _query(sf, "SELECT IsClosed, Priority FROM Case WHERE Promise_Status__c = 'Kept'")
        broken = _query(
            sf,
            "SELECT Id, Priority, IsClosed FROM Case WHERE Promise_Status__c = 'Broken'",
        )
        follow_ups = _query(
            sf, "SELECT Priority, WhatId FROM Task WHERE Collections_Key__c LIKE '%:promise-%'"
        )
        disputes = _query(
            sf,
            "SELECT OwnerId, ParentId, Subject, IsClosed FROM Case "
            "WHERE Collections_Key__c LIKE '%:dispute'",
        )
        [disputed_call] = _query(
            sf, "SELECT WhatId, Description FROM Task WHERE Collections_Outcome__c = 'Disputed'"
        )
        [queue] = _query(
            sf, "SELECT Id FROM Group WHERE Type = 'Queue' AND DeveloperName = 'Disputes'"
        )
        outcomes = _query(sf, "SELECT Id FROM Task WHERE Collections_Outcome__c != null")
    finally:
        server.stop()

    assert [(row["IsClosed"]) for row in kept] == [True]
    assert [(row["Priority"], row["IsClosed"]) for row in broken] == [("High", False)]
    assert [(row["Priority"], row["WhatId"]) for row in follow_ups] == [("High", broken[0]["Id"])]
    assert {row["OwnerId"] for row in disputes} == {queue["Id"]}
    [rep_dispute] = [row for row in disputes if row["ParentId"] == disputed_call["WhatId"]]
    named = str(disputed_call["Description"]).split()[2].rstrip(":")  # "Customer disputes INV-…:"
    assert named in str(rep_dispute["Subject"])
    assert not rep_dispute["IsClosed"]
    assert len(outcomes) == 4
    with sqlite3.connect(tmp_path / "work" / "demo-ledger.sqlite") as ledger:
        [(notes,)] = ledger.execute("SELECT count(*) FROM collection_notes").fetchall()
    assert notes == 4


def test_the_demo_refuses_an_invalid_policy_before_touching_anything(tmp_path: Path) -> None:
    (tmp_path / "policy.yaml").write_text("cadence:\n  steps: []\n", encoding="utf-8")
    buffer = io.StringIO()
    console = Console(file=buffer, width=200, color_system=None)

    code = run_demo(
        tmp_path / "sfsync.yaml", console, org_dir=tmp_path / "org", work_dir=tmp_path / "work"
    )

    assert code == 2
    assert "cadence.steps" in buffer.getvalue()
    assert not (tmp_path / "org").exists()
