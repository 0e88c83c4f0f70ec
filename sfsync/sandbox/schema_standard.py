"""The built-in standard objects of the local org, with the field properties a real org describes.

Only what sfsync and its tests touch is modelled, but what is modelled follows the Salesforce
object and field references (see ``/work/shared/reference/salesforce-api.md`` §5): types, lengths,
read-only derived fields, defaults and the polymorphic lookups. Custom fields from the SFDX
project are merged on top by :mod:`sfsync.sandbox.schema_metadata`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from sfsync.sandbox.schema_model import FieldDef, ObjectDef, PicklistValue

_ID_LENGTH = 18
_LONG_TEXT = 32000

#: Time zones offered by User, Organization and BusinessHours (a subset of the real list).
TIME_ZONES = (
    "GMT",
    "Europe/London",
    "Europe/Dublin",
    "Europe/Paris",
    "Europe/Berlin",
    "Europe/Amsterdam",
    "Europe/Madrid",
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Phoenix",
    "America/Los_Angeles",
    "America/Anchorage",
    "America/Toronto",
    "America/Sao_Paulo",
    "Asia/Tokyo",
    "Asia/Singapore",
    "Asia/Kolkata",
    "Australia/Sydney",
    "Pacific/Auckland",
)

#: Objects that a Task's WhatId may point at before custom objects with activities are added.
TASK_WHAT_TARGETS = ("Account", "Case")


def _picks(values: Iterable[str], default: str | None = None) -> tuple[PicklistValue, ...]:
    return tuple(PicklistValue(value=v, label=v, default=v == default) for v in values)


def _id() -> FieldDef:
    return FieldDef(
        name="Id",
        type="id",
        label="Record ID",
        length=_ID_LENGTH,
        createable=False,
        updateable=False,
        nillable=False,
        defaulted_on_create=True,
        id_lookup=True,
    )


def _read_only(fdef: FieldDef) -> FieldDef:
    return replace(fdef, createable=False, updateable=False)


def text(name: str, label: str, length: int, **kw: Any) -> FieldDef:
    """A string field; ``kw`` overrides any describe property."""
    return FieldDef(name=name, type="string", label=label, length=length, **kw)


def textarea(name: str, label: str, length: int = _LONG_TEXT, **kw: Any) -> FieldDef:
    return FieldDef(name=name, type="textarea", label=label, length=length, **kw)


def boolean(name: str, label: str, default: bool = False, **kw: Any) -> FieldDef:
    """Checkboxes are never null: not nillable, defaulted on create."""
    return FieldDef(
        name=name,
        type="boolean",
        label=label,
        nillable=False,
        defaulted_on_create=True,
        default_value=default,
        **kw,
    )


def picklist(
    name: str,
    label: str,
    values: Iterable[str],
    default: str | None = None,
    restricted: bool = False,
    **kw: Any,
) -> FieldDef:
    return FieldDef(
        name=name,
        type="picklist",
        label=label,
        length=255,
        picklist_values=_picks(values, default),
        restricted_picklist=restricted,
        defaulted_on_create=kw.pop("defaulted_on_create", default is not None),
        **kw,
    )


def reference(
    name: str, label: str, targets: Iterable[str], relationship: str | None, **kw: Any
) -> FieldDef:
    return FieldDef(
        name=name,
        type="reference",
        label=label,
        length=_ID_LENGTH,
        reference_to=tuple(targets),
        relationship_name=relationship,
        **kw,
    )


def date(name: str, label: str, **kw: Any) -> FieldDef:
    return FieldDef(name=name, type="date", label=label, **kw)


def datetime_(name: str, label: str, **kw: Any) -> FieldDef:
    return FieldDef(name=name, type="datetime", label=label, **kw)


def time_(name: str, label: str, **kw: Any) -> FieldDef:
    return FieldDef(name=name, type="time", label=label, **kw)


def integer(name: str, label: str, digits: int = 9, **kw: Any) -> FieldDef:
    return FieldDef(name=name, type="int", label=label, digits=digits, **kw)


def system_fields(
    owned: bool, owner_targets: tuple[str, ...] = ("Group", "User")
) -> list[FieldDef]:
    """Id, audit fields, IsDeleted and (for owned objects) OwnerId, read-only as in a real org."""
    fields = [
        _id(),
        _read_only(boolean("IsDeleted", "Deleted")),
        _read_only(
            datetime_("CreatedDate", "Created Date", nillable=False, defaulted_on_create=True)
        ),
        _read_only(
            reference(
                "CreatedById",
                "Created By ID",
                ["User"],
                "CreatedBy",
                nillable=False,
                defaulted_on_create=True,
            )
        ),
        _read_only(
            datetime_(
                "LastModifiedDate", "Last Modified Date", nillable=False, defaulted_on_create=True
            )
        ),
        _read_only(
            reference(
                "LastModifiedById",
                "Last Modified By ID",
                ["User"],
                "LastModifiedBy",
                nillable=False,
                defaulted_on_create=True,
            )
        ),
        _read_only(
            datetime_("SystemModstamp", "System Modstamp", nillable=False, defaulted_on_create=True)
        ),
    ]
    if owned:
        fields.append(
            reference(
                "OwnerId",
                "Owner ID",
                owner_targets,
                "Owner",
                nillable=False,
                defaulted_on_create=True,
            )
        )
    return fields


def make_object(
    name: str,
    label: str,
    label_plural: str,
    key_prefix: str,
    fields: Iterable[FieldDef],
    **kw: Any,
) -> ObjectDef:
    """An ObjectDef with its fields keyed by lower-case name, in declaration order."""
    return ObjectDef(
        name=name,
        label=label,
        label_plural=label_plural,
        key_prefix=key_prefix,
        fields={f.name.lower(): f for f in fields},
        **kw,
    )


def _account() -> ObjectDef:
    return make_object(
        "Account",
        "Account",
        "Accounts",
        "001",
        [
            *system_fields(owned=True, owner_targets=("User",)),
            text("Name", "Account Name", 255, nillable=False, name_field=True, id_lookup=True),
            picklist(
                "Type",
                "Account Type",
                ["Prospect", "Customer - Direct", "Customer - Channel", "Partner", "Other"],
            ),
            reference(
                "ParentId",
                "Parent Account ID",
                ["Account"],
                "Parent",
                child_relationship_name="ChildAccounts",
            ),
            text("AccountNumber", "Account Number", 40),
            FieldDef(name="Phone", type="phone", label="Account Phone", length=40),
            FieldDef(name="Website", type="url", label="Website", length=255),
            picklist(
                "Industry",
                "Industry",
                ["Banking", "Manufacturing", "Retail", "Technology", "Other"],
            ),
            textarea("BillingStreet", "Billing Street", 255),
            text("BillingCity", "Billing City", 40),
            text("BillingState", "Billing State/Province", 80),
            text("BillingPostalCode", "Billing Zip/Postal Code", 20),
            text("BillingCountry", "Billing Country", 80),
            textarea("Description", "Account Description"),
        ],
        record_types_supported=True,
        feed_enabled=True,
        activities_enabled=True,
    )


def _contact() -> ObjectDef:
    return make_object(
        "Contact",
        "Contact",
        "Contacts",
        "003",
        [
            *system_fields(owned=True, owner_targets=("User",)),
            reference(
                "AccountId",
                "Account ID",
                ["Account"],
                "Account",
                child_relationship_name="Contacts",
            ),
            text("LastName", "Last Name", 80, nillable=False),
            text("FirstName", "First Name", 40),
            _read_only(text("Name", "Full Name", 121, nillable=False, name_field=True)),
            FieldDef(name="Email", type="email", label="Email", length=80, id_lookup=True),
            FieldDef(name="Phone", type="phone", label="Business Phone", length=40),
            text("Title", "Title", 128),
        ],
        record_types_supported=True,
        feed_enabled=True,
        activities_enabled=True,
    )


def _user() -> ObjectDef:
    return make_object(
        "User",
        "User",
        "Users",
        "005",
        [
            *system_fields(owned=False),
            text("Username", "Username", 80, nillable=False, unique=True, id_lookup=True),
            text("LastName", "Last Name", 80, nillable=False),
            text("FirstName", "First Name", 40),
            _read_only(text("Name", "Full Name", 121, nillable=False, name_field=True)),
            FieldDef(name="Email", type="email", label="Email", length=128, nillable=False),
            boolean("IsActive", "Active", default=True),
            reference("ManagerId", "Manager ID", ["User"], "Manager"),
            picklist(
                "TimeZoneSidKey",
                "Time Zone",
                TIME_ZONES,
                restricted=True,
                nillable=False,
                defaulted_on_create=False,
            ),
        ],
        deletable=False,
        feed_enabled=True,
    )


def _group() -> ObjectDef:
    return make_object(
        "Group",
        "Group",
        "Groups",
        "00G",
        [
            *system_fields(owned=False),
            text("Name", "Name", 40, nillable=False, name_field=True),
            text("DeveloperName", "Developer Name", 80, id_lookup=True),
            picklist(
                "Type",
                "Type",
                ["Regular", "Queue", "Role", "Organization"],
                restricted=True,
                nillable=False,
            ),
            FieldDef(name="Email", type="email", label="Email", length=255),
            boolean("DoesSendEmailToMembers", "Send Email to Members"),
        ],
    )


def _case() -> ObjectDef:
    return make_object(
        "Case",
        "Case",
        "Cases",
        "500",
        [
            *system_fields(owned=True),
            _read_only(
                text(
                    "CaseNumber",
                    "Case Number",
                    30,
                    nillable=False,
                    defaulted_on_create=True,
                    auto_number=True,
                    name_field=True,
                    id_lookup=True,
                )
            ),
            reference(
                "ContactId", "Contact ID", ["Contact"], "Contact", child_relationship_name="Cases"
            ),
            reference(
                "AccountId", "Account ID", ["Account"], "Account", child_relationship_name="Cases"
            ),
            reference(
                "ParentId", "Parent Case ID", ["Case"], "Parent", child_relationship_name="Cases"
            ),
            reference("BusinessHoursId", "Business Hours ID", ["BusinessHours"], "BusinessHours"),
            text("Subject", "Subject", 255),
            textarea("Description", "Description"),
            picklist("Status", "Status", ["New", "Working", "Escalated", "Closed"], default="New"),
            picklist("Priority", "Priority", ["High", "Medium", "Low"], default="Medium"),
            picklist("Origin", "Case Origin", ["Phone", "Email", "Web"]),
            picklist(
                "Reason",
                "Case Reason",
                ["Billing", "Dispute", "Payment", "Feedback", "Other"],
            ),
            picklist("Type", "Case Type", ["Problem", "Question", "Feature Request", "Other"]),
            _read_only(boolean("IsClosed", "Closed")),
            _read_only(datetime_("ClosedDate", "Closed Date")),
            boolean("IsEscalated", "Escalated"),
        ],
        record_types_supported=True,
        feed_enabled=True,
        activities_enabled=True,
    )


def task_what_id(targets: tuple[str, ...]) -> FieldDef:
    """Task.WhatId: polymorphic over every object with activities enabled."""
    return reference("WhatId", "Related To ID", targets, "What", child_relationship_name="Tasks")


def _task(what_targets: tuple[str, ...]) -> ObjectDef:
    return make_object(
        "Task",
        "Task",
        "Tasks",
        "00T",
        [
            *system_fields(owned=True),
            reference("WhoId", "Name ID", ["Contact"], "Who", child_relationship_name="Tasks"),
            task_what_id(what_targets),
            FieldDef(
                name="Subject",
                type="combobox",
                label="Subject",
                length=255,
                name_field=True,
                picklist_values=_picks(["Call", "Send Letter", "Send Quote", "Other"]),
            ),
            date("ActivityDate", "Due Date Only"),
            picklist(
                "Status",
                "Status",
                ["Not Started", "In Progress", "Completed", "Waiting on someone else", "Deferred"],
                default="Not Started",
                nillable=False,
            ),
            picklist(
                "Priority", "Priority", ["High", "Normal", "Low"], default="Normal", nillable=False
            ),
            _read_only(boolean("IsHighPriority", "High Priority")),
            textarea("Description", "Description"),
            _read_only(reference("AccountId", "Account ID", ["Account"], "Account")),
            _read_only(boolean("IsClosed", "Closed")),
            picklist("Type", "Type", ["Call", "Email", "Meeting", "Other"]),
            replace(
                picklist(
                    "TaskSubtype",
                    "Task Subtype",
                    ["Task", "Email", "ListEmail", "Cadence", "Call", "LinkedIn"],
                    restricted=True,
                ),
                updateable=False,
            ),
            integer("CallDurationInSeconds", "Call Duration", digits=8),
            picklist("CallType", "Call Type", ["Internal", "Inbound", "Outbound"]),
            text("CallDisposition", "Call Result", 255),
            text("CallObject", "Call Object Identifier", 255),
            _read_only(datetime_("CompletedDateTime", "Completed Date/Time")),
        ],
        record_types_supported=True,
    )


def _feed_item() -> ObjectDef:
    system = [f for f in system_fields(owned=False) if f.name != "LastModifiedById"]
    return make_object(
        "FeedItem",
        "Feed Item",
        "Feed Items",
        "0D5",
        [
            *system,
            replace(
                reference(
                    "ParentId",
                    "Parent ID",
                    ["Account", "Case", "Contact", "Group", "User"],
                    "Parent",
                    nillable=False,
                ),
                updateable=False,
            ),
            replace(
                picklist(
                    "Type",
                    "Feed Item Type",
                    [
                        "TextPost",
                        "LinkPost",
                        "ContentPost",
                        "TrackedChange",
                        "UserStatus",
                        "QuestionPost",
                    ],
                    restricted=True,
                    default="TextPost",
                ),
                updateable=False,
            ),
            textarea("Body", "Body", 10000, html_formatted=True),
            boolean("IsRichText", "Is Rich Text"),
            FieldDef(name="LinkUrl", type="url", label="Link Url", length=1000),
            text("Title", "Title", 255),
            _read_only(integer("CommentCount", "Comment Count", nillable=False)),
            _read_only(integer("LikeCount", "Like Count", nillable=False)),
        ],
        updateable=True,
    )


def _status_object(name: str, label: str, plural: str) -> ObjectDef:
    """CaseStatus and TaskStatus: read-only lists of the Status picklist's meaning."""
    fields = [
        _read_only(f)
        for f in [
            *system_fields(owned=False),
            text("MasterLabel", "Master Label", 255, name_field=True),
            text("ApiName", "Api Name", 255),
            integer("SortOrder", "Sort Order"),
            boolean("IsDefault", "Is Default"),
            boolean("IsClosed", "Is Closed"),
        ]
    ]
    return make_object(
        name, label, plural, "01J", fields, createable=False, updateable=False, deletable=False
    )


