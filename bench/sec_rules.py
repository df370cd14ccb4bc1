"""Section: custom rules — bridge ÷ raw consumption with the default rules plus 10 custom rules.

Two streams, each produced once: a quiet one (no fraud scenarios: cards at home, event time moving
forward) and an alert storm (card-testing bots and high amounts, >= 30 % of events alerting). Per
repetition, side by side on the same topic: the raw kafka-python consumer, then one bridge with
the default rules alone, with 10 custom rules without per-card history (fields, hour, weekday,
derived features, lists), and with 10 of mixed kinds including two aggregates over the cs2 history.
The native engine evaluates all of them (aggregates since issue #15; before, it refused them and
Python decided every event); `engine` records which engine decided.
"""

from __future__ import annotations

import logging
from typing import Any

from bench.bridge_run import write_rules
from bench.feed import make_producer
from bench.stack import Context, machine_note
from bench.variants import Variant, measured_bridge, side_by_side
from common.keys import RedisKeys
from common.rulelang import to_document
from common.rules import default_rules
from dashapp.store.list_entries import EntryIn
from dashapp.store.lists import ListStore
from dashapp.store.rules_store import RulesStore

logger = logging.getLogger(__name__)
# The storm: card-testing bots, high amounts and unknown-location (compromised merchant) bursts;
# 37 % of its events alert with the default rules (checked with the pure engine, seed 11).
STORM = {"card_testing": 0.15, "high_amount": 0.45, "unknown_location": 0.4}
STORM_RATIO = 0.7


def _rule(rule_id: str, when: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": rule_id,
        "name": rule_id.replace("_", " "),
        "description": "bench rule",
        "enabled": True,
        "score": 0.6,
        "when": when,
        "explain": "{merchant_category} {amount}",
    }


def _fields(name: str, *leaves: dict[str, Any]) -> dict[str, Any]:
    return _rule(name, {"all": list(leaves)})


NATIVE = [  # fields, hour, weekday, derived features and lists: no per-card history
    _fields(
        "online_electronics",
        {"field": "channel", "op": "eq", "value": "online"},
        {"field": "merchant_category", "op": "in", "value": ["electronics", "digital_goods"]},
        {"field": "amount_usd", "op": "gt", "value": 1500},
    ),
    _fields(
        "night_cash",
        {"field": "hour", "op": "between", "value": [1, 4]},
        {"field": "channel", "op": "eq", "value": "atm"},
        {"field": "amount_usd", "op": "ge", "value": 900},
    ),
    _fields(
        "weekend_jewelry",
        {"field": "weekday", "op": "in", "value": ["sat", "sun"]},
        {"field": "merchant_category", "op": "starts_with", "value": "jewel"},
    ),
    _rule(
        "far_and_quick",
        {
            "all": [
                {"feature": "distance_km", "op": "ge", "value": 2000},
                {"feature": "since_prev_s", "op": "lt", "value": 1800},
            ]
        },
    ),
    _rule(
        "spend_jump",
        {
            "all": [
                {"feature": "amount_ratio", "op": "ge", "value": 25},
                {"field": "amount_usd", "op": "gt", "value": 500},
            ]
        },
    ),
    _rule("supersonic", {"feature": "speed_kmh", "op": "gt", "value": 2000}),
    _rule("deny_merchant", {"field": "merchant_id", "op": "in_list", "list": "deny_merchants"}),
    _fields(
        "big_abroad",
        {"field": "country", "op": "not_in_list", "list": "home_countries"},
        {"field": "amount_usd", "op": "gt", "value": 4000},
    ),
    _fields(
        "odd_currency",
        {"not": {"field": "currency", "op": "in", "value": ["USD", "EUR", "GBP", "JPY"]}},
        {"field": "amount_usd", "op": "gt", "value": 4500},
    ),
    _fields(
        "round_thousands",
        {"field": "amount", "op": "in", "value": [1000, 2000, 3000, 5000]},
        {"field": "channel", "op": "ne", "value": "pos"},
    ),
]
AGGREGATES = [
    _rule(
        "many_countries",
        {
            "all": [
                {"agg": "distinct", "of": "country", "window": "24h", "op": "ge", "value": 4},
                {"field": "channel", "op": "eq", "value": "online"},
            ]
        },
    ),
    _rule("hourly_total", {"agg": "sum", "of": "amount_usd", "window": "1h", "op": "gt", "value": 20000}),
]
MIXED = [*NATIVE[:8], *AGGREGATES]  # field-only, derived, list and aggregate rules
VARIANTS = {"default": [], "native10": NATIVE, "mixed10": MIXED, "mixed10_python": MIXED}
# The same mixed rules with BRIDGE_ENGINE=python, side by side: what the native engine saves on them
ENGINE = {"mixed10_python": "python"}


