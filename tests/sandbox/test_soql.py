"""The local org's SOQL: parser and evaluator over an in-memory RecordSource with realistic rows."""

# ruff: noqa: S608 - these tests feed the SOQL parser hand-written query text on purpose (malformed
# and escaped literals are what is under test); the escaping path is covered via format_soql.

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from simple_salesforce import format_soql

from sfsync.sandbox.schema import DEFAULT_PROJECT_DIR, Schema, load_schema
from sfsync.sandbox.soql import QueryResult, SoqlError, execute_soql, parse_soql

NOW = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
TODAY = NOW.date()
SCHEMA = load_schema(DEFAULT_PROJECT_DIR)

NO_SUCH_COLUMN_TAIL = (
    "If you are attempting to use a custom field, be sure to append the '__c' after the custom "
    "field name. Please reference your WSDL or the describe call for the appropriate names."
)


def rid(prefix: str, n: int) -> str:
    """An 18-character id with the object's key prefix."""
    return f"{prefix}{n:012d}AAA"


def stamp(when: datetime) -> str:
    """A datetime as the REST API stores and returns it."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000+0000")


def day(offset: int) -> str:
    return (TODAY + timedelta(days=offset)).isoformat()


USER = rid("005", 1)
QUEUE = rid("00G", 1)
ACME, GLOBEX, GONE = rid("001", 1), rid("001", 2), rid("001", 3)
CASE_1, CASE_2, CASE_3, CASE_DELETED = (rid("500", n) for n in (1, 2, 3, 4))
TASK_1, TASK_2, TASK_3, TASK_4 = (rid("00T", n) for n in (1, 2, 3, 4))
INVOICE_1, INVOICE_2 = rid("a01", 1), rid("a01", 2)


def row(record_id: str, **values: Any) -> dict[str, Any]:
    return {"Id": record_id, "IsDeleted": False, **values}


def org_rows() -> dict[str, list[dict[str, Any]]]:
    return {
        "User": [row(USER, Name="Ada Lovelace", Username="ada@example.com", IsActive=True)],
        "Group": [row(QUEUE, Name="Collections Queue", Type="Queue", DeveloperName="Collections")],
        "Account": [
            row(ACME, Name="Acme", Accounting_Id__c="CUST-1", OwnerId=USER),
            row(GLOBEX, Name="Globex", Accounting_Id__c="CUST-2", OwnerId=USER),
            {**row(GONE, Name="Gone Ltd", Accounting_Id__c="CUST-3"), "IsDeleted": True},
        ],
        "Case": [
            row(
                CASE_1,
                CaseNumber="00001001",
                Subject="O'Brien\\ owes 50% of_it",
                Status="New",
                IsClosed=False,
                AccountId=ACME,
                OwnerId=USER,
                Collections_Key__c="ledger:CUST-1:1",
                Past_Due_Amount__c=1500.5,
                Open_Invoice_Count__c=3,
                Next_Action_Date__c=day(-5),
                Promise_Status__c="Pending",
                CreatedDate=stamp(NOW - timedelta(days=1, hours=2)),
            ),
            row(
                CASE_2,
                CaseNumber="00001002",
                Subject="Globex\nsecond line",
                Status="Working",
                IsClosed=False,
                AccountId=GLOBEX,
                OwnerId=QUEUE,
                Collections_Key__c="ledger:CUST-2:1",
                Past_Due_Amount__c=200,
                Open_Invoice_Count__c=1,
                Next_Action_Date__c=None,
                Promise_Status__c=None,
                CreatedDate=stamp(NOW - timedelta(hours=1)),
            ),
            row(
                CASE_3,
                CaseNumber="00001003",
                Subject="Closed without account",
                Status="Closed",
                IsClosed=True,
                AccountId=None,
                OwnerId=USER,
                Collections_Key__c="ledger:CUST-9:1",
                Past_Due_Amount__c=None,
                Open_Invoice_Count__c=0,
                Next_Action_Date__c=day(3),
                Promise_Status__c="Kept",
                CreatedDate=stamp(NOW - timedelta(days=30)),
            ),
            {
                **row(
                    CASE_DELETED,
                    CaseNumber="00001004",
                    Subject="Deleted",
                    Status="New",
                    AccountId=ACME,
                    OwnerId=USER,
                    Collections_Key__c="ledger:CUST-1:0",
                    CreatedDate=stamp(NOW - timedelta(days=60)),
                ),
                "IsDeleted": True,
            },
        ],
        "Task": [
            row(TASK_1, Subject="Call", WhatId=CASE_1, OwnerId=USER, ActivityDate=day(0)),
            row(TASK_2, Subject="Letter", WhatId=ACME, OwnerId=QUEUE, ActivityDate=day(-1)),
            row(TASK_3, Subject="Chase", WhatId=INVOICE_1, OwnerId=USER, ActivityDate=day(-2)),
            row(TASK_4, Subject="Plan", WhatId=None, OwnerId=USER, ActivityDate=day(4)),
        ],
        "AR_Invoice__c": [
            row(INVOICE_1, Name="INV-1", Account__c=ACME, Case__c=CASE_1, Balance__c=100.25),
            row(INVOICE_2, Name="INV-2", Account__c=GLOBEX, Case__c=None, Balance__c=0),
        ],
    }


class FakeRecordSource:
    """A RecordSource over dicts, the way the server's storage hands rows to the engine."""

    def __init__(self, rows: dict[str, list[dict[str, Any]]]) -> None:
        self.rows = rows
        self.by_id = {r["Id"]: r for records in rows.values() for r in records}
        self.scanned: list[str] = []

    def records(self, sobject: str, include_deleted: bool) -> Iterable[Mapping[str, Any]]:
        self.scanned.append(sobject)
        return [r for r in self.rows.get(sobject, []) if include_deleted or not r["IsDeleted"]]

    def get(self, record_id: str) -> Mapping[str, Any] | None:
        return self.by_id.get(record_id)


