"""The local org's schema: the repository's SFDX project, the standard objects and describe JSON."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from sfsync.errors import ConfigError
from sfsync.sandbox.schema import (
    DEFAULT_PROJECT_DIR,
    FieldDef,
    ObjectDef,
    Schema,
    SchemaError,
    describe_global,
    describe_object,
    load_schema,
)

OBJECTS_DIR = Path("force-app/main/default/objects")


@pytest.fixture(scope="module")
def schema() -> Schema:
    return load_schema(DEFAULT_PROJECT_DIR)


@pytest.fixture
def project_copy(tmp_path: Path) -> Path:
    """A writable copy of the repository's SFDX project, to break on purpose."""
    target = tmp_path / "salesforce"
    shutil.copytree(DEFAULT_PROJECT_DIR, target)
    return target


def obj(schema: Schema, name: str) -> ObjectDef:
    found = schema.object(name)
    assert found is not None, name
    return found


def fld(schema: Schema, object_name: str, field_name: str) -> FieldDef:
    found = obj(schema, object_name).field(field_name)
    assert found is not None, f"{object_name}.{field_name}"
    return found


# --- the SFDX project ------------------------------------------------------------------------


def test_every_design_field_is_in_the_project(schema: Schema) -> None:
    design = {
        "Account": ["Accounting_Id__c"],
        "Case": [
            "Collections_Key__c",
            "Past_Due_Amount__c",
            "Open_Invoice_Count__c",
            "Oldest_Days_Past_Due__c",
            "Aging_1_30__c",
            "Aging_31_60__c",
            "Aging_61_90__c",
            "Aging_91_Plus__c",
            "Promise_Status__c",
            "Promise_Date__c",
            "Promise_Amount__c",
            "Next_Action_Date__c",
            "Disputed_Amount__c",
            "Escalation_Reason__c",
        ],
        "Task": [
            "Collections_Key__c",
            "Collections_Outcome__c",
            "Promise_Date__c",
            "Promise_Amount__c",
        ],
        "AR_Invoice__c": [
            "Invoice_Key__c",
            "Account__c",
            "Case__c",
            "Invoice_Number__c",
            "Amount__c",
            "Balance__c",
            "Currency_Code__c",
            "Issue_Date__c",
            "Due_Date__c",
            "Days_Past_Due__c",
            "Status__c",
            "Disputed__c",
            "Dispute_Reason__c",
            "Name",
        ],
    }
    for object_name, names in design.items():
        for name in names:
            found = fld(schema, object_name, name)
            assert found.name == name
            assert found.custom == name.endswith("__c")


def test_external_id_keys_are_unique_except_on_task(schema: Schema) -> None:
    for object_name, name in [
        ("Account", "Accounting_Id__c"),
        ("Case", "Collections_Key__c"),
        ("AR_Invoice__c", "Invoice_Key__c"),
    ]:
        key = fld(schema, object_name, name)
        assert (key.type, key.external_id, key.unique, key.id_lookup) == (
            "string",
            True,
            True,
            True,
        )
    assert fld(schema, "Account", "Accounting_Id__c").length == 64
    task_key = fld(schema, "Task", "Collections_Key__c")
    assert (task_key.external_id, task_key.unique, task_key.length) == (False, False, 255)


def test_number_and_currency_fields_keep_precision_and_scale(schema: Schema) -> None:
    amount = fld(schema, "Case", "Past_Due_Amount__c")
    assert (amount.type, amount.precision, amount.scale) == ("currency", 16, 2)
    count = fld(schema, "Case", "Open_Invoice_Count__c")
    # Custom Number fields describe as double, even with scale 0, as in a real org.
    assert (count.type, count.precision, count.scale) == ("double", 8, 0)
    assert fld(schema, "Case", "Oldest_Days_Past_Due__c").precision == 6
    assert fld(schema, "Case", "Promise_Date__c").type == "date"


def test_restricted_picklists_carry_their_values(schema: Schema) -> None:
    status = fld(schema, "Case", "Promise_Status__c")
    assert status.restricted_picklist
    assert [v.value for v in status.picklist_values] == [
        "None",
        "Pending",
        "Kept",
        "Partially Kept",
        "Broken",
    ]
    outcome = fld(schema, "Task", "Collections_Outcome__c")
    assert outcome.restricted_picklist
    assert outcome.allows_picklist_value("Promise to Pay")
    assert not outcome.allows_picklist_value("promise to pay")
    assert len(outcome.picklist_values) == 8
    assert [v.value for v in fld(schema, "AR_Invoice__c", "Status__c").picklist_values] == [
        "Open",
        "Paid",
        "Void",
    ]


