"""SOQL errors in the shape a real org returns them.

Salesforce prefixes a query error with the offending query line, a caret under the column and
``ERROR at Row:r:Column:c`` (salesforce-api.md §3.3); clients show that text to admins, so the
local org builds the same text from the token position.
"""

from __future__ import annotations


class SoqlError(Exception):
    """A query the org refuses; ``code`` is the REST ``errorCode`` (HTTP 400)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(code, message)
        self.code = code
        self.message = message

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


MALFORMED_QUERY = "MALFORMED_QUERY"
INVALID_FIELD = "INVALID_FIELD"
INVALID_TYPE = "INVALID_TYPE"
INVALID_QUERY_FILTER_OPERATOR = "INVALID_QUERY_FILTER_OPERATOR"
NUMBER_OUTSIDE_VALID_RANGE = "NUMBER_OUTSIDE_VALID_RANGE"


def located_error(code: str, text: str, pos: int, detail: str) -> SoqlError:
    """A SoqlError whose message points at character ``pos`` (0-based) of the query ``text``."""
    pos = max(0, min(pos, len(text)))
    line_start = text.rfind("\n", 0, pos) + 1
    line_end = text.find("\n", pos)
    line = text[line_start : line_end if line_end != -1 else len(text)]
    row = text.count("\n", 0, pos) + 1
    column = pos - line_start + 1
    caret = " " * (column - 1) + "^"
    return SoqlError(code, f"\n{line}\n{caret}\nERROR at Row:{row}:Column:{column}\n{detail}")


def no_such_column(text: str, pos: int, column: str, entity: str) -> SoqlError:
    return located_error(
        INVALID_FIELD,
        text,
        pos,
        f"No such column '{column}' on entity '{entity}'. If you are attempting to use a custom "
        "field, be sure to append the '__c' after the custom field name. Please reference your "
        "WSDL or the describe call for the appropriate names.",
    )


def unknown_relationship(text: str, pos: int, relationship: str) -> SoqlError:
    return located_error(
        INVALID_FIELD,
        text,
        pos,
        f"Didn't understand relationship '{relationship}' in field path. If you are attempting "
        "to use a custom relationship, be sure to append the '__r' after the custom relationship "
        "name. Please reference your WSDL or the describe call for the appropriate names.",
    )


def unsupported_type(text: str, pos: int, name: str) -> SoqlError:
    return located_error(
        INVALID_TYPE,
        text,
        pos,
        f"sObject type '{name}' is not supported. If you are attempting to use a custom object, "
        "be sure to append the '__c' after the entity name. Please reference your WSDL or the "
        "describe call for the appropriate names.",
    )


def unexpected_token(text: str, pos: int, token: str) -> SoqlError:
    return located_error(MALFORMED_QUERY, text, pos, f"unexpected token: '{token}'")
