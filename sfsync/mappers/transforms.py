"""The closed set of named transforms a field mapping may apply, and safe templates.

An admin writes transforms by name (``upper``) or with arguments (``{round_money: 2}``); there is
no expression language and nothing is evaluated. Each transform is built once, when the mappings
are compiled, into a plain function; an unknown name or a bad argument is a
:class:`TransformError` with a "did you mean" fix.

Each transform also says what it does to the *shape* of a value (its kind, its finite set of
possible values when known) so :mod:`sfsync.mappers.validate` can check the result against the
target field's type, picklist and length without seeing any data.

Templates (``"Collections {customer_id} ({currency})"``) are parsed with
:class:`string.Formatter` and accept only plain names from an allow-list: ``{a.b}``,
``{a[0]}``, ``{__class__}``, positional ``{}``, conversions (``!r``) and nested format specs are
refused, so a template can read nothing but the named domain values.
"""

from __future__ import annotations

import difflib
import re
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from enum import Enum, StrEnum
from typing import Any

#: What a getter reads from: the domain values and the record context of one record.
Row = tuple[object, object]
Getter = Callable[[Row], Any]


class ValueKind(StrEnum):
    """What kind of value a mapping produces, to compare with the Salesforce field type."""

    TEXT = "text"
    DECIMAL = "decimal"
    INT = "int"
    DATE = "date"
    DATETIME = "datetime"
    BOOL = "bool"
    LOOKUP = "lookup"


@dataclass(frozen=True)
class Shape:
    """The kind of a value and, when finite and known, every value it can take."""

    kind: ValueKind
    values: frozenset[object] | None = None
    nullable: bool = False
    truncated: bool = False


class TransformError(ValueError):
    """A transform that does not exist or has bad arguments; ``fix`` says what to write."""

    def __init__(self, message: str, fix: str) -> None:
        super().__init__(message, fix)
        self.message = message
        self.fix = fix

    def __str__(self) -> str:
        return f"{self.message} (fix: {self.fix})"


@dataclass(frozen=True)
class LookupValue:
    """A lookup by external id: ``{relationship: {"attributes": {...}, field: value}}``.

    This is the documented way to set a lookup in an insert or upsert body without knowing the
    parent's Salesforce id (REST ``dome_upsert``); simple-salesforce sends it as written.
    """

    relationship: str
    sobject: str
    external_id: str
    value: object

    def as_json(self) -> dict[str, object]:
        """The relationship body."""
        return {"attributes": {"type": self.sobject}, self.external_id: self.value}


@dataclass(frozen=True)
class LookupTarget:
    """Where a lookup transform points: the parent object and its external id field."""

    sobject: str
    external_id: str


@dataclass(frozen=True)
class TransformContext:
    """What building a transform may know: the target field and the org facts compile has."""

    sobject: str
    target: str
    #: Length of the target field from describe, when describe was given to compile.
    length: int | None
    #: Plain names a template may use, each with its getter.
    names: Mapping[str, Getter]
    account: LookupTarget
    case: LookupTarget
    #: A bare ``truncate`` must know the length (compiling for use without describe). When
    #: False and the length is unknown, it cuts nothing: an offline check, or a field that
    #: describe does not have (reported by validation instead).
    require_length: bool = True


@dataclass(frozen=True)
class Transform:
    """A built transform: the function applied to every record, and its effect on shapes."""

    name: str
    apply: Callable[[Any, Row], Any]
    reshape: Callable[[Shape], Shape]
    accepts: frozenset[ValueKind] = field(default_factory=lambda: frozenset(ValueKind))


def _keep(shape: Shape) -> Shape:
    return shape


# --------------------------------------------------------------------------------------------
# The transforms


