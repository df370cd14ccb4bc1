"""Section: rule registry — rule, list and champion-model change propagation to a running bridge, list cost.

Propagation: a change is timed from the moment its MULTI returns (RulesStore.publish /
ListStore.add) to the bridge's log line saying it loaded it (same machine clock, ms resolution),
while the bridge consumes a live 1,000 ev/s producer stream. Throughput: the bridge on the
bridge section's dataset with a deny-list rule and a card suppression whose lists hold 100,000
entries each, against the same rules with both lists empty, side by side per repetition.
"""

from __future__ import annotations

import json
import logging
import random
import re
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from bench.bridge_run import processed, start_bridges, wait_processed, write_rules
from bench.feed import dataset
from bench.stack import Context, cpu_seconds, machine_note, spawn, stop
from bench.stats import latency_summary, ratios, summarize, window_rate
from common.keys import RedisKeys
from common.model_registry import CHAMPION
from common.rulelang import to_document
from common.rules import default_rules
from dashapp.store.list_entries import EntryIn
from dashapp.store.lists import ListStore
from dashapp.store.rules_store import RulesStore
from model.registry import ModelRegistry

logger = logging.getLogger(__name__)
CHANGES, SMOKE_CHANGES = 20, 3
BIG, SMOKE_BIG = 100_000, 2_000
STREAM_RATE = 1_000
_STAMP = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) ")
DENY_RULE: dict[str, Any] = {
    "id": "deny_merchant",
    "name": "Deny-listed merchant",
    "description": "The merchant is on the deny list.",
    "enabled": True,
    "score": 0.9,
    "when": {"field": "merchant_id", "op": "in_list", "list": "deny_merchants"},
    "explain": "merchant {merchant_id} is deny-listed",
}


def _document() -> dict[str, Any]:
    doc = to_document(default_rules())
    doc["rules"].append(DENY_RULE)
    doc["suppressions"] = [{"list": "snoozed_cards", "field": "card_id", "rules": ["*"]}]
    return doc


