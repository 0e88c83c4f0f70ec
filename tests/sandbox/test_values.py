"""Reading request values as their field's type: what is accepted, how it is stored, and what is
a JSON_PARSER_ERROR."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from sfsync.sandbox.schema import FieldDef
from sfsync.sandbox.values import ValueParseError, parse_csv_value, parse_datetime, parse_value


def _field(kind: str, scale: int = 0) -> FieldDef:
    return FieldDef(name="F__c", type=kind, label="F", scale=scale)


@pytest.mark.parametrize(
    ("kind", "given", "stored"),
    [
        ("string", "abc", "abc"),
        ("string", 12, "12"),
        ("string", True, "true"),
        ("boolean", True, True),
        ("boolean", "false", False),
        ("boolean", "1", True),
        ("int", 7, 7),
        ("int", 7.0, 7),
        ("int", " 42 ", 42),
        ("double", 1, 1.0),
        ("double", "2.5", 2.5),
        ("date", "2026-02-03", "2026-02-03"),
        ("datetime", "2026-02-03T04:05:06Z", "2026-02-03T04:05:06.000+0000"),
        ("datetime", "2026-02-03T04:05:06.123+01:00", "2026-02-03T03:05:06.000+0000"),
        ("datetime", "2026-02-03T04:05:06.000+0000", "2026-02-03T04:05:06.000+0000"),
        ("datetime", "2026-02-03", "2026-02-03T00:00:00.000+0000"),
        ("time", "09:30", "09:30:00.000Z"),
        ("time", "09:30:15.5Z", "09:30:15.500Z"),
        ("reference", "001xx000003DGb2AAG", "001xx000003DGb2AAG"),
    ],
)
def test_accepted_values_are_stored_in_wire_form(kind: str, given: Any, stored: Any) -> None:
    assert parse_value(_field(kind), given) == stored


def test_currency_is_rounded_to_its_scale() -> None:
    assert parse_value(_field("currency", scale=2), 10.005001) == 10.01


def test_none_stays_none() -> None:
    assert parse_value(_field("double"), None) is None


@pytest.mark.parametrize(
    ("kind", "given"),
    [
        ("string", {"nested": 1}),
        ("boolean", "maybe"),
        ("boolean", 3),
        ("int", True),
        ("int", 1.5),
        ("int", "seven"),
        ("int", [1]),
        ("double", "lots"),
        ("double", False),
        ("double", "nan"),
        ("double", {}),
        ("date", "2026-13-45"),
        ("date", "tomorrow"),
        ("date", 20260203),
        ("datetime", "yesterday"),
        ("datetime", 5),
        ("time", "25:00"),
        ("time", "noon"),
        ("time", 9),
    ],
)
def test_unreadable_values_are_parser_errors(kind: str, given: Any) -> None:
    with pytest.raises(ValueParseError) as caught:
        parse_value(_field(kind), given)

    assert caught.value.message.startswith("Cannot deserialize instance of")


def test_parse_datetime_accepts_salesforce_and_iso_forms() -> None:
    expected = datetime(2026, 2, 3, 4, 5, 6, tzinfo=UTC)

    assert parse_datetime("2026-02-03T04:05:06.000+0000") == expected
    assert parse_datetime("2026-02-03T04:05:06Z") == expected
    assert parse_datetime("2026-02-03T05:05:06+01:00") == expected
    assert parse_datetime("2026-02-30T00:00:00Z") is None
    assert parse_datetime("not a date") is None


def test_csv_cells_are_typed_and_na_means_null() -> None:
    assert parse_csv_value(_field("boolean"), " true ") is True
    assert parse_csv_value(_field("double"), "12.50") == 12.5
    assert parse_csv_value(_field("string"), " padded ") == " padded "
    assert parse_csv_value(_field("string"), "#N/A") is None