def test_invoice_lookups_are_references_with_relationship_names(schema: Schema) -> None:
    account = fld(schema, "AR_Invoice__c", "Account__c")
    assert (account.type, account.reference_to, account.relationship_name) == (
        "reference",
        ("Account",),
        "Account__r",
    )
    case = fld(schema, "AR_Invoice__c", "Case__c")
    assert (case.reference_to, case.relationship_name) == (("Case",), "Case__r")
    assert obj(schema, "AR_Invoice__c").relationship("case__r") == case


def test_invoice_object_has_system_fields_name_and_prefix(schema: Schema) -> None:
    invoice = obj(schema, "AR_Invoice__c")
    assert (invoice.custom, invoice.key_prefix, invoice.label, invoice.label_plural) == (
        True,
        "a01",
        "AR Invoice",
        "AR Invoices",
    )
    for name in ["Id", "IsDeleted", "CreatedDate", "LastModifiedById", "SystemModstamp"]:
        assert not fld(schema, "AR_Invoice__c", name).createable, name
    owner = fld(schema, "AR_Invoice__c", "OwnerId")
    assert (owner.createable, owner.updateable, owner.defaulted_on_create) == (True, True, True)
    name_field = fld(schema, "AR_Invoice__c", "Name")
    assert (name_field.type, name_field.createable, name_field.name_field) == (
        "string",
        True,
        True,
    )
    disputed = fld(schema, "AR_Invoice__c", "Disputed__c")
    assert (disputed.type, disputed.nillable, disputed.default_value) == ("boolean", False, False)


def test_task_what_id_reaches_custom_objects_with_activities(schema: Schema) -> None:
    what = fld(schema, "Task", "WhatId")
    assert what.reference_to == ("Account", "Case", "AR_Invoice__c")
    assert what.relationship_name == "What"
    assert what.is_polymorphic


def test_list_views_and_permission_set_are_read(schema: Schema) -> None:
    views = {v.full_name: v for v in schema.list_views}
    assert set(views) == {"My_Collections_Cases", "Stale_Collections_Cases"}
    assert views["My_Collections_Cases"].filter_scope == "Mine"
    assert views["Stale_Collections_Cases"].label == "Stale Collections Cases"
    assert any(f.field == "Next_Action_Date__c" for f in views["Stale_Collections_Cases"].filters)
    (pset,) = schema.permission_sets
    assert pset.name == "sfsync_Integration"
    granted = {p.field for p in pset.field_permissions if p.readable and p.editable}
    for object_def in schema.objects.values():
        for fdef in object_def.fields.values():
            if fdef.custom:
                assert f"{object_def.name}.{fdef.name}" in granted
    invoice_grant = next(p for p in pset.object_permissions if p.object_name == "AR_Invoice__c")
    assert invoice_grant.allow_create
    assert invoice_grant.allow_edit
    assert "ApiEnabled" in pset.user_permissions


# --- standard objects ------------------------------------------------------------------------


def test_standard_key_prefixes(schema: Schema) -> None:
    expected = {
        "Account": "001",
        "Contact": "003",
        "User": "005",
        "Group": "00G",
        "Case": "500",
        "Task": "00T",
        "FeedItem": "0D5",
        "CaseStatus": "01J",
        "TaskStatus": "01J",
        "BusinessHours": "01m",
        "Organization": "00D",
        "RecordType": "012",
        "Holiday": "0C0",
    }
    assert {name: obj(schema, name).key_prefix for name in expected} == expected
    by_prefix = schema.by_prefix("500")
    assert by_prefix is not None
    assert by_prefix.name == "Case"
    user = schema.object_for_id("005000000000001AAA")
    assert user is not None
    assert user.name == "User"
    assert schema.by_prefix("zzz") is None


def test_lookups_are_case_insensitive(schema: Schema) -> None:
    assert obj(schema, "case") is obj(schema, "CASE")
    assert fld(schema, "ar_invoice__C", "INVOICE_KEY__c").name == "Invoice_Key__c"
    assert schema.object("Opportunity") is None
    assert obj(schema, "Case").field("Nope__c") is None


