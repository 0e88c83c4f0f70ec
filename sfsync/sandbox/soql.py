"""SOQL for the local org: a parser and an evaluator over stored records.

INTERFACE CONTRACT (used by the HTTPS server; keep these names stable):

- ``SoqlError(code, message)``: ``code`` is ``MALFORMED_QUERY``, ``INVALID_FIELD`` or
  ``INVALID_TYPE`` (also ``INVALID_QUERY_FILTER_OPERATOR`` for a malformed id literal and
  ``NUMBER_OUTSIDE_VALID_RANGE`` for OFFSET over 2,000, as a real org); ``message`` follows the
  documented shape. All are HTTP 400.
- ``parse_soql(text: str) -> SoqlQuery``
- ``RecordSource`` protocol: stored rows are dicts keyed by canonical field names with wire JSON
  values (dates ``YYYY-MM-DD``, datetimes ``YYYY-MM-DDThh:mm:ss.000+0000``, numbers, booleans,
  ``None``) and always ``Id`` and ``IsDeleted``. A source may also offer
  ``lookup(sobject, field, values) -> Iterable[row] | None`` (see :class:`IndexedRecordSource`);
  when present it is used for ``Field = 'x'`` / ``Field IN (...)`` on Id and external-id fields.
- ``execute_soql(query, schema, source, now, api_version, include_deleted) -> QueryResult``:
  all matching records rendered as the REST API returns them (with ``attributes``), or only a
  count for ``SELECT COUNT()``; the server pages them. ``query`` may be a parsed query or text.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Protocol

from sfsync.sandbox.schema import (
    NUMBER_TYPES,
    STRING_TYPES,
    FieldDef,
    ObjectDef,
    Schema,
    api_version_number,
)
from sfsync.sandbox.soql_dates import date_range, datetime_range, parse_date, parse_datetime
from sfsync.sandbox.soql_errors import (
    INVALID_FIELD,
    INVALID_QUERY_FILTER_OPERATOR,
    INVALID_TYPE,
    MALFORMED_QUERY,
    NUMBER_OUTSIDE_VALID_RANGE,
    SoqlError,
    located_error,
    no_such_column,
    unknown_relationship,
    unsupported_type,
)
from sfsync.sandbox.soql_lexer import like_pattern, string_value
from sfsync.sandbox.soql_parser import (
    BoolOp,
    Comparison,
    Condition,
    FieldPath,
    Literal,
    Not,
    SoqlQuery,
    parse_soql,
)

__all__ = [
    "INVALID_FIELD",
    "INVALID_TYPE",
    "MALFORMED_QUERY",
    "IndexedRecordSource",
    "QueryResult",
    "RecordSource",
    "SoqlError",
    "SoqlQuery",
    "execute_soql",
    "parse_soql",
]

MAX_OFFSET = 2000
_ID_LENGTHS = (15, 18)
_ID_PATTERN = re.compile(r"[A-Za-z0-9]+")
_TEXT_TYPES = STRING_TYPES - {"id", "reference"}
#: Fields of the "Name" entity, the only ones a polymorphic lookup (Owner.X, What.X) may reach.
_NAME_ENTITY_FIELDS = {
    name.lower(): name
    for name in (
        "Id",
        "Name",
        "Type",
        "Alias",
        "Email",
        "FirstName",
        "LastName",
        "IsActive",
        "Phone",
        "Title",
        "Username",
        "ProfileId",
        "UserRoleId",
        "RecordTypeId",
        "LastReferencedDate",
        "LastViewedDate",
    )
}
_ID_TYPES = frozenset({"id", "reference"})


class RecordSource(Protocol):
    def records(self, sobject: str, include_deleted: bool) -> Iterable[Mapping[str, Any]]:
        """Every stored row of ``sobject`` (canonical name)."""
        ...

    def get(self, record_id: str) -> Mapping[str, Any] | None:
        """Any stored row by its 18-character id, for parent paths such as Account.Name."""
        ...


class IndexedRecordSource(RecordSource, Protocol):
    """A source with an index on Id and external-id fields (optional fast path)."""

    def lookup(
        self, sobject: str, field: str, values: list[str]
    ) -> Iterable[Mapping[str, Any]] | None:
        """Rows whose ``field`` equals one of ``values`` (a superset is fine: the whole WHERE is
        re-checked), deleted rows included or not (they are filtered again); ``None`` = scan."""
        ...


@dataclass(frozen=True)
class QueryResult:
    total_size: int
    records: list[dict[str, Any]]
    is_count: bool = False


# --- binding: names resolved against the schema, literals typed ------------------------------


@dataclass(frozen=True)
class _Hop:
    """One parent step of a path: the lookup field and the object(s) it may point at."""

    field: FieldDef
    targets: tuple[ObjectDef, ...]


@dataclass(frozen=True)
class _Path:
    hops: tuple[_Hop, ...]
    field: FieldDef  # the final field (for a polymorphic parent: as on the first target)
    name: str  # canonical final field name
    polymorphic: bool

    @property
    def value_type(self) -> str:
        return self.field.type


@dataclass(frozen=True)
class _Operand:
    kind: str  # null | scalar | range | pattern
    value: Any = None
    pattern: re.Pattern[str] | None = None
    text: str = ""


@dataclass(frozen=True)
class _BoundComparison:
    path: _Path
    op: str
    operands: tuple[_Operand, ...]


@dataclass(frozen=True)
class _BoundBool:
    op: str
    items: tuple[_Bound, ...]


@dataclass(frozen=True)
class _BoundNot:
    item: _Bound


_Bound = _BoundComparison | _BoundBool | _BoundNot


@dataclass(frozen=True)
class _OrderKey:
    path: _Path
    descending: bool
    nulls_last: bool


class _Binder:
    """Resolves a parsed query against the schema, raising the org's errors with positions."""

    def __init__(self, query: SoqlQuery, schema: Schema, now: datetime) -> None:
        self.query = query
        self.schema = schema
        self.now = now
        found = schema.object(query.sobject)
        if found is None or not found.queryable:
            raise unsupported_type(query.text, query.sobject_pos, query.sobject)
        self.obj = found

    def path(self, fpath: FieldPath) -> _Path:
        parts = list(fpath.parts)
        names_self = len(parts) > 1 and parts[0].lower() == self.obj.name.lower()
        if names_self and self.obj.relationship(parts[0]) is None:
            parts = parts[1:]  # "Case.Subject FROM Case" names the queried object itself
        current: tuple[ObjectDef, ...] = (self.obj,)
        hops: list[_Hop] = []
        for relationship in parts[:-1]:
            lookup = current[0].relationship(relationship) if len(current) == 1 else None
            if lookup is None:
                raise unknown_relationship(self.query.text, fpath.pos, relationship)
            targets = tuple(
                target for name in lookup.reference_to if (target := self.schema.object(name))
            )
            hops.append(_Hop(lookup, targets))
            current = targets
        return self.final_field(fpath, parts[-1], current, tuple(hops))

    def final_field(
        self, fpath: FieldPath, name: str, owners: tuple[ObjectDef, ...], hops: tuple[_Hop, ...]
    ) -> _Path:
        if len(owners) == 1:
            fdef = owners[0].field(name)
            if fdef is None:
                raise no_such_column(self.query.text, fpath.pos, name, owners[0].name)
            return _Path(hops, fdef, fdef.name, polymorphic=False)
        # A polymorphic lookup (Owner, What) reaches the "Name" entity and only its fields.
        canonical = _NAME_ENTITY_FIELDS.get(name.lower())
        if canonical is None:
            raise no_such_column(self.query.text, fpath.pos, name, "Name")
        found = [fdef for owner in owners if (fdef := owner.field(name)) is not None]
        if canonical in {"Name", "Type"} or not found:
            return _Path(
                hops, FieldDef(canonical, "string", canonical), canonical, polymorphic=True
            )
        return _Path(hops, found[0], found[0].name, polymorphic=True)

    def condition(self, cond: Condition) -> _Bound:
        if isinstance(cond, BoolOp):
            return _BoundBool(cond.op, tuple(self.condition(item) for item in cond.items))
        if isinstance(cond, Not):
            return _BoundNot(self.condition(cond.item))
        return self.comparison(cond)

    def comparison(self, cmp: Comparison) -> _BoundComparison:
        bound = self.path(cmp.path)
        if not bound.field.filterable:
            raise located_error(
                INVALID_FIELD,
                self.query.text,
                cmp.path.pos,
                f"field '{bound.name}' can not be filtered in a query call",
            )
        if cmp.op == "LIKE" and bound.value_type not in _TEXT_TYPES:
            raise located_error(
                INVALID_FIELD,
                self.query.text,
                cmp.op_pos,
                f"invalid operator LIKE on field '{bound.name}' of type {bound.value_type}",
            )
        operands = tuple(self.operand(bound, literal, cmp.op) for literal in cmp.values)
        return _BoundComparison(bound, cmp.op, operands)

    def operand(self, bound: _Path, literal: Literal, op: str) -> _Operand:
        if literal.kind == "null":
            return _Operand("null")
        value_type = bound.value_type
        self.check_literal_type(bound, literal)
        text = self.query.text
        if op == "LIKE":
            return _Operand("pattern", pattern=like_pattern(literal.token, text))
        if literal.kind == "string":
            value = string_value(literal.token, text)
            if value == "":
                return _Operand("null")
            if value_type in _ID_TYPES:
                self.check_id(value, literal)
            return _Operand("scalar", _comparable(value_type, value), text=value)
        if literal.kind == "number":
            return _Operand("scalar", literal.number)
        if literal.kind == "boolean":
            return _Operand("scalar", literal.boolean)
        if literal.kind == "date":
            return _Operand("scalar", parse_date(literal.token.text))
        if literal.kind == "datetime":
            return _Operand("scalar", parse_datetime(literal.token.text))
        assert literal.date_literal is not None  # noqa: S101 - the parser sets it for this kind
        if value_type == "date":
            return _Operand("range", date_range(literal.date_literal, self.now))
        return _Operand("range", datetime_range(literal.date_literal, self.now))

    def check_literal_type(self, bound: _Path, literal: Literal) -> None:
        """A date literal only for date fields, datetime for datetime, strings quoted..."""
        value_type = bound.value_type
        allowed, soap_name, quoted = _literal_rule(value_type)
        if literal.kind in allowed:
            return
        enclosed = "should be enclosed in quotes" if quoted else "should not be enclosed in quotes"
        raise located_error(
            INVALID_FIELD,
            self.query.text,
            literal.pos,
            f"Value of filter criterion for field '{bound.name}' must be of type {soap_name} "
            f"and {enclosed}.",
        )

    def check_id(self, value: str, literal: Literal) -> None:
        if len(value) not in _ID_LENGTHS or not _ID_PATTERN.fullmatch(value):
            raise located_error(
                INVALID_QUERY_FILTER_OPERATOR,
                self.query.text,
                literal.pos,
                f"invalid ID field: {value}",
            )

    def order_key(self, fpath: FieldPath, descending: bool, nulls_last: bool) -> _OrderKey:
        bound = self.path(fpath)
        if not bound.field.sortable:
            raise located_error(
                INVALID_FIELD,
                self.query.text,
                fpath.pos,
                f"field '{bound.name}' can not be sorted in a query call",
            )
        return _OrderKey(bound, descending, nulls_last)


