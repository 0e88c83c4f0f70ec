"""Owner rules a real org enforces: a Task belongs to a user, never a queue; queues own Cases and
custom objects; nobody hands a record to a user who left. The seeded queues are the policy's."""

from __future__ import annotations

import pytest
from simple_salesforce import Salesforce
from simple_salesforce.format import format_soql

from sfsync.sandbox.server import OrgServer
from tests.fixtures.org import OrgApi

pytestmark = pytest.mark.org

SEEDED_QUEUES = {"Collections", "Collections_Managers", "Disputes", "Legal_Collections"}


def _queue(sf: Salesforce, name: str) -> str:
    rows = sf.query(
        format_soql("SELECT Id FROM Group WHERE Type = 'Queue' AND DeveloperName = {}", name)
    )
    return str(rows["records"][0]["Id"])


def _user(sf: Salesforce, username: str) -> str:
    rows = sf.query(format_soql("SELECT Id FROM User WHERE Username = {}", username))
    return str(rows["records"][0]["Id"])


def test_the_org_seeds_every_queue_the_shipped_policy_names(sf: Salesforce) -> None:
    rows = sf.query("SELECT DeveloperName FROM Group WHERE Type = 'Queue'")["records"]

    assert {row["DeveloperName"] for row in rows} == SEEDED_QUEUES


def test_a_task_owned_by_a_queue_is_refused_as_a_real_org_does(
    sf: Salesforce, org_api: OrgApi
) -> None:
    queue_id = _queue(sf, "Collections")

    response = org_api.call("POST", "sobjects/Task", json={"Subject": "Call", "OwnerId": queue_id})

    assert response.status_code == 400
    assert response.json() == [
        {
            "message": f"Assigned To ID: id value of incorrect type: {queue_id}",
            "errorCode": "FIELD_INTEGRITY_EXCEPTION",
            "fields": ["OwnerId"],
        }
    ]
    assert sf.query("SELECT Id FROM Task")["totalSize"] == 0


def test_moving_a_task_to_a_queue_is_refused_and_the_task_keeps_its_owner(
    sf: Salesforce, org_api: OrgApi
) -> None:
    riley = _user(sf, "riley.rep@sfsync.local")
    task_id = sf.Task.create({"Subject": "Call", "OwnerId": riley})["id"]

    response = org_api.call(
        "PATCH", f"sobjects/Task/{task_id}", json={"OwnerId": _queue(sf, "Disputes")}
    )

    assert response.status_code == 400
    assert response.json()[0]["errorCode"] == "FIELD_INTEGRITY_EXCEPTION"
    assert sf.Task.get(task_id)["OwnerId"] == riley


def test_a_queue_task_in_a_collection_fails_alone(sf: Salesforce, org_api: OrgApi) -> None:
    queue_id = _queue(sf, "Collections_Managers")
    riley = _user(sf, "riley.rep@sfsync.local")
    records = [
        {"attributes": {"type": "Task"}, "Subject": "Queue", "OwnerId": queue_id},
        {"attributes": {"type": "Task"}, "Subject": "Rep", "OwnerId": riley},
    ]

    response = org_api.call(
        "POST", "composite/sobjects", json={"allOrNone": False, "records": records}
    )

    first, second = response.json()
    assert first["success"] is False
    assert first["errors"][0]["statusCode"] == "FIELD_INTEGRITY_EXCEPTION"
    assert first["errors"][0]["fields"] == ["OwnerId"]
    assert second["success"] is True


def test_a_queue_may_own_a_case_but_not_an_account(sf: Salesforce, org_api: OrgApi) -> None:
    queue_id = _queue(sf, "Legal_Collections")

    case_id = sf.Case.create({"Subject": "x", "OwnerId": queue_id})["id"]
    response = org_api.call("POST", "sobjects/Account", json={"Name": "A", "OwnerId": queue_id})

    assert sf.Case.get(case_id)["OwnerId"] == queue_id
    assert response.status_code == 400
    assert response.json()[0]["message"] == f"Owner ID: id value of incorrect type: {queue_id}"
    assert response.json()[0]["fields"] == ["OwnerId"]


def test_a_regular_group_cannot_own_a_case(sf: Salesforce, org_api: OrgApi) -> None:
    group_id = sf.Group.create({"Name": "Team", "DeveloperName": "Team", "Type": "Regular"})["id"]

    response = org_api.call("POST", "sobjects/Case", json={"Subject": "x", "OwnerId": group_id})

    assert response.status_code == 400
    assert response.json()[0]["errorCode"] == "FIELD_INTEGRITY_EXCEPTION"


@pytest.mark.parametrize("sobject", ["Case", "Task"])
def test_an_inactive_owner_is_refused(sf: Salesforce, org_api: OrgApi, sobject: str) -> None:
    casey = _user(sf, "casey.rep@sfsync.local")
    sf.User.update(casey, {"IsActive": False})

    response = org_api.call("POST", f"sobjects/{sobject}", json={"Subject": "x", "OwnerId": casey})

    assert response.status_code == 400
    assert response.json() == [
        {
            "message": "operation performed with inactive user",
            "errorCode": "INACTIVE_OWNER_OR_USER",
            "fields": ["OwnerId"],
        }
    ]


def test_a_record_owned_by_a_user_who_left_can_still_be_edited(
    local_org: OrgServer, sf: Salesforce
) -> None:
    casey = _user(sf, "casey.rep@sfsync.local")
    case_id = sf.Case.create({"Subject": "x", "OwnerId": casey})["id"]
    sf.User.update(casey, {"IsActive": False})

    sf.Case.update(case_id, {"Subject": "y"})

    case = sf.Case.get(case_id)
    assert (case["Subject"], case["OwnerId"]) == ("y", casey)
    assert local_org.org.store.get(case_id) is not None
