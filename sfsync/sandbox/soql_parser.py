"""A recursive-descent parser for the SOQL subset sync needs (salesforce-api.md §4).

Grammar::

    query      := SELECT (COUNT '(' ')' | path (',' path)*) FROM ident
                  [WHERE condition] [ORDER BY order (',' order)*] [LIMIT int] [OFFSET int]
    condition  := unary (AND unary)* | unary (OR unary)*      -- mixing needs parentheses
    unary      := NOT unary | '(' condition ')' | comparison
    comparison := path op value | path [NOT] IN '(' value (',' value)* ')' | path LIKE string
    value      := string | number | date | datetime | NULL | TRUE | FALSE | DATE_LITERAL[:n]
    order      := path [ASC|DESC] [NULLS (FIRST|LAST)]

Parsing knows no schema; names are resolved (and typed) when the query runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sfsync.sandbox.soql_errors import MALFORMED_QUERY, located_error, unexpected_token
from sfsync.sandbox.soql_lexer import Kind, Token, tokenize

#: Relative date literals; those in ``N_LITERALS`` take ``:n``.
DATE_LITERALS = frozenset(
    {
        "TODAY",
        "YESTERDAY",
        "TOMORROW",
        "LAST_WEEK",
        "THIS_WEEK",
        "NEXT_WEEK",
        "LAST_MONTH",
        "THIS_MONTH",
        "NEXT_MONTH",
        "LAST_YEAR",
        "THIS_YEAR",
        "NEXT_YEAR",
        "LAST_90_DAYS",
        "NEXT_90_DAYS",
    }
)
N_LITERALS = frozenset({"LAST_N_DAYS", "NEXT_N_DAYS", "N_DAYS_AGO"})
_RESERVED = frozenset(
    {"SELECT", "FROM", "WHERE", "AND", "OR", "NOT", "LIKE", "IN", "ORDER", "BY", "LIMIT", "OFFSET"}
    | {"ASC", "DESC", "NULLS", "NULL", "TRUE", "FALSE", "GROUP", "HAVING", "WITH", "FOR"}
)
_COMPARISON_OPS = frozenset({"=", "!=", "<>", "<", "<=", ">", ">="})


@dataclass(frozen=True)
class FieldPath:
    """A field as written: ``Subject``, ``Account.Name``, ``Case__r.Account__r.Name``."""

    parts: tuple[str, ...]
    pos: int

    @property
    def text(self) -> str:
        return ".".join(self.parts)


@dataclass(frozen=True)
class DateLiteral:
    """``TODAY``, ``LAST_N_DAYS:14`` ...: a range resolved against the query's ``now``."""

    name: str
    n: int | None = None


@dataclass(frozen=True)
class Literal:
    """A value in a condition. ``kind``: string, number, null, boolean, date, datetime,
    date_literal. ``token`` is kept so LIKE can decode the string its own way."""

    kind: str
    token: Token
    number: Decimal | None = None
    boolean: bool | None = None
    date_literal: DateLiteral | None = None

    @property
    def pos(self) -> int:
        return self.token.pos


@dataclass(frozen=True)
class Comparison:
    path: FieldPath
    op: str  # = != < <= > >= LIKE IN NOT IN
    values: tuple[Literal, ...]
    op_pos: int


@dataclass(frozen=True)
class BoolOp:
    op: str  # AND | OR
    items: tuple[Condition, ...]


@dataclass(frozen=True)
class Not:
    item: Condition


Condition = Comparison | BoolOp | Not


@dataclass(frozen=True)
class OrderItem:
    path: FieldPath
    descending: bool
    nulls_last: bool


@dataclass(frozen=True)
class SoqlQuery:
    """A parsed query; ``text`` is kept so errors found at run time can point into it."""

    text: str
    fields: tuple[FieldPath, ...]
    is_count: bool
    sobject: str
    sobject_pos: int
    where: Condition | None
    order_by: tuple[OrderItem, ...]
    limit: int | None
    offset: int | None