def load_stream(ctx: Context, topic_name: str, count: int, **kw: Any) -> str:
    """Produce `count` generated events to a new topic (not measured)."""
    from producer import Generator, World

    topic = ctx.new_topic(topic_name)
    prod: Any = make_producer(ctx.bootstrap)
    try:
        for ev in Generator(World.build(11), 11, **kw).take(count):
            prod.send(topic, value=ev.value, key=ev.key, headers=ev.headers)
        prod.flush(timeout=ctx.sizes.timeout_s)
    finally:
        prod.close(timeout=10)
    return topic


def publish_custom(ctx: Context, keys: RedisKeys, custom: list[dict[str, Any]]) -> None:
    """The default rules plus `custom`, with the lists they use, published under `keys`."""
    write_rules(ctx, keys, ml=False)
    lists = ListStore(ctx.redis, keys)
    lists.put("deny_merchants", [EntryIn(f"MX-{i:05d}") for i in range(1_000)], "bench")
    lists.put("home_countries", [EntryIn(c) for c in ("US", "GB", "DE", "FR", "IT", "ES", "JP")], "bench")
    doc = to_document(default_rules())
    doc["rules"].extend(custom)
    RulesStore(ctx.redis, keys).publish(doc, "bench", "bench custom rules")


def _stream(ctx: Context, name: str, topic: str, total: int) -> dict[str, Any]:
    def variant(custom: list[dict[str, Any]], engine: str | None) -> Variant:
        def one(tag: str) -> dict[str, Any]:
            keys = ctx.new_keys(f"cr{tag}")
            publish_custom(ctx, keys, custom)
            return measured_bridge(
                ctx, topic, total, keys, f"cr-{tag}", env={"BRIDGE_ENGINE": engine} if engine else None
            )

        return one

    variants = {v: variant(custom, ENGINE.get(v)) for v, custom in VARIANTS.items()}
    return side_by_side(ctx, f"rules-{name}", topic, total, variants)[0]


def run(ctx: Context) -> dict[str, Any]:
    """Quiet and storm streams; per stream, raw and the rule-set variants side by side per repetition."""
    total = ctx.sizes.bridge_events // 2
    before = machine_note()
    quiet = load_stream(ctx, "rules-quiet", total, fraud_ratio=0.0)
    storm = load_stream(ctx, "rules-storm", total, fraud_ratio=STORM_RATIO, scenarios=STORM)
    return {
        "custom_rules": {v: [r["id"] for r in c] for v, c in VARIANTS.items() if c},
        "quiet": _stream(ctx, "quiet", quiet, total),
        "storm": _stream(ctx, "storm", storm, total),
        "machine": {"before": before, "after": machine_note()},
    }


LABELS = {
    "default": "default rules",
    "native10": "+ 10 field / feature rules",
    "mixed10": "+ 10 mixed rules (2 aggregates)",
    "mixed10_python": "+ the same 10, `BRIDGE_ENGINE=python`",
}


def table(results: dict[str, Any]) -> str:
    """docs/native-rules.md's figures (spliced by bench/docs.py): per stream, each rule set beside raw."""
    from bench.report import fmt

    r = results.get("rules")
    if not r:
        return "(no rules figures yet: `python -m bench run --only rules`)"
    meta = results.get("meta", {})
    when = meta.get("section_dates", {}).get("rules") or meta.get("date", "?")
    rows = [
        "| stream | rule set | bridge ÷ raw (ev/s) | CPU µs per event | CPU: raw ÷ bridge | alerting "
        "| engine |",
        "|---|---|---|---|---|---|---|",
    ]
    for key, label in (("quiet", "quiet"), ("storm", "alert storm")):
        s = r[key]
        for variant, name in LABELS.items():
            v = s.get(variant)
            if not v:
                continue
            rows.append(
                f"| {label} | {name} | {fmt(v['ratio_bridge_vs_raw'], 2)} | {fmt(v['cpu_us_per_event'], 1)} "
                f"| {fmt(v.get('cpu_ratio_raw_vs_bridge'), 2)} | {fmt(v['alert_share'], 4)} | {v['engine']} |"
            )
    q, st = r["quiet"], r["storm"]
    note = (
        f"Median (min to max) of {q['raw_consumer_eps']['n']} repetitions ({when}, {meta.get('cpus', '?')} "
        f"shared cores); {q['events']:,} events per stream. Raw kafka-python consumption: quiet "
        f"{fmt(q['raw_consumer_eps'])} ev/s, {fmt(q['raw_consumer_cpu_us_per_event'], 1)} µs of CPU per "
        f"event; storm {fmt(st['raw_consumer_eps'])} ev/s, {fmt(st['raw_consumer_cpu_us_per_event'], 1)} µs."
    )
    return "\n".join([note, "", *rows])
