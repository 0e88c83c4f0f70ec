"""The shape of ``config/mappings.yaml``: validated models plus the YAML line of every node.

mappings.yaml tells sfsync which Salesforce field receives which domain value. One section per
object sfsync writes (``case``, ``task``, ``invoice``) and one saying how Accounts are matched
(``account``)::

    case:
      sobject: Case
      external_id: Collections_Key__c
      fields:
        Subject: {source: subject, transforms: [truncate]}
        Priority:
          source: priority
          transforms: [{value_map: {map: {low: Low, normal: Medium, high: High}}}]
        Origin: {const: Web}

Each field takes exactly one of ``source`` (a domain attribute path), ``const`` (a literal) or
``template`` (``"{name} text"`` over named domain attributes), then an optional list of named
transforms. Transform names and arguments are checked when the spec is compiled
(:mod:`sfsync.mappers.compile`), fields against the org when it is validated
(:mod:`sfsync.mappers.validate`). Nothing here evaluates anything.

The YAML reader is the one ``sfsync.yaml`` uses (:func:`sfsync.settings.read_yaml_document`), so
a syntax error is reported the same way, with its line and column.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from sfsync.configfile import ConfigProblem, InvalidConfigError, YamlDocument, read_yaml_document

#: The objects a mapping file configures, in the order problems are reported.
ObjectName = Literal["case", "task", "invoice", "account"]
WRITTEN_OBJECTS: tuple[ObjectName, ...] = ("case", "task", "invoice")

#: What a constant may be: YAML scalars (a bare ``2026-01-31`` is read as a date).
ConstValue = str | bool | int | float | date | None

#: A transform as written: ``upper`` or ``{round_money: 2}`` / ``{value_map: {map: {...}}}``.
TransformItem = str | dict[str, Any]


@dataclass(frozen=True)
class MappingProblem:
    """One thing an admin must fix in mappings.yaml or the org: where, what, and how."""

    file: str
    line: int | None
    object: str
    field: str
    message: str
    fix: str

    @property
    def key(self) -> str:
        """``case.Subject``: the object section and the target field (or the section alone)."""
        return f"{self.object}.{self.field}" if self.field else self.object

    def as_config_problem(self) -> ConfigProblem:
        """The same problem in the shape ``sfsync config check`` prints."""
        return ConfigProblem(self.file, self.key, self.message, self.fix, line=self.line)

    def __str__(self) -> str:
        return str(self.as_config_problem())


class _Node(BaseModel):
    """Base of every mapping node: unknown keys are errors, nothing changes after load."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class FieldSpec(_Node):
    """One target field: where its value comes from, then the transforms applied in order."""

    source: str | None = None
    const: ConstValue = None
    template: str | None = None
    transforms: tuple[TransformItem, ...] = ()

    @model_validator(mode="after")
    def _exactly_one_origin(self) -> Self:
        given = [name for name in ("source", "const", "template") if name in self.model_fields_set]
        if len(given) != 1:
            what = "none" if not given else " and ".join(given)
            raise ValueError(
                f"a field needs exactly one of source, const or template (found {what})"
            )
        return self

    @property
    def origin(self) -> Literal["source", "const", "template"]:
        """Which of the three kinds of value this field takes."""
        if "source" in self.model_fields_set:
            return "source"
        if "const" in self.model_fields_set:
            return "const"
        return "template"


class ObjectSpec(_Node):
    """A Salesforce object sfsync writes: its API name, the key field and the field mappings."""

    sobject: str
    external_id: str
    fields: dict[str, FieldSpec] = {}


class AccountSpec(_Node):
    """How Accounts are matched to accounting customers (sfsync never writes Accounts)."""

    sobject: str = "Account"
    external_id: str = "Accounting_Id__c"


class MappingSpec(_Node):
    """The whole mappings.yaml."""

    version: Literal[1] = 1
    case: ObjectSpec
    task: ObjectSpec
    invoice: ObjectSpec
    account: AccountSpec = AccountSpec()