def _literal_rule(value_type: str) -> tuple[frozenset[str], str, bool]:
    """Literal kinds a field type accepts, its SOAP type name for errors, and quoting."""
    if value_type in STRING_TYPES:
        return frozenset({"string"}), "string", True
    if value_type == "boolean":
        return frozenset({"boolean"}), "boolean", False
    if value_type in NUMBER_TYPES:
        return frozenset({"number"}), "integer" if value_type == "int" else "double", False
    if value_type == "date":
        return frozenset({"date", "date_literal"}), "date", False
    if value_type == "datetime":
        return frozenset({"datetime", "date_literal"}), "dateTime", False
    return frozenset(), value_type, False


def _comparable(value_type: str, value: Any) -> Any:
    """A stored or literal value in the form comparisons use (case-folded text, Decimal...).

    Salesforce stores an empty text as null, so ``''`` compares as null on text and id fields."""
    if value is None or (value == "" and value_type in STRING_TYPES):
        return None
    if value_type in _ID_TYPES:
        text = str(value)
        return text[:15] if len(text) in _ID_LENGTHS else text
    if value_type in STRING_TYPES:
        return str(value).casefold()
    if value_type in NUMBER_TYPES:
        return Decimal(str(value))
    if value_type == "date":
        return value if isinstance(value, date) else parse_date(str(value))
    if value_type == "datetime":
        return value if isinstance(value, datetime) else parse_datetime(str(value))
    return value


