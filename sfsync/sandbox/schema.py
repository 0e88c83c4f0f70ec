"""The local org's schema: built-in standard objects plus the custom fields and objects read from
the repository's ``salesforce/`` SFDX project, and the describe JSON rendered from them.

INTERFACE CONTRACT (shared by the SOQL engine and the HTTPS server; keep these names stable):

- ``FieldDef`` / ``ObjectDef`` / ``Schema`` as below; names are canonical API names, lookups are
  case-insensitive.
- ``load_schema(project_dir: Path) -> Schema``
- ``describe_global(schema, api_version: str) -> dict`` and
  ``describe_object(obj: ObjectDef, api_version: str) -> dict`` render the documented JSON.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class PicklistValue:
    value: str
    label: str
    default: bool = False
    active: bool = True


@dataclass(frozen=True)
class FieldDef:
    """One field, with the describe properties the org enforces."""

    name: str
    type: str  # describe type: id, string, textarea, picklist, boolean, int, double, currency,
    # percent, date, datetime, reference, email, phone, url, combobox, ...
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

    def field(self, name: str) -> FieldDef | None:
        return self.fields.get(name.lower())


@dataclass(frozen=True)
class Schema:
    objects: Mapping[str, ObjectDef]  # keyed by lower-case name

    def object(self, name: str) -> ObjectDef | None:
        return self.objects.get(name.lower())

    def by_prefix(self, key_prefix: str) -> ObjectDef | None:
        for obj in self.objects.values():
            if obj.key_prefix == key_prefix:
                return obj
        return None