def test_case_standard_fields(schema: Schema) -> None:
    status = fld(schema, "Case", "Status")
    assert [v.value for v in status.picklist_values] == ["New", "Working", "Escalated", "Closed"]
    assert status.picklist_default() == "New"
    assert not status.restricted_picklist
    assert status.defaulted_on_create
    assert fld(schema, "Case", "Priority").default_on_create() == "Medium"
    assert [v.value for v in fld(schema, "Case", "Origin").picklist_values] == [
        "Phone",
        "Email",
        "Web",
    ]
    for read_only in ["IsClosed", "ClosedDate", "CaseNumber"]:
        fdef = fld(schema, "Case", read_only)
        assert not fdef.createable
        assert not fdef.updateable
    assert fld(schema, "Case", "CaseNumber").auto_number
    owner = fld(schema, "Case", "OwnerId")
    assert (owner.reference_to, owner.relationship_name) == (("Group", "User"), "Owner")
    assert fld(schema, "Case", "IsEscalated").updateable
    account = fld(schema, "Case", "AccountId")
    assert (account.reference_to, account.relationship_name) == (("Account",), "Account")


def test_task_standard_fields(schema: Schema) -> None:
    assert fld(schema, "Task", "Status").default_on_create() == "Not Started"
    assert [v.value for v in fld(schema, "Task", "Priority").picklist_values] == [
        "High",
        "Normal",
        "Low",
    ]
    subtype = fld(schema, "Task", "TaskSubtype")
    assert (subtype.restricted_picklist, subtype.createable, subtype.updateable) == (
        True,
        True,
        False,
    )
    assert fld(schema, "Task", "ActivityDate").type == "date"
    assert fld(schema, "Task", "WhoId").reference_to == ("Contact",)
    for read_only in ["AccountId", "IsClosed", "IsHighPriority", "CompletedDateTime"]:
        assert not fld(schema, "Task", read_only).updateable, read_only
    assert fld(schema, "Task", "CallDisposition").length == 255
    description = fld(schema, "Task", "Description")
    assert (description.type, description.length, description.filterable) == (
        "textarea",
        32000,
        False,
    )
    assert fld(schema, "Task", "OwnerId").reference_to == ("Group", "User")


def test_other_standard_objects(schema: Schema) -> None:
    name = fld(schema, "Account", "Name")
    assert (name.nillable, name.length, name.required_on_create) == (False, 255, True)
    assert fld(schema, "Contact", "LastName").required_on_create
    assert not fld(schema, "Contact", "Name").createable
    parent = fld(schema, "FeedItem", "ParentId")
    assert parent.required_on_create
    assert "Case" in parent.reference_to
    assert fld(schema, "FeedItem", "Body").length == 10000
    assert fld(schema, "FeedItem", "Type").picklist_default() == "TextPost"
    case_status = obj(schema, "CaseStatus")
    assert not case_status.createable
    assert {"ApiName", "MasterLabel", "IsClosed", "IsDefault", "SortOrder"} <= {
        f.name for f in case_status.fields.values()
    }
    assert fld(schema, "Group", "Type").allows_picklist_value("Queue")
    assert fld(schema, "BusinessHours", "MondayStartTime").type == "time"
    assert fld(schema, "Organization", "IsSandbox").type == "boolean"
    assert fld(schema, "User", "ManagerId").relationship_name == "Manager"
    assert not fld(schema, "User", "IsActive").nillable


def test_every_object_is_consistent(schema: Schema) -> None:
    """System fields everywhere, lookups to known objects, one lookup per relationship name."""
    for object_def in schema.objects.values():
        names = {f.name for f in object_def.fields.values()}
        assert {"Id", "CreatedDate", "CreatedById", "SystemModstamp", "IsDeleted"} <= names
        # FeedItem has no name field in a real org either.
        assert (object_def.name_field() is None) == (object_def.name == "FeedItem")
        relationships = [
            f.relationship_name.lower() for f in object_def.fields.values() if f.relationship_name
        ]
        assert len(relationships) == len(set(relationships)), object_def.name
        for fdef in object_def.fields.values():
            assert fdef.name.lower() in object_def.fields
            for target in fdef.reference_to:
                assert schema.object(target) is not None, f"{object_def.name}.{fdef.name}"
            assert (fdef.type == "reference") == bool(fdef.reference_to)
        json.dumps(describe_object(object_def, "59.0"))
    assert len(describe_global(schema, "59.0")["sobjects"]) == len(schema.objects)


# --- describe JSON ---------------------------------------------------------------------------


