"""What a new local org holds before anyone writes: the Organization, an integration user (the
one every token acts as), a manager with two reps, the collections queues, the Case and Task
status meanings and default business hours. Accounts and the rest come through the API.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sfsync.errors import ConfigError
from sfsync.sandbox.ids import make_id
from sfsync.sandbox.orgclock import format_datetime
from sfsync.sandbox.records import OrgRules
from sfsync.sandbox.storage import OrgStore

CASE_STATUSES = (
    ("New", False, True),
    ("Working", False, False),
    ("Escalated", False, False),
    ("Closed", True, False),
)
#: One status: its label (also its API name), whether it closes the record, whether it is the
#: default.
StatusValue = tuple[str, bool, bool]
TASK_STATUSES = (
    ("Not Started", False, True),
    ("In Progress", False, False),
    ("Completed", True, False),
    ("Waiting on someone else", False, False),
    ("Deferred", False, False),
)
#: The queues the shipped policy names (config/policy.yaml, sync.dispute_queue). Each may own
#: Cases and custom objects (the org's QueueSobject rule, records.py); none may own a Task.
QUEUES = (
    ("Collections", "Collections"),
    ("Collections Managers", "Collections_Managers"),
    ("Disputes", "Disputes"),
    ("Legal Collections", "Legal_Collections"),
)
REPS = (("Riley", "Rep", "riley.rep@sfsync.local"), ("Casey", "Rep", "casey.rep@sfsync.local"))
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday")


def case_status_values(configured: Sequence[Mapping[str, Any]] | None) -> tuple[StatusValue, ...]:
    """``org.json``'s ``case_statuses`` as seed rows (the standard four when not configured).

    Checked like Salesforce's Setup does: every label distinct and non-empty, at least one
    closed status (a Case could never close otherwise), exactly one default.
    """
    if configured is None:
        return CASE_STATUSES
    values: list[StatusValue] = []
    for entry in configured:
        label = entry.get("label")
        closed = entry.get("closed", False)
        default = entry.get("default", False)
        if not isinstance(label, str) or not label.strip():
            raise ConfigError(f"org.json case_statuses: {entry!r} needs a non-empty label")
        if not isinstance(closed, bool) or not isinstance(default, bool):
            raise ConfigError(
                f"org.json case_statuses: {label!r}: closed and default are true/false"
            )
        values.append((label.strip(), closed, default))
    labels = [label for label, _, _ in values]
    if len(set(labels)) != len(labels):
        raise ConfigError(f"org.json case_statuses: labels repeat: {labels}")
    if not any(closed for _, closed, _ in values):
        raise ConfigError("org.json case_statuses: at least one status must be closed")
    if sum(default for _, _, default in values) != 1:
        raise ConfigError("org.json case_statuses: exactly one status must be the default")
    return tuple(values)


def is_seeded(store: OrgStore) -> bool:
    return bool(store.records("Organization", include_deleted=True))


def seed_org(
    store: OrgStore,
    rules: OrgRules,
    now: datetime,
    org_name: str,
    username: str,
    *,
    case_statuses: Sequence[StatusValue] = CASE_STATUSES,
) -> None:
    """Write the seed rows in one transaction (only into an empty org)."""
    stamp = format_datetime(now)
    with store.transaction() as txn:
        user_id = make_id("005", txn.next_counter("record_id"))

        def put(
            sobject: str, prefix: str, values: dict[str, Any], record_id: str | None = None
        ) -> str:
            obj = rules.object(sobject)
            if obj is None:
                return ""
            new_id = record_id or make_id(prefix, txn.next_counter("record_id"))
            record = dict(rules.templates[obj.name.lower()])
            for field_def in obj.fields.values():
                if field_def.type == "boolean":
                    record[field_def.name] = False
            record.update(
                {
                    "Id": new_id,
                    "IsDeleted": False,
                    "CreatedDate": stamp,
                    "CreatedById": user_id,
                    "LastModifiedDate": stamp,
                    "LastModifiedById": user_id,
                    "SystemModstamp": stamp,
                }
            )
            if "OwnerId" in record:
                record["OwnerId"] = user_id
            record.update({k: v for k, v in values.items() if k in record})
            txn.put(obj.name, record)
            return new_id

        put(
            "Organization",
            "00D",
            {
                "Name": org_name,
                "IsSandbox": True,
                "TimeZoneSidKey": "GMT",
                "InstanceName": "LOCAL",
                "OrganizationType": "Enterprise Edition",
            },
        )
        person = {"IsActive": True, "TimeZoneSidKey": "GMT"}
        put(
            "User",
            "005",
            {
                **person,
                "Username": username,
                "FirstName": "sfsync",
                "LastName": "Integration",
                "Name": "sfsync Integration",
                "Email": username,
            },
            record_id=user_id,
        )
        manager_id = put(
            "User",
            "005",
            {
                **person,
                "Username": "morgan.manager@sfsync.local",
                "FirstName": "Morgan",
                "LastName": "Manager",
                "Name": "Morgan Manager",
                "Email": "morgan.manager@sfsync.local",
            },
        )
        for first, last, email in REPS:
            put(
                "User",
                "005",
                {
                    **person,
                    "Username": email,
                    "FirstName": first,
                    "LastName": last,
                    "Name": f"{first} {last}",
                    "Email": email,
                    "ManagerId": manager_id,
                },
            )
        for name, developer_name in QUEUES:
            put("Group", "00G", {"Name": name, "DeveloperName": developer_name, "Type": "Queue"})
        for sobject, statuses in (("CaseStatus", case_statuses), ("TaskStatus", TASK_STATUSES)):
            for order, (label, closed, default) in enumerate(statuses, start=1):
                put(
                    sobject,
                    "01J",
                    {
                        "MasterLabel": label,
                        "ApiName": label,
                        "SortOrder": order,
                        "IsClosed": closed,
                        "IsDefault": default,
                    },
                )
        hours = {
            f"{day}{edge}": t
            for day in WEEKDAYS
            for edge, t in (("StartTime", "09:00:00.000Z"), ("EndTime", "17:00:00.000Z"))
        }
        put(
            "BusinessHours",
            "01m",
            {
                "Name": "Default",
                "IsActive": True,
                "IsDefault": True,
                "TimeZoneSidKey": "GMT",
                **hours,
            },
        )
