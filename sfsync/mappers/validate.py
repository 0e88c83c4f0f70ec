"""Check compiled mappings against the org's describe, for the permission each write needs.

Pure: takes describe JSON (``GET sobjects/X/describe`` dicts, and the names ``describe_global``
lists) and returns every :class:`~sfsync.mappers.spec.MappingProblem` at once, each with the file,
line and a fix. Fetching describe is the caller's job (``sfsync.checks``).

Following CumulusCI's mapping parser, a field must be *createable* for an object sfsync
creates and also *updateable* for one it upserts:

=========  ===================  ================================
section    operation            the fields need
=========  ===================  ================================
case       upsert by key        createable and updateable
task       insert (ledgered)    createable
invoice    upsert by key        createable and updateable
=========  ===================  ================================

Checked besides: the object is visible to the integration user; each field exists; the mapped
value's kind fits the field type; every possible value of a picklist field is in its picklist;
constants fit the field length; external ids exist (and, where sfsync upserts by them, are
external ids and unique); lookups point at the right object through the right relationship;
every field the org requires on create is mapped.
"""

from __future__ import annotations

import difflib
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sfsync.mappers.compile import CompiledField, CompiledObject, compile_with_problems
from sfsync.mappers.spec import LoadedMappings, MappingProblem, ObjectName, read_mappings
from sfsync.mappers.transforms import ValueKind

#: A ``describe`` reply for one object.
Describe = Mapping[str, Any]

#: What sfsync does with each section's records.
OPERATIONS: Mapping[ObjectName, tuple[str, ...]] = {
    "case": ("create", "update"),
    "task": ("create",),
    "invoice": ("create", "update"),
}

TEXT_TYPES = frozenset(
    {"string", "textarea", "picklist", "multipicklist", "combobox", "email", "phone", "url"}
)
NUMBER_TYPES = frozenset({"currency", "double", "percent", "int", "long"})

#: Salesforce field types each kind of mapped value may be written to.
COMPATIBLE_TYPES: Mapping[ValueKind, frozenset[str]] = {
    ValueKind.TEXT: TEXT_TYPES | {"reference", "encryptedstring"},
    ValueKind.DECIMAL: frozenset({"currency", "double", "percent"}),
    ValueKind.INT: NUMBER_TYPES,
    ValueKind.DATE: frozenset({"date"}),
    ValueKind.DATETIME: frozenset({"datetime"}),
    ValueKind.BOOL: frozenset({"boolean"}),
    ValueKind.LOOKUP: frozenset({"reference"}),
}


def field_lengths(describes: Mapping[str, Describe]) -> dict[str, dict[str, int]]:
    """Text field lengths by lower-case object and field name (for a bare ``truncate``)."""
    return {
        str(describe["name"]).lower(): {
            str(field["name"]).lower(): int(field["length"])
            for field in describe.get("fields", ())
            if field.get("length")
        }
        for describe in describes.values()
    }


@dataclass(frozen=True)
class _Org:
    """Describe replies, looked up case-insensitively as Salesforce names are."""

    describes: Mapping[str, Describe]
    visible: frozenset[str] | None

    def describe(self, sobject: str) -> Describe | None:
        if self.visible is not None and sobject.lower() not in self.visible:
            return None
        for name, describe in self.describes.items():
            if name.lower() == sobject.lower():
                return describe
        return None

    def names(self) -> list[str]:
        return sorted(self.visible or {name.lower() for name in self.describes})


def _fields_of(describe: Describe) -> dict[str, Mapping[str, Any]]:
    return {str(field["name"]).lower(): field for field in describe.get("fields", ())}


def check_mappings_offline(path: Path) -> list[MappingProblem]:
    """Every problem of the mappings file that needs no org: syntax, structure, sources,
    transforms and their arguments (what ``sfsync config check`` can report offline)."""
    loaded, problems = read_mappings(path)
    if loaded is None or problems:
        return problems
    return compile_with_problems(loaded, offline=True)[1]


def validate_mappings(
    loaded: LoadedMappings,
    describes: Mapping[str, Describe],
    visible: Collection[str] | None = None,
) -> list[MappingProblem]:
    """Every problem of ``loaded`` against the org: compile problems first, then the org's.

    ``describes`` maps object names to their describe; ``visible`` lists the objects
    ``describe_global`` showed the integration user (None: whatever ``describes`` holds).
    """
    compiled, problems = compile_with_problems(loaded, field_lengths(describes))
    org = _Org(describes, None if visible is None else frozenset(v.lower() for v in visible))
    checker = _Checker(loaded, org, problems)
    checker.check_account()
    for compiled_object in compiled.objects():
        checker.check_object(compiled_object)
    return problems