def _logged_at(log: Path, text: str, timeout_s: float, skip: int = 0) -> float:
    """Epoch seconds of the first bridge log line containing `text`, after `skip` such lines (waits)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        seen = 0
        for line in log.read_text(errors="replace").splitlines():
            found = _STAMP.match(line)
            if text in line and found:
                if seen == skip:
                    return datetime.strptime(found.group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp()
                seen += 1
        time.sleep(0.01)
    raise RuntimeError(f"bench: the bridge never logged {text!r} (see {log})")


def _setup_lists(ctx: Context, keys: RedisKeys, size: int) -> tuple[ListStore, RulesStore]:
    lists, rules = ListStore(ctx.redis, keys), RulesStore(ctx.redis, keys)
    lists.put("deny_merchants", [EntryIn(f"MX-{i:07d}") for i in range(size)], "bench")
    lists.put("snoozed_cards", [EntryIn(f"CX-{i:07d}") for i in range(size)], "bench")
    lists.put("small", [EntryIn(f"S-{i}") for i in range(10)], "bench")
    rules.publish(_document(), "bench", "deny list and suppression")
    return lists, rules


def _models(ctx: Context, keys: RedisKeys) -> tuple[ModelRegistry, list[str]]:
    """Two registered LightGBM models on the feature layout (random data: only loading is timed)."""
    import numpy as np

    from model.features import FeatureConfig
    from model.store import CARD_FILE, MODEL_FILE, save
    from model.train import fit_lightgbm

    config, registry, versions = FeatureConfig(), ModelRegistry(ctx.redis, keys), []
    for seed in (1, 2):
        rng = np.random.default_rng(seed)
        x = rng.normal(size=(5_000, len(config.names())))
        path = save(ctx.out_dir / "models" / f"{seed}", fit_lightgbm(x, x[:, 0] > 1.5), config, {})
        card = json.loads((path / CARD_FILE).read_text())
        versions.append(registry.register((path / MODEL_FILE).read_text(), card, "bench").version)
    return registry, versions


def _propagation(ctx: Context, changes: int, big: int) -> dict[str, Any]:
    keys = ctx.new_keys("regprop")
    topic = ctx.new_topic("registry")
    write_rules(ctx, keys, ml=False)
    lists, rules = _setup_lists(ctx, keys, big)
    models, versions = _models(ctx, keys)
    logs = ctx.out_dir / "logs"
    log = logs / "bridge-registry.log"
    log.unlink(missing_ok=True)  # spawn appends: an earlier run's lines would match
    env = ctx.env(KAFKA_TOPIC=topic, REDIS_KEY_PREFIX=keys.prefix)
    stream = ["-m", "producer", "--rate", str(STREAM_RATE), "--count", "0", "--topic", topic]
    procs = [spawn(stream, env, logs / "producer-registry.log")]
    bridge_env = {
        **env,
        "KAFKA_DLQ_TOPIC": ctx.dlq_topic(),
        "BRIDGE_GROUP_ID": ctx.name("grp-registry"),
        "LOG_LEVEL": "INFO",
    }
    procs.append(spawn(["-m", "bridge", "--metrics-port", "0"], bridge_env, log))
    found: dict[str, list[float]] = {
        "rule_change_ms": [],
        "small_list_change_ms": [],
        "big_list_change_ms": [],
        "model_champion_ms": [],
    }
    try:
        wait_until(ctx, lambda: processed(ctx, keys) > 0, "the bridge to process the stream")
        version = rules.current().version
        for i in range(changes):
            time.sleep(random.uniform(0.1, 0.4))  # de-phase from the bridge's poll cycle
            doc = _document()
            doc["alerting"]["min_score"] = 0.5 + (i % 2) * 0.01
            t0 = time.time()
            version = rules.publish(doc, "bench", f"change {i}").version
            found["rule_change_ms"].append(_logged_at(log, f"rules loaded version={version}", 30) - t0)
            for name, key in (("small", "small_list_change_ms"), ("deny_merchants", "big_list_change_ms")):
                time.sleep(random.uniform(0.1, 0.4))
                t0 = time.time()
                lists.add(name, [EntryIn(f"NEW-{i}")], "bench")
                counter = lists.version()
                found[key].append(_logged_at(log, f"lists loaded version={counter} ", 30) - t0)
            time.sleep(random.uniform(0.1, 0.4))
            champion = versions[i % 2]
            t0 = time.time()
            models.set_state(champion, CHAMPION, "bench", f"change {i}")
            # the log is read from the start: a version's earlier load lines must not match
            found["model_champion_ms"].append(
                _logged_at(log, f"champion model {champion} loaded", 30, i // 2) - t0
            )
    finally:
        stop(procs)
        ctx.drop_prefix(keys)
    return {
        name: latency_summary([1000 * s for s in values]) | {"unit": "ms"} for name, values in found.items()
    }


def wait_until(ctx: Context, check: Any, what: str) -> None:
    deadline = time.monotonic() + ctx.sizes.timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise RuntimeError(f"bench: timed out waiting for {what}")
        time.sleep(0.05)


def _throughput(ctx: Context, topic: str, total: int, size: int, tag: str) -> tuple[float, float, str]:
    """Events/s (steady window), CPU µs per event and the engine that decided, for one bridge."""
    keys = ctx.new_keys(f"reg{tag}")
    write_rules(ctx, keys, ml=False)
    _setup_lists(ctx, keys, size)
    procs = start_bridges(ctx, topic, keys, 1, f"reg-{tag}")
    samples: list[tuple[float, int]] = []
    try:
        wait_processed(ctx, keys, procs, total, f"registry run {tag}", samples)
        cpu_us = 1e6 * cpu_seconds(procs[0].pid) / total  # steadier than wall-clock rates under load
        engines = {str(_engine(ctx, keys, b)) for b in ctx.redis.zrange(keys.bridges, 0, -1)}
    finally:
        stop(procs)
        ctx.drop_prefix(keys)
    return window_rate(samples, total, ctx.sizes.window_frac), cpu_us, ", ".join(sorted(engines)) or "?"


def _engine(ctx: Context, keys: RedisKeys, instance: Any) -> str:
    """Which engine the bridge's heartbeat says decides (bridge.engines.Engines.status)."""
    name = instance.decode() if isinstance(instance, bytes) else str(instance)
    raw = ctx.redis.hget(keys.bridge(name), "engine")
    return raw.decode() if isinstance(raw, bytes) else "?"


def run(ctx: Context) -> dict[str, Any]:
    """Propagation p50/p99 over CHANGES changes of each kind, then list-size throughput side by side."""
    sz = ctx.sizes
    changes, big = (SMOKE_CHANGES, SMOKE_BIG) if ctx.smoke else (CHANGES, BIG)
    before = machine_note()
    propagation = _propagation(ctx, changes, big)
    topic = dataset(ctx, "bridge", sz.bridge_events)
    empty, full, cpu_empty, cpu_full, engine = [], [], [], [], ""
    for rep in range(sz.reps):
        rate_empty, cpu, engine = _throughput(ctx, topic, sz.bridge_events, 0, "empty")
        empty.append(rate_empty)
        cpu_empty.append(cpu)
        rate_full, cpu, _ = _throughput(ctx, topic, sz.bridge_events, big, "full")
        full.append(rate_full)
        cpu_full.append(cpu)
        logger.info(
            "bench: registry rep=%d lists empty=%.0f %d entries=%.0f ev/s",
            rep + 1,
            rate_empty,
            big,
            rate_full,
        )
    return {
        "changes": changes,
        "stream_eps": STREAM_RATE,
        "list_entries": big,
        "propagation": propagation,
        "bridge_lists_empty_eps": summarize(empty),
        "bridge_lists_full_eps": summarize(full),
        "ratio_full_vs_empty": summarize(ratios(full, empty)),
        "bridge_lists_empty_cpu_us_per_event": summarize(cpu_empty),
        "bridge_lists_full_cpu_us_per_event": summarize(cpu_full),
        "cpu_ratio_full_vs_empty": summarize(ratios(cpu_full, cpu_empty)),
        "engine": engine,
        "machine": {"before": before, "after": machine_note()},
    }
