"""Turning incoming JSON (or Bulk CSV text) into the wire values the org stores, per field type.

Salesforce deserialises a request body before any record logic runs, so a value of the wrong
type fails the whole request with ``JSON_PARSER_ERROR``; that is what :class:`ValueParseError`
stands for here.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, date, datetime
from typing import Any

from sfsync.sandbox.orgclock import format_datetime
from sfsync.sandbox.schema import FieldDef

_TEXT_TYPES = frozenset(
    {
        "string",
        "textarea",
        "picklist",
        "multipicklist",
        "combobox",
        "email",
        "phone",
        "url",
        "encryptedstring",
    }
)
_DECIMAL_TYPES = frozenset({"double", "currency", "percent"})
_DATETIME_RE = re.compile(
    r"^(\d{4}-\d{2}-\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?"
    r"(Z|[+-]\d{2}:?\d{2})?)?$"
)
_TIME_RE = re.compile(r"^(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,3}))?)?Z?$")
_JSON_TYPE_NAMES = {
    str: "VALUE_STRING",
    bool: "VALUE_TRUE",
    int: "VALUE_NUMBER_INT",
    float: "VALUE_NUMBER_FLOAT",
    dict: "START_OBJECT",
    list: "START_ARRAY",
}


class ValueParseError(Exception):
    """A value that cannot be read as its field's type (JSON_PARSER_ERROR)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _refuse(field: FieldDef, value: Any) -> ValueParseError:
    java_type = {
        "boolean": "boolean",
        "int": "int",
        "double": "double",
        "currency": "double",
        "percent": "double",
        "date": "date",
        "datetime": "datetime",
        "time": "time",
    }.get(field.type, "String")
    token = _JSON_TYPE_NAMES.get(type(value), "VALUE_STRING")
    return ValueParseError(
        f"Cannot deserialize instance of {java_type} from {token} value {value} "
        f"or request may be missing a required field at [line:1, column:1]"
    )


def parse_value(field: FieldDef, value: Any) -> Any:
    """The stored wire value of ``value`` for ``field`` (None stays None)."""
    if value is None:
        return None
    kind = field.type
    if kind in _TEXT_TYPES or kind in {"id", "reference"}:
        return _parse_text(field, value)
    if kind == "boolean":
        return _parse_boolean(field, value)
    if kind == "int":
        return _parse_int(field, value)
    if kind in _DECIMAL_TYPES:
        return _parse_decimal(field, value)
    if kind == "date":
        return _parse_date(field, value)
    if kind == "datetime":
        return _parse_datetime(field, value)
    if kind == "time":
        return _parse_time(field, value)
    return value


def _parse_text(field: FieldDef, value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    raise _refuse(field, value)


def _parse_boolean(field: FieldDef, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in {"true", "false", "1", "0"}:
        return value.lower() in {"true", "1"}
    raise _refuse(field, value)


def _parse_int(field: FieldDef, value: Any) -> int:
    if isinstance(value, bool):
        raise _refuse(field, value)
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            raise _refuse(field, value) from None
    raise _refuse(field, value)


def _parse_decimal(field: FieldDef, value: Any) -> float:
    if isinstance(value, bool):
        raise _refuse(field, value)
    number: float
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            raise _refuse(field, value) from None
    else:
        raise _refuse(field, value)
    if math.isnan(number) or math.isinf(number):
        raise _refuse(field, value)
    return round(number, field.scale) if field.scale else number


def _parse_date(field: FieldDef, value: Any) -> str:
    if not isinstance(value, str):
        raise _refuse(field, value)
    text = value.strip()
    match = _DATETIME_RE.match(text)
    if match is None:
        raise _refuse(field, value)
    try:
        parsed = date.fromisoformat(match.group(1))
    except ValueError:
        raise _refuse(field, value) from None
    return parsed.isoformat()


def _parse_datetime(field: FieldDef, value: Any) -> str:
    if not isinstance(value, str):
        raise _refuse(field, value)
    parsed = parse_datetime(value)
    if parsed is None:
        raise _refuse(field, value)
    return format_datetime(parsed)


def parse_datetime(text: str) -> datetime | None:
    """An ISO 8601 / Salesforce datetime (``Z``, ``+0000`` or ``+00:00``; a bare date is
    midnight UTC), or None when ``text`` is not one."""
    match = _DATETIME_RE.match(text.strip())
    if match is None:
        return None
    day, hour, minute, second, fraction, zone = match.groups()
    iso = f"{day}T{hour or '00'}:{minute or '00'}:{second or '00'}"
    if fraction:
        iso += "." + fraction[:6].ljust(6, "0")
    if zone and zone != "Z":
        zone = zone if ":" in zone else f"{zone[:3]}:{zone[3:]}"
        iso += zone
    else:
        iso += "+00:00"
    try:
        return datetime.fromisoformat(iso).astimezone(UTC)
    except ValueError:
        return None


def _parse_time(field: FieldDef, value: Any) -> str:
    if not isinstance(value, str):
        raise _refuse(field, value)
    match = _TIME_RE.match(value.strip())
    if match is None:
        raise _refuse(field, value)
    hour, minute, second, millis = match.groups()
    if int(hour) > 23 or int(minute) > 59 or int(second or 0) > 59:
        raise _refuse(field, value)
    return f"{hour}:{minute}:{second or '00'}.{(millis or '0').ljust(3, '0')}Z"


def parse_csv_value(field: FieldDef, text: str) -> Any:
    """A Bulk 2.0 CSV cell as its field's value (``#N/A`` means null; callers skip empty cells)."""
    if text == "#N/A":
        return None
    if field.type in {"int", "double", "currency", "percent", "boolean"}:
        return parse_value(field, text.strip())
    return parse_value(field, text)
