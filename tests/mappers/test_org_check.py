"""``check_org`` on orgs the local org cannot imitate (an object hidden from the integration
user, no closed Case status), through a fake gateway serving the local org's real describes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from simple_salesforce import Salesforce

from sfsync.checks import REQUIRED_OBJECTS, check_org

pytestmark = pytest.mark.org


class FakeDescribeGateway:
    """The read side of the gateway port, answering from recorded describes and statuses."""

    def __init__(self, describes: dict[str, dict[str, Any]], statuses: list[dict[str, Any]]):
        self.describes = describes
        self.statuses = statuses
        self.queries: list[str] = []

    def describe_global(self) -> dict[str, Any]:
        return {"sobjects": [{"name": name} for name in self.describes]}

    def describe(self, object_name: str) -> dict[str, Any]:
        return self.describes[object_name]

    def query(self, soql: str) -> Iterator[dict[str, Any]]:
        self.queries.append(soql)
        return iter(self.statuses)


def test_a_hidden_object_and_no_closed_status_are_reported(sf: Salesforce) -> None:
    describes = {name: dict(getattr(sf, name).describe()) for name in REQUIRED_OBJECTS}
    del describes["AR_Invoice__c"]
    gateway = FakeDescribeGateway(
        describes, [{"ApiName": "New", "IsClosed": False}, {"ApiName": "Open", "IsClosed": False}]
    )

    problems = check_org(gateway)  # type: ignore[arg-type]  # the read half of the port

    assert [(problem.key, problem.message) for problem in problems] == [
        ("AR_Invoice__c", "the integration user cannot see AR_Invoice__c"),
        (
            "CaseStatus",
            "no Case status counts as closed, so sfsync cannot close a paid-up Case",
        ),
    ]
    assert "deploy the salesforce/ project" in problems[0].fix
    assert gateway.queries == ["SELECT ApiName, IsClosed FROM CaseStatus"]


def test_a_mistyped_field_names_the_type_sfsync_needs(sf: Salesforce) -> None:
    describes = {name: dict(getattr(sf, name).describe()) for name in REQUIRED_OBJECTS}
    case = describes["Case"]
    case["fields"] = [
        {**field, "type": "string"} if field["name"] == "Past_Due_Amount__c" else field
        for field in case["fields"]
    ]
    gateway = FakeDescribeGateway(describes, [{"ApiName": "Closed", "IsClosed": True}])

    problems = check_org(gateway)  # type: ignore[arg-type]

    assert [(problem.key, problem.message, problem.fix) for problem in problems] == [
        (
            "Case.Past_Due_Amount__c",
            "is a string field; sfsync needs money (currency, double)",
            "change Case.Past_Due_Amount__c to a money field as in salesforce/",
        )
    ]
