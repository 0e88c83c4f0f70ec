"""Compile mappings once into plain functions; apply them to every record.

:func:`compile_mappings` turns a :class:`~sfsync.mappers.spec.LoadedMappings` into
:class:`CompiledMappings`: each source path is resolved to an attribute getter after checking it
names a real field of the domain value (``CaseValues``, ``TaskValues``, ``InvoiceValues``) or of
the :class:`RecordContext`; each transform is built from the closed registry. Every problem is
collected with its line, so an admin sees them all at once.

Applying is then a loop of plain function calls per field: ``case_record(values, context)``
returns the Salesforce field dict for one record, JSON-ready (money as numbers, dates as ISO
text, lookups in the relationship form ``{"Account": {"Accounting_Id__c": "C-1"}}``).

The external id field is *not* in the record: where it goes depends on the call (the URL of a
single upsert, the body of a collections upsert or a Task insert), so the gateway adds it from
:attr:`CompiledObject.external_id`. A lookup whose key is ``None`` is left out, meaning "leave
the lookup as it is" (an invoice whose Case is not planned keeps its old link).
"""

from __future__ import annotations

import dataclasses
import difflib
import operator
import types
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any, Union, get_args, get_origin, get_type_hints

from sfsync.configfile import InvalidConfigError
from sfsync.domain import (
    AccountKey,
    CaseChange,
    CaseValues,
    InvoiceChange,
    InvoiceValues,
    TaskChange,
    TaskValues,
)
from sfsync.mappers.spec import (
    WRITTEN_OBJECTS,
    AccountSpec,
    FieldSpec,
    LoadedMappings,
    MappingProblem,
    ObjectName,
    ObjectSpec,
)
from sfsync.mappers.transforms import (
    Getter,
    LookupTarget,
    LookupValue,
    Row,
    Shape,
    Transform,
    TransformContext,
    TransformError,
    ValueKind,
    build_transform,
    compile_template,
    kind_of_constant,
    relationship_name,
)

#: Field lengths from describe: lower-case sObject name → lower-case field name → length.
FieldLengths = Mapping[str, Mapping[str, int]]


@dataclass(frozen=True, slots=True)
class RecordContext:
    """What a record knows besides its domain values: its key and its account.

    Field mappings reach these by name like any value (``source: customer_id``).
    """

    key: str
    source: str
    customer_id: str
    currency: str
    case_key: str | None = None
    episode: int = 0

    @classmethod
    def for_case(cls, account: AccountKey, change: CaseChange) -> RecordContext:
        """The context of a Case change."""
        return cls(
            change.key, account.source, account.customer_id, account.currency,
            case_key=change.key, episode=change.episode,
        )  # fmt: skip

    @classmethod
    def for_task(cls, account: AccountKey, change: TaskChange) -> RecordContext:
        """The context of a Task change (``case_key`` is None for a reminder)."""
        return cls(
            change.key, account.source, account.customer_id, account.currency,
            case_key=change.case_key,
        )  # fmt: skip

    @classmethod
    def for_invoice(cls, account: AccountKey, change: InvoiceChange) -> RecordContext:
        """The context of an invoice record change."""
        return cls(
            change.key, account.source, account.customer_id, account.currency,
            case_key=change.case_key,
        )  # fmt: skip


#: The domain value type each written object maps from.
VALUE_TYPES: Mapping[ObjectName, type] = {
    "case": CaseValues,
    "task": TaskValues,
    "invoice": InvoiceValues,
}


@dataclass(frozen=True)
class CompiledField:
    """One target field: how to read its value, the transforms, and the resulting shape."""

    target: str
    origin: str
    line: int | None
    read: Getter
    steps: tuple[Callable[[Any, Row], Any], ...]
    transforms: tuple[str, ...]
    shape: Shape

    @property
    def relationship(self) -> str | None:
        """For a lookup by external id, the relationship name it is written through."""
        if self.shape.kind is not ValueKind.LOOKUP:
            return None
        return relationship_name(self.target)


@dataclass(frozen=True)
class CompiledObject:
    """A compiled object section: apply :meth:`record` to each domain value."""

    name: ObjectName
    sobject: str
    external_id: str
    fields: tuple[CompiledField, ...]

    def record(self, values: object, context: RecordContext) -> dict[str, Any]:
        """The Salesforce field dict for one record (external id not included)."""
        row: Row = (values, context)
        out: dict[str, Any] = {}
        for mapped in self.fields:
            value = mapped.read(row)
            for step in mapped.steps:
                value = step(value, row)
            if isinstance(value, LookupValue):
                out[value.relationship] = value.as_json()
            elif value is None and mapped.shape.kind is ValueKind.LOOKUP:
                continue  # no key: leave the lookup as it is
            else:
                out[mapped.target] = json_value(value)
        return out


