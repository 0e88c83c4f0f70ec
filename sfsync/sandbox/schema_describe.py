"""Renders describe JSON (``GET sobjects`` and ``GET sobjects/X/describe``) from the schema.

Key names and value shapes follow the REST API's DescribeGlobal and DescribeSObject results, so a
client that reads a real org's describe (simple-salesforce, CumulusCI-style mapping validation)
reads ours the same way. Properties the local org does not model get the value a plain org has.
"""

from __future__ import annotations

from typing import Any

from sfsync.sandbox.schema_model import FieldDef, ObjectDef, Schema

#: The id every object's master record type has in a real org.
MASTER_RECORD_TYPE_ID = "012000000000000AAA"

_SOAP_TYPES = {
    "id": "tns:ID",
    "reference": "tns:ID",
    "boolean": "xsd:boolean",
    "int": "xsd:int",
    "long": "xsd:long",
    "double": "xsd:double",
    "currency": "xsd:double",
    "percent": "xsd:double",
    "date": "xsd:date",
    "datetime": "xsd:dateTime",
    "time": "xsd:time",
}
_NOT_GROUPABLE = frozenset({"double", "currency", "percent", "datetime", "time", "textarea"})
_BYTES_PER_CHAR = 3


def api_version_number(api_version: str) -> str:
    """``59.0`` from ``59.0`` or ``v59.0``: URLs always read ``/services/data/v59.0/...``."""
    return api_version[1:] if api_version[:1] in {"v", "V"} else api_version


def object_urls(obj: ObjectDef, api_version: str) -> dict[str, str]:
    base = f"/services/data/v{api_version_number(api_version)}/sobjects/{obj.name}"
    return {"sobject": base, "describe": f"{base}/describe", "rowTemplate": f"{base}/{{ID}}"}


def _object_summary(obj: ObjectDef, api_version: str) -> dict[str, Any]:
    """The per-object entry of describe global; describe object starts from the same keys."""
    return {
        "activateable": False,
        "associateEntityType": None,
        "associateParentEntity": None,
        "createable": obj.createable,
        "custom": obj.custom,
        "customSetting": False,
        "deepCloneable": False,
        "deletable": obj.deletable,
        "deprecatedAndHidden": False,
        "feedEnabled": obj.feed_enabled,
        "hasSubtypes": False,
        "isInterface": False,
        "isSubtype": False,
        "keyPrefix": obj.key_prefix,
        "label": obj.label,
        "labelPlural": obj.label_plural,
        "layoutable": obj.createable or obj.updateable,
        "mergeable": obj.name in {"Account", "Contact", "Case"},
        "mruEnabled": obj.createable,
        "name": obj.name,
        "queryable": obj.queryable,
        "replicateable": True,
        "retrieveable": True,
        "searchable": obj.createable,
        "triggerable": obj.createable,
        "undeletable": obj.deletable,
        "updateable": obj.updateable,
        "urls": object_urls(obj, api_version),
    }


def describe_global(schema: Schema, api_version: str) -> dict[str, Any]:
    """``GET /services/data/vXX.X/sobjects``: every object, sorted by name as a real org does."""
    objects = sorted(schema.objects.values(), key=lambda o: o.name.lower())
    return {
        "encoding": "UTF-8",
        "maxBatchSize": 200,
        "sobjects": [_object_summary(obj, api_version) for obj in objects],
    }