@dataclass
class _Checker:
    loaded: LoadedMappings
    org: _Org
    problems: list[MappingProblem]

    def add(self, path: tuple[str, ...], obj: str, field: str, message: str, fix: str) -> None:
        self.problems.append(self.loaded.problem(path, obj, field, message, fix))

    def visible_describe(self, name: str, sobject: str) -> Describe | None:
        describe = self.org.describe(sobject)
        if describe is None:
            close = difflib.get_close_matches(sobject.lower(), self.org.names(), n=1)
            hint = f"did you mean {close[0]}? Otherwise " if close else ""
            self.add(
                (name, "sobject"),
                name,
                "sobject",
                f"object {sobject} does not exist or the integration user cannot see it",
                f"{hint}check the API name, or give the integration user read access "
                "(permission set sfsync_Integration)",
            )
        return describe

    # --- account -----------------------------------------------------------------------------

    def check_account(self) -> None:
        account = self.loaded.spec.account
        describe = self.visible_describe("account", account.sobject)
        if describe is not None:
            self.check_external_id("account", describe, account.external_id, unique=True)

    # --- written objects ---------------------------------------------------------------------

    def check_object(self, compiled: CompiledObject) -> None:
        name = compiled.name
        describe = self.visible_describe(name, compiled.sobject)
        if describe is None:
            return
        fields = _fields_of(describe)
        self.check_external_id(name, describe, compiled.external_id, unique=name != "task")
        section = getattr(self.loaded.spec, name)
        for target in section.fields:
            if target.lower() not in fields:
                self.add(
                    (name, "fields", target),
                    name,
                    target,
                    f"{compiled.sobject} has no field {target}",
                    _closest_field(target, fields, compiled.sobject),
                )
        for mapped in compiled.fields:
            field = fields.get(mapped.target.lower())
            if field is not None:
                self.check_field(name, compiled.sobject, mapped, field)
        self.check_required(name, compiled, fields)

    def check_external_id(
        self, name: str, describe: Describe, field_name: str, *, unique: bool
    ) -> None:
        fields = _fields_of(describe)
        sobject = str(describe.get("name"))
        field = fields.get(field_name.lower())
        path = (name, "external_id")
        if field is None:
            self.add(
                path,
                name,
                "external_id",
                f"{sobject} has no field {field_name}",
                _closest_field(field_name, fields, sobject),
            )
            return
        if field.get("type") not in ("string", "int", "double"):
            self.add(
                path,
                name,
                "external_id",
                f"{sobject}.{field_name} is a {field.get('type')} field; keys are text",
                "use a Text field for the key",
            )
        if unique and not (field.get("externalId") and field.get("unique")):
            self.add(
                path,
                name,
                "external_id",
                f"{sobject}.{field_name} is not a unique external id, so sfsync cannot upsert "
                "by it without risking duplicates",
                f"tick 'External ID' and 'Unique' on {sobject}.{field_name} (see salesforce/)",
            )

    def check_field(
        self, name: ObjectName, sobject: str, mapped: CompiledField, field: Mapping[str, Any]
    ) -> None:
        path = (name, "fields", mapped.target)

        def add(message: str, fix: str) -> None:
            self.add(path, name, mapped.target, message, fix)

        where = f"{sobject}.{field['name']}"
        for operation in OPERATIONS[name]:
            flag = "createable" if operation == "create" else "updateable"
            if not field.get(flag):
                add(
                    f"{where} is not {flag}: sfsync {operation}s {sobject} records and cannot "
                    "write it",
                    _permission_fix(where, field, flag),
                )
                break
        field_type = str(field.get("type"))
        kind = mapped.shape.kind
        if field_type not in COMPATIBLE_TYPES[kind]:
            add(
                f"{where} is a {field_type} field but the mapping gives a {kind.value} value",
                _type_fix(kind, field_type),
            )
            return
        if kind is ValueKind.LOOKUP:
            self.check_lookup(mapped, field, add)
            return
        if field_type in ("picklist", "multipicklist"):
            self.check_picklist(mapped, field, where, add)
        self.check_length(mapped, field, where, add)

    def check_lookup(self, mapped: CompiledField, field: Mapping[str, Any], add: Any) -> None:
        spec = self.loaded.spec
        parent = (
            spec.account.sobject if "account_lookup" in mapped.transforms else spec.case.sobject
        )
        targets = [str(t).lower() for t in field.get("referenceTo") or ()]
        if parent.lower() not in targets:
            add(
                f"{field['name']} looks up {', '.join(field.get('referenceTo') or ()) or 'nothing'}"
                f", not {parent}",
                "use account_lookup for Account lookups and case_lookup for Case lookups",
            )
        relationship = field.get("relationshipName")
        if relationship and relationship != mapped.relationship:
            add(
                f"{field['name']} is written through relationship {relationship}, not "
                f"{mapped.relationship}",
                "rename the lookup field so its relationship follows Salesforce's naming rule",
            )

    def check_picklist(
        self, mapped: CompiledField, field: Mapping[str, Any], where: str, add: Any
    ) -> None:
        allowed = [
            str(entry["value"])
            for entry in field.get("picklistValues") or ()
            if entry.get("active", True)
        ]
        values = mapped.shape.values
        if values is None:
            if field.get("restrictedPicklist"):
                add(
                    f"{where} is a restricted picklist but the mapped values are not limited to "
                    "its list",
                    f"add a value_map to one of: {', '.join(allowed)}",
                )
            return
        for value in sorted(str(v) for v in values if v is not None):
            if value not in allowed:
                add(
                    f"{value!r} is not a value of picklist {where}",
                    _picklist_fix(value, allowed, where),
                )

    def check_length(
        self, mapped: CompiledField, field: Mapping[str, Any], where: str, add: Any
    ) -> None:
        length = int(field.get("length") or 0)
        if not length or mapped.shape.values is None:
            return
        for value in sorted(str(v) for v in mapped.shape.values if v is not None):
            if len(value) > length:
                add(
                    f"{value[:40]!r}{'...' if len(value) > 40 else ''} is {len(value)} characters; "
                    f"{where} holds {length}",
                    "shorten it, or add truncate",
                )

    def check_required(
        self, name: ObjectName, compiled: CompiledObject, fields: Mapping[str, Mapping[str, Any]]
    ) -> None:
        mapped = {field.target.lower() for field in compiled.fields}
        section = getattr(self.loaded.spec, name)
        mapped |= {target.lower() for target in section.fields}
        mapped.add(compiled.external_id.lower())
        for key, field in fields.items():
            required = (
                field.get("createable")
                and not field.get("nillable")
                and not field.get("defaultedOnCreate")
            )
            if required and key not in mapped:
                self.add(
                    (name, "fields"),
                    name,
                    str(field["name"]),
                    f"{compiled.sobject}.{field['name']} is required when creating a record but "
                    "is not mapped",
                    f"map {field['name']} under {name}.fields",
                )