class FakeIndexedRecordSource(FakeRecordSource):
    """Adds the optional index fast path; returns deleted rows too, as an index would."""

    def __init__(self, rows: dict[str, list[dict[str, Any]]], answer: bool = True) -> None:
        super().__init__(rows)
        self.answer = answer
        self.lookups: list[tuple[str, str, list[str]]] = []

    def lookup(
        self, sobject: str, field: str, values: list[str]
    ) -> Iterable[Mapping[str, Any]] | None:
        self.lookups.append((sobject, field, values))
        if not self.answer:
            return None
        wanted = {v.lower() for v in values}
        return [r for r in self.rows.get(sobject, []) if str(r.get(field)).lower() in wanted]


@pytest.fixture
def source() -> FakeRecordSource:
    return FakeRecordSource(org_rows())


def run(
    query: str,
    source: FakeRecordSource,
    schema: Schema = SCHEMA,
    include_deleted: bool = False,
) -> QueryResult:
    return execute_soql(query, schema, source, NOW, "59.0", include_deleted)


def ids(query: str, source: FakeRecordSource, include_deleted: bool = False) -> list[str]:
    return [r["Id"] for r in run(query, source, include_deleted=include_deleted).records]


def error(query: str, source: FakeRecordSource) -> SoqlError:
    with pytest.raises(SoqlError) as caught:
        run(query, source)
    return caught.value


# --- rendering -------------------------------------------------------------------------------


def test_records_carry_attributes_and_fields_in_select_order(source: FakeRecordSource) -> None:
    result = run("select status, ID, subject from CASE where id = '500000000001AAA'", source)
    assert result.total_size == 0  # a 15-character id must be matched on its first 15 chars
    result = run(f"select status, ID, subject from CASE where id = '{CASE_1}'", source)
    assert result.records == [
        {
            "attributes": {"type": "Case", "url": f"/services/data/v59.0/sobjects/Case/{CASE_1}"},
            "Status": "New",
            "Id": CASE_1,
            "Subject": "O'Brien\\ owes 50% of_it",
        }
    ]
    assert list(result.records[0]) == ["attributes", "Status", "Id", "Subject"]


def test_fifteen_character_ids_match_their_record(source: FakeRecordSource) -> None:
    assert ids(f"SELECT Id FROM Case WHERE Id = '{CASE_2[:15]}'", source) == [CASE_2]


def test_selected_fields_missing_from_the_row_are_null(source: FakeRecordSource) -> None:
    (record,) = run(f"SELECT Id, Description FROM Case WHERE Id = '{CASE_1}'", source).records
    assert record["Description"] is None


def test_parent_fields_nest_under_the_relationship(source: FakeRecordSource) -> None:
    records = run(
        "SELECT Id, Account.Name, Account.Accounting_Id__c FROM Case ORDER BY CaseNumber", source
    ).records
    assert records[0]["Account"] == {
        "attributes": {"type": "Account", "url": f"/services/data/v59.0/sobjects/Account/{ACME}"},
        "Name": "Acme",
        "Accounting_Id__c": "CUST-1",
    }
    assert records[1]["Account"]["Name"] == "Globex"
    assert records[2]["Account"] is None  # no parent: null, not a missing key


def test_polymorphic_owner_resolves_by_key_prefix(source: FakeRecordSource) -> None:
    records = run("SELECT Id, Owner.Name, Owner.Type FROM Case ORDER BY CaseNumber", source).records
    user_owner, queue_owner = records[0]["Owner"], records[1]["Owner"]
    assert user_owner["attributes"]["type"] == "User"
    assert (user_owner["Name"], user_owner["Type"]) == ("Ada Lovelace", "User")
    assert queue_owner["attributes"] == {
        "type": "Group",
        "url": f"/services/data/v59.0/sobjects/Group/{QUEUE}",
    }
    assert (queue_owner["Name"], queue_owner["Type"]) == ("Collections Queue", "Queue")