# --- evaluation ------------------------------------------------------------------------------


class _Rows:
    """Parent rows fetched once per query, and values along (possibly polymorphic) paths."""

    def __init__(self, schema: Schema, source: RecordSource) -> None:
        self.schema = schema
        self.source = source
        self.cache: dict[str, Mapping[str, Any] | None] = {}

    def parent(self, record_id: str) -> Mapping[str, Any] | None:
        if record_id not in self.cache:
            self.cache[record_id] = self.source.get(record_id)
        return self.cache[record_id]

    def hop(self, row: Mapping[str, Any], hop: _Hop) -> tuple[Mapping[str, Any], ObjectDef] | None:
        """The parent row and its object across ``hop``, or None for an empty lookup."""
        ref = row.get(hop.field.name)
        if not ref:
            return None
        parent = self.parent(str(ref))
        if parent is None:
            return None
        if len(hop.targets) == 1:
            return parent, hop.targets[0]
        owner = self.schema.object_for_id(str(ref))
        if owner is None:
            return None
        return parent, owner

    def value(self, row: Mapping[str, Any], obj: ObjectDef, path: _Path) -> Any:
        for hop in path.hops:
            step = self.hop(row, hop)
            if step is None:
                return None
            row, obj = step
        return final_value(row, obj, path)