def _round_money(args: object, _ctx: TransformContext) -> Transform:
    places = 2 if args is None else args
    if not isinstance(places, int) or isinstance(places, bool) or not 0 <= places <= 8:
        raise TransformError(
            f"round_money takes a number of decimal places 0-8, not {args!r}",
            "write round_money (2 places) or {round_money: 0}",
        )
    quantum = Decimal(1).scaleb(-places)

    def apply(value: Any, _row: Row) -> Any:
        if value is None:
            return None
        return Decimal(value).quantize(quantum, rounding=ROUND_HALF_UP)

    return Transform(
        "round_money",
        apply,
        lambda shape: replace(shape, kind=ValueKind.DECIMAL, values=None),
        frozenset({ValueKind.DECIMAL, ValueKind.INT}),
    )


_DATE_DIRECTIVES = re.compile(r"%[aAbBdmyYjUWuwHIMSpGVe%-]")


def _format_date(args: object, _ctx: TransformContext) -> Transform:
    fmt = "%Y-%m-%d" if args is None else args
    if not isinstance(fmt, str) or not fmt or "%" in _DATE_DIRECTIVES.sub("", fmt):
        raise TransformError(
            f"format_date takes a strftime pattern such as '%d/%m/%Y', not {args!r}",
            "write {format_date: '%Y-%m-%d'} using %Y %m %d %b %B %a %A %j and literal text",
        )

    def apply(value: Any, _row: Row) -> Any:
        return None if value is None else value.strftime(fmt)

    return Transform(
        "format_date",
        apply,
        lambda shape: replace(shape, kind=ValueKind.TEXT, values=None),
        frozenset({ValueKind.DATE, ValueKind.DATETIME}),
    )


def _truncate(args: object, ctx: TransformContext) -> Transform:
    length: int | None
    if args is None:
        if ctx.length is None and ctx.require_length:
            raise TransformError(
                f"truncate without a length needs the org's describe of {ctx.sobject}.{ctx.target}",
                "run with the org reachable (sfsync mappings check), or write {truncate: N}",
            )
        length = ctx.length
    elif isinstance(args, int) and not isinstance(args, bool) and args > 0:
        length = args
    else:
        raise TransformError(
            f"truncate takes a positive length, not {args!r}",
            "write truncate (to the field's length) or {truncate: 80}",
        )

    def apply(value: Any, _row: Row) -> Any:
        return None if value is None else value[:length]

    def reshape(shape: Shape) -> Shape:
        values = shape.values
        if values is not None and length is not None:
            values = frozenset(str(item)[:length] for item in values)
        return replace(shape, values=values, truncated=True)

    return Transform("truncate", apply, reshape, frozenset({ValueKind.TEXT}))


def _case_changer(name: str, change: Callable[[str], str]) -> Callable[..., Transform]:
    def build(args: object, _ctx: TransformContext) -> Transform:
        if args is not None:
            raise TransformError(f"{name} takes no arguments", f"write {name} on its own")

        def apply(value: Any, _row: Row) -> Any:
            return None if value is None else change(value)

        def reshape(shape: Shape) -> Shape:
            values = shape.values
            if values is not None:
                values = frozenset(change(str(item)) for item in values)
            return replace(shape, values=values)

        return Transform(name, apply, reshape, frozenset({ValueKind.TEXT}))

    return build


def value_key(value: object) -> str:
    """How ``value_map`` compares values: enum values, ``true``/``false``, ``null``, text."""
    if isinstance(value, Enum):
        value = value.value
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


_MISSING = object()


def _value_map(args: object, _ctx: TransformContext) -> Transform:
    fix = "write {value_map: {map: {from: To, ...}, default: Other}} (default is optional)"
    if not isinstance(args, Mapping) or set(args) - {"map", "default"} or "map" not in args:
        raise TransformError("value_map takes map: and optionally default:", fix)
    table = args["map"]
    if not isinstance(table, Mapping) or not table:
        raise TransformError("value_map's map: must be a non-empty table of from: to", fix)
    lookup = {value_key(key): target for key, target in table.items()}
    default = args.get("default", _MISSING)

    def apply(value: Any, _row: Row) -> Any:
        found = lookup.get(value_key(value), default)
        return value if found is _MISSING else found

    def reshape(shape: Shape) -> Shape:
        outputs: set[object] = set(lookup.values())
        if shape.values is None:
            if default is _MISSING:
                return _shape_of_values(outputs | {_MISSING}, shape)
            outputs.add(default)
        else:
            for item in shape.values:
                outputs.add(lookup.get(value_key(item), item if default is _MISSING else default))
        return _shape_of_values(outputs, shape)

    return Transform("value_map", apply, reshape)