def _closest_field(target: str, fields: Mapping[str, Mapping[str, Any]], sobject: str) -> str:
    names = {key: str(field["name"]) for key, field in fields.items()}
    close = difflib.get_close_matches(target.lower(), list(names), n=1, cutoff=0.6)
    if close:
        return f"did you mean {names[close[0]]}?"
    return f"use a field of {sobject} (see its describe), or deploy salesforce/ to create it"


def _permission_fix(where: str, field: Mapping[str, Any], flag: str) -> str:
    if field.get("calculated") or field.get("autoNumber") or not field.get("permissionable", True):
        return f"remove {where} from the mapping: Salesforce computes it"
    if flag == "updateable" and field.get("createable"):
        return f"remove {where}: it can be set only on create, and sfsync also updates"
    return f"give the integration user edit access to {where}, or remove it from the mapping"


def _type_fix(kind: ValueKind, field_type: str) -> str:
    if field_type in TEXT_TYPES and kind in (ValueKind.DATE, ValueKind.DATETIME):
        return "add format_date to write the date as text"
    if field_type in TEXT_TYPES:
        return "use a template (e.g. template: '{past_due:,.2f}') to write it as text"
    if field_type == "reference":
        return "add account_lookup or case_lookup, or map a Salesforce id"
    if field_type in NUMBER_TYPES:
        return "map a number source (past_due, amount, days_past_due ...)"
    if field_type in ("date", "datetime"):
        return "map a date source (due_date, next_action_date ...)"
    if field_type == "boolean":
        return "map a true/false source (disputed) or const: true/false"
    return f"map a value that fits a {field_type} field"


def _picklist_fix(value: str, allowed: list[str], where: str) -> str:
    close = difflib.get_close_matches(value, allowed, n=1)
    if close:
        return f"did you mean {close[0]!r}? (values: {', '.join(allowed)})"
    return f"use one of {', '.join(allowed)}, or add {value!r} to {where} in Setup"


__all__ = [
    "COMPATIBLE_TYPES",
    "OPERATIONS",
    "Describe",
    "check_mappings_offline",
    "field_lengths",
    "validate_mappings",
]
