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
import time
from typing import Any

from bench.bridge_run import run_worker_full, start_bridges, wait_processed, write_rules
from bench.feed import make_producer
from bench.stack import Context, cpu_seconds, machine_note, stop
from bench.stats import ratios, summarize, window_rate
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


def _text(raw: Any) -> str:
    return raw.decode() if isinstance(raw, bytes) else str(raw)


def _bridge(
    ctx: Context, topic: str, total: int, custom: list[dict[str, Any]], tag: str, engine: str | None = None
) -> dict[str, Any]:
    """One bridge over the topic: steady events/s, CPU µs per event, alert share, engine status."""
    keys = ctx.new_keys(f"cr{tag}")
    publish_custom(ctx, keys, custom)
    env = {"BRIDGE_ENGINE": engine} if engine else {}
    procs = start_bridges(ctx, topic, keys, 1, f"cr-{tag}", **env)
    samples: list[tuple[float, int]] = []
    try:
        wait_processed(ctx, keys, procs, total, f"custom-rules run {tag}", samples)
        done = samples[-1][0]
        cpu_us = 1e6 * cpu_seconds(procs[0].pid) / total
        names: Any = ctx.redis.zrange(keys.bridges, 0, -1)
        beats = [keys.bridge(_text(b)) for b in names]
        until = time.monotonic() + 3.0  # a heartbeat after the last batch says which engine decided
        while time.monotonic() < until and not all(float(ctx.redis.hget(k, "ts") or 0) > done for k in beats):
            time.sleep(0.05)
        alerts = int(ctx.redis.hget(keys.totals, "alerts") or 0)
        engines = {_text(ctx.redis.hget(k, "engine")) for k in beats}
    finally:
        stop(procs)
        ctx.drop_prefix(keys)
    rate = window_rate(samples, total, ctx.sizes.window_frac)
    return {
        "eps": rate,
        "cpu_us": cpu_us,
        "alert_share": alerts / total,
        "engine": ", ".join(sorted(engines)),
    }


def _stream(ctx: Context, name: str, topic: str, total: int) -> dict[str, Any]:
    raw: list[float] = []
    raw_cpu: list[float] = []
    runs: dict[str, list[dict[str, Any]]] = {v: [] for v in VARIANTS}
    for rep in range(ctx.sizes.reps):
        samples, cpu_s = run_worker_full(ctx, "raw-consumer", topic, total, group=ctx.name(f"raw-{name}"))
        raw.append(window_rate(samples, total, ctx.sizes.window_frac))
        raw_cpu.append(1e6 * cpu_s / total)
        for variant, custom in VARIANTS.items():
            runs[variant].append(_bridge(ctx, topic, total, custom, f"{name}-{variant}", ENGINE.get(variant)))
        logger.info(
            "bench: rules %s rep=%d raw=%.0f %s ev/s",
            name,
            rep + 1,
            raw[-1],
            " ".join(f"{v}={r[-1]['eps']:.0f}" for v, r in runs.items()),
        )
    out: dict[str, Any] = {
        "events": total,
        "raw_consumer_eps": summarize(raw),
        "raw_consumer_cpu_us_per_event": summarize(raw_cpu),
    }
    for variant, rs in runs.items():
        eps = [r["eps"] for r in rs]
        out[variant] = {
            "bridge_eps": summarize(eps),
            "ratio_bridge_vs_raw": summarize(ratios(eps, raw)),
            "cpu_us_per_event": summarize([r["cpu_us"] for r in rs]),
            # CPU per event barely moves with other people's load, unlike wall-clock rates
            "cpu_ratio_raw_vs_bridge": summarize(ratios(raw_cpu, [r["cpu_us"] for r in rs])),
            "alert_share": summarize([r["alert_share"] for r in rs]),
            "engine": rs[-1]["engine"],
        }
    return out


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
