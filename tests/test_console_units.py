"""Pure tests of the analyst's console: rule editor labels and messages, KPI minute rates, chart axes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from dash import dcc, html

from common.rules import RULE_SPECS, apply_changes, default_rules, rules_to_dict
from dashapp.figures.throughput import throughput_figure
from dashapp.store.metrics import rates
from dashapp.store.models import SecondBucket
from dashapp.views.rules_form import changes_from_form, check_form, field_id, parse_number, rules_form


def _walk(node: Any, parents: tuple[Any, ...] = ()) -> Iterator[tuple[Any, tuple[Any, ...]]]:
    """Every component under `node` with its ancestors (Checklist option labels included)."""
    yield node, parents
    children = getattr(node, "children", None)
    if isinstance(node, dcc.Checklist):
        children = [o["label"] for o in _props(node)["options"]]
    for child in children if isinstance(children, list) else [children]:
        if hasattr(child, "to_plotly_json"):
            yield from _walk(child, (*parents, node))


def _props(node: Any) -> dict[str, Any]:
    return dict(node.to_plotly_json()["props"])


def _text(node: Any) -> str:
    return "".join(n.children for n, _ in _walk(node) if isinstance(getattr(n, "children", None), str))


# --- rule editor: every input named by its label -------------------------------------------------
def test_every_rule_input_is_named_by_the_label_the_form_shows() -> None:
    named: dict[tuple[str, str], str] = {}
    for fieldset in rules_form(editable=True):
        for node, parents in _walk(fieldset):
            if isinstance(node, dcc.Input | dcc.Textarea):
                label = next(p for p in reversed(parents) if isinstance(p, html.Label))  # wraps the input
                named[(_props(node)["id"]["rule"], _props(node)["id"]["field"])] = _text(label)
            elif isinstance(node, dcc.Checklist):  # a checkbox is named by its option's label
                (option,) = _props(node)["options"]
                named[(_props(node)["id"]["rule"], _props(node)["id"]["field"])] = _text(option["label"])
    expected = {(rule, f.name): f.label for rule, spec in RULE_SPECS.items() for f in spec.fields}
    assert named == expected
    assert "on" not in {v.strip() for v in named.values()}


def test_number_fields_are_text_inputs_so_what_was_typed_reaches_the_server() -> None:
    inputs = [n for fs in rules_form(editable=True) for n, _ in _walk(fs) if isinstance(n, dcc.Input)]
    assert inputs and {_props(i)["type"] for i in inputs} == {"text"}


# --- rule editor: typed numbers and what is wrong with them ---------------------------------------
@pytest.mark.parametrize(
    ("typed", "value"),
    [
        ("2,000,000", 2_000_000),
        (" 0.7 ", 0.7),
        ("\u22125", -5),
        ("1 000", 1000),
        ("1e3", 1000.0),
        ("", None),
        ("  ", None),
        ("1,5", "1,5"),  # a decimal comma is refused, not read as 15
        ("12,34", "12,34"),
        ("abc", "abc"),
        (5000, 5000),
    ],
)
def test_parse_number_reads_numbers_as_people_type_them(typed: Any, value: Any) -> None:
    assert parse_number(typed) == value


def test_check_form_names_the_field_and_the_problem() -> None:
    ids = [
        field_id("high_amount", "threshold"),
        field_id("high_amount", "weight"),
        field_id("velocity", "max_count"),
        field_id("velocity", "window_s"),
        field_id("card_testing", "tiny_below"),
        field_id("high_amount", "enabled"),
    ]
    problems = check_form(ids, ["2,000,000", "-5", "2.5", "", "two", ["on"]])
    assert problems == [
        "High amount \u2013 Threshold ($): 2,000,000 is above the maximum 1,000,000",
        "High amount \u2013 Weight: -5 is below the minimum 0",
        "Velocity \u2013 Max count: 2.5 is not a whole number",
        "Velocity \u2013 Window (s): is empty",
        "Card testing \u2013 Tiny below ($): 'two' is not a number",
    ]
    assert check_form(ids[:2], ["1,000,000", "0.5"]) == []


def test_typed_numbers_in_range_validate_as_the_rules_expect() -> None:
    ids = [field_id("high_amount", "threshold"), field_id("velocity", "max_count")]
    changes = changes_from_form(ids, ["1,000,000", "7"])
    assert changes == {"high_amount": {"threshold": 1_000_000}, "velocity": {"max_count": 7}}
    rules = rules_to_dict(apply_changes(default_rules(), changes))  # the store's validation accepts them
    assert (rules["high_amount"]["threshold"], rules["velocity"]["max_count"]) == (1_000_000, 7)


# --- KPIs: rare events over the last minute, not extrapolated from 10 s ---------------------------
def _buckets(last: int, seconds: int, **at: tuple[int, int, float]) -> list[SecondBucket]:
    out = [SecondBucket(s, 10, 0, 100.0) for s in range(last - seconds + 1, last + 1)]
    for ago, (txns, alerts, amount) in ((int(k[1:]), v) for k, v in at.items()):
        out[-1 - ago] = SecondBucket(last - ago, txns, alerts, amount)
    return out


def test_one_alert_reads_one_per_minute_wherever_it_falls_in_the_minute() -> None:
    last = 1_000_000
    seen = {rates(_buckets(last, 60, a0=(10, 1, 100.0)), last, 10).alerts_per_min}
    seen |= {rates(_buckets(last, 60, a9=(10, 1, 100.0)), last, 10).alerts_per_min}
    seen |= {rates(_buckets(last, 60, a45=(10, 1, 100.0)), last, 10).alerts_per_min}
    assert seen == {1.0}  # the 10 s extrapolation read 6, 6 and then 0


def test_minute_rates_and_the_ten_second_throughput() -> None:
    last = 2_000_000
    r = rates(_buckets(last, 60, a30=(1000, 3, 50.0)), last, 10)
    assert r.txns_per_s == 10.0  # the burst 30 s ago is outside the 10 s window
    assert r.alerts_per_min == 3.0
    assert r.amount_per_min == 59 * 100.0 + 50.0
    assert r.fraud_rate == 3 / (59 * 10 + 1000)
    assert rates([], last, 10) == (0.0, 0.0, 0.0, 0.0)


# --- throughput chart: whole alert ticks, titles clear of tick labels ------------------------------
def test_alerts_axis_ticks_are_whole_and_titles_get_margin() -> None:
    layout = throughput_figure([SecondBucket(1, 10, 1, 5.0)], 300)["layout"]
    y2 = layout["yaxis2"]
    assert max(y2["autorangeoptions"]["include"]) >= 5  # 0..1 gave 0.2 steps
    assert y2["tickformat"] == ",d"
    assert y2["automargin"] and layout["yaxis"]["automargin"]
