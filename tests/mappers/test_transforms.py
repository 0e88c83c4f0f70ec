"""The closed set of transforms: what each does to a value, its argument checks, and templates
that can read named domain values and nothing else."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from sfsync.domain import Priority
from sfsync.mappers.transforms import (
    TRANSFORMS,
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
    relationship_name,
)

ROW: Row = (object(), object())


def context(target: str = "Subject", length: int | None = 10, **names: Any) -> TransformContext:
    return TransformContext(
        sobject="Case",
        target=target,
        length=length,
        names={name: (lambda _row, value=value: value) for name, value in names.items()},
        account=LookupTarget("Account", "Accounting_Id__c"),
        case=LookupTarget("Case", "Collections_Key__c"),
    )


def build(item: object, ctx: TransformContext | None = None) -> Transform:
    return build_transform(item, ctx or context())


def apply(item: object, value: object, ctx: TransformContext | None = None) -> Any:
    return build(item, ctx).apply(value, ROW)


def test_the_registry_is_the_documented_closed_set() -> None:
    assert set(TRANSFORMS) == {
        "round_money", "format_date", "truncate", "upper", "lower", "value_map", "default",
        "template", "account_lookup", "case_lookup",
    }  # fmt: skip


def test_round_money_rounds_half_up_to_cents_or_the_given_places() -> None:
    assert apply("round_money", Decimal("10.005")) == Decimal("10.01")
    assert apply({"round_money": 0}, Decimal("2.5")) == Decimal(3)
    assert apply("round_money", 7) == Decimal("7.00")
    assert apply("round_money", None) is None


@pytest.mark.parametrize("places", [-1, 9, "two", True])
def test_round_money_refuses_bad_places(places: object) -> None:
    with pytest.raises(TransformError, match="decimal places"):
        build({"round_money": places})


def test_format_date_writes_the_pattern_and_defaults_to_iso() -> None:
    assert apply({"format_date": "%d/%m/%Y"}, date(2026, 3, 1)) == "01/03/2026"
    assert apply("format_date", date(2026, 3, 1)) == "2026-03-01"
    assert apply("format_date", None) is None


@pytest.mark.parametrize("pattern", ["", "%Q", 5])
def test_format_date_refuses_unknown_directives(pattern: object) -> None:
    with pytest.raises(TransformError, match="strftime pattern"):
        build({"format_date": pattern})


def test_truncate_cuts_to_the_field_length_from_describe_or_to_n() -> None:
    assert apply("truncate", "abcdefghijklmnop", context(length=10)) == "abcdefghij"
    assert apply({"truncate": 3}, "abcdef") == "abc"
    assert apply("truncate", None) is None


def test_bare_truncate_without_describe_says_how_to_fix() -> None:
    with pytest.raises(TransformError) as caught:
        build("truncate", context(length=None))
    assert "{truncate: N}" in caught.value.fix


def test_upper_and_lower_change_case_and_take_no_arguments() -> None:
    assert apply("upper", "usd") == "USD"
    assert apply("lower", "ABC") == "abc"
    with pytest.raises(TransformError, match="no arguments"):
        build({"upper": 2})


def test_value_map_translates_enums_and_passes_unmapped_values_through() -> None:
    item = {"value_map": {"map": {"low": "Low", "high": "High"}}}
    assert apply(item, Priority.LOW) == "Low"
    assert apply(item, Priority.NORMAL) == "normal"


def test_value_map_default_replaces_unmapped_values_and_booleans_compare_as_words() -> None:
    item = {"value_map": {"map": {True: "Yes"}, "default": "No"}}
    assert apply(item, True) == "Yes"
    assert apply(item, False) == "No"


@pytest.mark.parametrize("args", [{"low": "Low"}, {"map": {}}, {"map": "x"}, "low"])
def test_value_map_refuses_a_malformed_table(args: object) -> None:
    with pytest.raises(TransformError, match="value_map"):
        build({"value_map": args})


def test_value_map_shape_lists_every_possible_output() -> None:
    item = {"value_map": {"map": {"low": "Low", "normal": "Medium", "high": "High"}}}
    shape = build(item).reshape(Shape(ValueKind.TEXT, frozenset({"low", "normal", "high"})))
    assert shape.values == {"Low", "Medium", "High"}
    partial = build({"value_map": {"map": {"low": "Low"}}})
    assert partial.reshape(Shape(ValueKind.TEXT, frozenset({"low", "high"}))).values == {
        "Low",
        "high",
    }


def test_default_fills_empty_values_only() -> None:
    assert apply({"default": "n/a"}, None) == "n/a"
    assert apply({"default": "n/a"}, "") == "n/a"
    assert apply({"default": "n/a"}, "x") == "x"
    with pytest.raises(TransformError, match="default takes"):
        build("default")


def test_template_transform_formats_the_value_and_named_values() -> None:
    ctx = context(customer_id="C-1")
    assert apply({"template": "INV {value} of {customer_id}"}, "42", ctx) == "INV 42 of C-1"


def test_account_lookup_emits_the_relationship_form_and_skips_a_missing_key() -> None:
    value = apply("account_lookup", "C-1", context(target="AccountId"))
    assert value == LookupValue("Account", "Account", "Accounting_Id__c", "C-1")
    assert value.as_json() == {"attributes": {"type": "Account"}, "Accounting_Id__c": "C-1"}
    assert apply("account_lookup", None, context(target="AccountId")) is None


def test_case_lookup_on_a_custom_field_goes_through_its__r_relationship() -> None:
    value = apply("case_lookup", "demo:C-1:USD:1", context(target="Case__c"))
    assert value.relationship == "Case__r"
    assert value.as_json()["Collections_Key__c"] == "demo:C-1:USD:1"


def test_relationship_names_follow_salesforce_naming() -> None:
    assert relationship_name("AccountId") == "Account"
    assert relationship_name("WhatId") == "What"
    assert relationship_name("Account__c") == "Account__r"


def test_an_unknown_transform_suggests_the_closest_name() -> None:
    with pytest.raises(TransformError) as caught:
        build("round_mony")
    assert caught.value.message == "unknown transform 'round_mony'"
    assert caught.value.fix.startswith("did you mean round_money?")


def test_a_transform_with_two_keys_is_refused() -> None:
    with pytest.raises(TransformError, match="one-key table"):
        build({"upper": None, "lower": None})


# --- templates ------------------------------------------------------------------------------


def test_template_renders_names_with_simple_format_specs() -> None:
    names = {"past_due": lambda _row: Decimal("1234.5"), "due": lambda _row: date(2026, 3, 1)}
    render = compile_template("{past_due:,.2f} due {due:%d %b}", names)
    assert render(ROW, None) == "1,234.50 due 01 Mar"


def test_template_renders_missing_values_as_empty_and_enums_as_their_value() -> None:
    names = {"date": lambda _row: None, "priority": lambda _row: Priority.HIGH}
    assert compile_template("[{date}] {priority}", names)(ROW, None) == "[] high"


@pytest.mark.parametrize(
    ("template", "reason"),
    [
        ("{__class__}", "attribute access, indexing and private names"),
        ("{subject.__class__}", "attribute access, indexing and private names"),
        ("{a.b}", "attribute access, indexing and private names"),
        ("{a[0]}", "attribute access, indexing and private names"),
        ("{}", "empty {}"),
        ("{0}", "attribute access, indexing and private names"),
        ("{subject!r}", "conversion"),
        ("{subject:{subject}}", "format spec"),
        ("{nope}", "unknown name {nope}"),
        ("{subject", "not valid"),
    ],
)
def test_template_refuses_anything_but_plain_allowed_names(template: str, reason: str) -> None:
    with pytest.raises(TransformError, match="template") as caught:
        compile_template(template, {"subject": lambda _row: "x"})
    assert reason in caught.value.message


def test_template_unknown_name_suggests_the_closest_allowed_one() -> None:
    with pytest.raises(TransformError) as caught:
        compile_template("{subjct}", {"subject": lambda _row: "x"})
    assert caught.value.fix.startswith("did you mean {subject}?")