def _business_hours() -> ObjectDef:
    days = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
    times = [
        time_(f"{day}{edge}Time", f"{day} {edge} Time") for day in days for edge in ("Start", "End")
    ]
    return make_object(
        "BusinessHours",
        "Business Hours",
        "Business Hours",
        "01m",
        [
            *system_fields(owned=False),
            text("Name", "Business Hours Name", 80, nillable=False, name_field=True),
            boolean("IsActive", "Active"),
            boolean("IsDefault", "Default Business Hours"),
            picklist(
                "TimeZoneSidKey",
                "Time Zone",
                TIME_ZONES,
                restricted=True,
                nillable=False,
                defaulted_on_create=False,
            ),
            *times,
        ],
        createable=False,
        deletable=False,
    )


def _organization() -> ObjectDef:
    fields = [
        _read_only(f)
        for f in [
            *system_fields(owned=False),
            text("Name", "Name", 80, nillable=False, name_field=True),
            boolean("IsSandbox", "Is Sandbox"),
            picklist("TimeZoneSidKey", "Default Time Zone", TIME_ZONES, restricted=True),
            text("InstanceName", "Instance Name", 5),
            picklist(
                "OrganizationType",
                "Edition",
                ["Developer Edition", "Enterprise Edition", "Unlimited Edition"],
            ),
        ]
    ]
    return make_object(
        "Organization",
        "Organization",
        "Organizations",
        "00D",
        fields,
        createable=False,
        updateable=False,
        deletable=False,
    )


