"""Validating rules documents: every refusal names the path of the problem; what passes is canonical."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from common.rulelang import parse_document, to_document
from common.rulelang.model import Cond
from common.rules import RuleValidationError, default_rules
from tests.rulelang.helpers import custom, doc

AMOUNT = {"field": "amount_usd", "op": "gt", "value": 1}


def when(cond: Any) -> dict[str, Any]:
    return doc(custom(when=cond))


def nest(levels: int) -> dict[str, Any]:
    cond: dict[str, Any] = AMOUNT
    for _ in range(levels - 1):
        cond = {"not": cond}
    return cond


def without_builtin(name: str) -> dict[str, Any]:
    body = doc()
    body["rules"] = [r for r in body["rules"] if r["id"] != name]
    return body


def twice(name: str) -> dict[str, Any]:
    body = doc()
    body["rules"].append(copy.deepcopy(next(r for r in body["rules"] if r["id"] == name)))
    return body


W = "rules[7].when"  # the first custom rule follows the seven built-ins
CASES: list[tuple[Any, str, str]] = [
    ([], "document", "expected a rules document"),
    ({**doc(), "extra": 1}, "document", 'unknown key "extra"'),
    ({**doc(), "format": 2}, "format", "expected 1"),
    ({**doc(), "format": True}, "format", "expected 1"),
    ({k: v for k, v in doc().items() if k != "rules"}, "rules", "expected a list of rules"),
    (doc(alerting={"min_score": 2}), "alerting.min_score", "out of range"),
    (doc(alerting={"medium_score": 0.9, "high_score": 0.8}), "alerting.medium_score", "must not exceed"),
    (doc(currency={"EUR": "1.1"}), "currency.EUR", "expected a number"),
    (doc(currency={"XXX": 1.0}), "currency", 'unknown key "XXX"'),
    (without_builtin("velocity"), "rules", "built-in velocity is missing"),
    (twice("card_testing"), "rules[7].builtin", "built-in card_testing appears twice"),
    (doc({"id": "x", "builtin": "nope"}), "rules[7].builtin", "expected one of high_amount"),
    (doc({"id": "other", "builtin": "velocity"}), "rules[7].id", "a built-in's id is its family name"),
    # a built-in's params keep today's ranges (common.rules.RULE_SPECS)
    (
        doc(*[])
        | {
            "rules": [
                *doc()["rules"][:2],
                {**doc()["rules"][2], "params": {"max_count": 1}},
                *doc()["rules"][3:],
            ]
        },
        "rules[2].params.max_count",
        "1 is out of range [2, 50]",
    ),
    (
        doc() | {"rules": [{**doc()["rules"][0], "score": True}, *doc()["rules"][1:]]},
        "rules[0].score",
        "expected a number",
    ),
    (
        doc()
        | {"rules": [{**doc()["rules"][0], "params": {"threshold": 1, "speed": 3}}, *doc()["rules"][1:]]},
        "rules[0].params",
        'unknown key "speed"',
    ),
    (doc(custom(rid="velocity")), "rules[7].id", "is a built-in's id"),
    (doc(custom(rid="Bad-Id")), "rules[7].id", "expected an id"),
    (doc(custom(rid="ab")), "rules[7].id", "expected an id"),
    (doc(custom(), custom()), "rules[8].id", 'the id "online_big" is already used by rules[7]'),
    (doc(custom(colour="red")), "rules[7]", 'unknown key "colour"'),
    (doc({k: v for k, v in custom().items() if k != "when"}), "rules[7].when", "missing"),
    (doc(custom(score=1.5)), "rules[7].score", "out of range"),
    (doc(custom(score=float("nan"))), "rules[7].score", "finite"),
    (doc(custom(enabled="yes")), "rules[7].enabled", "expected true/false"),
    (doc(custom(name="x" * 101)), "rules[7].name", "at most 100 characters"),
    (doc(custom(name="bad\u202ename")), "rules[7].name", "printable"),
    (doc(custom(explain="x" * 301)), "rules[7].explain", "at most 300 characters"),
    (doc(custom(explain="amount {amout}")), "rules[7].explain", "unknown placeholder {amout}"),
    (doc(custom(explain="a { b")), "rules[7].explain", 'a lone "{"'),
    (doc(custom(explain="a } b")), "rules[7].explain", 'a lone "}"'),
    (doc(custom(explain="{0}")), "rules[7].explain", 'a lone "{"'),
    (doc(custom(explain="{amount.__class__}")), "rules[7].explain", 'a lone "{"'),
    # conditions
    (when([AMOUNT]), W, "expected a condition"),
    (when({"foo": 1}), W, "expected one of all, any, not, field, agg, feature"),
    (when({"all": []}), f"{W}.all", "non-empty list"),
    (when({"all": [AMOUNT], "any": [AMOUNT]}), W, "a combinator stands alone"),
    (when({"all": [AMOUNT] * 33}), f"{W}.all", "at most 32 leaves"),
    (
        when({"all": [{"all": [AMOUNT] * 20}, {"all": [AMOUNT] * 13}]}),
        f"{W}.all[1].all[12]",
        "at most 32 leaves",
    ),
    (when(nest(7)), f"{W}" + ".not" * 6, "at most 6 levels"),
    (when({"all": [AMOUNT] * 1_000_000}), f"{W}.all", "at most 32 leaves"),
    (
        when({"field": "amount_usd", "op": "gt", "value": "abc"}),
        f"{W}.value",
        'expected a number for amount_usd, got "abc"',
    ),
    (
        when({"field": "amount_usd", "op": "gt", "value": True}),
        f"{W}.value",
        "expected a number for amount_usd, got true",
    ),
    (when({"field": "amount_usd", "op": "gt", "value": float("inf")}), f"{W}.value", "finite"),
    (when({"field": "amount_usd", "op": "gt", "value": 10**400}), f"{W}.value", "finite"),
    (when({"field": "amount_usd", "op": "gt"}), f"{W}.value", "missing"),
    (when({"field": "amount_usd", "op": "gt", "value": 1, "x": 2}), W, 'unknown key "x"'),
    (when({"field": "ip", "op": "eq", "value": "1"}), f"{W}.field", "expected one of amount"),
    (when({"field": "amount_usd", "op": "like", "value": 1}), f"{W}.op", "expected one of eq"),
    (when({"field": "amount_usd", "op": "starts_with", "value": "1"}), f"{W}.op", "expected one of"),
    (when({"field": "country", "op": "gt", "value": "FR"}), f"{W}.op", "expected one of eq, ne, in"),
    (when({"field": "country", "op": "eq", "value": False}), f"{W}.value", "quote it"),
    (when({"field": "country", "op": "eq", "value": "x" * 101}), f"{W}.value", "at most 100"),
    (when({"field": "country", "op": "in", "value": "FR"}), f"{W}.value", "expected a list of 1..500"),
    (when({"field": "country", "op": "in", "value": []}), f"{W}.value", "expected a list of 1..500"),
    (
        when({"field": "country", "op": "in", "value": ["FR"] * 501}),
        f"{W}.value",
        "expected a list of 1..500",
    ),
    (when({"field": "country", "op": "in", "value": ["FR", 3]}), f"{W}.value[1]", "expected a string"),
    (
        when({"field": "amount_usd", "op": "between", "value": [5, 1]}),
        f"{W}.value",
        "low 5.0 is above high 1.0",
    ),
    (when({"field": "amount_usd", "op": "between", "value": [1]}), f"{W}.value", "expected [low, high]"),
    (when({"field": "hour", "op": "eq", "value": 24}), f"{W}.value", "0..23"),
    (when({"field": "hour", "op": "eq", "value": 1.5}), f"{W}.value", "whole number"),
    (when({"field": "weekday", "op": "eq", "value": "Monday"}), f"{W}.value", "expected one of mon"),
    (when({"field": "weekday", "op": "lt", "value": "mon"}), f"{W}.op", "expected one of"),
    (when({**AMOUNT, "as": "Amount"}), f"{W}.as", "expected a name"),
    (when({**AMOUNT, "as": "city"}), f"{W}.as", "an event field's name"),
    (when({"all": [{**AMOUNT, "as": "n"}, {**AMOUNT, "as": "n"}]}), f"{W}.all[1].as", "already used"),
    # lists
    (when({"field": "card_id", "op": "in_list", "list": "Bad List"}), f"{W}.list", "expected a list name"),
    (when({"field": "amount_usd", "op": "in_list", "list": "cards"}), f"{W}.field", "lists hold strings"),
    (when({"field": "card_id", "op": "in_list", "list": "cards", "value": 1}), W, 'unknown key "value"'),
    # aggregates
    (when({"agg": "median", "window": 60, "op": "gt", "value": 1}), f"{W}.agg", "expected one of count"),
    (
        when({"agg": "count", "of": "amount_usd", "window": 60, "op": "gt", "value": 1}),
        f"{W}.of",
        "takes no 'of'",
    ),
    (
        when({"agg": "sum", "of": "amount", "window": 60, "op": "gt", "value": 1}),
        f"{W}.of",
        "sum reads amount_usd",
    ),
    (
        when({"agg": "distinct", "of": "card_id", "window": 60, "op": "gt", "value": 1}),
        f"{W}.of",
        "expected one of",
    ),
    (when({"agg": "count", "window": "8d", "op": "gt", "value": 1}), f"{W}.window", "1 s .. 7 d"),
    (when({"agg": "count", "window": 604801, "op": "gt", "value": 1}), f"{W}.window", "1 s .. 7 d"),
    (when({"agg": "count", "window": 0, "op": "gt", "value": 1}), f"{W}.window", "1 s .. 7 d"),
    (when({"agg": "count", "window": "1w", "op": "gt", "value": 1}), f"{W}.window", "like 30s"),
    (when({"agg": "count", "window": True, "op": "gt", "value": 1}), f"{W}.window", "like 30s"),
    (when({"agg": "count", "window": "1.5h", "op": "gt", "value": 1}), f"{W}.window", "like 30s"),
    (when({"agg": "count", "window": 60, "op": "gt", "value": 33}), f"{W}.value", "0..32"),
    (
        when({"agg": "distinct", "of": "city", "window": 60, "op": "between", "value": [1, 40]}),
        f"{W}.value[1]",
        "0..32",
    ),
    (when({"agg": "count", "window": 60, "op": "in", "value": [1]}), f"{W}.op", "expected one of"),
    (
        when(
            {
                "agg": "count",
                "window": 60,
                "where": {"field": "card_id", "op": "eq", "value": "c"},
                "op": "gt",
                "value": 1,
            }
        ),
        f"{W}.where.field",
        "expected one of amount_usd, merchant_id",
    ),
    (
        when(
            {
                "agg": "count",
                "window": 60,
                "where": {"feature": "new_country", "op": "eq", "value": True},
                "op": "gt",
                "value": 1,
            }
        ),
        f"{W}.where",
        'unknown key "feature"',
    ),
    (
        when({"agg": "count", "window": 60, "where": {**AMOUNT, "as": "x"}, "op": "gt", "value": 1}),
        f"{W}.where",
        'unknown key "as"',
    ),
    (
        when(
            {
                "agg": "count",
                "window": 60,
                "where": {"field": "city", "op": "starts_with", "value": "Z"},
                "op": "gt",
                "value": 1,
            }
        ),
        f"{W}.where.op",
        "starts_with cannot filter past events",
    ),
    # features
    (when({"feature": "velocity", "op": "gt", "value": 1}), f"{W}.feature", "expected one of distance_km"),
    (when({"feature": "new_country", "op": "eq", "value": 1}), f"{W}.value", "expected true or false"),
    (when({"feature": "new_country", "op": "gt", "value": True}), f"{W}.op", "expected one of eq, ne"),
    (when({"feature": "distance_km", "op": "in", "value": [1]}), f"{W}.op", "expected one of"),
    # suppressions
    (doc(suppressions={}), "suppressions", "expected a list"),
    (doc(suppressions=[{"list": "snoozed", "field": "card_id"}]), "suppressions[0].rules", 'expected ["*"]'),
    (
        doc(suppressions=[{"list": "snoozed", "field": "amount", "rules": ["*"]}]),
        "suppressions[0].field",
        "expected one of",
    ),
    (
        doc(suppressions=[{"list": "snoozed", "field": "card_id", "rules": ["nope"]}]),
        "suppressions[0].rules[0]",
        "no rule",
    ),
    (
        doc(suppressions=[{"list": "snoozed", "field": "card_id", "rules": ["*", "velocity"]}]),
        "suppressions[0].rules[0]",
        "alone",
    ),
    (
        doc(suppressions=[{"list": "snoozed", "field": "card_id", "rules": ["*"], "until": 1}]),
        "suppressions[0]",
        'unknown key "until"',
    ),
    (
        doc(suppressions=[{"list": "snoozed", "field": "card_id", "rules": ["*"]}] * 101),
        "suppressions",
        "at most 100",
    ),
]


@pytest.mark.parametrize(("body", "path", "message"), CASES, ids=[f"{i}:{c[1]}" for i, c in enumerate(CASES)])
def test_refusals_name_the_path(body: Any, path: str, message: str) -> None:
    with pytest.raises(RuleValidationError) as info:
        parse_document(body)
    assert info.value.path == path
    assert str(info.value).startswith(f"{path}: ")
    assert message in str(info.value)


def test_the_error_message_reads_as_the_docs_say() -> None:
    body = doc(custom(when={"all": [AMOUNT, AMOUNT, {"field": "amount_usd", "op": "gt", "value": "abc"}]}))
    body["rules"][3:3] = [body["rules"].pop()]  # the custom rule fourth, as in the docs' example
    with pytest.raises(
        RuleValidationError,
        match=r'^rules\[3\]\.when\.all\[2\]\.value: expected a number for amount_usd, got "abc"$',
    ):
        parse_document(body)


def test_more_than_100_custom_rules_are_refused() -> None:
    with pytest.raises(RuleValidationError, match=r"^rules: at most 100 custom rules"):
        parse_document(doc(*(custom(rid=f"rule_{i:03d}") for i in range(101))))
    assert len(parse_document(doc(*(custom(rid=f"rule_{i:03d}") for i in range(100)))).custom) == 100


def test_limits_are_inclusive() -> None:
    agg = {"agg": "count", "window": "7d", "op": "le", "value": 32}
    cfg = parse_document(
        when({"all": [nest(5), agg, *[AMOUNT] * 29, {"field": "country", "op": "in", "value": ["FR"] * 500}]})
    )
    assert cfg.custom[0].when.all_ is not None and len(cfg.custom[0].when.all_) == 32


def test_unknown_lists_are_refused_only_when_the_caller_knows_the_lists() -> None:
    body = when({"field": "card_id", "op": "in_list", "list": "deny_cards"})
    body["suppressions"] = [{"list": "snoozed", "field": "card_id", "rules": ["online_big"]}]
    assert parse_document(body).custom[0].when.list_ == "deny_cards"
    with pytest.raises(RuleValidationError, match=r'^rules\[7\]\.when\.list: no list named "deny_cards"'):
        parse_document(body, known_lists={"snoozed"})
    with pytest.raises(RuleValidationError, match=r'^suppressions\[0\]\.list: no list named "snoozed"'):
        parse_document(body, known_lists={"deny_cards"})
    assert parse_document(body, known_lists={"deny_cards", "snoozed"}).suppressions[0].list_ == "snoozed"


def test_values_are_stored_canonically() -> None:
    cfg = parse_document(
        when(
            {
                "all": [
                    {"field": "amount_usd", "op": "between", "value": [1, 2]},
                    {"field": "hour", "op": "in", "value": [1.0, 2]},
                    {"agg": "count", "window": "30m", "op": "ge", "value": 3.0},
                ]
            }
        )
    )
    between, hours, count = cfg.custom[0].when.all_ or ()
    assert between.value == (1.0, 2.0) and all(isinstance(v, float) for v in between.value)  # type: ignore[union-attr]
    assert hours.value == (1, 2) and all(type(v) is int for v in hours.value)  # type: ignore[union-attr]
    assert count == Cond(agg="count", window="30m", op="ge", value=3) and type(count.value) is int


def test_custom_rule_defaults_and_built_in_defaults() -> None:
    body = doc({"id": "tiny_rule", "score": 0.3, "when": AMOUNT})
    velocity = next(r for r in body["rules"] if r["id"] == "velocity")
    velocity.pop("params")  # params, enabled and score a built-in omits keep their shipped defaults
    velocity.pop("enabled")
    cfg = parse_document(body)
    rule = cfg.custom[0]
    assert (rule.name, rule.description, rule.enabled, rule.explain) == ("tiny_rule", "", True, "tiny_rule")
    assert cfg.velocity == default_rules().velocity


def test_a_built_in_can_be_disabled_and_retuned_but_its_name_is_its_own() -> None:
    body = doc()
    velocity = next(r for r in body["rules"] if r["id"] == "velocity")
    velocity.update(enabled=False, score=0.4, name="Renamed", params={"max_count": 9})
    cfg = parse_document(body)
    assert (cfg.velocity.enabled, cfg.velocity.weight, cfg.velocity.max_count) == (False, 0.4, 9)
    assert cfg.velocity.window_s == default_rules().velocity.window_s


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=6),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=16,
)
KEYS = ["all", "any", "not", "field", "op", "value", "list", "agg", "of", "window", "where", "feature", "as"]
WORDS = st.sampled_from(
    [
        "amount_usd",
        "country",
        "hour",
        "weekday",
        "count",
        "distinct",
        "gt",
        "in",
        "between",
        "in_list",
        "starts_with",
        "new_country",
        "24h",
        "mon",
        "x",
    ]
)
NEAR = st.recursive(
    st.dictionaries(st.sampled_from(KEYS), WORDS | JSON, min_size=1, max_size=4),
    lambda inner: st.dictionaries(
        st.sampled_from(["all", "any", "not", "where"]), inner | st.lists(inner, max_size=3), max_size=2
    ),
    max_leaves=10,
)


@settings(max_examples=300, deadline=None)
@given(NEAR | JSON, JSON, st.sampled_from(["when", "explain", "score", "id", "enabled"]))
def test_any_input_is_accepted_or_refused_with_a_path(cond: Any, junk: Any, key: str) -> None:
    for body in (when(cond), doc(custom(**{key: junk})), {**doc(), "suppressions": junk}, junk):
        try:
            cfg = parse_document(body)
        except RuleValidationError as exc:
            assert str(exc).startswith(f"{exc.path}: ")
        else:
            assert parse_document(to_document(cfg)) == cfg
