"""The value types of the local org's schema: fields, objects and the whole schema.

They live apart from :mod:`sfsync.sandbox.schema` so the standard-object catalogue, the metadata
reader and the describe renderer can all import them without a cycle; ``schema`` re-exports them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

#: Describe types whose values are text, so SOQL compares them as case-insensitive strings.
STRING_TYPES = frozenset(
    {
        "string",
        "textarea",
        "picklist",
        "multipicklist",
        "combobox",
        "email",
        "phone",
        "url",
        "id",
        "reference",
        "encryptedstring",
    }
)
#: Describe types whose values are numbers.
NUMBER_TYPES = frozenset({"int", "double", "currency", "percent", "long"})

#: Longest text area that SOQL can still filter and sort on (longer ones are "long text").
_FILTERABLE_TEXTAREA_LENGTH = 255


@dataclass(frozen=True)
class PicklistValue:
    """One picklist entry; ``default`` marks the value a create gets when the field is omitted."""

    value: str
    label: str
    default: bool = False
    active: bool = True


@dataclass(frozen=True)
class FieldDef:
    """One field, with the describe properties the org enforces."""

    name: str
    type: str  # describe type: id, string, textarea, picklist, boolean, int, double, currency,
    # percent, date, datetime, time, reference, email, phone, url, combobox, ...
    label: str
    length: int = 0
    precision: int = 0
    scale: int = 0
    createable: bool = True
    updateable: bool = True
    nillable: bool = True
    defaulted_on_create: bool = False
    default_value: Any = None
    picklist_values: tuple[PicklistValue, ...] = ()
    restricted_picklist: bool = False
    reference_to: tuple[str, ...] = ()
    relationship_name: str | None = None
    external_id: bool = False
    unique: bool = False
    case_sensitive: bool = False
    auto_number: bool = False
    calculated: bool = False
    custom: bool = False
    # Added beyond the first contract (all optional, so older call sites keep working):
    name_field: bool = False
    id_lookup: bool = False
    html_formatted: bool = False
    digits: int = 0
    child_relationship_name: str | None = None  # the parent's name for the list of children
    cascade_delete: bool = False
    description: str = ""

    @property
    def is_polymorphic(self) -> bool:
        """A lookup that may point at several object types (Owner, What, Who, Parent)."""
        return len(self.reference_to) > 1

    @property
    def is_long_text(self) -> bool:
        """Long text areas can be neither filtered nor sorted in SOQL, as in a real org."""
        return self.type == "textarea" and self.length > _FILTERABLE_TEXTAREA_LENGTH

    @property
    def filterable(self) -> bool:
        return not self.is_long_text

    @property
    def sortable(self) -> bool:
        return not self.is_long_text and self.type != "multipicklist"

    @property
    def required_on_create(self) -> bool:
        """What a create must supply: not nillable, writable and not defaulted by the org."""
        return (
            not self.nillable
            and self.createable
            and not self.defaulted_on_create
            and self.type != "boolean"
        )

    def picklist_default(self) -> str | None:
        """The picklist value marked default, which a create gets when the field is omitted."""
        for entry in self.picklist_values:
            if entry.default and entry.active:
                return entry.value
        return None

    def default_on_create(self) -> Any:
        """The value the org stores when a create omits this field (picklist default first)."""
        picked = self.picklist_default()
        return picked if picked is not None else self.default_value

    def allows_picklist_value(self, value: str) -> bool:
        """Whether ``value`` is an active entry (exact match, as restricted picklists check it)."""
        return any(entry.value == value and entry.active for entry in self.picklist_values)


@dataclass(frozen=True)
class ChildRelationship:
    """A lookup on another object pointing here, as describe lists it under childRelationships."""

    child_sobject: str
    field: str
    relationship_name: str | None
    cascade_delete: bool = False


@dataclass(frozen=True)
class ListViewFilter:
    field: str
    operation: str
    value: str = ""


@dataclass(frozen=True)
class ListViewDef:
    """A list view from the SFDX project (read so the project stays consistent with the schema)."""

    object_name: str
    full_name: str
    label: str
    filter_scope: str
    columns: tuple[str, ...]
    filters: tuple[ListViewFilter, ...]


@dataclass(frozen=True)
class FieldPermission:
    field: str  # Object.Field as the permission set names it
    readable: bool
    editable: bool


@dataclass(frozen=True)
class ObjectPermission:
    object_name: str
    allow_create: bool
    allow_read: bool
    allow_edit: bool
    allow_delete: bool


@dataclass(frozen=True)
class PermissionSetDef:
    """A permission set from the SFDX project (the integration user's access)."""

    name: str
    label: str
    field_permissions: tuple[FieldPermission, ...]
    object_permissions: tuple[ObjectPermission, ...]
    user_permissions: tuple[str, ...]


@dataclass(frozen=True)
class ObjectDef:
    """One sObject type."""

    name: str
    label: str
    label_plural: str
    key_prefix: str
    custom: bool = False
    createable: bool = True
    updateable: bool = True
    deletable: bool = True
    queryable: bool = True
    fields: Mapping[str, FieldDef] = field(default_factory=dict)  # keyed by lower-case name
    # Added beyond the first contract:
    record_types_supported: bool = False
    feed_enabled: bool = False
    activities_enabled: bool = False
    child_relationships: tuple[ChildRelationship, ...] = ()
    description: str = ""

    def field(self, name: str) -> FieldDef | None:
        return self.fields.get(name.lower())

    def relationship(self, name: str) -> FieldDef | None:
        """The lookup field whose relationship name is ``name`` (``Account``, ``Case__r``)."""
        wanted = name.lower()
        for candidate in self.fields.values():
            if candidate.relationship_name and candidate.relationship_name.lower() == wanted:
                return candidate
        return None

    def name_field(self) -> FieldDef | None:
        """The field the UI shows as the record's name (Name, CaseNumber, Subject...)."""
        for candidate in self.fields.values():
            if candidate.name_field:
                return candidate
        return None


@dataclass(frozen=True)
class Schema:
    objects: Mapping[str, ObjectDef]  # keyed by lower-case name
    list_views: tuple[ListViewDef, ...] = ()
    permission_sets: tuple[PermissionSetDef, ...] = ()

    def object(self, name: str) -> ObjectDef | None:
        return self.objects.get(name.lower())

    def by_prefix(self, key_prefix: str) -> ObjectDef | None:
        """The object whose ids start with ``key_prefix``.

        CaseStatus and TaskStatus share ``01J`` as in a real org; for them the first by name wins,
        so callers that must tell them apart should know the type from elsewhere.
        """
        return self._objects_by_prefix.get(key_prefix)

    @cached_property
    def _objects_by_prefix(self) -> dict[str, ObjectDef]:
        found: dict[str, ObjectDef] = {}
        for name in sorted(self.objects):
            found.setdefault(self.objects[name].key_prefix, self.objects[name])
        return found

    def object_for_id(self, record_id: str) -> ObjectDef | None:
        """The object a 15- or 18-character id belongs to, by its key prefix."""
        return self.by_prefix(record_id[:3]) if len(record_id) >= 3 else None
