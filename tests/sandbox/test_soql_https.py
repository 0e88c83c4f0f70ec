"""SOQL through the real simple-salesforce client over HTTPS, against records stored in the org.

The engine's own tests (test_soql.py) feed it hand-made rows; these go through the whole path a
client takes: REST writes with system fields set by the org, ``sf.query`` / ``sf.query_all``,
the store's index fast path, deleted rows, and the org clock behind relative date literals.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from simple_salesforce import Salesforce, format_soql
from simple_salesforce.exceptions import SalesforceMalformedRequest

from sfsync.sandbox.server import OrgServer

pytestmark = pytest.mark.org

NOW = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)  # a Thursday; the org clock stands here
NO_SUCH_COLUMN_TAIL = (
    "If you are attempting to use a custom field, be sure to append the '__c' after the custom "
    "field name. Please reference your WSDL or the describe call for the appropriate names."
)


@dataclass(frozen=True)
class StoredOrg:
    """Ids of the records the org holds for these tests."""

    acme: str
    globex: str
    alpha: str
    bravo: str
    charlie: str
    delta: str
    echo_deleted: str


def _create_at(
    local_org: OrgServer, sf: Salesforce, when: datetime, case: dict[str, object]
) -> str:
    """Create a Case with the org clock standing at ``when`` (its CreatedDate)."""
    local_org.org.clock.set(when, frozen=True)
    return str(sf.Case.create(case)["id"])


@pytest.fixture
def stored(local_org: OrgServer, sf: Salesforce) -> StoredOrg:
    """Two Accounts, five Cases created at different org times (one deleted), two invoices."""
    local_org.org.clock.set(NOW - timedelta(days=30), frozen=True)
    acme = str(sf.Account.create({"Name": "Acme", "Accounting_Id__c": "C-ACME"})["id"])
    globex = str(sf.Account.create({"Name": "Globex", "Accounting_Id__c": "C-GLOBEX"})["id"])
    alpha = _create_at(
        local_org,
        sf,
        datetime(2026, 1, 5, 12, 0, tzinfo=UTC),
        {
            "Subject": "Alpha",
            "AccountId": acme,
            "Status": "New",
            "Priority": "High",
            "IsEscalated": True,
            "Past_Due_Amount__c": 1500,
            "Next_Action_Date__c": "2026-01-15",
            "Collections_Key__c": "k-alpha",
        },
    )
    bravo = _create_at(
        local_org,
        sf,
        datetime(2026, 1, 14, 23, 30, tzinfo=UTC),
        {
            "Subject": "Bravo",
            "AccountId": globex,
            "Status": "Working",
            "Priority": "Low",
            "Past_Due_Amount__c": 250.5,
            "Next_Action_Date__c": "2026-01-14",
            "Collections_Key__c": "k-bravo",
        },
    )
    charlie = _create_at(
        local_org,
        sf,
        NOW,
        {
            "Subject": "Charlie",
            "Status": "Escalated",
            "Priority": "Medium",
            "Next_Action_Date__c": "2026-01-18",
        },
    )
    delta = _create_at(
        local_org,
        sf,
        datetime(2026, 1, 12, 6, 0, tzinfo=UTC),
        {
            "Subject": "Delta",
            "AccountId": acme,
            "Status": "Closed",
            "Priority": "Medium",
            "Past_Due_Amount__c": 1000,
        },
    )
    echo = _create_at(
        local_org,
        sf,
        datetime(2026, 1, 14, 8, 0, tzinfo=UTC),
        {"Subject": "Echo", "AccountId": acme, "Collections_Key__c": "k-echo"},
    )
    sf.Case.delete(echo)
    for name, case, account in (("INV-1", alpha, acme), ("INV-2", bravo, globex)):
        sf.AR_Invoice__c.create(
            {"Name": name, "Invoice_Number__c": name, "Case__c": case, "Account__c": account}
        )
    local_org.org.clock.set(NOW, frozen=True)
    return StoredOrg(acme, globex, alpha, bravo, charlie, delta, echo)


def _subjects(sf: Salesforce, where: str) -> list[str]:
    """Subjects of the live Cases matching ``where``, in Subject order."""
    result = sf.query(f"SELECT Subject FROM Case WHERE {where} ORDER BY Subject")  # noqa: S608
    return [r["Subject"] for r in result["records"]]


# --- fields and parent paths ------------------------------------------------------------------


def test_parent_paths_nest_under_their_relationship(stored: StoredOrg, sf: Salesforce) -> None:
    records = sf.query(
        "SELECT Subject, Account.Name, Account.Accounting_Id__c, Owner.Name FROM Case "
        "ORDER BY Subject"
    )["records"]

    alpha, charlie = records[0], records[2]
    assert alpha["attributes"] == {
        "type": "Case",
        "url": f"/services/data/v59.0/sobjects/Case/{stored.alpha}",
    }
    assert alpha["Account"] == {
        "attributes": {
            "type": "Account",
            "url": f"/services/data/v59.0/sobjects/Account/{stored.acme}",
        },
        "Name": "Acme",
        "Accounting_Id__c": "C-ACME",
    }
    assert alpha["Owner"]["attributes"]["type"] == "User"
    assert alpha["Owner"]["Name"] == "sfsync Integration"
    assert charlie["Account"] is None


def test_custom_relationship_paths_reach_two_levels(stored: StoredOrg, sf: Salesforce) -> None:
    records = sf.query(
        "SELECT Name, Case__r.Subject, Case__r.Account.Name FROM AR_Invoice__c "
        "WHERE Case__r.Status = 'Working'"
    )["records"]

    assert len(records) == 1
    assert records[0]["Name"] == "INV-2"
    assert records[0]["Case__r"]["Subject"] == "Bravo"
    assert records[0]["Case__r"]["attributes"]["type"] == "Case"
    assert records[0]["Case__r"]["Account"]["Name"] == "Globex"


def test_count_counts_matching_live_rows(stored: StoredOrg, sf: Salesforce) -> None:
    result = sf.query("SELECT COUNT() FROM Case WHERE Account.Name = 'Acme'")

    assert result["totalSize"] == 2
    assert result["records"] == []


# --- WHERE ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ("Priority = 'Medium'", ["Charlie", "Delta"]),
        ("Priority != 'Medium'", ["Alpha", "Bravo"]),
        ("Past_Due_Amount__c < 1000", ["Bravo"]),
        ("Past_Due_Amount__c <= 1000", ["Bravo", "Delta"]),
        ("Past_Due_Amount__c > 1000", ["Alpha"]),
        ("Past_Due_Amount__c >= 1000", ["Alpha", "Delta"]),
        ("Subject LIKE '%a'", ["Alpha", "Delta"]),
        ("Subject LIKE 'Br_vo'", ["Bravo"]),
        ("Status IN ('New', 'Closed')", ["Alpha", "Delta"]),
        ("Status NOT IN ('New', 'Closed')", ["Bravo", "Charlie"]),
        ("Priority = 'Medium' AND Status = 'Closed'", ["Delta"]),
        ("Priority = 'High' OR Status = 'Closed'", ["Alpha", "Delta"]),
        ("NOT Priority = 'Medium'", ["Alpha", "Bravo"]),
        ("NOT (Priority = 'Medium' OR Priority = 'Low')", ["Alpha"]),
        ("(Priority = 'Low' OR Priority = 'High') AND Past_Due_Amount__c > 500", ["Alpha"]),
        ("Priority = 'Low' OR (Priority = 'High' AND Past_Due_Amount__c > 5000)", ["Bravo"]),
        ("AccountId = null", ["Charlie"]),
        ("Past_Due_Amount__c != null", ["Alpha", "Bravo", "Delta"]),
        ("IsEscalated = true", ["Alpha"]),
        ("IsEscalated = false", ["Bravo", "Charlie", "Delta"]),
        ("IsClosed = true", ["Delta"]),
        ("Account.Accounting_Id__c = 'C-GLOBEX'", ["Bravo"]),
    ],
)
def test_where_operators(
    stored: StoredOrg, sf: Salesforce, where: str, expected: list[str]
) -> None:
    assert _subjects(sf, where) == expected


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ("CreatedDate > 2026-01-12T06:00:00Z", ["Bravo", "Charlie"]),
        ("CreatedDate >= 2026-01-12T06:00:00Z", ["Bravo", "Charlie", "Delta"]),
        # 08:00+02:00 is 06:00Z: the same instant as Delta's CreatedDate
        ("CreatedDate = 2026-01-12T08:00:00+02:00", ["Delta"]),
        # 18:30-05:00 is 23:30Z on the 14th: Bravo
        ("CreatedDate = 2026-01-14T18:30:00-05:00", ["Bravo"]),
        ("CreatedDate < 2026-01-12T01:00:00-05:00", ["Alpha"]),
        ("Next_Action_Date__c = 2026-01-14", ["Bravo"]),
        ("Next_Action_Date__c > 2026-01-14", ["Alpha", "Charlie"]),
    ],
)
def test_date_and_datetime_literals(
    stored: StoredOrg, sf: Salesforce, where: str, expected: list[str]
) -> None:
    assert _subjects(sf, where) == expected


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ("Next_Action_Date__c = TODAY", ["Alpha"]),
        ("Next_Action_Date__c = YESTERDAY", ["Bravo"]),
        ("Next_Action_Date__c = NEXT_N_DAYS:3", ["Charlie"]),
        ("Next_Action_Date__c = NEXT_N_DAYS:2", []),
        ("Next_Action_Date__c = LAST_N_DAYS:1", ["Alpha", "Bravo"]),
        ("CreatedDate = TODAY", ["Charlie"]),
        ("CreatedDate = YESTERDAY", ["Bravo"]),
        ("CreatedDate = LAST_N_DAYS:3", ["Bravo", "Charlie", "Delta"]),
        ("CreatedDate = N_DAYS_AGO:3", ["Delta"]),
        ("CreatedDate = N_DAYS_AGO:10", ["Alpha"]),
        ("CreatedDate < LAST_N_DAYS:3", ["Alpha"]),
        ("CreatedDate > YESTERDAY", ["Charlie"]),
    ],
)
def test_relative_date_literals_follow_the_org_clock(
    stored: StoredOrg, sf: Salesforce, where: str, expected: list[str]
) -> None:
    assert _subjects(sf, where) == expected


def test_moving_the_org_clock_moves_today(
    local_org: OrgServer, stored: StoredOrg, sf: Salesforce
) -> None:
    local_org.org.clock.advance(timedelta(days=3))

    assert _subjects(sf, "Next_Action_Date__c = TODAY") == ["Charlie"]
    assert _subjects(sf, "CreatedDate = N_DAYS_AGO:3") == ["Charlie"]


# --- ORDER BY, LIMIT, OFFSET ------------------------------------------------------------------


def test_order_by_nulls_first_and_last(stored: StoredOrg, sf: Salesforce) -> None:
    def order(clause: str) -> list[str]:
        query = f"SELECT Subject FROM Case ORDER BY {clause}"  # noqa: S608
        return [r["Subject"] for r in sf.query(query)["records"]]

    assert order("Past_Due_Amount__c ASC NULLS FIRST") == ["Charlie", "Bravo", "Delta", "Alpha"]
    assert order("Past_Due_Amount__c ASC NULLS LAST") == ["Bravo", "Delta", "Alpha", "Charlie"]
    assert order("Past_Due_Amount__c DESC NULLS FIRST") == ["Charlie", "Alpha", "Delta", "Bravo"]
    assert order("Past_Due_Amount__c DESC NULLS LAST") == ["Alpha", "Delta", "Bravo", "Charlie"]
    assert order("Priority ASC, Subject DESC") == ["Alpha", "Bravo", "Delta", "Charlie"]
    assert order("Account.Name ASC NULLS LAST, Subject") == ["Alpha", "Delta", "Bravo", "Charlie"]


def test_limit_and_offset_page_through_the_order(stored: StoredOrg, sf: Salesforce) -> None:
    first = sf.query("SELECT Subject FROM Case ORDER BY Subject LIMIT 2")
    rest = sf.query("SELECT Subject FROM Case ORDER BY Subject LIMIT 2 OFFSET 2")
    beyond = sf.query("SELECT Subject FROM Case ORDER BY Subject LIMIT 2 OFFSET 4")

    assert [r["Subject"] for r in first["records"]] == ["Alpha", "Bravo"]
    assert first["totalSize"] == 2
    assert [r["Subject"] for r in rest["records"]] == ["Charlie", "Delta"]
    assert beyond["totalSize"] == 0


# --- escapes and case -------------------------------------------------------------------------


def test_a_value_with_a_quote_and_a_backslash_is_found_through_format_soql(
    stored: StoredOrg, sf: Salesforce
) -> None:
    nasty = "O'Brien \\ Sons 100%_off"
    sf.Account.create({"Name": nasty})
    sf.Account.create({"Name": "O'Brien  Sons 100%_off"})  # the same without the backslash

    exact = sf.query(format_soql("SELECT Name FROM Account WHERE Name = {}", nasty))
    like = sf.query(
        format_soql("SELECT Name FROM Account WHERE Name LIKE '{:like}'", "O'Brien \\ Sons 100%")
    )

    assert [r["Name"] for r in exact["records"]] == [nasty]
    assert like["totalSize"] == 0  # LIKE without a wildcard is exact; "%" was escaped
    pattern = format_soql("SELECT Name FROM Account WHERE Name LIKE '{:like}%'", "O'Brien \\")
    assert [r["Name"] for r in sf.query(pattern)["records"]] == [nasty]


def test_object_field_and_string_comparisons_ignore_case(stored: StoredOrg, sf: Salesforce) -> None:
    records = sf.query(
        "select SUBJECT, account.NAME from CASE where subject = 'aLPHA' and ACCOUNT.name IN "
        "('ACME') and Subject like 'AL%'"
    )["records"]

    assert len(records) == 1
    assert records[0]["Subject"] == "Alpha"  # fields keep their API names in the answer
    assert records[0]["Account"]["Name"] == "Acme"
    assert records[0]["attributes"]["type"] == "Case"


# --- errors -----------------------------------------------------------------------------------


def test_an_unknown_field_is_invalid_field_with_the_documented_message(
    stored: StoredOrg, sf: Salesforce
) -> None:
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.query("SELECT Id, Promise_Stat__c FROM Case")

    assert caught.value.status == 400
    assert caught.value.content == [
        {
            "message": "\nSELECT Id, Promise_Stat__c FROM Case\n           ^\n"
            "ERROR at Row:1:Column:12\n"
            f"No such column 'Promise_Stat__c' on entity 'Case'. {NO_SUCH_COLUMN_TAIL}",
            "errorCode": "INVALID_FIELD",
        }
    ]


# --- Id and key lookups (the store's index fast path) and deleted rows ------------------------


def test_id_equals_does_not_return_a_deleted_row_but_query_all_does(
    stored: StoredOrg, sf: Salesforce
) -> None:
    query = format_soql(
        "SELECT Id, Subject, IsDeleted FROM Case WHERE Id = {}", stored.echo_deleted
    )

    live = sf.query(query)
    all_live_pages = sf.query_all(query)
    with_deleted = sf.query_all(query, include_deleted=True)

    assert live["totalSize"] == 0
    assert all_live_pages["totalSize"] == 0
    assert with_deleted["totalSize"] == 1
    assert with_deleted["records"][0]["Subject"] == "Echo"
    assert with_deleted["records"][0]["IsDeleted"] is True


def test_id_in_returns_live_rows_only_but_query_all_adds_deleted_ones(
    stored: StoredOrg, sf: Salesforce
) -> None:
    ids = [stored.alpha, stored.echo_deleted, stored.delta]
    query = format_soql("SELECT Subject FROM Case WHERE Id IN {} ORDER BY Subject", ids)

    live = [r["Subject"] for r in sf.query(query)["records"]]
    every = [r["Subject"] for r in sf.query_all(query, include_deleted=True)["records"]]

    assert live == ["Alpha", "Delta"]
    assert every == ["Alpha", "Delta", "Echo"]


def test_fifteen_character_ids_find_the_same_live_row(stored: StoredOrg, sf: Salesforce) -> None:
    short = [stored.bravo[:15], stored.echo_deleted[:15]]
    query = format_soql("SELECT Subject FROM Case WHERE Id IN {}", short)

    assert [r["Subject"] for r in sf.query(query)["records"]] == ["Bravo"]


def test_external_id_lookups_skip_deleted_rows_unless_query_all(
    stored: StoredOrg, sf: Salesforce
) -> None:
    query = format_soql(
        "SELECT Subject FROM Case WHERE Collections_Key__c IN {} ORDER BY Subject",
        ["K-ALPHA", "k-echo"],
    )

    live = [r["Subject"] for r in sf.query(query)["records"]]
    every = [r["Subject"] for r in sf.query_all(query, include_deleted=True)["records"]]

    assert live == ["Alpha"]
    assert every == ["Alpha", "Echo"]


def test_an_id_lookup_still_applies_the_rest_of_the_where(
    stored: StoredOrg, sf: Salesforce
) -> None:
    query = format_soql(
        "SELECT Subject FROM Case WHERE Id IN {} AND Status = 'Closed'",
        [stored.alpha, stored.delta],
    )

    assert [r["Subject"] for r in sf.query(query)["records"]] == ["Delta"]