def test_describe_global_shape(schema: Schema) -> None:
    described = describe_global(schema, "59.0")
    assert described["encoding"] == "UTF-8"
    assert described["maxBatchSize"] == 200
    names = [s["name"] for s in described["sobjects"]]
    assert names == sorted(names, key=str.lower)
    case = next(s for s in described["sobjects"] if s["name"] == "Case")
    assert case["keyPrefix"] == "500"
    assert case["labelPlural"] == "Cases"
    assert (case["custom"], case["createable"], case["queryable"]) == (False, True, True)
    assert case["urls"] == {
        "sobject": "/services/data/v59.0/sobjects/Case",
        "describe": "/services/data/v59.0/sobjects/Case/describe",
        "rowTemplate": "/services/data/v59.0/sobjects/Case/{ID}",
    }
    invoice = next(s for s in described["sobjects"] if s["name"] == "AR_Invoice__c")
    assert invoice["custom"] is True
    assert describe_global(schema, "v59.0") == described
    json.dumps(described)  # the server serialises it as it is


def test_describe_object_fields(schema: Schema) -> None:
    described = describe_object(obj(schema, "Case"), "59.0")
    assert described["name"] == "Case"
    assert described["urls"]["describe"] == "/services/data/v59.0/sobjects/Case/describe"
    fields = {f["name"]: f for f in described["fields"]}
    key = fields["Collections_Key__c"]
    keys = ["type", "length", "externalId", "unique", "custom", "soapType"]
    assert {k: key[k] for k in keys} == {
        "type": "string",
        "length": 255,
        "externalId": True,
        "unique": True,
        "custom": True,
        "soapType": "xsd:string",
    }
    assert fields["Promise_Status__c"]["restrictedPicklist"] is True
    assert fields["Promise_Status__c"]["picklistValues"][0] == {
        "active": True,
        "defaultValue": False,
        "label": "None",
        "validFor": None,
        "value": "None",
    }
    status = fields["Status"]
    assert next(v for v in status["picklistValues"] if v["defaultValue"])["value"] == "New"
    assert (status["nillable"], status["defaultedOnCreate"]) == (True, True)
    owner = fields["OwnerId"]
    assert owner["referenceTo"] == ["Group", "User"]
    assert owner["relationshipName"] == "Owner"
    assert owner["polymorphicForeignKey"] is True
    assert owner["soapType"] == "tns:ID"
    assert fields["Past_Due_Amount__c"]["precision"] == 16
    assert fields["Past_Due_Amount__c"]["scale"] == 2
    assert fields["Description"]["filterable"] is False
    assert fields["CaseNumber"]["autoNumber"] is True
    assert fields["CreatedDate"]["soapType"] == "xsd:dateTime"
    assert fields["Id"]["type"] == "id"
    (master,) = described["recordTypeInfos"]
    assert master["master"] is True
    assert master["recordTypeId"] == "012000000000000AAA"
    json.dumps(described)


def test_describe_field_golden_external_id() -> None:
    """A full describe entry, as a real org returns it for a Text(255) unique external id."""
    invoice = load_schema(DEFAULT_PROJECT_DIR).object("AR_Invoice__c")
    assert invoice is not None
    fields = {f["name"]: f for f in describe_object(invoice, "59.0")["fields"]}
    assert fields["Invoice_Key__c"] == {
        "aggregatable": True,
        "aiPredictionField": False,
        "autoNumber": False,
        "byteLength": 765,
        "calculated": False,
        "calculatedFormula": None,
        "cascadeDelete": False,
        "caseSensitive": False,
        "compoundFieldName": None,
        "controllerName": None,
        "createable": True,
        "custom": True,
        "defaultValue": None,
        "defaultValueFormula": None,
        "defaultedOnCreate": False,
        "dependentPicklist": False,
        "deprecatedAndHidden": False,
        "digits": 0,
        "displayLocationInDecimal": False,
        "encrypted": False,
        "externalId": True,
        "extraTypeInfo": None,
        "filterable": True,
        "filteredLookupInfo": None,
        "formulaTreatNullNumberAsZero": False,
        "groupable": True,
        "highScaleNumber": False,
        "htmlFormatted": False,
        "idLookup": True,
        "inlineHelpText": None,
        "label": "Invoice Key",
        "length": 255,
        "mask": None,
        "maskType": None,
        "name": "Invoice_Key__c",
        "nameField": False,
        "namePointing": False,
        "nillable": True,
        "permissionable": True,
        "picklistValues": [],
        "polymorphicForeignKey": False,
        "precision": 0,
        "queryByDistance": False,
        "referenceTargetField": None,
        "referenceTo": [],
        "relationshipName": None,
        "relationshipOrder": None,
        "restrictedDelete": False,
        "restrictedPicklist": False,
        "scale": 0,
        "searchPrefilterable": False,
        "soapType": "xsd:string",
        "sortable": True,
        "type": "string",
        "unique": True,
        "updateable": True,
        "writeRequiresMasterRead": False,
    }
    lookup = fields["Account__c"]
    assert (lookup["type"], lookup["referenceTo"], lookup["relationshipName"]) == (
        "reference",
        ["Account"],
        "Account__r",
    )
    assert (lookup["soapType"], lookup["length"], lookup["nillable"]) == ("tns:ID", 18, True)
    checkbox = fields["Disputed__c"]
    assert (checkbox["defaultValue"], checkbox["nillable"], checkbox["defaultedOnCreate"]) == (
        False,
        False,
        True,
    )
    assert fields["Amount__c"]["soapType"] == "xsd:double"
    assert fields["Due_Date__c"]["soapType"] == "xsd:date"


