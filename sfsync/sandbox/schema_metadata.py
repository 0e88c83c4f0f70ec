"""Reads the repository's SFDX project (Metadata API source format) into schema values.

The same XML an admin deploys with ``sf project deploy start`` is the local org's schema, so there
is one source of truth. Only the standard library parser is used; the files are the repository's
own, not untrusted input. Every problem is raised as :class:`SchemaError` naming the file.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from sfsync.errors import ConfigError
from sfsync.sandbox.schema_model import (
    FieldDef,
    FieldPermission,
    ListViewDef,
    ListViewFilter,
    ObjectPermission,
    PermissionSetDef,
    PicklistValue,
)

NS = "http://soap.sforce.com/2006/04/metadata"
_Q = "{" + NS + "}"

#: Metadata field type → (describe type, default length).
_SIMPLE_TYPES: dict[str, tuple[str, int]] = {
    "Text": ("string", 0),
    "TextArea": ("textarea", 255),
    "LongTextArea": ("textarea", 32768),
    "Html": ("textarea", 32768),
    "EncryptedText": ("encryptedstring", 0),
    "Number": ("double", 0),
    "Currency": ("currency", 0),
    "Percent": ("percent", 0),
    "Checkbox": ("boolean", 0),
    "Date": ("date", 0),
    "DateTime": ("datetime", 0),
    "Time": ("time", 0),
    "Email": ("email", 80),
    "Phone": ("phone", 40),
    "Url": ("url", 255),
    "Picklist": ("picklist", 255),
    "MultiselectPicklist": ("multipicklist", 4099),
    "Lookup": ("reference", 18),
    "MasterDetail": ("reference", 18),
    "AutoNumber": ("string", 30),
    "Summary": ("double", 0),
}


class SchemaError(ConfigError):
    """The SFDX project cannot be read; the message names the file and what is wrong."""


@dataclass(frozen=True)
class CustomObjectMeta:
    """What a ``*.object-meta.xml`` says about a custom object."""

    name: str
    label: str
    label_plural: str
    name_field_label: str
    name_field_auto_number: bool
    activities_enabled: bool
    feeds_enabled: bool
    owned: bool
    description: str
    path: Path


@dataclass(frozen=True)
class CustomFieldMeta:
    """A custom field with the object folder it was found in and its file, for error messages."""

    object_name: str
    field: FieldDef
    path: Path


@dataclass(frozen=True)
class ProjectMetadata:
    objects: tuple[CustomObjectMeta, ...]
    fields: tuple[CustomFieldMeta, ...]
    list_views: tuple[tuple[ListViewDef, Path], ...]
    permission_sets: tuple[tuple[PermissionSetDef, Path], ...]


def parse_xml(path: Path, root_tag: str) -> ET.Element:
    """The root element of ``path``, which must be a ``root_tag`` in the metadata namespace."""
    try:
        root = ET.parse(path).getroot()  # noqa: S314 - the repository's own metadata files
    except ET.ParseError as exc:
        raise SchemaError(f"{path}: not well-formed XML: {exc}") from exc
    except OSError as exc:
        raise SchemaError(f"{path}: cannot be read: {exc}") from exc
    if root.tag != _Q + root_tag:
        raise SchemaError(f"{path}: expected a <{root_tag}> in namespace {NS}, found <{root.tag}>")
    return root


def child_text(elem: ET.Element, tag: str, default: str = "") -> str:
    """The stripped text of the first child ``tag``, or ``default`` when absent or empty."""
    found = elem.find(_Q + tag)
    if found is None or found.text is None:
        return default
    return found.text.strip()


def child_flag(elem: ET.Element, tag: str, default: bool = False) -> bool:
    raw = child_text(elem, tag)
    if not raw:
        return default
    return raw.lower() == "true"


def child_int(elem: ET.Element, tag: str, path: Path, default: int = 0) -> int:
    raw = child_text(elem, tag)
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise SchemaError(f"{path}: <{tag}> must be a whole number, got {raw!r}") from exc


def package_directories(project_dir: Path) -> list[Path]:
    """The package directories ``sfdx-project.json`` lists (where the metadata source lives)."""
    config_path = project_dir / "sfdx-project.json"
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SchemaError(f"{config_path}: cannot be read: {exc}") from exc
    except json.JSONDecodeError as exc:
        raise SchemaError(f"{config_path}: not valid JSON: {exc}") from exc
    entries = config.get("packageDirectories") if isinstance(config, dict) else None
    if not isinstance(entries, list) or not entries:
        raise SchemaError(f"{config_path}: packageDirectories must list at least one directory")
    dirs = []
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("path"), str):
            raise SchemaError(f"{config_path}: each packageDirectories entry needs a 'path'")
        package = project_dir / entry["path"]
        if not package.is_dir():
            raise SchemaError(f"{config_path}: package directory {entry['path']!r} does not exist")
        dirs.append(package)
    return dirs


def read_project(project_dir: Path) -> ProjectMetadata:
    """Every custom object, custom field, list view and permission set in the project."""
    objects: list[CustomObjectMeta] = []
    fields: list[CustomFieldMeta] = []
    views: list[tuple[ListViewDef, Path]] = []
    permission_sets: list[tuple[PermissionSetDef, Path]] = []
    for package in package_directories(project_dir):
        # Standard objects may carry an X.object-meta.xml of settings; only X__c defines one.
        object_files = sorted(package.rglob("*__c.object-meta.xml"))
        objects += [read_custom_object(p) for p in object_files]
        fields += [read_custom_field(p) for p in sorted(package.rglob("*.field-meta.xml"))]
        views += [(read_list_view(p), p) for p in sorted(package.rglob("*.listView-meta.xml"))]
        permission_sets += [
            (read_permission_set(p), p) for p in sorted(package.rglob("*.permissionset-meta.xml"))
        ]
    return ProjectMetadata(tuple(objects), tuple(fields), tuple(views), tuple(permission_sets))


def _meta_name(path: Path) -> str:
    """``Foo__c`` from ``.../Foo__c.field-meta.xml`` (the part before the first dot)."""
    return path.name.split(".", 1)[0]


def read_custom_object(path: Path) -> CustomObjectMeta:
    root = parse_xml(path, "CustomObject")
    name = _meta_name(path)
    name_field = root.find(_Q + "nameField")
    if name_field is None:
        raise SchemaError(f"{path}: a custom object needs a <nameField>")
    name_type = child_text(name_field, "type", "Text")
    if name_type not in {"Text", "AutoNumber"}:
        raise SchemaError(f"{path}: nameField type must be Text or AutoNumber, got {name_type!r}")
    label = child_text(root, "label")
    if not label:
        raise SchemaError(f"{path}: a custom object needs a <label>")
    return CustomObjectMeta(
        name=name,
        label=label,
        label_plural=child_text(root, "pluralLabel", label),
        name_field_label=child_text(name_field, "label", f"{label} Name"),
        name_field_auto_number=name_type == "AutoNumber",
        activities_enabled=child_flag(root, "enableActivities"),
        feeds_enabled=child_flag(root, "enableFeeds"),
        owned=child_text(root, "sharingModel") != "ControlledByParent",
        description=child_text(root, "description"),
        path=path,
    )


def read_custom_field(path: Path) -> CustomFieldMeta:
    """A ``objects/<Object>/fields/<Field>.field-meta.xml`` file as a describe-ready FieldDef."""
    root = parse_xml(path, "CustomField")
    if path.parent.name != "fields":
        raise SchemaError(f"{path}: custom fields belong in objects/<Object>/fields/")
    object_name = path.parent.parent.name
    name = child_text(root, "fullName", _meta_name(path))
    if name != _meta_name(path):
        raise SchemaError(f"{path}: fullName {name!r} does not match the file name")
    if not name.endswith("__c"):
        raise SchemaError(f"{path}: custom field names end in __c, got {name!r}")
    return CustomFieldMeta(
        object_name=object_name, field=field_from_xml(root, name, path), path=path
    )


def field_from_xml(root: ET.Element, name: str, path: Path) -> FieldDef:
    """Translate Metadata API CustomField properties into describe properties."""
    meta_type = child_text(root, "type")
    if meta_type not in _SIMPLE_TYPES:
        raise SchemaError(f"{path}: field type {meta_type!r} is not supported by the local org")
    describe_type, default_length = _SIMPLE_TYPES[meta_type]
    label = child_text(root, "label")
    if not label:
        raise SchemaError(f"{path}: a custom field needs a <label>")
    formula = child_text(root, "formula")
    read_only = bool(formula) or meta_type in {"AutoNumber", "Summary"}
    if formula and describe_type in {"reference"}:
        raise SchemaError(f"{path}: a formula field cannot be a {meta_type}")
    required = child_flag(root, "required") or meta_type == "MasterDetail"
    is_boolean = describe_type == "boolean"
    reference = (
        _reference_properties(root, name, path, meta_type)
        if meta_type in {"Lookup", "MasterDetail"}
        else _Reference()
    )
    values: tuple[PicklistValue, ...] = ()
    restricted = False
    if meta_type in {"Picklist", "MultiselectPicklist"}:
        values, restricted = _picklist_values(root, path)
    external_id = child_flag(root, "externalId")
    unique = child_flag(root, "unique")
    length = child_int(root, "length", path, default_length)
    if describe_type == "string" and not length and not read_only:
        raise SchemaError(f"{path}: a Text field needs a <length>")
    return FieldDef(
        name=name,
        type=describe_type,
        label=label,
        length=length if describe_type not in {"double", "currency", "percent"} else 0,
        precision=child_int(root, "precision", path),
        scale=child_int(root, "scale", path),
        createable=not read_only and meta_type != "AutoNumber",
        updateable=not read_only
        and (meta_type != "MasterDetail" or child_flag(root, "reparentableMasterDetail")),
        nillable=not required and not is_boolean and meta_type != "AutoNumber",
        defaulted_on_create=is_boolean or meta_type == "AutoNumber",
        default_value=child_flag(root, "defaultValue") if is_boolean else None,
        external_id=external_id,
        unique=unique,
        case_sensitive=child_flag(root, "caseSensitive"),
        auto_number=meta_type == "AutoNumber",
        calculated=bool(formula) or meta_type == "Summary",
        custom=True,
        id_lookup=external_id or meta_type == "AutoNumber",
        html_formatted=meta_type == "Html",
        description=child_text(root, "description"),
        picklist_values=values,
        restricted_picklist=restricted,
        reference_to=reference.targets,
        relationship_name=reference.relationship_name,
        child_relationship_name=reference.child_relationship_name,
        cascade_delete=reference.cascade_delete,
    )


@dataclass(frozen=True)
class _Reference:
    targets: tuple[str, ...] = ()
    relationship_name: str | None = None
    child_relationship_name: str | None = None
    cascade_delete: bool = False


def _reference_properties(root: ET.Element, name: str, path: Path, meta_type: str) -> _Reference:
    """Lookup properties: ``Account__c`` → relationship ``Account__r``; children ``X__r``."""
    target = child_text(root, "referenceTo")
    if not target:
        raise SchemaError(f"{path}: a {meta_type} field needs a <referenceTo>")
    child_name = child_text(root, "relationshipName")
    return _Reference(
        targets=(target,),
        relationship_name=name[: -len("__c")] + "__r",
        child_relationship_name=f"{child_name}__r" if child_name else None,
        cascade_delete=meta_type == "MasterDetail",
    )


def _picklist_values(root: ET.Element, path: Path) -> tuple[tuple[PicklistValue, ...], bool]:
    value_set = root.find(_Q + "valueSet")
    if value_set is None:
        raise SchemaError(f"{path}: a picklist field needs a <valueSet>")
    definition = value_set.find(_Q + "valueSetDefinition")
    if definition is None:
        raise SchemaError(
            f"{path}: only picklists with their own <valueSetDefinition> are supported "
            "(global value sets are not)"
        )
    values = []
    for entry in definition.findall(_Q + "value"):
        full_name = child_text(entry, "fullName")
        if not full_name:
            raise SchemaError(f"{path}: a picklist <value> needs a <fullName>")
        values.append(
            PicklistValue(
                value=full_name,
                label=child_text(entry, "label", full_name),
                default=child_flag(entry, "default"),
                active=child_flag(entry, "isActive", default=True),
            )
        )
    if not values:
        raise SchemaError(f"{path}: a picklist needs at least one <value>")
    return tuple(values), child_flag(value_set, "restricted")


def read_list_view(path: Path) -> ListViewDef:
    root = parse_xml(path, "ListView")
    if path.parent.name != "listViews":
        raise SchemaError(f"{path}: list views belong in objects/<Object>/listViews/")
    filters = tuple(
        ListViewFilter(
            field=child_text(f, "field"),
            operation=child_text(f, "operation"),
            value=child_text(f, "value"),
        )
        for f in root.findall(_Q + "filters")
    )
    label = child_text(root, "label")
    if not label:
        raise SchemaError(f"{path}: a list view needs a <label>")
    return ListViewDef(
        object_name=path.parent.parent.name,
        full_name=child_text(root, "fullName", _meta_name(path)),
        label=label,
        filter_scope=child_text(root, "filterScope", "Everything"),
        columns=tuple((c.text or "").strip() for c in root.findall(_Q + "columns")),
        filters=filters,
    )


def read_permission_set(path: Path) -> PermissionSetDef:
    root = parse_xml(path, "PermissionSet")
    label = child_text(root, "label")
    if not label:
        raise SchemaError(f"{path}: a permission set needs a <label>")
    return PermissionSetDef(
        name=_meta_name(path),
        label=label,
        field_permissions=tuple(
            FieldPermission(
                field=child_text(p, "field"),
                readable=child_flag(p, "readable"),
                editable=child_flag(p, "editable"),
            )
            for p in root.findall(_Q + "fieldPermissions")
        ),
        object_permissions=tuple(
            ObjectPermission(
                object_name=child_text(p, "object"),
                allow_create=child_flag(p, "allowCreate"),
                allow_read=child_flag(p, "allowRead"),
                allow_edit=child_flag(p, "allowEdit"),
                allow_delete=child_flag(p, "allowDelete"),
            )
            for p in root.findall(_Q + "objectPermissions")
        ),
        user_permissions=tuple(
            child_text(p, "name")
            for p in root.findall(_Q + "userPermissions")
            if child_flag(p, "enabled")
        ),
    )