def _shape_of_values(outputs: set[object], before: Shape) -> Shape:
    """The shape of a value_map's results; unknown when some inputs pass through unmapped."""
    if _MISSING in outputs:
        known = outputs - {_MISSING}
        kinds = {kind_of_constant(item) for item in known}
        kind = kinds.pop() if len(kinds) == 1 and kinds == {before.kind} else before.kind
        return replace(before, kind=kind, values=None)
    kinds = {kind_of_constant(item) for item in outputs if item is not None}
    kind = kinds.pop() if len(kinds) == 1 else before.kind
    return replace(before, kind=kind, values=frozenset(outputs), nullable=None in outputs)


def _default(args: object, _ctx: TransformContext) -> Transform:
    if args is None or isinstance(args, Mapping | list):
        raise TransformError(
            "default takes the value to use when the source is empty", "write {default: N/A}"
        )
    fallback = args

    def apply(value: Any, _row: Row) -> Any:
        return fallback if value is None or value == "" else value

    def reshape(shape: Shape) -> Shape:
        values = None if shape.values is None else shape.values | {fallback}
        return replace(shape, values=values, nullable=False)

    return Transform("default", apply, reshape)


def _template(args: object, ctx: TransformContext) -> Transform:
    if not isinstance(args, str):
        raise TransformError("template takes a text such as 'INV {value}'", "quote the template")
    render = compile_template(args, ctx.names, extra=("value",))

    def apply(value: Any, row: Row) -> Any:
        return render(row, value)

    return Transform("template", apply, lambda _shape: Shape(ValueKind.TEXT))


def _lookup(target_of: Callable[[TransformContext], LookupTarget], name: str) -> Any:
    def build(args: object, ctx: TransformContext) -> Transform:
        if args is not None:
            raise TransformError(f"{name} takes no arguments", f"write {name} on its own")
        target = target_of(ctx)
        relationship = relationship_name(ctx.target)

        def apply(value: Any, _row: Row) -> Any:
            if value is None or value == "":
                return None
            return LookupValue(relationship, target.sobject, target.external_id, value)

        return Transform(
            name,
            apply,
            lambda shape: replace(shape, kind=ValueKind.LOOKUP, values=None),
            frozenset({ValueKind.TEXT}),
        )

    return build


def relationship_name(field_name: str) -> str:
    """The relationship a lookup field is written through: ``AccountId`` → ``Account``,
    ``Account__c`` → ``Account__r`` (Salesforce's naming rule; validate checks describe)."""
    if field_name.endswith("__c"):
        return field_name[:-3] + "__r"
    if field_name.endswith("Id"):
        return field_name[:-2]
    return field_name


TransformBuilder = Callable[[object, TransformContext], Transform]

#: Every transform there is. Adding one is a code change, reviewed and tested, on purpose.
TRANSFORMS: Mapping[str, TransformBuilder] = {
    "round_money": _round_money,
    "format_date": _format_date,
    "truncate": _truncate,
    "upper": _case_changer("upper", str.upper),
    "lower": _case_changer("lower", str.lower),
    "value_map": _value_map,
    "default": _default,
    "template": _template,
    "account_lookup": _lookup(lambda ctx: ctx.account, "account_lookup"),
    "case_lookup": _lookup(lambda ctx: ctx.case, "case_lookup"),
}