@dataclass(frozen=True)
class CompiledMappings:
    """Every object's compiled mapping; built once per process, applied to every record."""

    case: CompiledObject
    task: CompiledObject
    invoice: CompiledObject
    account: AccountSpec

    def case_record(self, values: CaseValues, context: RecordContext) -> dict[str, Any]:
        """Case fields for ``values``."""
        return self.case.record(values, context)

    def task_record(self, values: TaskValues, context: RecordContext) -> dict[str, Any]:
        """Task fields for ``values``."""
        return self.task.record(values, context)

    def invoice_record(self, values: InvoiceValues, context: RecordContext) -> dict[str, Any]:
        """AR_Invoice__c fields for ``values``."""
        return self.invoice.record(values, context)

    def objects(self) -> tuple[CompiledObject, ...]:
        """The written objects, in file order."""
        return (self.case, self.task, self.invoice)


def json_value(value: object) -> object:
    """A value as the Salesforce REST API takes it: numbers, ISO dates, plain text."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


# --------------------------------------------------------------------------------------------
# Compiling


def compile_mappings(
    loaded: LoadedMappings, field_lengths: FieldLengths | None = None
) -> CompiledMappings:
    """Compile ``loaded``; raise :class:`InvalidConfigError` listing every problem.

    ``field_lengths`` (from describe, see :func:`sfsync.mappers.validate.field_lengths`) lets a
    bare ``truncate`` cut to the target field's length.
    """
    compiled, problems = compile_with_problems(loaded, field_lengths)
    if problems:
        raise InvalidConfigError([problem.as_config_problem() for problem in problems])
    return compiled


def compile_with_problems(
    loaded: LoadedMappings, field_lengths: FieldLengths | None = None, *, offline: bool = False
) -> tuple[CompiledMappings, list[MappingProblem]]:
    """Compile what can be compiled; fields with problems are left out of the result.

    ``offline`` checks the file alone (no describe): a bare ``truncate`` is accepted, since its
    length is known only from the org. Such a result is for reporting, not for applying.
    """
    spec = loaded.spec
    problems: list[MappingProblem] = []
    targets = {
        "account": LookupTarget(spec.account.sobject, spec.account.external_id),
        "case": LookupTarget(spec.case.sobject, spec.case.external_id),
    }
    objects = {
        name: _compile_object(
            loaded,
            name,
            getattr(spec, name),
            targets=targets,
            field_lengths=field_lengths,
            problems=problems,
            require_length=field_lengths is None and not offline,
        )
        for name in WRITTEN_OBJECTS
    }
    return (
        CompiledMappings(objects["case"], objects["task"], objects["invoice"], spec.account),
        problems,
    )


def _compile_object(
    loaded: LoadedMappings,
    name: ObjectName,
    section: ObjectSpec,
    *,
    targets: Mapping[str, LookupTarget],
    field_lengths: FieldLengths | None,
    problems: list[MappingProblem],
    require_length: bool,
) -> CompiledObject:
    namespace = Namespace(VALUE_TYPES[name])
    lengths = (field_lengths or {}).get(section.sobject.lower(), {})
    fields = []
    for target, field_spec in section.fields.items():
        try:
            fields.append(
                _compile_field(
                    loaded,
                    name,
                    section,
                    target=target,
                    spec=field_spec,
                    namespace=namespace,
                    targets=targets,
                    length=lengths.get(target.lower()),
                    require_length=require_length,
                )
            )
        except _FieldError as error:
            problems.append(loaded.problem(error.path, name, target, error.message, error.fix))
    return CompiledObject(name, section.sobject, section.external_id, tuple(fields))


class _FieldError(Exception):
    """A compile problem located under one field's node."""

    def __init__(self, path: tuple[str, ...], message: str, fix: str) -> None:
        super().__init__(path, message, fix)
        self.path = path
        self.message = message
        self.fix = fix


def _compile_field(
    loaded: LoadedMappings,
    name: ObjectName,
    section: ObjectSpec,
    *,
    target: str,
    spec: FieldSpec,
    namespace: Namespace,
    targets: Mapping[str, LookupTarget],
    length: int | None,
    require_length: bool,
) -> CompiledField:
    base = (name, "fields", target)
    read, shape = _origin(spec, namespace, base)
    ctx = TransformContext(
        sobject=section.sobject,
        target=target,
        length=length,
        names=namespace.plain_names(),
        account=targets["account"],
        case=targets["case"],
        require_length=require_length,
    )
    steps: list[Transform] = []
    for index, item in enumerate(spec.transforms):
        where = (*base, "transforms", str(index))
        try:
            transform = build_transform(item, ctx)
        except TransformError as error:
            raise _FieldError(where, error.message, error.fix) from None
        if shape.kind not in transform.accepts:
            raise _FieldError(
                where,
                f"{transform.name} does not apply to a {shape.kind.value} value",
                _kind_fix(transform.name, shape.kind),
            )
        shape = transform.reshape(shape)
        steps.append(transform)
    return CompiledField(
        target=target,
        origin=spec.origin,
        line=loaded.line_of(*base),
        read=read,
        steps=tuple(step.apply for step in steps),
        transforms=tuple(step.name for step in steps),
        shape=shape,
    )


