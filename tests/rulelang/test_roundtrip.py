"""to_document is the exact inverse of parse_document; the defaults' document is today's built-ins."""

from __future__ import annotations

import json
from typing import Any

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from common.rulelang import parse_document, to_document
from common.rulelang.model import BOOL_FEATURES, NUMBER_FEATURES, STRING_FIELDS, WEEKDAYS
from common.rules import RULE_SPECS, default_rules
from tests.rulelang.helpers import custom, doc

BUILTINS = [n for n in RULE_SPECS if n not in ("alerting", "currency")]
SHIPPED = json.loads(
    (RULE_SPECS and __import__("common.rules", fromlist=["DEFAULTS_PATH"]).DEFAULTS_PATH).read_text()
)


def test_the_defaults_document_lists_all_seven_built_ins_with_todays_values() -> None:
    body = to_document(default_rules())
    assert [r["id"] for r in body["rules"]] == BUILTINS == [r["builtin"] for r in body["rules"]]
    for rule in body["rules"]:
        today = SHIPPED[rule["id"]]
        assert rule["enabled"] == today["enabled"] and rule["score"] == today["weight"]
        assert rule["params"] == {k: v for k, v in today.items() if k not in ("enabled", "weight")}
        assert rule["name"] == RULE_SPECS[rule["id"]].label
    assert body["alerting"] == SHIPPED["alerting"] and body["currency"] == SHIPPED["currency"]
    assert body["format"] == 1 and body["suppressions"] == []
    assert parse_document(body) == default_rules()
    assert json.loads(json.dumps(body)) == body  # plain JSON data


NUM = st.floats(min_value=-1e9, max_value=1e9, allow_nan=False) | st.integers(min_value=-1000, max_value=1000)
TEXT = st.text(st.characters(codec="utf-8", categories=("L", "N", "P"), include_characters=" "), max_size=12)
FIELD_LEAF = st.one_of(
    st.builds(
        lambda f, o, v: {"field": f, "op": o, "value": v},
        st.sampled_from(STRING_FIELDS),
        st.sampled_from(["eq", "ne", "starts_with"]),
        TEXT,
    ),
    st.builds(
        lambda f, v: {"field": f, "op": "in", "value": v},
        st.sampled_from(STRING_FIELDS),
        st.lists(TEXT, min_size=1, max_size=3),
    ),
    st.builds(
        lambda f, o, v: {"field": f, "op": o, "value": v},
        st.sampled_from(["amount", "amount_usd"]),
        st.sampled_from(["lt", "ge", "eq"]),
        NUM,
    ),
    st.builds(
        lambda lo, d: {"field": "hour", "op": "between", "value": [lo, lo + d]},
        st.integers(0, 12),
        st.integers(0, 11),
    ),
    st.builds(
        lambda v: {"field": "weekday", "op": "not_in", "value": v},
        st.lists(st.sampled_from(WEEKDAYS), min_size=1, max_size=7),
    ),
)
LEAF = st.one_of(
    FIELD_LEAF,
    st.builds(
        lambda f, v: {"feature": f, "op": "gt", "value": v}, st.sampled_from(list(NUMBER_FEATURES)), NUM
    ),
    st.builds(
        lambda f, v: {"feature": f, "op": "eq", "value": v},
        st.sampled_from(list(BOOL_FEATURES)),
        st.booleans(),
    ),
    st.builds(
        lambda f, o, n: {"field": f, "op": o, "list": n},
        st.sampled_from(STRING_FIELDS),
        st.sampled_from(["in_list", "not_in_list"]),
        st.from_regex(r"[a-z][a-z0-9_]{1,10}", fullmatch=True),
    ),
    st.builds(
        lambda w, v, where: {
            "agg": "count",
            "window": w,
            "op": "ge",
            "value": v,
            **({"where": where} if where else {}),
        },
        st.sampled_from([60, "30s", "15m", "24h", "7d", 604800]),
        st.integers(0, 32),
        st.none() | st.builds(lambda v: {"field": "amount_usd", "op": "lt", "value": v}, NUM),
    ),
    st.builds(
        lambda k, v: {"agg": k, "of": "amount_usd", "window": "1h", "op": "gt", "value": v},
        st.sampled_from(["sum", "avg", "max"]),
        NUM,
    ),
)
COND = st.recursive(
    LEAF,
    lambda inner: (
        st.builds(
            lambda k, items: {k: items},
            st.sampled_from(["all", "any"]),
            st.lists(inner, min_size=1, max_size=3),
        )
        | st.builds(lambda c: {"not": c}, inner)
    ),
    max_leaves=8,
)


@settings(max_examples=200, deadline=None)
@given(st.lists(COND, min_size=1, max_size=3), st.booleans())
def test_any_valid_document_survives_the_round_trip(conds: list[Any], snooze: bool) -> None:
    rules = [custom(rid=f"rule_{i}", when=c, explain="x {amount}") for i, c in enumerate(conds)]
    body = doc(*rules)
    if snooze:
        body["suppressions"] = [
            {"list": "snoozed", "field": "card_id", "rules": ["*"]},
            {"list": "vip", "field": "account_id", "rules": ["rule_0", "velocity"]},
        ]
    cfg = parse_document(body)
    again = to_document(cfg)
    assert parse_document(again) == cfg
    assert parse_document(json.loads(json.dumps(again))) == cfg  # through JSON text too
    assert msgspec.json.decode(msgspec.json.encode(cfg.custom)) == again["rules"][len(RULE_SPECS) - 2 :]
    hash(cfg.custom), hash(cfg.suppressions)


def test_an_exported_document_with_its_version_parses_as_without_it() -> None:
    """`rules export` and GET /api/rules add `version`; that document is a valid draft as it is."""
    import pytest

    from common.rules import RuleValidationError

    body = to_document(default_rules())
    assert parse_document({**body, "version": 7}) == parse_document(body)
    for bad in ("7", -1, True, 1.5):
        with pytest.raises(RuleValidationError, match="version"):
            parse_document({**body, "version": bad})