def final_value(row: Mapping[str, Any], obj: ObjectDef, path: _Path) -> Any:
    """The value of the path's last field on ``row``; polymorphic parents use the Name entity:
    ``Name`` falls back to the object's name field, ``Type`` is the object (or queue) type."""
    if not path.polymorphic:
        return row.get(path.name)
    if path.name == "Type":
        return row.get("Type") if obj.name == "Group" else obj.name
    fdef = obj.field(path.name)
    if fdef is None and path.name == "Name":
        fdef = obj.name_field()
    return row.get(fdef.name) if fdef is not None else None


def _matches(cond: _Bound, row: Mapping[str, Any], obj: ObjectDef, rows: _Rows) -> bool:
    if isinstance(cond, _BoundBool):
        if cond.op == "AND":
            return all(_matches(item, row, obj, rows) for item in cond.items)
        return any(_matches(item, row, obj, rows) for item in cond.items)
    if isinstance(cond, _BoundNot):
        return not _matches(cond.item, row, obj, rows)
    raw = rows.value(row, obj, cond.path)
    if cond.op == "LIKE":
        pattern = cond.operands[0].pattern
        return raw not in {None, ""} and pattern is not None and bool(pattern.fullmatch(str(raw)))
    value = _comparable(cond.path.value_type, raw)
    if cond.op in {"IN", "NOT IN"}:
        hit = any(_equals(value, operand) for operand in cond.operands)
        return hit if cond.op == "IN" else not hit
    return _compare(value, cond.op, cond.operands[0])


def _equals(value: Any, operand: _Operand) -> bool:
    if operand.kind == "null":
        return value is None
    if value is None:
        return False
    if operand.kind == "range":
        start, end = operand.value
        return bool(start <= value < end)
    return bool(value == operand.value)


