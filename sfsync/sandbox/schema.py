"""The local org's schema: built-in standard objects plus the custom fields and objects read from
the repository's ``salesforce/`` SFDX project, and the describe JSON rendered from them.

INTERFACE CONTRACT (shared by the SOQL engine and the HTTPS server; keep these names stable):

- ``FieldDef`` / ``ObjectDef`` / ``Schema`` as below; names are canonical API names, lookups are
  case-insensitive.
- ``load_schema(project_dir: Path) -> Schema``; ``project_dir`` holds ``sfdx-project.json``
  (``DEFAULT_PROJECT_DIR`` is this repository's ``salesforce/``). Raises :class:`SchemaError`
  (a :class:`~sfsync.errors.ConfigError`) naming the file for any malformed or inconsistent file.
- ``describe_global(schema, api_version: str) -> dict`` and
  ``describe_object(obj: ObjectDef, api_version: str) -> dict`` render the documented JSON.

The value types live in :mod:`schema_model`, the standard catalogue in :mod:`schema_standard`, the
XML reader in :mod:`schema_metadata` and the JSON rendering in :mod:`schema_describe`.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from sfsync.sandbox.schema_describe import (
    MASTER_RECORD_TYPE_ID,
    api_version_number,
    describe_field,
    describe_global,
    describe_object,
)
from sfsync.sandbox.schema_metadata import (
    CustomFieldMeta,
    CustomObjectMeta,
    ProjectMetadata,
    SchemaError,
    read_project,
)
from sfsync.sandbox.schema_model import (
    NUMBER_TYPES,
    STRING_TYPES,
    ChildRelationship,
    FieldDef,
    FieldPermission,
    ListViewDef,
    ListViewFilter,
    ObjectDef,
    ObjectPermission,
    PermissionSetDef,
    PicklistValue,
    Schema,
)
from sfsync.sandbox.schema_standard import (
    TASK_WHAT_TARGETS,
    make_object,
    standard_objects,
    system_fields,
    text,
)

__all__ = [
    "DEFAULT_PROJECT_DIR",
    "MASTER_RECORD_TYPE_ID",
    "NUMBER_TYPES",
    "STRING_TYPES",
    "ChildRelationship",
    "FieldDef",
    "FieldPermission",
    "ListViewDef",
    "ListViewFilter",
    "ObjectDef",
    "ObjectPermission",
    "PermissionSetDef",
    "PicklistValue",
    "Schema",
    "SchemaError",
    "api_version_number",
    "describe_field",
    "describe_global",
    "describe_object",
    "load_schema",
]

#: This repository's SFDX project (``<repo>/salesforce``), the default schema of the local org.
DEFAULT_PROJECT_DIR = Path(__file__).resolve().parents[2] / "salesforce"

#: Metadata keeps Task and Event custom fields on the shared Activity object.
_ACTIVITY_OBJECTS = ("Task", "Event")
_MAX_CUSTOM_OBJECTS = 99


def load_schema(project_dir: Path) -> Schema:
    """The standard objects with the SFDX project's custom objects and fields merged in."""
    project = read_project(project_dir)
    custom = _custom_objects(project.objects)
    objects: dict[str, ObjectDef] = {}
    for obj in [*standard_objects(_activity_targets(project.objects)), *custom]:
        if obj.name.lower() in objects:
            meta = next(m for m in project.objects if m.name == obj.name)
            raise SchemaError(f"{meta.path}: object {obj.name} is already defined")
        objects[obj.name.lower()] = obj
    fields = {key: dict(obj.fields) for key, obj in objects.items()}
    for meta_field in project.fields:
        _add_custom_field(meta_field, objects, fields)
    merged = {key: replace(obj, fields=fields[key]) for key, obj in objects.items()}
    merged = _with_child_relationships(merged)
    schema = Schema(
        objects=merged,
        list_views=tuple(view for view, _ in project.list_views),
        permission_sets=tuple(pset for pset, _ in project.permission_sets),
    )
    _check_list_views(schema, project)
    _check_permission_sets(schema, project)
    return schema


def _activity_targets(metas: tuple[CustomObjectMeta, ...]) -> tuple[str, ...]:
    """What a Task may relate to: the standard targets plus custom objects with activities."""
    return TASK_WHAT_TARGETS + tuple(sorted(m.name for m in metas if m.activities_enabled))


