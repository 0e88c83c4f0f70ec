"""``sfsync mappings check`` and ``sfsync org check``: is the org ready for sfsync?

The pure checks live in :mod:`sfsync.mappers.validate`; this module fetches what they need
through the Salesforce gateway (describe, describe global, one CaseStatus query — reads only)
and prints every problem at once with the same layout as ``sfsync config check``.

:func:`open_gateway` is how the commands reach the org: the configured Salesforce org, or, in
embedded mode, the local org served from ``embedded.data_dir`` for the duration of the command.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from pydantic import SecretStr
from rich.console import Console
from rich.text import Text

from sfsync.clock import Clock
from sfsync.configfile import ConfigProblem
from sfsync.domain import OutcomeKind
from sfsync.mappers.spec import LoadedMappings, MappingProblem, read_mappings
from sfsync.mappers.validate import Describe, validate_mappings
from sfsync.salesforce.ports import SalesforceGateway
from sfsync.settings import Settings, print_problems

#: Where ``org check`` problems are located: the org itself, not a file.
ORG = "org"

#: Objects the integration user must see.
REQUIRED_OBJECTS = ("Account", "Case", "Task", "AR_Invoice__c", "FeedItem")

#: Field type groups a required field may have (an admin may pick Number for a count, ...).
_TYPE_GROUPS: Mapping[str, frozenset[str]] = {
    "text": frozenset({"string"}),
    "money": frozenset({"currency", "double"}),
    "number": frozenset({"double", "int", "currency"}),
    "date": frozenset({"date"}),
    "picklist": frozenset({"picklist"}),
    "boolean": frozenset({"boolean"}),
    "reference": frozenset({"reference"}),
}

#: The custom fields of DESIGN.md's data model and the kind of type each needs.
REQUIRED_FIELDS: Mapping[str, Mapping[str, str]] = {
    "Account": {"Accounting_Id__c": "text"},
    "Case": {
        "Collections_Key__c": "text",
        "Past_Due_Amount__c": "money",
        "Open_Invoice_Count__c": "number",
        "Oldest_Days_Past_Due__c": "number",
        "Aging_1_30__c": "money",
        "Aging_31_60__c": "money",
        "Aging_61_90__c": "money",
        "Aging_91_Plus__c": "money",
        "Promise_Status__c": "picklist",
        "Promise_Date__c": "date",
        "Promise_Amount__c": "money",
        "Next_Action_Date__c": "date",
        "Disputed_Amount__c": "money",
        "Escalation_Reason__c": "text",
    },
    "Task": {
        "Collections_Key__c": "text",
        "Collections_Outcome__c": "picklist",
        "Promise_Date__c": "date",
        "Promise_Amount__c": "money",
    },
    "AR_Invoice__c": {
        "Invoice_Key__c": "text",
        "Account__c": "reference",
        "Case__c": "reference",
        "Amount__c": "money",
        "Balance__c": "money",
        "Currency_Code__c": "text",
        "Due_Date__c": "date",
        "Days_Past_Due__c": "number",
        "Status__c": "picklist",
        "Disputed__c": "boolean",
        "Dispute_Reason__c": "text",
    },
}

#: Fields sfsync upserts or matches by: each must be a unique external id.
UNIQUE_KEYS: tuple[tuple[str, str], ...] = (
    ("Account", "Accounting_Id__c"),
    ("Case", "Collections_Key__c"),
    ("AR_Invoice__c", "Invoice_Key__c"),
)

#: The Task outcome picklist values reps choose, one per :class:`OutcomeKind`.
OUTCOME_VALUES: Mapping[OutcomeKind, str] = {
    OutcomeKind.PROMISE_TO_PAY: "Promise to Pay",
    OutcomeKind.LEFT_VOICEMAIL: "Left Voicemail",
    OutcomeKind.NO_ANSWER: "No Answer",
    OutcomeKind.DISPUTED: "Disputed",
    OutcomeKind.PAID: "Paid",
    OutcomeKind.WRONG_CONTACT: "Wrong Contact",
    OutcomeKind.REFUSED: "Refused",
    OutcomeKind.PAYMENT_PLAN: "Payment Plan",
}

_DEPLOY_FIX = "deploy the salesforce/ project (sf project deploy start) or create it in Setup"


# --------------------------------------------------------------------------------------------
# Reaching the org


@contextmanager
def open_gateway(settings: Settings, clock: Clock) -> Iterator[SalesforceGateway]:
    """A logged-in gateway for one command: the configured org, or the local org if embedded."""
    from sfsync.salesforce.client import connect  # noqa: PLC0415 - heavy imports, on demand

    if not settings.embedded.enabled:
        gateway = connect(settings.salesforce, clock)
        try:
            yield gateway
        finally:
            gateway.close()
        return
    from sfsync.sandbox.server import start_local_org  # noqa: PLC0415 - embedded mode only

    server = start_local_org(settings.embedded.data_dir)
    try:
        config = server.org.config
        local = settings.salesforce.model_copy(
            update={
                "auth": "client_credentials",
                "login_url": server.url,
                "client_id": config.client_id,
                "client_secret": SecretStr(config.client_secret),
                "ca_bundle": Path(server.ca_path),
            }
        )
        gateway = connect(local, clock)
        try:
            yield gateway
        finally:
            gateway.close()
    finally:
        server.stop()


@dataclass(frozen=True)
class OrgSchema:
    """The describe replies a check needs and the objects the integration user sees."""

    describes: Mapping[str, Describe]
    visible: frozenset[str]

    def describe(self, sobject: str) -> Describe | None:
        """The describe of ``sobject`` if visible (names are case-insensitive)."""
        for name, describe in self.describes.items():
            if name.lower() == sobject.lower():
                return describe
        return None


def fetch_schema(gateway: SalesforceGateway, sobjects: Iterable[str]) -> OrgSchema:
    """Describe every visible object of ``sobjects`` (reads only; cached by the gateway)."""
    listed = gateway.describe_global().get("sobjects") or []
    visible = {str(entry["name"]).lower(): str(entry["name"]) for entry in listed}
    describes = {
        visible[name.lower()]: gateway.describe(visible[name.lower()])
        for name in dict.fromkeys(sobjects)
        if name.lower() in visible
    }
    return OrgSchema(describes, frozenset(visible.values()))


def mapping_sobjects(loaded: LoadedMappings) -> list[str]:
    """Every object a mapping file names."""
    spec = loaded.spec
    return [spec.account.sobject, spec.case.sobject, spec.task.sobject, spec.invoice.sobject]


# --------------------------------------------------------------------------------------------
# mappings check


#: Opens a gateway for the duration of a ``with`` block (``lambda: open_gateway(s, clock)``).
GatewayFactory = Callable[[], AbstractContextManager[SalesforceGateway]]


def check_mappings_file(
    path: Path, gateway_factory: GatewayFactory
) -> tuple[LoadedMappings | None, list[MappingProblem]]:
    """Read ``path``; when it parses, validate it against the org ``gateway_factory`` opens.

    A file that does not parse is reported without contacting the org.
    """
    loaded, problems = read_mappings(path)
    if loaded is None or problems:
        return loaded, problems
    with gateway_factory() as gateway:
        schema = fetch_schema(gateway, mapping_sobjects(loaded))
    return loaded, validate_mappings(loaded, schema.describes, schema.visible)


def report_mappings(
    path: Path, problems: list[MappingProblem], stream: TextIO | None = None
) -> int:
    """Print the problems (exit status 1) or that the mappings fit the org (0)."""
    if problems:
        print_problems([problem.as_config_problem() for problem in problems], stream=stream)
        return 1
    _ok(f"mappings OK ({path} fits the org)", stream)
    return 0


def _ok(message: str, stream: TextIO | None) -> None:
    Console(file=stream or sys.stdout, highlight=False, soft_wrap=True).print(
        Text(message, "green")
    )


# --------------------------------------------------------------------------------------------
# org check


def check_org(gateway: SalesforceGateway) -> list[ConfigProblem]:
    """Every way the org is not ready for sfsync's default data model."""
    schema = fetch_schema(gateway, REQUIRED_OBJECTS)
    problems: list[ConfigProblem] = []
    for sobject in REQUIRED_OBJECTS:
        if schema.describe(sobject) is None:
            problems.append(
                ConfigProblem(
                    ORG,
                    sobject,
                    f"the integration user cannot see {sobject}",
                    "assign the permission set sfsync_Integration (salesforce/) to the "
                    f"integration user{'; ' + _DEPLOY_FIX if sobject.endswith('__c') else ''}",
                )
            )
    for sobject, fields in REQUIRED_FIELDS.items():
        describe = schema.describe(sobject)
        if describe is not None:
            problems.extend(_field_problems(sobject, describe, fields))
    for sobject, field_name in UNIQUE_KEYS:
        describe = schema.describe(sobject)
        field = _field(describe, field_name) if describe is not None else None
        if field is not None and not (field.get("externalId") and field.get("unique")):
            problems.append(
                ConfigProblem(
                    ORG,
                    f"{sobject}.{field_name}",
                    "is not a unique external id; upserts by it could create duplicates",
                    f"tick 'External ID' and 'Unique' on {sobject}.{field_name}",
                )
            )
    problems.extend(_case_status_problems(gateway, schema))
    problems.extend(_outcome_problems(schema))
    return problems