def _kind_fix(transform: str, kind: ValueKind) -> str:
    if transform == "round_money":
        return "use round_money on money values (past_due, amount, balance ...)"
    if transform == "format_date":
        return "use format_date on dates (due_date, activity_date ...)"
    if kind in (ValueKind.DATE, ValueKind.DATETIME):
        return f"put format_date before {transform}"
    return f"remove {transform}, or apply it to a text value"


def _origin(spec: FieldSpec, namespace: Namespace, base: tuple[str, ...]) -> tuple[Getter, Shape]:
    """The getter and shape of a field's ``source``, ``const`` or ``template``."""
    if spec.origin == "const":
        value = spec.const
        kind = ValueKind.TEXT if value is None else kind_of_constant(value)
        return (lambda _row: value), Shape(kind, frozenset({value}), nullable=value is None)
    if spec.origin == "template":
        text = spec.template or ""
        try:
            render = compile_template(text, namespace.plain_names())
        except TransformError as error:
            raise _FieldError((*base, "template"), error.message, error.fix) from None
        return (lambda row: render(row, None)), Shape(ValueKind.TEXT)
    return namespace.resolve(spec.source or "", (*base, "source"))


# --------------------------------------------------------------------------------------------
# Source paths


class Namespace:
    """The names a field of one object may read: its domain value's fields and the context's.

    A path is checked against the dataclass fields (not methods or properties) and resolved to
    an :func:`operator.attrgetter`, so applying it is one C-level call.
    """

    def __init__(self, values_type: type) -> None:
        self.roots: dict[str, tuple[int, type]] = {}
        for index, cls in ((1, RecordContext), (0, values_type)):
            for name in _field_names(cls):
                self.roots[name] = (index, cls)

    def resolve(self, path: str, where: tuple[str, ...]) -> tuple[Getter, Shape]:
        """The getter and shape of ``path``, or a :class:`_FieldError` naming what exists."""
        parts = path.split(".")
        if not path or parts[0] not in self.roots:
            raise _FieldError(where, f"unknown source {path!r}", self._fix(parts[0], self.roots))
        index, cls = self.roots[parts[0]]
        annotation: Any = cls
        for depth, part in enumerate(parts):
            owner = _dataclass_in(annotation)
            if owner is None:
                done = ".".join(parts[:depth])
                raise _FieldError(where, f"{done} has no attribute {part!r}", "remove the suffix")
            hints = get_type_hints(owner)
            names = _field_names(owner)
            if part not in names:
                prefix = ".".join(parts[:depth])
                raise _FieldError(
                    where,
                    f"unknown source {path!r}: {prefix or 'the record'} has no {part!r}",
                    self._fix(part, names, prefix),
                )
            annotation = hints[part]
        shape = _shape_of(annotation)
        if shape is None:
            raise _FieldError(
                where,
                f"source {path!r} is not a value a Salesforce field can hold",
                "pick one of its parts (e.g. aging.days_1_30) or another source",
            )
        getter = operator.attrgetter(path)
        return (lambda row: getter(row[index])), shape

    def plain_names(self) -> dict[str, Getter]:
        """Top-level scalar names, the only ones templates may use."""
        names: dict[str, Getter] = {}
        for name, (index, cls) in self.roots.items():
            if _shape_of(get_type_hints(cls)[name]) is not None:
                names[name] = _root_getter(index, name)
        return names

    @staticmethod
    def _fix(part: str, known: Mapping[str, object] | frozenset[str], prefix: str = "") -> str:
        options = sorted(known)
        close = difflib.get_close_matches(part, options, n=1)
        dotted = [f"{prefix}.{option}" if prefix else option for option in options]
        if close:
            best = f"{prefix}.{close[0]}" if prefix else close[0]
            return f"did you mean {best}? (sources here: {', '.join(dotted)})"
        return f"use one of {', '.join(dotted)}"


def _root_getter(index: int, name: str) -> Getter:
    getter = operator.attrgetter(name)
    return lambda row: getter(row[index])


def _field_names(cls: type) -> frozenset[str]:
    return frozenset(item.name for item in dataclasses.fields(cls) if item.init)


def _dataclass_in(annotation: object) -> type | None:
    if isinstance(annotation, type) and dataclasses.is_dataclass(annotation):
        return annotation
    return None


_SCALARS: Mapping[type, ValueKind] = {
    bool: ValueKind.BOOL,
    int: ValueKind.INT,
    str: ValueKind.TEXT,
    Decimal: ValueKind.DECIMAL,
    datetime: ValueKind.DATETIME,
    date: ValueKind.DATE,
}


def _shape_of(annotation: object) -> Shape | None:
    """The shape of a field type: scalars, enums (with their values), optionals of those."""
    nullable = False
    if get_origin(annotation) in (Union, types.UnionType):
        members = [arg for arg in get_args(annotation) if arg is not type(None)]
        nullable = len(members) < len(get_args(annotation))
        if len(members) != 1:
            return None
        annotation = members[0]
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        values = frozenset(member.value for member in annotation)
        return Shape(ValueKind.TEXT, values | ({None} if nullable else set()), nullable)
    if isinstance(annotation, type) and annotation in _SCALARS:
        return Shape(_SCALARS[annotation], nullable=nullable)
    return None
