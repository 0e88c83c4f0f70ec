"""Tokens of the SOQL subset, each with its position so errors can point at it.

String literals keep their escaped body: whether ``\\_`` and ``\\%`` are allowed depends on the
operator (LIKE only), which only the parser knows; :func:`decode_string` and :func:`like_pattern`
decode them per context, with the documented escapes (salesforce-api.md §4).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

from sfsync.sandbox.soql_errors import MALFORMED_QUERY, located_error, unexpected_token


class Kind(Enum):
    IDENT = "identifier"
    STRING = "string"
    NUMBER = "number"
    DATE = "date"
    DATETIME = "datetime"
    OP = "operator"
    LPAREN = "("
    RPAREN = ")"
    COMMA = ","
    COLON = ":"
    EOF = "<EOF>"


@dataclass(frozen=True)
class Token:
    kind: Kind
    text: str  # as written; for strings, the escaped body between the quotes
    pos: int  # 0-based offset in the query

    def is_keyword(self, *words: str) -> bool:
        return self.kind is Kind.IDENT and self.text.upper() in words

    @property
    def display(self) -> str:
        """How errors quote the token."""
        if self.kind is Kind.EOF:
            return "<EOF>"
        if self.kind is Kind.STRING:
            return f"'{self.text}'"
        return self.text


_DATETIME = re.compile(
    r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,3})?(?:Z|[+-]\d{2}:?\d{2})(?![\w.])"
)
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}(?![\w.:-])")
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?![\w.])")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")
_OPERATORS = ("!=", "<>", "<=", ">=", "=", "<", ">")
_PUNCTUATION = {"(": Kind.LPAREN, ")": Kind.RPAREN, ",": Kind.COMMA, ":": Kind.COLON}

#: Escapes valid in every string literal, and what they stand for.
_ESCAPES = {
    "n": "\n",
    "N": "\n",
    "r": "\r",
    "R": "\r",
    "t": "\t",
    "T": "\t",
    "b": "\b",
    "B": "\b",
    "f": "\f",
    "F": "\f",
    '"': '"',
    "'": "'",
    "\\": "\\",
}
_LIKE_ESCAPES = frozenset({"_", "%"})
_HEX_DIGITS = 4


def tokenize(text: str) -> list[Token]:
    """Split ``text`` into tokens, ending with an EOF token."""
    tokens: list[Token] = []
    pos = 0
    while pos < len(text):
        char = text[pos]
        if char.isspace():
            pos += 1
            continue
        token = _next_token(text, pos)
        tokens.append(token)
        pos = token.pos + _token_length(token)
    tokens.append(Token(Kind.EOF, "", len(text)))
    return tokens


def _token_length(token: Token) -> int:
    return len(token.text) + 2 if token.kind is Kind.STRING else len(token.text)


def _next_token(text: str, pos: int) -> Token:
    char = text[pos]
    if char == "'":
        return Token(Kind.STRING, _string_body(text, pos), pos)
    for pattern, kind in ((_DATETIME, Kind.DATETIME), (_DATE, Kind.DATE), (_NUMBER, Kind.NUMBER)):
        match = pattern.match(text, pos)
        if match:
            return Token(kind, match.group(), pos)
    match = _IDENT.match(text, pos)
    if match:
        return Token(Kind.IDENT, match.group(), pos)
    for operator in _OPERATORS:
        if text.startswith(operator, pos):
            return Token(Kind.OP, operator, pos)
    if char in _PUNCTUATION:
        return Token(_PUNCTUATION[char], char, pos)
    raise unexpected_token(text, pos, char)


def _string_body(text: str, start: int) -> str:
    """The escaped body of the string literal opening at ``start`` (a quote)."""
    pos = start + 1
    while pos < len(text):
        char = text[pos]
        if char == "\\":
            pos += 2
            continue
        if char == "'":
            return text[start + 1 : pos]
        pos += 1
    raise located_error(MALFORMED_QUERY, text, start, "unterminated string literal")


def decode_string(token: Token, query: str, like: bool = False) -> list[tuple[str, bool]]:
    """The literal's characters as (text, escaped) pieces; ``escaped`` marks ``\\_``/``\\%``.

    Outside LIKE those two escapes are errors, as is any backslash not in the documented set.
    """
    body = token.text
    pieces: list[tuple[str, bool]] = []
    pos = 0
    while pos < len(body):
        char = body[pos]
        if char != "\\":
            pieces.append((char, False))
            pos += 1
            continue
        follower = body[pos + 1] if pos + 1 < len(body) else ""
        if follower in _ESCAPES:
            pieces.append((_ESCAPES[follower], False))
            pos += 2
        elif follower in _LIKE_ESCAPES and like:
            pieces.append((follower, True))
            pos += 2
        elif follower == "u" and _is_hex(body[pos + 2 : pos + 2 + _HEX_DIGITS]):
            pieces.append((chr(int(body[pos + 2 : pos + 2 + _HEX_DIGITS], 16)), False))
            pos += 2 + _HEX_DIGITS
        else:
            raise located_error(
                MALFORMED_QUERY,
                query,
                token.pos,
                f"Invalid string literal '{body}'. Illegal character sequence "
                f"'\\{follower}' in string literal.",
            )
    return pieces


def _is_hex(chunk: str) -> bool:
    return len(chunk) == _HEX_DIGITS and all(c in "0123456789abcdefABCDEF" for c in chunk)


def string_value(token: Token, query: str) -> str:
    """The decoded value of a string literal used with any operator but LIKE."""
    return "".join(text for text, _ in decode_string(token, query))


def like_pattern(token: Token, query: str) -> re.Pattern[str]:
    """A LIKE literal as a case-insensitive full-match regex: ``%`` any run, ``_`` one char."""
    parts = []
    for text, escaped in decode_string(token, query, like=True):
        if escaped:
            parts.append(re.escape(text))
        elif text == "%":
            parts.append(".*")
        elif text == "_":
            parts.append(".")
        else:
            parts.append(re.escape(text))
    return re.compile("".join(parts), re.IGNORECASE | re.DOTALL)
