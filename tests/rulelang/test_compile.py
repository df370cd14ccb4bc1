"""Compiled rules: the plan an engine must supply, evaluation, reasons, event facts, suppressions."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import msgspec

from common.alerts import Reason
from common.rulelang import ALL, compile_rules, event_facts, is_member, parse_document, suppressed_rules
from common.rulelang.plan import AggSpec
from common.rules import default_rules
from common.schema import Transaction
from tests.rulelang.helpers import custom, doc

COUNTRIES = {"agg": "distinct", "of": "country", "window": "24h", "op": "ge", "value": 3, "as": "countries"}
PROBES = {
    "agg": "count",
    "window": "30m",
    "where": {"field": "amount_usd", "op": "lt", "value": 2},
    "op": "ge",
    "value": 3,
}
EVENT = Transaction(
    txn_id="t1",
    ts=datetime(2026, 12, 5, 23, 30, tzinfo=UTC),  # a Saturday
    card_id="card_1",
    account_id="acct_1",
    amount=1890.0,
    currency="EUR",
    merchant_id="m_1",
    merchant_category="electronics",
    city="Paris",
    country="FR",
    channel="online",
)


def compiled(*rules: dict[str, Any], **top: Any) -> Any:
    return compile_rules(parse_document(doc(*rules, **top)))


def test_event_facts_are_the_documented_fields_in_utc() -> None:
    rates = default_rules().currency
    facts = event_facts(EVENT, rates)
    assert facts == {
        "amount": 1890.0,
        "amount_usd": 1890.0 * rates["EUR"],
        "currency": "EUR",
        "merchant_id": "m_1",
        "merchant_category": "electronics",
        "channel": "online",
        "country": "FR",
        "city": "Paris",
        "card_id": "card_1",
        "account_id": "acct_1",
        "hour": 23,
        "weekday": "sat",
        "ts_ms": int(EVENT.ts.timestamp() * 1000),
    }
    from datetime import timedelta, timezone

    tokyo = EVENT.__replace__(
        ts=EVENT.ts.astimezone(timezone(timedelta(hours=9))), country=None
    )  # same instant
    later = event_facts(tokyo, rates)
    assert (later["hour"], later["weekday"], later["country"]) == (23, "sat", "")


def test_the_plan_lists_what_enabled_rules_read_each_aggregate_once() -> None:
    c = compiled(
        custom(
            "rule_a",
            {"all": [COUNTRIES, PROBES, {"feature": "new_merchant", "op": "eq", "value": True}]},
            explain="{countries}",
        ),
        custom(
            "rule_b",
            {
                "all": [
                    {**COUNTRIES, "window": 86400, "as": "n"},
                    {"feature": "speed_kmh", "op": "gt", "value": 900},
                ]
            },
            explain="x",
        ),
        custom("rule_c", {"field": "card_id", "op": "in_list", "list": "deny_cards"}),
        custom(
            "rule_off",
            {"agg": "sum", "of": "amount_usd", "window": "7d", "op": "gt", "value": 1},
            enabled=False,
        ),
        suppressions=[{"list": "snoozed", "field": "card_id", "rules": ["*"]}],
    )
    plan = c.plan
    assert [r.rule_id for r in c.rules] == ["rule_a", "rule_b", "rule_c"]
    assert plan.aggs == (
        AggSpec(
            kind="count",
            of=None,
            window_ms=1_800_000,
            where=parse_document(doc(custom(when=PROBES))).custom[0].when.where,
            key="count[1800s] where amount_usd lt 2",
        ),
        AggSpec(
            kind="distinct", of="country", window_ms=86_400_000, where=None, key="distinct(country)[86400s]"
        ),
    )
    assert plan.features == ("new_merchant", "speed_kmh")
    assert plan.lists == ("deny_cards", "snoozed")
    assert plan.columns == ("hist_amt", "hist_country", "hist_ms", "seen_merchants")
    assert plan.longest_ms == 86_400_000  # the disabled 7-day rule keeps no history
    same = compiled(
        *[custom(r.rule_id, msgspec.to_builtins(r.rule.when), explain="x") for r in c.rules[:2]],
        suppressions=[],
    )
    assert {plan: 1}[same.plan.__replace__(lists=plan.lists)] == 1  # hashable, equal by value


def test_no_custom_rules_need_nothing() -> None:
    c = compile_rules(default_rules())
    assert c.rules == () and c.plan.aggs == () and c.plan.columns == () and c.plan.longest_ms == 0


def test_a_reason_quotes_the_first_named_leaf() -> None:
    rule = custom(
        "many_countries",
        {
            "all": [
                {"field": "amount_usd", "op": "gt", "value": 1500},
                COUNTRIES,
                {"feature": "distance_km", "op": "gt", "value": 1, "as": "km"},
            ]
        },
        explain="online {merchant_category} {amount}; {countries} countries in 24 h (limit 3)",
    )
    c = compiled(rule)
    facts = {**event_facts(EVENT, c.rates), "distinct(country)[86400s]": 4, "distance_km": 12.0}
    assert c.rules[0].evaluate(facts, {}) == Reason(
        rule="many_countries",
        observed=4.0,
        limit=3.0,
        text="online electronics 1,890.00 EUR (\u2248 $2,192.40); 4 countries in 24 h (limit 3)",
    )
    assert c.rules[0].evaluate({**facts, "distinct(country)[86400s]": 2}, {}) is None


def test_a_reason_without_named_leaves_quotes_the_dollar_amount() -> None:
    c = compiled(
        custom("in_cities", {"field": "city", "op": "in", "value": ["Paris", "Lyon"]}, explain="in {city}")
    )
    facts = event_facts(EVENT, c.rates)
    assert c.rules[0].evaluate(facts, {}) == Reason("in_cities", facts["amount_usd"], "", "in Paris")
    named = compiled(
        custom(
            "in_cities", {"field": "city", "op": "in", "value": ["Paris", "Lyon"], "as": "where"}, explain="x"
        )
    )
    assert named.rules[0].evaluate(facts, {}) == Reason("in_cities", "Paris", "Paris, Lyon", "x")
    listed = compiled(
        custom(
            "denied", {"field": "card_id", "op": "in_list", "list": "deny", "as": "card"}, explain="{card}"
        )
    )
    assert listed.rules[0].evaluate(facts, {"deny": {"card_1": 0}}) == Reason(
        "denied", "card_1", "deny", "card_1"
    )


def test_explanations_never_run_format_on_user_text() -> None:
    c = compiled(custom("odd_text", explain="{{amount.__class__}} {{0}} {amount_usd} %s {{}}"))
    facts = {**event_facts(EVENT, c.rates), "amount_usd": 2000.0}
    reason = c.rules[0].evaluate(facts, {})
    assert reason is not None and reason.text == "{amount.__class__} {0} $2,000.00 %s {}"


def test_all_and_any_of_many_items() -> None:
    leaves = [{"field": "hour", "op": "ne", "value": h} for h in range(6)]
    c = compiled(
        custom("all_six", {"all": leaves}, explain="x"), custom("any_six", {"any": leaves}, explain="y")
    )
    facts = event_facts(EVENT, c.rates)
    assert [r.rule for r in c.evaluate({**facts, "hour": 23}, {})] == ["all_six", "any_six"]
    assert [r.rule for r in c.evaluate({**facts, "hour": 3}, {})] == ["any_six"]


def test_list_membership_and_expiry() -> None:
    lists = {"deny": {"a": 0, "b": 1000}}
    assert is_member(lists, "deny", "a", 10**15)
    assert is_member(lists, "deny", "b", 999) and not is_member(lists, "deny", "b", 1000)
    assert not is_member(lists, "deny", "c", 0) and not is_member(lists, "other", "a", 0)


def test_suppressions_name_the_silenced_rules() -> None:
    c = compiled(
        custom("big_one"),
        suppressions=[
            {"list": "vip", "field": "account_id", "rules": ["big_one", "velocity"]},
            {"list": "vip_merchants", "field": "merchant_id", "rules": ["high_amount"]},
            {"list": "snoozed", "field": "card_id", "rules": ["*"]},
        ],
    )
    facts = event_facts(EVENT, c.rates)
    assert suppressed_rules(c, facts, {}) == frozenset()
    assert suppressed_rules(c, facts, {"vip": {"acct_1": 0}, "vip_merchants": {"m_1": 0}}) == {
        "big_one",
        "velocity",
        "high_amount",
    }
    assert (
        suppressed_rules(c, facts, {"vip": {"acct_1": 0}, "snoozed": {"card_1": facts["ts_ms"] + 1}}) is ALL
    )
    assert suppressed_rules(c, facts, {"snoozed": {"card_1": facts["ts_ms"]}}) == frozenset()  # expired
    cfg = parse_document(
        doc(custom("big_one"), suppressions=[{"list": "snoozed", "field": "card_id", "rules": ["*"]}])
    )
    assert suppressed_rules(cfg, facts, {"snoozed": {"card_1": 0}}) is ALL  # a RulesConfig works too