def test_polymorphic_what_name_uses_each_objects_name_field(source: FakeRecordSource) -> None:
    records = run("SELECT Subject, What.Name FROM Task ORDER BY Subject", source).records
    by_subject = {r["Subject"]: r["What"] for r in records}
    assert by_subject["Call"]["Name"] == "00001001"  # Case's name field is CaseNumber
    assert by_subject["Letter"]["Name"] == "Acme"
    assert by_subject["Chase"]["attributes"]["type"] == "AR_Invoice__c"
    assert by_subject["Chase"]["Name"] == "INV-1"
    assert by_subject["Plan"] is None


def test_polymorphic_type_filters_by_parent_object(source: FakeRecordSource) -> None:
    assert ids("SELECT Id FROM Task WHERE What.Type = 'Case'", source) == [TASK_1]
    assert set(
        ids("SELECT Id FROM Task WHERE What.Type IN ('Account', 'AR_Invoice__c')", source)
    ) == {
        TASK_2,
        TASK_3,
    }
    assert set(ids("SELECT Id FROM Case WHERE Owner.Type = 'Queue'", source)) == {CASE_2}


def test_custom_relationships_and_two_level_paths(source: FakeRecordSource) -> None:
    records = run(
        "SELECT Name, Case__r.Collections_Key__c, Case__r.Account.Name FROM AR_Invoice__c "
        "ORDER BY Name",
        source,
    ).records
    assert records[0]["Case__r"]["Collections_Key__c"] == "ledger:CUST-1:1"
    assert records[0]["Case__r"]["Account"]["Name"] == "Acme"
    assert records[0]["Case__r"]["attributes"]["type"] == "Case"
    assert records[1]["Case__r"] is None


def test_where_on_parent_fields(source: FakeRecordSource) -> None:
    assert ids("SELECT Id FROM Case WHERE Account.Accounting_Id__c = 'cust-2'", source) == [CASE_2]
    assert ids("SELECT Id FROM Case WHERE Owner.Name = 'Collections Queue'", source) == [CASE_2]
    assert ids("SELECT Id FROM AR_Invoice__c WHERE Case__r.Status = 'New'", source) == [INVOICE_1]


def test_api_version_with_or_without_v(source: FakeRecordSource) -> None:
    result = execute_soql(
        f"SELECT Id FROM Account WHERE Id = '{ACME}'", SCHEMA, source, NOW, "v60.0"
    )
    assert result.records[0]["attributes"]["url"] == f"/services/data/v60.0/sobjects/Account/{ACME}"


# --- WHERE -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ("Status = 'New'", {CASE_1}),
        ("Status != 'New'", {CASE_2, CASE_3}),
        ("Status <> 'New'", {CASE_2, CASE_3}),
        ("Past_Due_Amount__c < 1500.5", {CASE_2}),
        ("Past_Due_Amount__c <= 1500.5", {CASE_1, CASE_2}),
        ("Past_Due_Amount__c > 200", {CASE_1}),
        ("Past_Due_Amount__c >= 200", {CASE_1, CASE_2}),
        ("Open_Invoice_Count__c = 3", {CASE_1}),
        ("Past_Due_Amount__c = -1", set()),
        ("Subject LIKE 'glob%'", {CASE_2}),
        ("Subject LIKE '%with%'", {CASE_3}),
        ("CaseNumber LIKE '0000100_'", {CASE_1, CASE_2, CASE_3}),
        ("Status IN ('New', 'Working')", {CASE_1, CASE_2}),
        ("Status NOT IN ('New', 'Working')", {CASE_3}),
        ("Promise_Status__c NOT IN ('Pending')", {CASE_2, CASE_3}),
        ("Status = 'New' AND Past_Due_Amount__c > 1000", {CASE_1}),
        ("Status = 'Closed' OR Past_Due_Amount__c < 1000", {CASE_2, CASE_3}),
        ("NOT Status = 'New'", {CASE_2, CASE_3}),
        ("NOT (Status = 'New' OR Status = 'Closed')", {CASE_2}),
        ("(Status = 'New' OR Status = 'Closed') AND IsClosed = false", {CASE_1}),
        (
            "Status = 'Working' OR (IsClosed = true AND Promise_Status__c = 'Kept')",
            {CASE_2, CASE_3},
        ),
        ("AccountId = null", {CASE_3}),
        ("AccountId != null", {CASE_1, CASE_2}),
        ("IsClosed = true", {CASE_3}),
        ("IsClosed = FALSE", {CASE_1, CASE_2}),
        ("Promise_Status__c = null", {CASE_2}),
        ("Next_Action_Date__c < TODAY", {CASE_1}),
        ("Next_Action_Date__c != null AND Next_Action_Date__c > TODAY", {CASE_3}),
        (f"AccountId IN ('{ACME}', '{GLOBEX}')", {CASE_1, CASE_2}),
    ],
)
def test_where_operators(where: str, expected: set[str], source: FakeRecordSource) -> None:
    assert set(ids(f"SELECT Id FROM Case WHERE {where}", source)) == expected


