"""Record writes with Salesforce's validation and the fields the org sets itself.

:class:`OrgRules` holds what is computed once per schema (relationship names, unique fields);
a :class:`RecordWriter` does one request's creates, updates, upserts and deletes inside its
transaction. Checks run in the order a real org reports them: unknown fields and unreadable
values refuse the whole request (:func:`prepare`); read-only fields, required fields, picklists,
lengths, references and unique values refuse one record (:class:`RecordError`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sfsync.sandbox.errors import ApiError, MultipleMatchesError, RecordError
from sfsync.sandbox.faults import FaultController
from sfsync.sandbox.ids import make_id, normalize_id
from sfsync.sandbox.orgclock import format_datetime
from sfsync.sandbox.schema import FieldDef, ObjectDef, Schema
from sfsync.sandbox.storage import OrgStore, Record, Transaction
from sfsync.sandbox.values import ValueParseError, parse_value

_TEXT_TYPES = frozenset(
    {"string", "textarea", "combobox", "email", "phone", "url", "encryptedstring", "picklist"}
)
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_AUDIT_FIELDS = frozenset(
    {"CreatedDate", "CreatedById", "LastModifiedDate", "LastModifiedById", "SystemModstamp"}
)
_STATUS_OBJECTS = {"Case": "CaseStatus", "Task": "TaskStatus"}
_CLOSED_FALLBACK = {"Case": {"Closed"}, "Task": {"Completed"}}
#: Activities: always owned by a user ("Assigned To"), never by a queue.
_ACTIVITIES = frozenset({"Task", "Event"})
#: Standard objects a queue may own (QueueSobject); custom objects may be too.
_QUEUE_OBJECTS = frozenset({"Case", "Lead"})


@dataclass(frozen=True)
class ExternalReference:
    """A lookup given by the parent's external id: ``"Account": {"Accounting_Id__c": "C1"}``."""

    target: ObjectDef
    key_field: FieldDef
    value: Any


@dataclass
class PreparedRecord:
    """A request body read against the schema: canonical names, typed wire values."""

    obj: ObjectDef
    values: dict[str, Any] = field(default_factory=dict)
    references: dict[str, ExternalReference] = field(default_factory=dict)
    record_id: str | None = None
    id_given: bool = False


class OrgRules:
    """Per-schema lookups the writers share (built once when the org starts)."""

    def __init__(self, schema: Schema) -> None:
        self.schema = schema
        self.relationships: dict[str, dict[str, FieldDef]] = {}
        self.templates: dict[str, dict[str, Any]] = {}
        for key, obj in schema.objects.items():
            self.relationships[key] = {
                f.relationship_name.lower(): f
                for f in obj.fields.values()
                if f.relationship_name and f.type == "reference"
            }
            self.templates[key] = dict.fromkeys(f.name for f in obj.fields.values())

    def object(self, name: str) -> ObjectDef | None:
        return self.schema.object(name)


def invalid_field(obj: ObjectDef, name: str) -> ApiError:
    return ApiError(400, "INVALID_FIELD", f"No such column '{name}' on sobject of type {obj.name}")


def prepare(rules: OrgRules, obj: ObjectDef, body: Mapping[str, Any]) -> PreparedRecord:
    """Read ``body`` as a record of ``obj``; unknown fields and unreadable values refuse the whole
    request, as Salesforce's deserialiser does."""
    prepared = PreparedRecord(obj=obj)
    for key, raw in body.items():
        if key == "attributes":
            continue
        field_def = obj.field(key)
        if field_def is None:
            relation = rules.relationships[obj.name.lower()].get(key.lower())
            if relation is None or not isinstance(raw, Mapping):
                raise invalid_field(obj, key)
            prepared.references[relation.name] = _external_reference(rules, obj, relation, raw)
            continue
        if field_def.name == "Id":
            prepared.id_given = True
            prepared.record_id = raw if isinstance(raw, str) else None
            continue
        try:
            value = parse_value(field_def, raw)
        except ValueParseError as exc:
            raise ApiError(400, "JSON_PARSER_ERROR", exc.message) from None
        if value == "" and field_def.type in _TEXT_TYPES | {"reference", "multipicklist"}:
            value = None  # Salesforce stores an empty text value as null
        prepared.values[field_def.name] = value
    return prepared