def _custom_objects(metas: tuple[CustomObjectMeta, ...]) -> list[ObjectDef]:
    """Custom objects with key prefixes a01, a02, ... in name order (stable across loads)."""
    ordered = sorted(metas, key=lambda m: m.name.lower())
    if len(ordered) > _MAX_CUSTOM_OBJECTS:
        raise SchemaError(f"{ordered[-1].path}: more than {_MAX_CUSTOM_OBJECTS} custom objects")
    return [_custom_object(meta, f"a{index:02d}") for index, meta in enumerate(ordered, start=1)]


def _custom_object(meta: CustomObjectMeta, key_prefix: str) -> ObjectDef:
    if meta.name_field_auto_number:
        name_field = text(
            "Name",
            meta.name_field_label,
            30,
            createable=False,
            updateable=False,
            nillable=False,
            defaulted_on_create=True,
            auto_number=True,
            name_field=True,
            id_lookup=True,
        )
    else:
        name_field = text(
            "Name",
            meta.name_field_label,
            80,
            defaulted_on_create=True,
            name_field=True,
            id_lookup=True,
        )
    return replace(
        make_object(
            meta.name,
            meta.label,
            meta.label_plural,
            key_prefix,
            [*system_fields(owned=meta.owned), name_field],
            custom=True,
            record_types_supported=True,
            feed_enabled=meta.feeds_enabled,
            activities_enabled=meta.activities_enabled,
        ),
        description=meta.description,
    )


def _add_custom_field(
    meta: CustomFieldMeta,
    objects: dict[str, ObjectDef],
    fields: dict[str, dict[str, FieldDef]],
) -> None:
    """Merge one custom field into its object (Activity fields go to Task and Event)."""
    owners = _ACTIVITY_OBJECTS if meta.object_name == "Activity" else (meta.object_name,)
    known = [name.lower() for name in owners if name.lower() in objects]
    if not known:
        raise SchemaError(
            f"{meta.path}: object {meta.object_name!r} is neither a built-in standard object "
            "nor a custom object of the project"
        )
    for target in meta.field.reference_to:
        if target.lower() not in objects:
            raise SchemaError(f"{meta.path}: referenceTo {target!r} is not a known object")
    fdef = replace(
        meta.field, reference_to=tuple(objects[t.lower()].name for t in meta.field.reference_to)
    )
    for key in known:
        if fdef.name.lower() in fields[key]:
            raise SchemaError(f"{meta.path}: {objects[key].name}.{fdef.name} is already defined")
        fields[key][fdef.name.lower()] = fdef


def _with_child_relationships(objects: dict[str, ObjectDef]) -> dict[str, ObjectDef]:
    """Give every object the list of lookups pointing at it, as describe reports them."""
    children: dict[str, list[ChildRelationship]] = {key: [] for key in objects}
    for child in sorted(objects.values(), key=lambda o: o.name.lower()):
        for fdef in child.fields.values():
            for target in fdef.reference_to:
                children[target.lower()].append(
                    ChildRelationship(
                        child_sobject=child.name,
                        field=fdef.name,
                        relationship_name=fdef.child_relationship_name,
                        cascade_delete=fdef.cascade_delete,
                    )
                )
    return {
        key: replace(obj, child_relationships=tuple(children[key])) for key, obj in objects.items()
    }


def _check_list_views(schema: Schema, project: ProjectMetadata) -> None:
    """A list view naming a custom field the object lacks would fail a real deploy too."""
    for view, path in project.list_views:
        obj = schema.object(view.object_name)
        if obj is None:
            raise SchemaError(f"{path}: object {view.object_name!r} is not known")
        names = [*view.columns, *(f.field for f in view.filters)]
        for name in names:
            if name.endswith("__c") and obj.field(name) is None:
                raise SchemaError(f"{path}: {obj.name} has no field {name!r}")


def _check_permission_sets(schema: Schema, project: ProjectMetadata) -> None:
    """Every ``Object.Field`` and object a permission set grants must exist."""
    for pset, path in project.permission_sets:
        for grant in pset.field_permissions:
            object_name, _, field_name = grant.field.partition(".")
            obj = schema.object(object_name)
            if obj is None or obj.field(field_name) is None:
                raise SchemaError(f"{path}: field permission for unknown field {grant.field!r}")
        for object_grant in pset.object_permissions:
            if schema.object(object_grant.object_name) is None:
                raise SchemaError(
                    f"{path}: object permission for unknown object {object_grant.object_name!r}"
                )