def build_transform(item: object, ctx: TransformContext) -> Transform:
    """Build the transform written as ``item`` (``name`` or ``{name: args}``)."""
    if isinstance(item, str):
        name, args = item, None
    elif isinstance(item, Mapping) and len(item) == 1:
        name, args = next(iter(item.items()))
    else:
        raise TransformError(
            f"a transform is a name or a one-key table, not {item!r}",
            "write e.g. `- upper` or `- {round_money: 2}`",
        )
    builder = TRANSFORMS.get(str(name))
    if builder is None:
        raise TransformError(f"unknown transform {name!r}", _suggest(str(name)))
    return builder(args, ctx)


def _suggest(name: str) -> str:
    close = difflib.get_close_matches(name, list(TRANSFORMS), n=1, cutoff=0.6)
    known = ", ".join(TRANSFORMS)
    if close:
        return f"did you mean {close[0]}? (transforms: {known})"
    return f"use one of {known}"


def kind_of_constant(value: object) -> ValueKind:
    """The kind of a YAML constant or value_map result."""
    if isinstance(value, bool):
        return ValueKind.BOOL
    if isinstance(value, int):
        return ValueKind.INT
    if isinstance(value, float | Decimal):
        return ValueKind.DECIMAL
    if isinstance(value, datetime):
        return ValueKind.DATETIME
    if isinstance(value, date):
        return ValueKind.DATE
    return ValueKind.TEXT


# --------------------------------------------------------------------------------------------
# Templates

_SAFE_FORMAT_SPEC = re.compile(r"[\w ,.<>^=+\-%#/:]*")


def compile_template(
    text: str, names: Mapping[str, Getter], extra: tuple[str, ...] = ()
) -> Callable[[Row, object], str]:
    """Parse ``text`` once into a renderer; refuse anything but allow-listed plain names.

    ``extra`` names are supplied at render time (the ``value`` of a template transform).
    """
    allowed = sorted({*names, *extra})
    pieces: list[tuple[str, str | None, str]] = []
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError as error:
        raise TransformError(
            f"template {text!r} is not valid: {error}",
            "balance the braces; write {{ or }} for a literal brace",
        ) from None
    for literal, name, spec, conversion in parsed:
        if name is None:
            pieces.append((literal, None, ""))
            continue
        _check_placeholder(
            text,
            name,
            spec=spec or "",
            conversion=conversion,
            names=names,
            extra=extra,
            allowed=allowed,
        )
        pieces.append((literal, name, spec or ""))
    getters = {name: names[name] for _, name, _ in pieces if name is not None and name in names}

    def render(row: Row, value: object = None) -> str:
        out: list[str] = []
        for literal, name, spec in pieces:
            out.append(literal)
            if name is None:
                continue
            item = value if name not in getters else getters[name](row)
            if isinstance(item, Enum):
                item = item.value
            out.append("" if item is None else format(item, spec))
        return "".join(out)

    return render


def _check_placeholder(
    text: str,
    name: str,
    *,
    spec: str,
    conversion: str | None,
    names: Mapping[str, Getter],
    extra: tuple[str, ...],
    allowed: list[str],
) -> None:
    fix = f"use plain names only: {{{'}, {'.join(allowed)}}}"
    if not name:
        raise TransformError(f"template {text!r} has an empty {{}}; name the value", fix)
    if not name.isidentifier() or name.startswith("_"):
        raise TransformError(
            f"template {text!r} uses {{{name}}}: attribute access, indexing and private names "
            "are not allowed",
            fix,
        )
    if name not in names and name not in extra:
        close = difflib.get_close_matches(name, allowed, n=1)
        hint = f"did you mean {{{close[0]}}}? " if close else ""
        raise TransformError(f"template {text!r} uses unknown name {{{name}}}", hint + fix)
    if conversion is not None:
        raise TransformError(
            f"template {text!r} uses a conversion (!{conversion})", f"remove !{conversion}"
        )
    if not _SAFE_FORMAT_SPEC.fullmatch(spec):
        raise TransformError(
            f"template {text!r} has format spec {spec!r}, which is not allowed",
            "use a simple spec such as {past_due:,.2f} or {due_date:%d %b %Y}",
        )
