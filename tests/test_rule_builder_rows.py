"""Rule builder form model: condition <-> rows, typed values, and error paths mapped to rows."""

from __future__ import annotations

from typing import Any

import pytest

from common.rules import RuleValidationError
from dashapp.views.rule_builder_paths import Target, error_path, error_text, split_path, target_of
from dashapp.views.rule_builder_rows import (
    NotAForm,
    blank_row,
    condition_to_rows,
    parse_value,
    row_to_leaf,
    rows_from_inputs,
    rows_to_condition,
)

EXAMPLE = {
    "all": [
        {"field": "channel", "op": "eq", "value": "online"},
        {"field": "merchant_category", "op": "in", "value": ["electronics", "digital_goods"]},
        {"field": "amount_usd", "op": "gt", "value": 1500},
        {"agg": "distinct", "of": "country", "window": "24h", "op": "ge", "value": 3, "as": "countries"},
        {"agg": "count", "window": "30m", "where": {"field": "amount_usd", "op": "lt", "value": 2},
         "op": "ge", "value": 5, "as": "probes"},
        {"feature": "new_country", "op": "eq", "value": True},
        {"feature": "speed_kmh", "op": "between", "value": [800, 20000]},
        {"field": "card_id", "op": "in_list", "list": "deny_cards"},
        {"field": "hour", "op": "in", "value": [0, 1, 2]},
    ]
}  # fmt: skip


def test_the_docs_example_round_trips_through_the_form() -> None:
    comb, rows = condition_to_rows(EXAMPLE)
    assert comb == "all"
    assert [r["kind"] for r in rows] == [
        "field",
        "field",
        "field",
        "agg",
        "agg",
        "feature",
        "feature",
        "list",
        "field",
    ]
    assert rows[1]["value"] == "electronics, digital_goods"
    assert rows[4]["where_field"] == "amount_usd" and rows[4]["where_value"] == "2"
    assert rows[6]["value"] == "800 to 20000"
    assert rows_to_condition(comb, rows) == EXAMPLE


def test_any_and_a_single_leaf_become_one_top_level_group() -> None:
    comb, rows = condition_to_rows({"any": [{"field": "country", "op": "eq", "value": "FR"}]})
    assert comb == "any" and rows_to_condition(comb, rows) == {
        "any": [{"field": "country", "op": "eq", "value": "FR"}]
    }
    comb, rows = condition_to_rows({"field": "city", "op": "starts_with", "value": "San"})
    assert rows_to_condition(comb, rows) == {"all": [{"field": "city", "op": "starts_with", "value": "San"}]}


@pytest.mark.parametrize(
    "when",
    [
        {"all": [{"any": [{"field": "country", "op": "eq", "value": "FR"}]}]},
        {"not": {"field": "country", "op": "eq", "value": "FR"}},
        {"all": [{"agg": "count", "window": 60, "op": "ge", "value": 2,
                  "where": {"all": [{"field": "country", "op": "eq", "value": "FR"}]}}]},
        {"all": "nope"},
        ["not", "an", "object"],
    ],
)  # fmt: skip
def test_what_the_form_cannot_show_is_refused_for_the_raw_view(when: object) -> None:
    with pytest.raises(NotAForm):
        condition_to_rows(when)


def test_typed_values_numbers_as_people_type_them_and_junk_left_for_the_validator() -> None:
    assert parse_value("gt", "1,500", numeric=True) == 1500
    assert parse_value("gt", " 2.5 ", numeric=True) == 2.5
    assert parse_value("gt", "abc", numeric=True) == "abc"  # the validator names it
    assert parse_value("eq", " online ", numeric=False) == "online"
    assert parse_value("in", "a, b,, c", numeric=False) == ["a", "b", "c"]
    assert parse_value("between", "10 to 20", numeric=True) == [10, 20]
    assert parse_value("between", "10..20", numeric=True) == [10, 20]
    assert parse_value("between", "10", numeric=True) == "10"


def test_rows_keep_their_kind_specific_parts() -> None:
    assert row_to_leaf({**blank_row("agg"), "window": "3600", "value": "5"}) == {
        "agg": "count", "window": 3600, "op": "ge", "value": 5,
    }  # fmt: skip
    between = row_to_leaf(
        {**blank_row("agg"), "agg": "sum", "of": "amount_usd", "op": "between", "value": "2 to 5"}
    )
    assert between["value"] == [2, 5] and between["of"] == "amount_usd"
    feature = row_to_leaf({**blank_row("feature"), "feature": "new_merchant", "op": "eq", "value": "yes"})
    assert feature == {"feature": "new_merchant", "op": "eq", "value": True}
    listed = row_to_leaf({**blank_row("list"), "list": "deny_cards", "as": " hit "})
    assert listed == {"field": "card_id", "op": "in_list", "list": "deny_cards", "as": "hit"}


def test_rows_from_inputs_orders_rows_and_drops_forged_ids() -> None:
    ids: list[dict[str, Any]] = [
        {"row": 1, "part": "value", "kind": "field"},
        {"row": 0, "part": "feature", "kind": "feature"},
        {"row": 1, "part": "field", "kind": "field"},
        {"row": 0, "part": "__proto__", "kind": "feature"},
        {"row": "x", "part": "value", "kind": "field"},
        {"row": 2, "part": "value", "kind": "evil"},
    ]
    values = ["100", "speed_kmh", "amount_usd", "boom", "1", "2"]
    assert rows_from_inputs(ids, values) == [
        {"kind": "feature", "feature": "speed_kmh"},
        {"kind": "field", "value": "100", "field": "amount_usd"},
    ]


def test_error_paths_land_on_their_row_and_part() -> None:
    assert split_path("rules[3].when.all[2].value") == ["rules", 3, "when", "all", 2, "value"]
    assert target_of("rules[3].when.all[2].value", 3) == Target("row", 2, "value")
    assert target_of("rules[3].when.any[0].where.op", 3) == Target("row", 0, "where_op")
    assert target_of("rules[3].when.all[1].window", 3) == Target("row", 1, "window")
    assert target_of("rules[3].when.all[1]", 3) == Target("row", 1, "")
    assert target_of("rules[3].explain", 3) == Target("meta", part="explain")
    assert target_of("rules[3].when", 3) == Target("meta", part="when")
    assert target_of("rules[4].when.all[0].value", 3) == Target("doc")
    assert target_of("suppressions[0].list", 3) == Target("doc")


def test_error_path_from_the_exception_or_its_message() -> None:
    exc = RuleValidationError('rules[3].when.all[2].value: expected a number for amount_usd, got "abc"')
    assert error_path(exc) == "rules[3].when.all[2].value"
    assert error_text(exc) == 'expected a number for amount_usd, got "abc"'
    exc.path = "rules[1].id"
    assert error_path(exc) == "rules[1].id"
    assert error_path(RuleValidationError("something went wrong: badly")) == ""
