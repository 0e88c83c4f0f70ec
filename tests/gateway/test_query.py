"""Queries: pagination over nextRecordsUrl, IN lists chunked under the URI limit, escaping."""

from __future__ import annotations

from urllib.parse import quote_plus

import pytest

from sfsync.errors import ConfigError
from sfsync.salesforce.client import MAX_URI_BYTES, SimpleSalesforceGateway
from sfsync.sandbox.server import OrgServer

pytestmark = pytest.mark.org


def _upsert_cases(gateway: SimpleSalesforceGateway, keys: list[str]) -> None:
    records = [{"Collections_Key__c": key, "Subject": f"Case {key}"} for key in keys]
    results = gateway.upsert("Case", records, external_id_field="Collections_Key__c")
    assert all(result.ok for result in results)


def test_query_follows_next_records_url_over_2000_rows(gateway: SimpleSalesforceGateway) -> None:
    keys = [f"page:{i:05d}" for i in range(2_300)]
    _upsert_cases(gateway, keys)
    reads_before = gateway.calls.read

    rows = list(
        gateway.query("SELECT Id, Collections_Key__c FROM Case WHERE Subject LIKE 'Case page:%'")
    )

    assert sorted(row["Collections_Key__c"] for row in rows) == keys
    assert gateway.calls.read - reads_before == 2
    assert "attributes" not in rows[0]


def test_in_list_of_3000_values_is_split_under_the_uri_limit(
    gateway: SimpleSalesforceGateway,
) -> None:
    wanted = [f"acct:{i:05d}:episode-with-a-long-key" for i in range(0, 3_000, 10)]
    _upsert_cases(gateway, wanted)
    values = [f"acct:{i:05d}:episode-with-a-long-key" for i in range(3_000)]
    reads_before = gateway.calls.read

    statements = gateway.in_queries(
        "Case", ["Id", "Collections_Key__c"], "Collections_Key__c", values
    )
    rows = list(
        gateway.query_in("Case", ["Id", "Collections_Key__c"], "Collections_Key__c", values)
    )

    assert len(statements) > 1
    prefix = gateway._query_url_prefix()  # the real GET URL each statement becomes
    assert all(len(prefix + quote_plus(soql)) < MAX_URI_BYTES for soql in statements)
    assert sum(soql.count("'acct:") for soql in statements) == 3_000
    assert sorted(row["Collections_Key__c"] for row in rows) == wanted
    assert gateway.calls.read - reads_before == len(statements)


def test_values_with_quotes_and_backslashes_match_exactly(
    gateway: SimpleSalesforceGateway,
) -> None:
    tricky = 'O\'Brien \\ "Ltd" 50%_off'
    _upsert_cases(gateway, [tricky, 'O\'Brien  "Ltd" 50%_off', "OBrien"])

    rows = list(
        gateway.query_in(
            "Case",
            ["Collections_Key__c"],
            "Collections_Key__c",
            [tricky, "x' OR Subject != '"],
            extra_where="Subject = {}",
            extra_args=[f"Case {tricky}"],
        )
    )

    assert [row["Collections_Key__c"] for row in rows] == [tricky]


def test_empty_in_list_sends_nothing(gateway: SimpleSalesforceGateway) -> None:
    before = gateway.calls_used

    assert list(gateway.query_in("Case", ["Id"], "Collections_Key__c", [])) == []
    assert gateway.calls_used == before


@pytest.mark.parametrize(
    ("object_name", "field"),
    [("Case; DELETE", "Id"), ("Case", "Id) OR (Id"), ("Case", "1abc")],
)
def test_names_that_are_not_identifiers_are_refused(
    gateway: SimpleSalesforceGateway, object_name: str, field: str
) -> None:
    with pytest.raises(ConfigError, match="not a valid Salesforce"):
        list(gateway.query_in(object_name, ["Id"], field, ["x"]))


def test_unknown_field_is_a_config_error(gateway: SimpleSalesforceGateway) -> None:
    with pytest.raises(ConfigError, match="INVALID_FIELD"):
        list(gateway.query("SELECT Nope__c FROM Case"))


def test_describe_is_cached_per_gateway(gateway: SimpleSalesforceGateway) -> None:
    first = gateway.describe("Case")
    reads = gateway.calls.read

    again = gateway.describe("case")
    global_describe = gateway.describe_global()
    gateway.describe_global()

    assert again is first
    assert any(f["name"] == "Collections_Key__c" for f in first["fields"])
    assert any(o["name"] == "AR_Invoice__c" for o in global_describe["sobjects"])
    assert gateway.calls.read == reads + 1


def test_describe_of_an_unknown_object_is_a_config_error(gateway: SimpleSalesforceGateway) -> None:
    with pytest.raises(ConfigError):
        gateway.describe("Nope__c")


def test_limits_reports_the_allocation(
    local_org: OrgServer, gateway: SimpleSalesforceGateway
) -> None:
    body = gateway.limits()

    assert body["DailyApiRequests"]["Max"] == local_org.org.config.api_allocation
    assert gateway.usage is not None
    assert gateway.usage.allocation == local_org.org.config.api_allocation