def _external_reference(
    rules: OrgRules, obj: ObjectDef, relation: FieldDef, raw: Mapping[str, Any]
) -> ExternalReference:
    keys = [k for k in raw if k != "attributes"]
    attributes = raw.get("attributes")
    type_name = attributes.get("type") if isinstance(attributes, Mapping) else None
    if type_name is None and len(relation.reference_to) == 1:
        type_name = relation.reference_to[0]
    target = rules.object(type_name) if isinstance(type_name, str) else None
    if target is None or len(keys) != 1:
        raise invalid_field(obj, relation.relationship_name or relation.name)
    key_field = target.field(keys[0])
    if key_field is None or not (key_field.external_id or key_field.id_lookup):
        raise ApiError(
            400,
            "INVALID_FIELD",
            f"Field name provided, {keys[0]} is not an External ID or indexed field for "
            f"{target.name}",
        )
    try:
        value = parse_value(key_field, raw[keys[0]])
    except ValueParseError as exc:
        raise ApiError(400, "JSON_PARSER_ERROR", exc.message) from None
    return ExternalReference(target=target, key_field=key_field, value=value)


@dataclass
class RecordWriter:
    """One request's record writes, inside its transaction, as the org's user at one instant."""

    rules: OrgRules
    txn: Transaction
    now: datetime
    user_id: str
    faults: FaultController

    @property
    def store(self) -> OrgStore:
        return self.txn.store

    # --- lookups -----------------------------------------------------------------------------

    def live_record(self, obj: ObjectDef | None, raw_id: str, status: int = 404) -> Record:
        """The live row for ``raw_id`` (of ``obj`` when given), or the record-level error a real
        org returns: MALFORMED_ID, ENTITY_IS_DELETED, or a missing-record error."""
        record_id = normalize_id(raw_id)
        label = obj.label if obj is not None else "Record"
        if record_id is None or (obj is not None and record_id[:3] != obj.key_prefix):
            raise RecordError(
                "MALFORMED_ID", f"{label} ID: id value of incorrect type: {raw_id}", ("Id",)
            )
        record = self.store.get(record_id)
        if record is None:
            if status == 404:
                raise RecordError("NOT_FOUND", "The requested resource does not exist", (), 404)
            raise RecordError("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", ())
        if record.get("IsDeleted"):
            raise RecordError("ENTITY_IS_DELETED", "entity is deleted", (), 404)
        return record

    def find_by(self, obj: ObjectDef, key_field: FieldDef, value: Any) -> list[str]:
        """Live ids of ``obj`` whose ``key_field`` equals ``value`` (``Id`` included)."""
        if key_field.name == "Id":
            record_id = normalize_id(str(value))
            if record_id is None:
                return []
            row = self.store.get(record_id)
            live = row is not None and not row.get("IsDeleted")
            return [record_id] if live and self.store.sobject_of(record_id) == obj.name else []
        found: list[str] = self.store.find(obj.name, key_field.name, value)
        return found

    # --- operations --------------------------------------------------------------------------

    def create(self, prepared: PreparedRecord) -> str:
        """Insert a record; returns its new id."""
        obj = prepared.obj
        self._check_lock(None)
        if not obj.createable:
            raise RecordError(
                "INVALID_TYPE_FOR_OPERATION", f"entity type {obj.name} does not support insert"
            )
        if prepared.id_given:
            raise RecordError(
                "INVALID_FIELD_FOR_INSERT_UPDATE",
                "Record ID: cannot specify Id in an insert call",
                ("Id",),
            )
        self._check_writable(obj, prepared, creating=True)
        values = self._resolved_values(prepared)
        counter = self.txn.next_counter("record_id")
        record_id = make_id(obj.key_prefix, counter)
        record = dict(self.rules.templates[obj.name.lower()])
        self._apply_defaults(obj, record)
        record.update(values)
        record["Id"] = record_id
        self._stamp(record, created=True)
        self._check_required(obj, record, values.keys(), creating=True)
        self._check_values(obj, values)
        self._derive(obj, record, None)
        self._check_unique(obj, record)
        self.txn.put(obj.name, record)
        return record_id

    def update(self, prepared: PreparedRecord, raw_id: str, status: int = 404) -> str:
        """Change a record; returns its 18-character id."""
        obj = prepared.obj
        old = self.live_record(obj, raw_id, status)
        record_id: str = old["Id"]
        self._check_lock(record_id)
        if prepared.id_given and normalize_id(prepared.record_id or "") != record_id:
            raise RecordError(
                "INVALID_FIELD_FOR_INSERT_UPDATE", "Unable to create/update fields: Id.", ("Id",)
            )
        self._check_writable(obj, prepared, creating=False)
        values = self._resolved_values(prepared)
        record = dict(old)
        record.update(values)
        self._stamp(record, created=False)
        self._check_required(obj, record, values.keys(), creating=False)
        self._check_values(obj, values)
        self._derive(obj, record, old)
        self._check_unique(obj, record)
        self.txn.put(obj.name, record)
        return record_id

    def upsert(
        self, prepared: PreparedRecord, key_field: FieldDef, key_value: Any
    ) -> tuple[str, bool]:
        """Update the one record whose ``key_field`` is ``key_value``, or create it; returns
        ``(id, created)``. Several matches raise :class:`MultipleMatchesError`."""
        obj = prepared.obj
        given = prepared.values.pop(key_field.name, None)
        if given is not None and str(given).lower() != str(key_value).lower():
            raise RecordError(
                "INVALID_FIELD",
                f"The value of {key_field.name} in the request body does not match the value "
                f"in the URL: {given}",
                (key_field.name,),
            )
        matches = self.find_by(obj, key_field, key_value)
        if len(matches) > 1:
            raise MultipleMatchesError(matches)
        if matches:
            return self.update(prepared, matches[0]), False
        if key_field.name != "Id":
            prepared.values[key_field.name] = key_value
        prepared.id_given = False
        return self.create(prepared), True

    def delete(self, obj: ObjectDef | None, raw_id: str, status: int = 404) -> str:
        """Move a record to the recycle bin (IsDeleted); queryAll still sees it."""
        old = self.live_record(obj, raw_id, status)
        record_id: str = old["Id"]
        sobject = self.store.sobject_of(record_id) or ""
        target = self.rules.object(sobject)
        if target is None or not target.deletable:
            raise RecordError(
                "INVALID_TYPE_FOR_OPERATION", f"entity type {sobject} does not support delete"
            )
        self._check_lock(record_id)
        record = dict(old)
        record["IsDeleted"] = True
        record["LastModifiedDate"] = record["SystemModstamp"] = format_datetime(self.now)
        self.txn.put(sobject, record)
        return record_id

    def hard_delete(self, obj: ObjectDef | None, raw_id: str) -> str:
        """Erase a record (Bulk hardDelete): not even queryAll sees it afterwards."""
        old = self.live_record(obj, raw_id, 400)
        record_id: str = old["Id"]
        self._check_lock(record_id)
        self.txn.remove(record_id)
        return record_id

    # --- checks ------------------------------------------------------------------------------

    def _check_lock(self, record_id: str | None) -> None:
        if self.faults.take_lock_failure():
            ids = record_id or ""
            raise RecordError(
                "UNABLE_TO_LOCK_ROW",
                f"unable to obtain exclusive access to this record or 1 records: {ids}".rstrip(),
            )

    def _check_writable(self, obj: ObjectDef, prepared: PreparedRecord, creating: bool) -> None:
        names = [*prepared.values, *prepared.references]
        refused = []
        for name in names:
            field_def = obj.field(name)
            if field_def is None:
                continue
            allowed = field_def.createable if creating else field_def.updateable
            if not allowed:
                refused.append(field_def.name)
        if not creating and not obj.updateable:
            raise RecordError(
                "INVALID_TYPE_FOR_OPERATION", f"entity type {obj.name} does not support update"
            )
        if refused:
            raise RecordError(
                "INVALID_FIELD_FOR_INSERT_UPDATE",
                f"Unable to create/update fields: {', '.join(refused)}. Please check the security "
                "settings of this field and verify that it is read/write for your profile or "
                "permission set.",
                tuple(refused),
            )

    def _resolved_values(self, prepared: PreparedRecord) -> dict[str, Any]:
        values = dict(prepared.values)
        for name, reference in prepared.references.items():
            matches = self.find_by(reference.target, reference.key_field, reference.value)
            if not matches:
                raise RecordError(
                    "INVALID_FIELD",
                    f"Foreign key external ID: {reference.value} not found for field "
                    f"{reference.key_field.name} in entity {reference.target.name}",
                    (),
                )
            if len(matches) > 1:
                raise RecordError(
                    "INVALID_FIELD",
                    f"Foreign key external ID: {reference.value} matches more than one "
                    f"{reference.target.name} record by {reference.key_field.name}",
                    (),
                )
            values[name] = matches[0]
        return values

    def _apply_defaults(self, obj: ObjectDef, record: dict[str, Any]) -> None:
        for field_def in obj.fields.values():
            if field_def.type == "boolean":
                record[field_def.name] = bool(field_def.default_value)
            elif field_def.defaulted_on_create:
                default = _default_of(field_def)
                if default is not None:
                    record[field_def.name] = default
        if "OwnerId" in record:
            record["OwnerId"] = self.user_id

    def _stamp(self, record: dict[str, Any], created: bool) -> None:
        stamp = format_datetime(self.now)
        if created:
            record["IsDeleted"] = False
            for name in ("CreatedDate",):
                if name in record:
                    record[name] = stamp
            if "CreatedById" in record:
                record["CreatedById"] = self.user_id
        for name in ("LastModifiedDate", "SystemModstamp"):
            if name in record:
                record[name] = stamp
        if "LastModifiedById" in record:
            record["LastModifiedById"] = self.user_id

    def _check_required(
        self, obj: ObjectDef, record: Mapping[str, Any], given: Any, creating: bool
    ) -> None:
        given_names = set(given)
        missing = [
            f.name
            for f in obj.fields.values()
            if not f.nillable
            and f.type != "boolean"
            and f.name not in _AUDIT_FIELDS
            and (f.createable if creating else f.updateable)
            and record.get(f.name) is None
            and (creating or f.name in given_names)
        ]
        if missing:
            raise RecordError(
                "REQUIRED_FIELD_MISSING",
                f"Required fields are missing: [{', '.join(missing)}]",
                tuple(missing),
            )

    def _check_values(self, obj: ObjectDef, values: Mapping[str, Any]) -> None:
        for name, value in values.items():
            field_def = obj.field(name)
            if field_def is None or value is None:
                continue
            self._check_value(field_def, value)
        owner = values.get("OwnerId")
        if isinstance(owner, str) and owner:
            self._check_owner(obj, owner)

    def _check_owner(self, obj: ObjectDef, owner: str) -> None:
        """A real org's owner rules: activities belong to users, queues own only queue objects,
        and nothing is handed to a user who left.

        * Task/Event owned by a queue: ``FIELD_INTEGRITY_EXCEPTION``, "Assigned To ID: id value of
          incorrect type: 00G...", fields ``[OwnerId]`` (as observed from a real org in
          apex-enterprise-patterns/fflib-apex-common#293 and SalesforceLabs/ActionPlansV4#51).
        * Any other object a queue cannot own (Account, Contact ...; queues support Case, Lead
          and custom objects, QueueSobject), or a Group that is not a queue: the same code with
          "Owner ID: id value of incorrect type" (octoberswimmer/aer-dist#513 shows that wording).
        * An inactive User: ``INACTIVE_OWNER_OR_USER``, "operation performed with inactive user"
          (SalesforceLabs/Milestones-PM#26).
        """
        record_id = normalize_id(owner)
        row = self.store.get(record_id) if record_id is not None else None
        if row is None:
            return  # a missing or malformed id was already refused by _check_reference
        kind = self.store.sobject_of(row["Id"])
        if kind == "Group":
            label = "Assigned To ID" if obj.name in _ACTIVITIES else "Owner ID"
            takes_queue = obj.name not in _ACTIVITIES and (
                obj.name in _QUEUE_OBJECTS or obj.name.endswith("__c")
            )
            if row.get("Type") != "Queue" or not takes_queue:
                raise RecordError(
                    "FIELD_INTEGRITY_EXCEPTION",
                    f"{label}: id value of incorrect type: {row['Id']}",
                    ("OwnerId",),
                )
        elif kind == "User" and not row.get("IsActive"):
            raise RecordError(
                "INACTIVE_OWNER_OR_USER", "operation performed with inactive user", ("OwnerId",)
            )

    def _check_value(self, field_def: FieldDef, value: Any) -> None:
        kind = field_def.type
        if kind in {"picklist", "multipicklist"} and field_def.restricted_picklist:
            choices = value.split(";") if kind == "multipicklist" else [value]
            allowed = {p.value for p in field_def.picklist_values if p.active}
            if any(choice not in allowed for choice in choices):
                raise RecordError(
                    "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                    f"{field_def.label}: bad value for restricted picklist field: {value}",
                    (field_def.name,),
                )
        too_long = isinstance(value, str) and field_def.length and len(value) > field_def.length
        if too_long and kind not in {"reference", "id"}:
            raise RecordError(
                "STRING_TOO_LONG",
                f"{field_def.label}: data value too large: {value[:100]} "
                f"(max length={field_def.length})",
                (field_def.name,),
            )
        if kind == "email" and not _EMAIL_RE.match(value):
            raise RecordError(
                "INVALID_EMAIL_ADDRESS",
                f"{field_def.label}: invalid email address: {value}",
                (field_def.name,),
            )
        if kind == "reference":
            self._check_reference(field_def, value)

    def _check_reference(self, field_def: FieldDef, value: str) -> None:
        record_id = normalize_id(value)
        if record_id is None:
            raise RecordError(
                "MALFORMED_ID",
                f"{field_def.label}: id value of incorrect type: {value}",
                (field_def.name,),
            )
        target_type = self.store.sobject_of(record_id)
        row = self.store.get(record_id)
        if row is None:
            raise RecordError(
                "INVALID_CROSS_REFERENCE_KEY",
                f"invalid cross reference id: {value}",
                (field_def.name,),
            )
        if target_type not in field_def.reference_to:
            raise RecordError(
                "INVALID_CROSS_REFERENCE_KEY",
                f"{field_def.label}: id value of incorrect type: {value}",
                (field_def.name,),
            )
        if row.get("IsDeleted"):
            raise RecordError("ENTITY_IS_DELETED", f"entity is deleted: {value}", (field_def.name,))

    def _check_unique(self, obj: ObjectDef, record: Mapping[str, Any]) -> None:
        for field_def in obj.fields.values():
            if not field_def.unique or record.get(field_def.name) is None:
                continue
            others = [
                other
                for other in self.store.find(obj.name, field_def.name, record[field_def.name])
                if other != record["Id"]
            ]
            if others:
                raise RecordError(
                    "DUPLICATE_VALUE",
                    f"duplicate value found: {field_def.name} duplicates value on record with "
                    f"id: {others[0]}",
                    (),
                )

    # --- derived fields ----------------------------------------------------------------------

    def _derive(
        self, obj: ObjectDef, record: dict[str, Any], old: Mapping[str, Any] | None
    ) -> None:
        """Fields the org computes: normalised references, names, autonumbers, closed state."""
        for field_def in obj.fields.values():
            value = record.get(field_def.name)
            if field_def.type == "reference" and isinstance(value, str):
                record[field_def.name] = normalize_id(value) or value
            if field_def.auto_number and old is None:
                number = self.txn.next_counter(f"autonumber:{obj.name}.{field_def.name}")
                record[field_def.name] = f"{number:08d}"
        if {"FirstName", "LastName", "Name"} <= record.keys() and not _writable(obj, "Name"):
            record["Name"] = " ".join(p for p in (record["FirstName"], record["LastName"]) if p)
        if obj.name in _STATUS_OBJECTS:
            self._derive_closed(obj, record, old)
        if obj.name == "Task":
            self._derive_task(record)

    def _derive_closed(
        self, obj: ObjectDef, record: dict[str, Any], old: Mapping[str, Any] | None
    ) -> None:
        closed = self.status_is_closed(obj.name, record.get("Status"))
        was_closed = bool(old and old.get("IsClosed"))
        record["IsClosed"] = closed
        stamp_field = "ClosedDate" if obj.name == "Case" else "CompletedDateTime"
        if stamp_field in record:
            if closed and not was_closed:
                record[stamp_field] = format_datetime(self.now)
            elif not closed:
                record[stamp_field] = None

    def status_is_closed(self, sobject: str, status: Any) -> bool:
        """Whether ``status`` counts as closed, per the org's CaseStatus/TaskStatus rows."""
        if status is None:
            return False
        rows = self.store.records(_STATUS_OBJECTS[sobject], include_deleted=False)
        for row in rows:
            if status in {row.get("ApiName"), row.get("MasterLabel")}:
                return bool(row.get("IsClosed"))
        return status in _CLOSED_FALLBACK[sobject] if not rows else False

    def _derive_task(self, record: dict[str, Any]) -> None:
        if "IsHighPriority" in record:
            record["IsHighPriority"] = record.get("Priority") == "High"
        if "AccountId" not in record:
            return
        account_id = None
        for key in ("WhatId", "WhoId"):
            related_id = record.get(key)
            if not related_id:
                continue
            if self.store.sobject_of(related_id) == "Account":
                account_id = related_id
            else:
                related = self.store.get(related_id)
                account_id = related.get("AccountId") if related else None
            if account_id:
                break
        record["AccountId"] = account_id


def _default_of(field_def: FieldDef) -> Any:
    for entry in field_def.picklist_values:
        if entry.default and entry.active:
            return entry.value
    return field_def.default_value


def _writable(obj: ObjectDef, name: str) -> bool:
    field_def = obj.field(name)
    return field_def is not None and (field_def.createable or field_def.updateable)