_ORDERING: dict[str, Callable[[Any, Any], bool]] = {
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


def _compare(value: Any, op: str, operand: _Operand) -> bool:
    """SOQL has no three-valued logic: ``!=`` matches nulls, ordering never does."""
    if op == "=":
        return _equals(value, operand)
    if op == "!=":
        return not _equals(value, operand)
    if value is None or operand.kind == "null":
        return False
    if operand.kind == "range":
        return _against_range(value, op, operand.value)
    return _ORDERING[op](value, operand.value)


def _against_range(value: Any, op: str, bounds: tuple[Any, Any]) -> bool:
    """Ordering against a relative date range [start, end): ``<`` is before it, ``<=`` before
    its end, ``>`` after it, ``>=`` in it or after."""
    start, end = bounds
    if op == "<":
        return bool(value < start)
    if op == "<=":
        return bool(value < end)
    if op == ">":
        return bool(value >= end)
    return bool(value >= start)


# --- rendering -------------------------------------------------------------------------------


def _attributes(sobject: str, record_id: Any, version: str) -> dict[str, str]:
    return {"type": sobject, "url": f"/services/data/v{version}/sobjects/{sobject}/{record_id}"}


def _render(
    row: Mapping[str, Any], obj: ObjectDef, paths: list[_Path], rows: _Rows, version: str
) -> dict[str, Any]:
    """A record as the REST API shows it: attributes, then fields in SELECT order; parents
    nested under their relationship name (``"Account": {...}`` or ``"Account": null``)."""
    out: dict[str, Any] = {"attributes": _attributes(obj.name, row.get("Id"), version)}
    for path in paths:
        _place(out, row=row, obj=obj, path=path, rows=rows, version=version)
    return out


def _place(
    out: dict[str, Any],
    *,
    row: Mapping[str, Any],
    obj: ObjectDef,
    path: _Path,
    rows: _Rows,
    version: str,
) -> None:
    container = out
    for hop in path.hops:
        key = hop.field.relationship_name or hop.field.name
        step = rows.hop(row, hop)
        if step is None:
            container.setdefault(key, None)
            return
        row, obj = step
        if container.get(key) is None:
            container[key] = {"attributes": _attributes(obj.name, row.get("Id"), version)}
        container = container[key]
    container[path.name] = final_value(row, obj, path)


# --- the query -------------------------------------------------------------------------------


def execute_soql(  # noqa: PLR0917 - the positional signature is the server's contract
    query: SoqlQuery | str,
    schema: Schema,
    source: RecordSource,
    now: datetime,
    api_version: str,
    include_deleted: bool = False,
) -> QueryResult:
    """Run ``query``: filter in one pass, sort once, then OFFSET and LIMIT."""
    parsed = parse_soql(query) if isinstance(query, str) else query
    binder = _Binder(parsed, schema, now)
    paths = [binder.path(fpath) for fpath in parsed.fields]
    where = binder.condition(parsed.where) if parsed.where is not None else None
    order = [
        binder.order_key(item.path, item.descending, item.nulls_last) for item in parsed.order_by
    ]
    if parsed.offset is not None and parsed.offset > MAX_OFFSET:
        raise SoqlError(NUMBER_OUTSIDE_VALID_RANGE, f"Maximum SOQL offset allowed is {MAX_OFFSET}")
    obj = binder.obj
    rows = _Rows(schema, source)
    matched = [
        row
        for row in _candidates(source, obj, where, include_deleted)
        if (include_deleted or not row.get("IsDeleted"))
        and (where is None or _matches(where, row, obj, rows))
    ]
    _sort(matched, obj, order, rows)
    start = parsed.offset or 0
    stop = start + parsed.limit if parsed.limit is not None else None
    page = matched[start:stop]
    if parsed.is_count:
        return QueryResult(total_size=len(page), records=[], is_count=True)
    version = api_version_number(api_version)
    return QueryResult(
        total_size=len(page), records=[_render(row, obj, paths, rows, version) for row in page]
    )


def _candidates(
    source: RecordSource, obj: ObjectDef, where: _Bound | None, include_deleted: bool
) -> Iterable[Mapping[str, Any]]:
    """Rows to test: an index hit for ``Key = 'x'`` / ``Key IN (...)`` when the source has one."""
    lookup = getattr(source, "lookup", None)
    if lookup is not None and where is not None:
        conjuncts = where.items if isinstance(where, _BoundBool) and where.op == "AND" else (where,)
        for cond in conjuncts:
            values = _indexable_values(cond)
            if values is not None:
                assert isinstance(cond, _BoundComparison)  # noqa: S101 - checked just above
                found: Iterable[Mapping[str, Any]] | None = lookup(obj.name, cond.path.name, values)
                if found is not None:
                    return found
    return source.records(obj.name, include_deleted)


def _indexable_values(cond: _Bound) -> list[str] | None:
    """The literal values of ``Id``/external-id ``=`` or ``IN`` on the queried object itself."""
    if not isinstance(cond, _BoundComparison) or cond.path.hops or cond.op not in {"=", "IN"}:
        return None
    fdef = cond.path.field
    if not (fdef.type == "id" or fdef.external_id):
        return None
    if any(operand.kind != "scalar" or not operand.text for operand in cond.operands):
        return None
    values = [operand.text for operand in cond.operands]
    if fdef.type == "id" and any(len(value) != _ID_LENGTHS[1] for value in values):
        return None
    return values


def _sort(
    matched: list[Mapping[str, Any]], obj: ObjectDef, order: list[_OrderKey], rows: _Rows
) -> None:
    """Sort in place by several keys: stable passes from the last key to the first."""
    for key in reversed(order):
        matched.sort(key=_sort_key(key, obj, rows), reverse=key.descending)


def _sort_key(
    key: _OrderKey, obj: ObjectDef, rows: _Rows
) -> Callable[[Mapping[str, Any]], tuple[int, Any]]:
    """Nulls rank below every value or above it so that, after any ``reverse``, they land
    first or last as the ORDER BY item says (ASC: first, DESC: last, unless NULLS says)."""
    null_rank = 0 if key.nulls_last == key.descending else 2

    def rank(row: Mapping[str, Any]) -> tuple[int, Any]:
        value = _comparable(key.path.value_type, rows.value(row, obj, key.path))
        return (null_rank, None) if value is None else (1, value)

    return rank