@dataclass(frozen=True)
class LoadedMappings:
    """A validated spec with the document it came from, so later checks can name lines."""

    spec: MappingSpec
    document: YamlDocument

    @property
    def file(self) -> str:
        """The file name as problems show it."""
        return str(self.document.path)

    def line_of(self, *path: str) -> int | None:
        """The line of ``path`` (or its nearest ancestor) in the file."""
        return self.document.line_of(path)

    def problem(
        self, path: Sequence[str], obj: str, field: str, message: str, fix: str
    ) -> MappingProblem:
        """A problem located at ``path`` in this file."""
        return MappingProblem(self.file, self.document.line_of(path), obj, field, message, fix)


def read_mappings(path: Path) -> tuple[LoadedMappings | None, list[MappingProblem]]:
    """Parse and validate mappings.yaml: the spec (when valid) and every problem found.

    A YAML syntax error stops here and is the only problem reported: nothing after it can be
    read reliably.
    """
    config_problems: list[ConfigProblem] = []
    document = read_yaml_document(path, config_problems)
    problems = [_from_config_problem(problem) for problem in config_problems]
    if document is None:
        return None, problems
    try:
        spec = MappingSpec.model_validate(document.data)
    except ValidationError as error:
        problems.extend(_problems_from_validation(error, document))
        return None, problems
    return LoadedMappings(spec, document), problems


def load_mappings(path: Path) -> LoadedMappings:
    """Read mappings.yaml or raise :class:`InvalidConfigError` listing every problem."""
    loaded, problems = read_mappings(path)
    if problems or loaded is None:
        raise InvalidConfigError([problem.as_config_problem() for problem in problems])
    return loaded


def _from_config_problem(problem: ConfigProblem) -> MappingProblem:
    obj, _, field = problem.key.partition(".")
    return MappingProblem(problem.file, problem.line, obj, field, problem.message, problem.fix)


_FIELD_KEYS = ("source", "const", "template", "transforms")


def _problems_from_validation(
    error: ValidationError, document: YamlDocument
) -> list[MappingProblem]:
    """One problem per wrong node, at its line, with a fix an admin can follow.

    pydantic reports a value that fits no member of a union once per member; those are merged.
    """
    by_loc: dict[tuple[str, ...], list[tuple[str, str]]] = {}
    for item in error.errors(include_url=False, include_input=False):
        loc = tuple(str(part) for part in item["loc"] if str(part) not in _UNION_TAGS)
        by_loc.setdefault(loc, []).append((item["type"], item["msg"]))
    problems = []
    for loc, errors in by_loc.items():
        if len(errors) > 1 and loc[-1] == "const":
            message, fix = (
                "const must be a single value: text, a number, true/false or a date",
                "write e.g. const: Web (quote text that contains ': ' or '#')",
            )
        elif len(errors) > 1 and len(loc) > 1 and loc[-2] == "transforms":
            message, fix = (
                "a transform is a name or a one-key table",
                "write e.g. `- upper` or `- {round_money: 2}`",
            )
        else:
            message, fix = _describe(*errors[0], loc)
        obj = loc[0] if loc else "(top level)"
        field = loc[2] if len(loc) > 2 and loc[1] == "fields" else ".".join(loc[1:])
        problems.append(
            MappingProblem(str(document.path), document.line_of(loc), obj, field, message, fix)
        )
    return problems


#: Member names pydantic adds to the location of a union error.
_UNION_TAGS = frozenset({"str", "bool", "int", "float", "date", "none", "dict[str,any]"})


def _describe(kind: str, msg: str, loc: tuple[str, ...]) -> tuple[str, str]:
    """(message, fix) for one pydantic error in an admin's words."""
    dotted = ".".join(loc)
    if kind == "extra_forbidden":
        if len(loc) == 4 and loc[1] == "fields":
            return (
                f"unknown key {loc[-1]!r} in a field mapping",
                f"use only {', '.join(_FIELD_KEYS)}",
            )
        return f"unknown key {loc[-1]!r}", f"remove {dotted} (see docs/mappings.md)"
    if kind == "missing":
        return f"{dotted} is required", f"add {dotted} (see config/mappings.yaml for an example)"
    if kind == "literal_error":
        return msg, f"set {dotted} to one of {msg.removeprefix('Input should be ')}"
    text = msg.removeprefix("Value error, ")
    if "exactly one of" in text:
        return text, "keep one of source:, const: or template: for this field"
    return text, f"correct {dotted}"