def _field(describe: Describe, name: str) -> Mapping[str, Any] | None:
    for field in describe.get("fields", ()):
        if str(field["name"]).lower() == name.lower():
            found: Mapping[str, Any] = field
            return found
    return None


def _field_problems(
    sobject: str, describe: Describe, fields: Mapping[str, str]
) -> Iterator[ConfigProblem]:
    for name, group in fields.items():
        field = _field(describe, name)
        key = f"{sobject}.{name}"
        if field is None:
            yield ConfigProblem(ORG, key, "required field is missing or not visible", _DEPLOY_FIX)
        elif field.get("type") not in _TYPE_GROUPS[group]:
            yield ConfigProblem(
                ORG,
                key,
                f"is a {field.get('type')} field; sfsync needs {group} "
                f"({', '.join(sorted(_TYPE_GROUPS[group]))})",
                f"change {key} to a {group} field as in salesforce/",
            )


def _case_status_problems(gateway: SalesforceGateway, schema: OrgSchema) -> list[ConfigProblem]:
    if schema.describe("Case") is None:
        return []
    closed = [
        str(row.get("ApiName"))
        for row in gateway.query("SELECT ApiName, IsClosed FROM CaseStatus")
        if row.get("IsClosed")
    ]
    if closed:
        return []
    return [
        ConfigProblem(
            ORG,
            "CaseStatus",
            "no Case status counts as closed, so sfsync cannot close a paid-up Case",
            "in Setup > Case Status values, mark at least one value (e.g. Closed) as closed",
        )
    ]


def _outcome_problems(schema: OrgSchema) -> list[ConfigProblem]:
    describe = schema.describe("Task")
    field = _field(describe, "Collections_Outcome__c") if describe is not None else None
    if field is None or field.get("type") != "picklist":
        return []  # reported as a missing or mistyped field
    present = {
        str(entry["value"]) for entry in field.get("picklistValues") or () if entry.get("active")
    }
    missing = [value for value in OUTCOME_VALUES.values() if value not in present]
    if not missing:
        return []
    return [
        ConfigProblem(
            ORG,
            "Task.Collections_Outcome__c",
            f"picklist lacks the outcome value{'s' if len(missing) > 1 else ''} "
            f"{', '.join(missing)}",
            "add them to the picklist (API names exactly as listed)",
        )
    ]


def report_org(problems: list[ConfigProblem], stream: TextIO | None = None) -> int:
    """Print the problems (exit status 1) or that the org is ready (0)."""
    if problems:
        print_problems(problems, stream=stream)
        return 1
    _ok("org OK (objects, fields, external ids, Case statuses and outcome picklist)", stream)
    return 0