def _record_type() -> ObjectDef:
    return make_object(
        "RecordType",
        "Record Type",
        "Record Types",
        "012",
        [
            *system_fields(owned=False),
            text("Name", "Record Type Name", 80, nillable=False, name_field=True),
            text("DeveloperName", "Record Type Name", 80, nillable=False),
            picklist("SobjectType", "SObject Type Name", ["Account", "Case", "Contact", "Task"]),
            boolean("IsActive", "Active"),
            text("Description", "Description", 255),
        ],
        deletable=False,
    )


def _holiday() -> ObjectDef:
    return make_object(
        "Holiday",
        "Holiday",
        "Holidays",
        "0C0",
        [
            *system_fields(owned=False),
            text("Name", "Holiday Name", 80, nillable=False, name_field=True),
            text("Description", "Description", 100),
            date("ActivityDate", "Holiday Date", nillable=False),
            boolean("IsAllDay", "All Day", default=True),
            integer("StartTimeInMinutes", "Start Time In Minutes"),
            integer("EndTimeInMinutes", "End Time In Minutes"),
            boolean("IsRecurrence", "Recurring Holiday"),
        ],
    )


def standard_objects(what_targets: tuple[str, ...] = TASK_WHAT_TARGETS) -> list[ObjectDef]:
    """Every built-in standard object, fresh (callers may merge custom fields into them)."""
    return [
        _account(),
        _contact(),
        _user(),
        _group(),
        _case(),
        _task(what_targets),
        _feed_item(),
        _status_object("CaseStatus", "Case Status Value", "Case Status Values"),
        _status_object("TaskStatus", "Task Status Value", "Task Status Values"),
        _business_hours(),
        _organization(),
        _record_type(),
        _holiday(),
    ]