def describe_field(fdef: FieldDef) -> dict[str, Any]:
    """One entry of a describe's ``fields`` list."""
    is_text = fdef.type not in _SOAP_TYPES
    return {
        "aggregatable": fdef.filterable,
        "aiPredictionField": False,
        "autoNumber": fdef.auto_number,
        "byteLength": fdef.length * _BYTES_PER_CHAR if is_text or fdef.type == "id" else 0,
        "calculated": fdef.calculated,
        "calculatedFormula": None,
        "cascadeDelete": fdef.cascade_delete,
        "caseSensitive": fdef.case_sensitive,
        "compoundFieldName": None,
        "controllerName": None,
        "createable": fdef.createable,
        "custom": fdef.custom,
        "defaultValue": fdef.default_value,
        "defaultValueFormula": None,
        "defaultedOnCreate": fdef.defaulted_on_create,
        "dependentPicklist": False,
        "deprecatedAndHidden": False,
        "digits": fdef.digits,
        "displayLocationInDecimal": False,
        "encrypted": False,
        "externalId": fdef.external_id,
        "extraTypeInfo": _extra_type_info(fdef),
        "filterable": fdef.filterable,
        "filteredLookupInfo": None,
        "formulaTreatNullNumberAsZero": False,
        "groupable": fdef.filterable and fdef.type not in _NOT_GROUPABLE,
        "highScaleNumber": False,
        "htmlFormatted": fdef.html_formatted,
        "idLookup": fdef.id_lookup,
        "inlineHelpText": None,
        "label": fdef.label,
        "length": fdef.length,
        "mask": None,
        "maskType": None,
        "name": fdef.name,
        "nameField": fdef.name_field,
        "namePointing": fdef.is_polymorphic,
        "nillable": fdef.nillable,
        "permissionable": fdef.nillable and (fdef.createable or fdef.updateable),
        "picklistValues": [
            {
                "active": entry.active,
                "defaultValue": entry.default,
                "label": entry.label,
                "validFor": None,
                "value": entry.value,
            }
            for entry in fdef.picklist_values
        ],
        "polymorphicForeignKey": fdef.is_polymorphic,
        "precision": fdef.precision,
        "queryByDistance": False,
        "referenceTargetField": None,
        "referenceTo": list(fdef.reference_to),
        "relationshipName": fdef.relationship_name,
        "relationshipOrder": None,
        "restrictedDelete": False,
        "restrictedPicklist": fdef.restricted_picklist,
        "scale": fdef.scale,
        "searchPrefilterable": fdef.type == "reference",
        "soapType": _SOAP_TYPES.get(fdef.type, "xsd:string"),
        "sortable": fdef.sortable,
        "type": fdef.type,
        "unique": fdef.unique,
        "updateable": fdef.updateable,
        "writeRequiresMasterRead": False,
    }


def _extra_type_info(fdef: FieldDef) -> str | None:
    if fdef.type == "textarea":
        return "richtextarea" if fdef.html_formatted else "plaintextarea"
    if fdef.type == "string" and fdef.name == "Name" and fdef.length == 121:
        return "personname"
    return None


def _record_type_infos(obj: ObjectDef, api_version: str) -> list[dict[str, Any]]:
    """Objects that support record types always have the master one, even with none defined."""
    if not obj.record_types_supported:
        return []
    layout = f"{object_urls(obj, api_version)['describe']}/layouts/{MASTER_RECORD_TYPE_ID}"
    return [
        {
            "active": True,
            "available": True,
            "defaultRecordTypeMapping": True,
            "developerName": "Master",
            "master": True,
            "name": "Master",
            "recordTypeId": MASTER_RECORD_TYPE_ID,
            "urls": {"layout": layout},
        }
    ]


def describe_object(obj: ObjectDef, api_version: str) -> dict[str, Any]:
    """``GET /services/data/vXX.X/sobjects/{obj}/describe``."""
    described = _object_summary(obj, api_version)
    described.update(
        {
            "actionOverrides": [],
            "childRelationships": [
                {
                    "cascadeDelete": rel.cascade_delete,
                    "childSObject": rel.child_sobject,
                    "deprecatedAndHidden": False,
                    "field": rel.field,
                    "junctionIdListNames": [],
                    "junctionReferenceTo": [],
                    "relationshipName": rel.relationship_name,
                    "restrictedDelete": False,
                }
                for rel in obj.child_relationships
            ],
            "compactLayoutable": obj.createable,
            "defaultImplementation": None,
            "extendedBy": None,
            "extendsInterfaces": None,
            "fields": [describe_field(f) for f in obj.fields.values()],
            "implementedBy": None,
            "implementsInterfaces": None,
            "listviewable": None,
            "lookupLayoutable": None,
            "namedLayoutInfos": [],
            "networkScopeFieldName": None,
            "recordTypeInfos": _record_type_infos(obj, api_version),
            "searchLayoutable": obj.createable,
            "sobjectDescribeOptions": {},
            "supportedScopes": [{"label": f"All {obj.label_plural.lower()}", "name": "everything"}],
        }
    )
    return dict(sorted(described.items()))