def test_not_equal_and_not_in_include_nulls(source: FakeRecordSource) -> None:
    """SOQL has no three-valued logic: a null field is 'not equal' to any value."""
    assert CASE_2 in ids(f"SELECT Id FROM Case WHERE Next_Action_Date__c != {day(-5)}", source)
    assert CASE_2 in ids("SELECT Id FROM Case WHERE Promise_Status__c NOT IN ('Kept')", source)
    # Ordering operators never match a null.
    assert set(ids("SELECT Id FROM Case WHERE Past_Due_Amount__c < 100000", source)) == {
        CASE_1,
        CASE_2,
    }


def test_string_comparison_is_case_insensitive(source: FakeRecordSource) -> None:
    assert ids("SELECT Id FROM Case WHERE Status = 'new'", source) == [CASE_1]
    assert ids("SELECT Id FROM Case WHERE Collections_Key__c = 'LEDGER:cust-1:1'", source) == [
        CASE_1
    ]
    assert ids("SELECT Id FROM Case WHERE Subject LIKE 'GLOBEX%'", source) == [CASE_2]
    assert set(ids("SELECT Id FROM Case WHERE Status IN ('NEW', 'working')", source)) == {
        CASE_1,
        CASE_2,
    }


def test_object_and_field_names_are_case_insensitive(source: FakeRecordSource) -> None:
    records = run(
        "sElEcT ID, account__R.NAME, case__R.collections_key__C FROM ar_invoice__C "
        "where BALANCE__C > 1 order by name",
        source,
    ).records
    assert records == [
        {
            "attributes": {
                "type": "AR_Invoice__c",
                "url": f"/services/data/v59.0/sobjects/AR_Invoice__c/{INVOICE_1}",
            },
            "Id": INVOICE_1,
            "Account__r": {
                "attributes": {
                    "type": "Account",
                    "url": f"/services/data/v59.0/sobjects/Account/{ACME}",
                },
                "Name": "Acme",
            },
            "Case__r": {
                "attributes": {
                    "type": "Case",
                    "url": f"/services/data/v59.0/sobjects/Case/{CASE_1}",
                },
                "Collections_Key__c": "ledger:CUST-1:1",
            },
        }
    ]


def test_deleted_rows_only_with_query_all(source: FakeRecordSource) -> None:
    assert ids("SELECT Id FROM Case WHERE IsDeleted = true", source) == []
    assert ids("SELECT Id FROM Case WHERE IsDeleted = true", source, include_deleted=True) == [
        CASE_DELETED
    ]
    assert len(ids("SELECT Id FROM Case", source, include_deleted=True)) == 4
    assert len(ids("SELECT Id FROM Case", source)) == 3