def parse_soql(text: str) -> SoqlQuery:
    """Parse ``text``; raises SoqlError(MALFORMED_QUERY) pointing at the first bad token."""
    return _Parser(text).parse()


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.index = 0

    # --- token helpers -----------------------------------------------------------------------

    @property
    def current(self) -> Token:
        return self.tokens[self.index]

    def advance(self) -> Token:
        token = self.tokens[self.index]
        if token.kind is not Kind.EOF:
            self.index += 1
        return token

    def fail(self, token: Token | None = None) -> Exception:
        token = token or self.current
        return unexpected_token(self.text, token.pos, token.display)

    def at(self, kind: Kind) -> bool:
        return self.current.kind is kind

    def expect_keyword(self, word: str) -> Token:
        if not self.current.is_keyword(word):
            raise self.fail()
        return self.advance()

    def expect(self, kind: Kind) -> Token:
        if self.current.kind is not kind:
            raise self.fail()
        return self.advance()

    # --- grammar -----------------------------------------------------------------------------

    def parse(self) -> SoqlQuery:
        self.expect_keyword("SELECT")
        is_count, fields = self.select_list()
        self.expect_keyword("FROM")
        sobject = self.expect(Kind.IDENT)
        # GROUP is reserved for GROUP BY, yet Group (users' groups and queues) is a real object.
        if "." in sobject.text or sobject.text.upper() in _RESERVED - {"GROUP"}:
            raise self.fail(sobject)
        where = None
        if self.current.is_keyword("WHERE"):
            self.advance()
            where = self.condition()
        order_by: tuple[OrderItem, ...] = ()
        if self.current.is_keyword("ORDER"):
            self.advance()
            self.expect_keyword("BY")
            order_by = self.order_list()
        limit = self.optional_count("LIMIT")
        offset = self.optional_count("OFFSET")
        if self.current.kind is not Kind.EOF:
            raise self.fail()
        return SoqlQuery(
            text=self.text,
            fields=fields,
            is_count=is_count,
            sobject=sobject.text,
            sobject_pos=sobject.pos,
            where=where,
            order_by=order_by,
            limit=limit,
            offset=offset,
        )

    def select_list(self) -> tuple[bool, tuple[FieldPath, ...]]:
        if self.current.is_keyword("COUNT"):
            count = self.advance()
            self.expect(Kind.LPAREN)
            if not self.at(Kind.RPAREN):
                raise located_error(
                    MALFORMED_QUERY,
                    self.text,
                    count.pos,
                    "the local org supports COUNT() only, not COUNT(field) or other aggregates",
                )
            self.advance()
            return True, ()
        fields = [self.path()]
        while self.current.kind is Kind.COMMA:
            self.advance()
            fields.append(self.path())
        seen: set[str] = set()
        for fpath in fields:
            if fpath.text.lower() in seen:
                raise located_error(
                    MALFORMED_QUERY, self.text, fpath.pos, f"duplicate field selected: {fpath.text}"
                )
            seen.add(fpath.text.lower())
        return False, tuple(fields)

    def path(self) -> FieldPath:
        token = self.current
        if token.kind is not Kind.IDENT or token.text.upper() in _RESERVED:
            raise self.fail()
        self.advance()
        if self.current.kind is Kind.LPAREN:  # a function call such as MAX(...) or toLabel(...)
            raise located_error(
                MALFORMED_QUERY,
                self.text,
                token.pos,
                f"the local org does not support the function {token.text}()",
            )
        return FieldPath(tuple(token.text.split(".")), token.pos)

    def condition(self) -> Condition:
        first = self.unary()
        if not (self.current.is_keyword("AND") or self.current.is_keyword("OR")):
            return first
        joiner = self.current.text.upper()
        items = [first]
        while self.current.is_keyword(joiner):
            self.advance()
            items.append(self.unary())
        if self.current.is_keyword("AND", "OR"):
            raise self.fail()  # SOQL needs parentheses to mix AND and OR
        return BoolOp(joiner, tuple(items))

    def unary(self) -> Condition:
        if self.current.is_keyword("NOT"):
            self.advance()
            return Not(self.unary())
        if self.current.kind is Kind.LPAREN:
            self.advance()
            inner = self.condition()
            self.expect(Kind.RPAREN)
            return inner
        return self.comparison()

    def comparison(self) -> Comparison:
        fpath = self.path()
        op_token = self.current
        if op_token.kind is Kind.OP and op_token.text in _COMPARISON_OPS:
            self.advance()
            op = "!=" if op_token.text == "<>" else op_token.text
            return Comparison(fpath, op, (self.value(),), op_token.pos)
        if op_token.is_keyword("LIKE"):
            self.advance()
            value = self.value()
            if value.kind != "string":
                raise self.fail(value.token)
            return Comparison(fpath, "LIKE", (value,), op_token.pos)
        negated = False
        if op_token.is_keyword("NOT"):
            self.advance()
            negated = True
        if self.current.is_keyword("IN"):
            self.advance()
            return Comparison(fpath, "NOT IN" if negated else "IN", self.value_list(), op_token.pos)
        raise self.fail()

    def value_list(self) -> tuple[Literal, ...]:
        self.expect(Kind.LPAREN)
        if self.current.kind is Kind.RPAREN:
            raise self.fail()  # IN () is malformed
        values = [self.value()]
        while self.current.kind is Kind.COMMA:
            self.advance()
            values.append(self.value())
        self.expect(Kind.RPAREN)
        return tuple(values)

    def value(self) -> Literal:
        token = self.advance()
        kind = token.kind
        if kind is Kind.STRING:
            return Literal("string", token)
        if kind is Kind.NUMBER:
            return Literal("number", token, number=Decimal(token.text))
        if kind is Kind.DATE:
            return Literal("date", token)
        if kind is Kind.DATETIME:
            return Literal("datetime", token)
        if kind is Kind.IDENT:
            return self.word_value(token)
        raise self.fail(token)

    def word_value(self, token: Token) -> Literal:
        word = token.text.upper()
        if word == "NULL":
            return Literal("null", token)
        if word in {"TRUE", "FALSE"}:
            return Literal("boolean", token, boolean=word == "TRUE")
        if word in DATE_LITERALS:
            return Literal("date_literal", token, date_literal=DateLiteral(word))
        if word in N_LITERALS:
            if self.current.kind is not Kind.COLON:
                raise located_error(
                    MALFORMED_QUERY,
                    self.text,
                    self.current.pos,
                    f"{word} needs ':n', e.g. {word}:7",
                )
            self.advance()
            amount = self.current
            if amount.kind is not Kind.NUMBER or not amount.text.isdigit():
                raise self.fail(amount)
            self.advance()
            return Literal("date_literal", token, date_literal=DateLiteral(word, int(amount.text)))
        raise self.fail(token)

    def order_list(self) -> tuple[OrderItem, ...]:
        items = [self.order_item()]
        while self.current.kind is Kind.COMMA:
            self.advance()
            items.append(self.order_item())
        return tuple(items)

    def order_item(self) -> OrderItem:
        fpath = self.path()
        descending = False
        if self.current.is_keyword("ASC", "DESC"):
            descending = self.advance().text.upper() == "DESC"
        nulls_last = descending  # Salesforce: ASC puts nulls first, DESC puts them last
        if self.current.is_keyword("NULLS"):
            self.advance()
            if not self.current.is_keyword("FIRST", "LAST"):
                raise self.fail()
            nulls_last = self.advance().text.upper() == "LAST"
        return OrderItem(fpath, descending, nulls_last)

    def optional_count(self, keyword: str) -> int | None:
        if not self.current.is_keyword(keyword):
            return None
        self.advance()
        token = self.current
        if token.kind is not Kind.NUMBER or not token.text.isdigit():
            raise self.fail()
        self.advance()
        return int(token.text)