def test_describe_object_child_relationships(schema: Schema) -> None:
    account = describe_object(obj(schema, "Account"), "v59.0")
    children = {(c["childSObject"], c["field"]): c for c in account["childRelationships"]}
    assert children[("AR_Invoice__c", "Account__c")]["relationshipName"] == "AR_Invoices__r"
    assert children[("Case", "AccountId")]["relationshipName"] == "Cases"
    assert children[("Task", "WhatId")]["relationshipName"] == "Tasks"
    case = describe_object(obj(schema, "Case"), "59.0")
    assert ("AR_Invoice__c", "Case__c") in {
        (c["childSObject"], c["field"]) for c in case["childRelationships"]
    }
    assert describe_object(obj(schema, "CaseStatus"), "59.0")["recordTypeInfos"] == []


# --- errors ----------------------------------------------------------------------------------


def test_malformed_xml_names_the_file(project_copy: Path) -> None:
    broken = project_copy / OBJECTS_DIR / "Case/fields/Promise_Date__c.field-meta.xml"
    broken.write_text("<CustomField><label>oops</CustomField>", encoding="utf-8")
    with pytest.raises(SchemaError, match=r"Promise_Date__c\.field-meta\.xml: not well-formed"):
        load_schema(project_copy)


def test_schema_errors_are_config_errors(project_copy: Path) -> None:
    (project_copy / "sfdx-project.json").write_text("{", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"sfdx-project\.json: not valid JSON"):
        load_schema(project_copy)


def test_unknown_field_type_names_the_file(project_copy: Path) -> None:
    path = project_copy / OBJECTS_DIR / "Case/fields/Promise_Date__c.field-meta.xml"
    path.write_text(
        path.read_text(encoding="utf-8").replace("<type>Date</type>", "<type>Geolocation</type>"),
        encoding="utf-8",
    )
    with pytest.raises(SchemaError, match=r"Promise_Date__c\.field-meta\.xml: field type"):
        load_schema(project_copy)


def test_field_on_unknown_object_names_the_file(project_copy: Path) -> None:
    source = project_copy / OBJECTS_DIR / "Case/fields/Promise_Date__c.field-meta.xml"
    target = project_copy / OBJECTS_DIR / "Opportunity/fields/Promise_Date__c.field-meta.xml"
    target.parent.mkdir(parents=True)
    shutil.copy(source, target)
    with pytest.raises(SchemaError, match=r"Opportunity.*neither a built-in"):
        load_schema(project_copy)


def test_lookup_to_unknown_object_is_refused(project_copy: Path) -> None:
    path = project_copy / OBJECTS_DIR / "AR_Invoice__c/fields/Case__c.field-meta.xml"
    path.write_text(
        path.read_text(encoding="utf-8").replace(
            "<referenceTo>Case</referenceTo>", "<referenceTo>Order</referenceTo>"
        ),
        encoding="utf-8",
    )
    with pytest.raises(SchemaError, match=r"Case__c\.field-meta\.xml: referenceTo 'Order'"):
        load_schema(project_copy)


def test_permission_set_for_missing_field_is_refused(project_copy: Path) -> None:
    (project_copy / OBJECTS_DIR / "Case/fields/Aging_61_90__c.field-meta.xml").unlink()
    with pytest.raises(SchemaError, match=r"sfsync_Integration.*Case\.Aging_61_90__c"):
        load_schema(project_copy)