def test_datetime_literals_accept_z_and_offsets(source: FakeRecordSource) -> None:
    created = NOW - timedelta(days=1, hours=2)  # CASE_1
    zulu = created.strftime("%Y-%m-%dT%H:%M:%SZ")
    plus_one = (created + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S+01:00")
    minus_five = (created - timedelta(hours=5)).strftime("%Y-%m-%dT%H:%M:%S-05:00")
    for literal in (zulu, plus_one, minus_five):
        assert ids(f"SELECT Id FROM Case WHERE CreatedDate = {literal}", source) == [CASE_1]
    assert set(ids(f"SELECT Id FROM Case WHERE CreatedDate >= {zulu}", source)) == {CASE_1, CASE_2}
    formatted = format_soql("SELECT Id FROM Case WHERE CreatedDate < {}", created)
    assert ids(formatted, source) == [CASE_3]


def test_date_literals_on_a_date_field(source: FakeRecordSource) -> None:
    def tasks(where: str) -> set[str]:
        return set(ids(f"SELECT Id FROM Task WHERE ActivityDate {where}", source))

    assert tasks("= TODAY") == {TASK_1}
    assert tasks("= YESTERDAY") == {TASK_2}
    assert tasks("= TOMORROW") == set()
    assert tasks("= LAST_N_DAYS:1") == {TASK_1, TASK_2}  # yesterday and today
    assert tasks("= LAST_N_DAYS:2") == {TASK_1, TASK_2, TASK_3}
    assert tasks("= N_DAYS_AGO:2") == {TASK_3}
    assert tasks("= NEXT_N_DAYS:4") == {TASK_4}  # tomorrow .. today+4
    assert tasks("= NEXT_N_DAYS:3") == set()
    assert tasks("< TODAY") == {TASK_2, TASK_3}
    assert tasks("<= TODAY") == {TASK_1, TASK_2, TASK_3}
    assert tasks("> TODAY") == {TASK_4}
    assert tasks(">= YESTERDAY") == {TASK_1, TASK_2, TASK_4}
    assert tasks("!= TODAY") == {TASK_2, TASK_3, TASK_4}
    assert tasks(f"= {day(-2)}") == {TASK_3}
    assert tasks("IN (TODAY, N_DAYS_AGO:2)") == {TASK_1, TASK_3}


def test_date_literals_on_a_datetime_field_start_at_midnight(source: FakeRecordSource) -> None:
    def cases(where: str) -> set[str]:
        return set(ids(f"SELECT Id FROM Case WHERE CreatedDate {where}", source))

    assert cases("= TODAY") == {CASE_2}
    assert cases("= YESTERDAY") == {CASE_1}
    assert cases("= LAST_N_DAYS:1") == {CASE_1, CASE_2}
    assert cases("< LAST_N_DAYS:7") == {CASE_3}
    assert cases("= THIS_MONTH") == {CASE_1, CASE_2}
    assert cases("= LAST_MONTH") == {CASE_3}  # 30 days before 15 January
    assert cases("> TOMORROW") == set()


def test_relative_ranges_follow_the_injected_now(source: FakeRecordSource) -> None:
    later = NOW + timedelta(days=2)
    result = execute_soql(
        "SELECT Id FROM Task WHERE ActivityDate = LAST_N_DAYS:1", SCHEMA, source, later, "59.0"
    )
    assert result.records == []
    result = execute_soql(
        "SELECT Id FROM Task WHERE ActivityDate = N_DAYS_AGO:2", SCHEMA, source, later, "59.0"
    )
    assert [r["Id"] for r in result.records] == [TASK_1]


# --- ORDER BY, LIMIT, OFFSET, COUNT() ---------------------------------------------------------


def test_order_by_nulls_default_first_ascending_last_descending(source: FakeRecordSource) -> None:
    assert ids("SELECT Id FROM Case ORDER BY Past_Due_Amount__c", source) == [
        CASE_3,
        CASE_2,
        CASE_1,
    ]
    assert ids("SELECT Id FROM Case ORDER BY Past_Due_Amount__c DESC", source) == [
        CASE_1,
        CASE_2,
        CASE_3,
    ]
    assert ids("SELECT Id FROM Case ORDER BY Past_Due_Amount__c ASC NULLS LAST", source) == [
        CASE_2,
        CASE_1,
        CASE_3,
    ]
    assert ids("SELECT Id FROM Case ORDER BY Past_Due_Amount__c DESC NULLS FIRST", source) == [
        CASE_3,
        CASE_1,
        CASE_2,
    ]


def test_order_by_several_keys_and_parent_fields(source: FakeRecordSource) -> None:
    # 00G (queue) sorts after 005 (user); ties broken by Subject ascending.
    assert ids("SELECT Id FROM Case ORDER BY OwnerId DESC, Subject", source) == [
        CASE_2,
        CASE_3,
        CASE_1,
    ]
    assert ids("SELECT Id FROM Case ORDER BY Account.Name DESC NULLS LAST", source) == [
        CASE_2,
        CASE_1,
        CASE_3,
    ]
    assert ids("SELECT Id FROM Task ORDER BY ActivityDate DESC", source) == [
        TASK_4,
        TASK_1,
        TASK_2,
        TASK_3,
    ]


def test_order_by_strings_ignores_case() -> None:
    rows = org_rows()
    rows["Account"] = [row(rid("001", n), Name=name) for n, name in enumerate(["b", "A", "c"])]
    names = [
        r["Name"]
        for r in run("SELECT Name FROM Account ORDER BY Name", FakeRecordSource(rows)).records
    ]
    assert names == ["A", "b", "c"]


def test_limit_and_offset(source: FakeRecordSource) -> None:
    ordered = "SELECT Id FROM Case ORDER BY CaseNumber"
    assert ids(f"{ordered} LIMIT 2", source) == [CASE_1, CASE_2]
    assert ids(f"{ordered} LIMIT 2 OFFSET 1", source) == [CASE_2, CASE_3]
    assert ids(f"{ordered} OFFSET 2", source) == [CASE_3]
    assert ids(f"{ordered} LIMIT 0", source) == []
    assert run(f"{ordered} LIMIT 2", source).total_size == 2


def test_count(source: FakeRecordSource) -> None:
    result = run("SELECT COUNT() FROM Case WHERE IsClosed = false", source)
    assert (result.total_size, result.records, result.is_count) == (2, [], True)
    assert run("SELECT count() FROM Case", source, include_deleted=True).total_size == 4
    assert run("SELECT COUNT() FROM Case LIMIT 1", source).total_size == 1


# --- escapes ---------------------------------------------------------------------------------


def test_documented_escapes_decode(source: FakeRecordSource) -> None:
    assert ids("SELECT Id FROM Case WHERE Subject = 'O\\'Brien\\\\ owes 50% of_it'", source) == [
        CASE_1
    ]
    assert ids("SELECT Id FROM Case WHERE Subject = 'Globex\\nsecond line'", source) == [CASE_2]
    assert ids("SELECT Id FROM Case WHERE Subject = 'Globex\\Nsecond line'", source) == [CASE_2]
    assert ids("SELECT Id FROM Case WHERE Subject = '\\u0047lobex\\nsecond line'", source) == [
        CASE_2
    ]


def test_like_escapes_match_literal_percent_and_underscore(source: FakeRecordSource) -> None:
    assert ids("SELECT Id FROM Case WHERE Subject LIKE '%50\\% of\\_it'", source) == [CASE_1]
    assert ids("SELECT Id FROM Case WHERE Subject LIKE '%50\\%\\_of%'", source) == []
    formatted = format_soql("SELECT Id FROM Case WHERE Subject LIKE '%{:like}%'", "50% of_it")
    assert ids(formatted, source) == [CASE_1]


def test_format_soql_output_for_nasty_strings_matches_exactly(source: FakeRecordSource) -> None:
    query = format_soql("SELECT Id FROM Case WHERE Subject = {}", "O'Brien\\ owes 50% of_it")
    assert query.endswith("'O\\'Brien\\\\ owes 50% of_it'")
    assert ids(query, source) == [CASE_1]


@pytest.mark.parametrize("literal", ["'bad\\q'", "'bad\\_'", "'bad\\%'", "'bad\\u12'", "'bad\\'"])
def test_bad_escapes_are_malformed(literal: str, source: FakeRecordSource) -> None:
    caught = error(f"SELECT Id FROM Case WHERE Subject = {literal}", source)
    assert caught.code == "MALFORMED_QUERY"


def test_bad_escape_message_names_the_sequence(source: FakeRecordSource) -> None:
    caught = error("SELECT Id FROM Case WHERE Subject = 'a\\qb'", source)
    assert caught.message.endswith(
        "Invalid string literal 'a\\qb'. Illegal character sequence '\\q' in string literal."
    )


@settings(max_examples=150, deadline=None, derandomize=True, database=None)
@given(value=st.text(max_size=40))
def test_format_soql_round_trip(value: str) -> None:
    """Whatever simple-salesforce's format_soql produces matches exactly the stored value."""
    assume(value != "")  # '' means null in Salesforce: see test_empty_string_compares_as_null
    rows = org_rows()
    rows["Case"] = [
        row(CASE_1, Subject=value, OwnerId=USER),
        row(CASE_2, Subject=value + "x", OwnerId=USER),
        row(CASE_3, Subject="x" + value, OwnerId=USER),
        row(rid("500", 5), Subject=None, OwnerId=USER),
    ]
    source = FakeRecordSource(rows)
    assert ids(format_soql("SELECT Id FROM Case WHERE Subject = {}", value), source) == [CASE_1]
    exact = format_soql("SELECT Id FROM Case WHERE Subject LIKE '{:like}'", value)
    assert ids(exact, source) == [CASE_1]  # no wildcard survives the escaping
    starts = format_soql("SELECT Id FROM Case WHERE Subject LIKE '{:like}%'", value)
    assert {CASE_1, CASE_2} <= set(ids(starts, source))
    ends = format_soql("SELECT Id FROM Case WHERE Subject LIKE '%{:like}'", value)
    assert {CASE_1, CASE_3} <= set(ids(ends, source))
    inside = format_soql("SELECT Id FROM Case WHERE Subject LIKE '%{:like}%'", value)
    assert set(ids(inside, source)) == {CASE_1, CASE_2, CASE_3}


def test_empty_string_compares_as_null(source: FakeRecordSource) -> None:
    assert ids("SELECT Id FROM Case WHERE Promise_Status__c = ''", source) == [CASE_2]
    assert set(ids("SELECT Id FROM Case WHERE AccountId != ''", source)) == {CASE_1, CASE_2}
    rows = org_rows()
    rows["Case"][0]["Subject"] = ""
    stored_empty = FakeRecordSource(rows)
    assert ids("SELECT Id FROM Case WHERE Subject = null", stored_empty) == [CASE_1]
    assert CASE_1 not in ids("SELECT Id FROM Case WHERE Subject LIKE '%'", stored_empty)


# --- errors ----------------------------------------------------------------------------------


def test_unknown_field_message_shape(source: FakeRecordSource) -> None:
    caught = error("SELECT Id, Foo FROM Case", source)
    assert caught.code == "INVALID_FIELD"
    assert caught.message == (
        "\nSELECT Id, Foo FROM Case\n           ^\nERROR at Row:1:Column:12\n"
        f"No such column 'Foo' on entity 'Case'. {NO_SUCH_COLUMN_TAIL}"
    )


def test_unknown_field_on_a_later_row(source: FakeRecordSource) -> None:
    caught = error("SELECT Id\nFROM Case\nWHERE Promise_Stat__c = 'Kept'", source)
    assert caught.code == "INVALID_FIELD"
    assert caught.message.startswith(
        "\nWHERE Promise_Stat__c = 'Kept'\n      ^\nERROR at Row:3:Column:7\n"
        "No such column 'Promise_Stat__c' on entity 'Case'."
    )


def test_unknown_parent_field_names_the_parent(source: FakeRecordSource) -> None:
    caught = error("SELECT Account.Nope__c FROM Case", source)
    assert "No such column 'Nope__c' on entity 'Account'" in caught.message


def test_polymorphic_lookups_reach_only_name_entity_fields(source: FakeRecordSource) -> None:
    caught = error("SELECT What.Status FROM Task", source)
    assert caught.code == "INVALID_FIELD"
    assert "No such column 'Status' on entity 'Name'" in caught.message
    records = run("SELECT Subject, Owner.IsActive FROM Task ORDER BY Subject", source).records
    assert {r["Subject"]: r["Owner"]["IsActive"] for r in records} == {
        "Call": True,
        "Chase": True,
        "Letter": None,  # a queue has no IsActive
        "Plan": True,
    }


def test_unknown_relationship(source: FakeRecordSource) -> None:
    caught = error("SELECT Id FROM AR_Invoice__c WHERE Case__c.Status = 'New'", source)
    assert caught.code == "INVALID_FIELD"
    assert "Didn't understand relationship 'Case__c' in field path" in caught.message
    assert "ERROR at Row:1:Column:36" in caught.message


def test_unknown_object(source: FakeRecordSource) -> None:
    caught = error("SELECT Id FROM Invoice", source)
    assert caught.code == "INVALID_TYPE"
    assert caught.message.startswith(
        "\nSELECT Id FROM Invoice\n               ^\nERROR at Row:1:Column:16\n"
        "sObject type 'Invoice' is not supported."
    )


@pytest.mark.parametrize(
    ("query", "column"),
    [
        ("SELECT Id Case", 11),
        ("SELECT FROM Case", 8),
        ("SELECT Id FROM Case WHERE", 26),
        ("SELECT Id FROM Case WHERE Status IN ()", 38),
        ("SELECT Id FROM Case WHERE Status = 'New' AND IsClosed = false OR IsEscalated = true", 63),
        ("SELECT Id FROM Case WHERE Status = 'New' LIMIT", 47),
        ("SELECT Id FROM Case LIMIT 5 OFFSET x", 36),
        ("SELECT Id FROM Case ORDER Subject", 27),
        ("SELECT Id FROM Case WHERE Subject = 'open", 37),
        ("SELECT Id FROM Case WHERE CreatedDate = LAST_N_DAYS", 52),
        ("SELECT Id FROM Case WHERE Status = New", 36),
        ("SELECT Id FROM Case WHERE Status LIKE 5", 39),
        ("SELECT Id, Id FROM Case", 12),
        ("SELECT COUNT(Id) FROM Case", 8),
        ("SELECT Id FROM Case GROUP BY Status", 21),
        ("SELECT Id FROM Case WHERE Status == 'New'", 35),
        ("SELECT Id FROM Case WHERE Subject = 'a' ; DROP", 41),
    ],
)
def test_malformed_queries_point_at_the_bad_token(
    query: str, column: int, source: FakeRecordSource
) -> None:
    caught = error(query, source)
    assert caught.code == "MALFORMED_QUERY"
    assert f"ERROR at Row:1:Column:{column}\n" in caught.message
    assert caught.message.startswith(f"\n{query}\n{' ' * (column - 1)}^\n")


def test_unexpected_token_wording(source: FakeRecordSource) -> None:
    assert error("SELECT Id FROM Case WHERE", source).message.endswith("unexpected token: '<EOF>'")
    assert error("SELECT Id FROM Case ORDER Subject", source).message.endswith(
        "unexpected token: 'Subject'"
    )


@pytest.mark.parametrize(
    ("where", "expected_type", "quoted"),
    [
        ("CreatedDate = 2026-01-14", "dateTime", False),
        ("ActivityDate = 2026-01-14T00:00:00Z", "date", False),
        ("ActivityDate = '2026-01-14'", "date", False),
        ("Subject = 5", "string", True),
        ("IsClosed = 'true'", "boolean", False),
        ("CallDurationInSeconds = '5'", "integer", False),
        ("Promise_Amount__c = '5'", "double", False),
        ("Subject = TODAY", "string", True),
        ("Status IN ('Open', 3)", "string", True),
    ],
)
def test_literal_types_must_match_the_field(
    where: str, expected_type: str, quoted: bool, source: FakeRecordSource
) -> None:
    caught = error(f"SELECT Id FROM Task WHERE {where}", source)
    assert caught.code == "INVALID_FIELD"
    enclosed = "should be enclosed in quotes" if quoted else "should not be enclosed in quotes"
    field_name = where.split(" ", 1)[0]
    assert caught.message.endswith(
        f"Value of filter criterion for field '{field_name}' must be of type {expected_type} "
        f"and {enclosed}."
    )


def test_filtering_and_sorting_long_text_is_refused(source: FakeRecordSource) -> None:
    caught = error("SELECT Id FROM Case WHERE Description = 'x'", source)
    assert caught.code == "INVALID_FIELD"
    assert caught.message.endswith("field 'Description' can not be filtered in a query call")
    caught = error("SELECT Id FROM Case ORDER BY Description", source)
    assert caught.message.endswith("field 'Description' can not be sorted in a query call")


def test_like_on_a_number_is_refused(source: FakeRecordSource) -> None:
    caught = error("SELECT Id FROM Case WHERE Past_Due_Amount__c LIKE '1%'", source)
    assert caught.code == "INVALID_FIELD"


def test_malformed_id_literal(source: FakeRecordSource) -> None:
    caught = error("SELECT Id FROM Case WHERE AccountId = 'nope'", source)
    assert caught.code == "INVALID_QUERY_FILTER_OPERATOR"
    assert caught.message.endswith("invalid ID field: nope")


def test_offset_over_two_thousand(source: FakeRecordSource) -> None:
    caught = error("SELECT Id FROM Case OFFSET 2001", source)
    assert (caught.code, caught.message) == (
        "NUMBER_OUTSIDE_VALID_RANGE",
        "Maximum SOQL offset allowed is 2000",
    )


# --- the index fast path ---------------------------------------------------------------------


def test_external_id_lookup_uses_the_index_and_rechecks_where() -> None:
    source = FakeIndexedRecordSource(org_rows())
    query = (
        "SELECT Id FROM Case WHERE Collections_Key__c IN ('ledger:CUST-1:1', 'ledger:CUST-1:0', "
        "'ledger:CUST-2:1') AND Status = 'New'"
    )
    assert ids(query, source) == [CASE_1]  # CASE_DELETED comes back from the index, filtered
    assert source.lookups == [
        ("Case", "Collections_Key__c", ["ledger:CUST-1:1", "ledger:CUST-1:0", "ledger:CUST-2:1"])
    ]
    assert source.scanned == []


def test_id_lookup_and_scan_fallbacks() -> None:
    source = FakeIndexedRecordSource(org_rows())
    assert ids(f"SELECT Id FROM Case WHERE Id = '{CASE_2}'", source) == [CASE_2]
    assert source.lookups == [("Case", "Id", [CASE_2])]
    # OR, 15-character ids and non-key fields scan.
    source = FakeIndexedRecordSource(org_rows())
    ids(f"SELECT Id FROM Case WHERE Id = '{CASE_2[:15]}'", source)
    ids(f"SELECT Id FROM Case WHERE Id = '{CASE_2}' OR Status = 'New'", source)
    ids("SELECT Id FROM Case WHERE Status = 'New'", source)
    assert source.lookups == []
    assert source.scanned == ["Case", "Case", "Case"]
    # An index that declines (None) falls back to a scan.
    declining = FakeIndexedRecordSource(org_rows(), answer=False)
    assert ids(f"SELECT Id FROM Case WHERE Id = '{CASE_2}'", declining) == [CASE_2]
    assert declining.scanned == ["Case"]


def test_parse_soql_is_schema_free() -> None:
    parsed = parse_soql(
        "SELECT Id, Account.Name FROM Nope WHERE X = 1 ORDER BY Y DESC NULLS FIRST LIMIT 5"
    )
    assert parsed.sobject == "Nope"
    assert [f.text for f in parsed.fields] == ["Id", "Account.Name"]
    assert (parsed.order_by[0].descending, parsed.order_by[0].nulls_last) == (True, False)
    assert (parsed.limit, parsed.offset, parsed.is_count) == (5, None, False)


def test_today_uses_the_utc_date_of_now(source: FakeRecordSource) -> None:
    late_evening = datetime(2026, 1, 15, 23, 59, tzinfo=UTC)
    result = execute_soql(
        "SELECT Id FROM Task WHERE ActivityDate = TODAY", SCHEMA, source, late_evening, "59.0"
    )
    assert [r["Id"] for r in result.records] == [TASK_1]
    assert date.fromisoformat(day(0)) == TODAY


def test_group_is_an_object_name_despite_group_by(source: FakeRecordSource) -> None:
    """Queues live in Group: ``FROM Group`` must parse although GROUP also starts GROUP BY."""
    assert ids(
        "SELECT Id FROM Group WHERE Type = 'Queue' AND DeveloperName = 'Collections'", source
    ) == [QUEUE]
    assert error("SELECT Id FROM Case GROUP BY Status", source).code == "MALFORMED_QUERY"