def test_wrong_root_element_is_refused(project_copy: Path) -> None:
    path = project_copy / OBJECTS_DIR / "AR_Invoice__c/AR_Invoice__c.object-meta.xml"
    path.write_text(
        path.read_text(encoding="utf-8").replace("CustomObject", "CustomThing"), encoding="utf-8"
    )
    with pytest.raises(SchemaError, match=r"AR_Invoice__c\.object-meta\.xml: expected"):
        load_schema(project_copy)


def write_field(project: Path, object_name: str, name: str, body: str) -> None:
    path = project / OBJECTS_DIR / object_name / "fields" / f"{name}.field-meta.xml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<CustomField xmlns="http://soap.sforce.com/2006/04/metadata">\n'
        f"    <fullName>{name}</fullName>\n{body}\n</CustomField>\n",
        encoding="utf-8",
    )


def test_formula_master_detail_and_picklist_defaults(project_copy: Path) -> None:
    write_field(
        project_copy,
        "AR_Invoice__c",
        "Overdue__c",
        "<formula>Days_Past_Due__c &gt; 0</formula><label>Overdue</label><type>Checkbox</type>",
    )
    write_field(
        project_copy,
        "AR_Invoice__c",
        "Parent_Case__c",
        "<label>Parent Case</label><referenceTo>Case</referenceTo>"
        "<relationshipName>Owned_Invoices</relationshipName><type>MasterDetail</type>",
    )
    write_field(
        project_copy,
        "Case",
        "Channel__c",
        "<label>Channel</label><type>Picklist</type><valueSet><valueSetDefinition>"
        "<value><fullName>Phone</fullName><default>true</default><label>By phone</label></value>"
        "<value><fullName>Fax</fullName><default>false</default><isActive>false</isActive>"
        "<label>Fax</label></value></valueSetDefinition></valueSet>",
    )
    loaded = load_schema(project_copy)
    formula = fld(loaded, "AR_Invoice__c", "Overdue__c")
    assert (formula.calculated, formula.createable, formula.updateable) == (True, False, False)
    master = fld(loaded, "AR_Invoice__c", "Parent_Case__c")
    assert (master.nillable, master.cascade_delete, master.updateable) == (False, True, False)
    assert master.required_on_create
    assert master.relationship_name == "Parent_Case__r"
    case_children = describe_object(obj(loaded, "Case"), "59.0")["childRelationships"]
    owned = next(c for c in case_children if c["field"] == "Parent_Case__c")
    assert (owned["relationshipName"], owned["cascadeDelete"]) == ("Owned_Invoices__r", True)
    channel = fld(loaded, "Case", "Channel__c")
    assert not channel.restricted_picklist
    assert channel.picklist_default() == "Phone"
    assert channel.picklist_values[0].label == "By phone"
    assert not channel.allows_picklist_value("Fax")  # inactive


def test_missing_package_directory_is_refused(project_copy: Path) -> None:
    shutil.rmtree(project_copy / "force-app")
    with pytest.raises(SchemaError, match=r"sfdx-project\.json: package directory 'force-app'"):
        load_schema(project_copy)


def test_standard_object_settings_file_is_not_a_custom_object(project_copy: Path) -> None:
    settings_file = project_copy / OBJECTS_DIR / "Account/Account.object-meta.xml"
    settings_file.write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<CustomObject xmlns="http://soap.sforce.com/2006/04/metadata">\n'
        "    <sharingModel>ReadWrite</sharingModel>\n"
        "</CustomObject>\n",
        encoding="utf-8",
    )
    loaded = load_schema(project_copy)
    assert obj(loaded, "Account").key_prefix == "001"
    assert not obj(loaded, "Account").custom


def test_auto_number_name_and_second_custom_object(project_copy: Path) -> None:
    source = project_copy / OBJECTS_DIR / "AR_Invoice__c/AR_Invoice__c.object-meta.xml"
    target = project_copy / OBJECTS_DIR / "AP_Bill__c/AP_Bill__c.object-meta.xml"
    target.parent.mkdir(parents=True)
    target.write_text(
        source.read_text(encoding="utf-8").replace("<type>Text</type>", "<type>AutoNumber</type>"),
        encoding="utf-8",
    )
    loaded = load_schema(project_copy)
    # Prefixes follow name order, so adding AP_Bill__c moves AR_Invoice__c to a02.
    assert obj(loaded, "AP_Bill__c").key_prefix == "a01"
    assert obj(loaded, "AR_Invoice__c").key_prefix == "a02"
    name = fld(loaded, "AP_Bill__c", "Name")
    assert (name.auto_number, name.createable, name.updateable) == (True, False, False)
