"""Section: alerts out — bridge throughput publishing every alert to Kafka vs the same bridge without.

Two streams, each produced once: a quiet one (no fraud scenarios) and an alert storm (the rules
section's mix, >= 30 % of events alerting). Per repetition, side by side on the same topic and in
alternating order: `python -m bridge` (publishes and flushes each batch's alerts before its Redis
commit) and `python -m bench.bridge_baseline` (the same bridge, alerts never leave Redis). The cost
is 1 - published / baseline, per repetition; CPU per event is reported too (steadier under other
people's load than wall-clock rates).
"""

from __future__ import annotations

import logging
from typing import Any

from bench import publish_cost
from bench.bridge_run import start_bridges, wait_processed, write_rules
from bench.docs_out import alerts_out_table
from bench.sec_rules import STORM, STORM_RATIO, load_stream
from bench.stack import Context, cpu_seconds, machine_note, stop
from bench.stats import ratios, summarize, window_rate

logger = logging.getLogger(__name__)
VARIANTS = {"published": "bridge", "baseline": "bench.bridge_baseline"}


def _alerts_on_topic(ctx: Context, topic: str) -> int:
    """Records in an alerts topic (sum of its partitions' end offsets)."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=ctx.bootstrap, enable_auto_commit=False)
    try:
        parts = consumer.partitions_for_topic(topic) or set()
        return int(sum(consumer.end_offsets([TopicPartition(topic, p) for p in parts]).values()))
    finally:
        consumer.close()


def _bridge(ctx: Context, topic: str, total: int, variant: str, tag: str) -> dict[str, Any]:
    """One bridge over the topic: steady events/s, CPU µs per event, alerts raised and published."""
    keys = ctx.new_keys(f"ao{tag}")
    write_rules(ctx, keys, ml=False)
    alerts_topic = ctx.new_topic(f"alerts-{tag}")  # a fresh topic: its size is this run's alerts
    procs = start_bridges(
        ctx, topic, keys, 1, f"ao-{tag}", module=VARIANTS[variant], KAFKA_ALERTS_TOPIC=alerts_topic
    )
    samples: list[tuple[float, int]] = []
    try:
        wait_processed(ctx, keys, procs, total, f"alerts-out run {tag}", samples)
        cpu_us = 1e6 * cpu_seconds(procs[0].pid) / total
        alerts = int(ctx.redis.hget(keys.totals, "alerts") or 0)
    finally:
        stop(procs)
        ctx.drop_prefix(keys)
    published = _alerts_on_topic(ctx, alerts_topic)
    if variant == "published" and published < alerts:
        raise RuntimeError(f"bench: {alerts} alerts in Redis but only {published} on {alerts_topic}")
    return {
        "eps": window_rate(samples, total, ctx.sizes.window_frac),
        "cpu_us": cpu_us,
        "alert_share": alerts / total,
        "published": published,
    }


def _stream(ctx: Context, name: str, topic: str, total: int) -> dict[str, Any]:
    runs: dict[str, list[dict[str, Any]]] = {v: [] for v in VARIANTS}
    for rep in range(ctx.sizes.reps):
        order = list(VARIANTS) if rep % 2 == 0 else list(reversed(VARIANTS))  # drift hits both alike
        for variant in order:
            runs[variant].append(_bridge(ctx, topic, total, variant, f"{name}-{variant}"))
        logger.info(
            "bench: alerts-out %s rep=%d %s",
            name,
            rep + 1,
            " ".join(f"{v}={r[-1]['eps']:.0f} ev/s {r[-1]['cpu_us']:.1f} µs" for v, r in runs.items()),
        )
    pub, base = runs["published"], runs["baseline"]
    eps_ratio = ratios([r["eps"] for r in pub], [r["eps"] for r in base])
    cpu_ratio = ratios([r["cpu_us"] for r in base], [r["cpu_us"] for r in pub])
    out: dict[str, Any] = {
        "events": total,
        "alert_share": summarize([r["alert_share"] for r in pub]),
        "ratio_published_vs_baseline_eps": summarize(eps_ratio),
        "throughput_cost": summarize([1 - x for x in eps_ratio]),
        # baseline CPU ÷ published CPU per event: the same cost, measured in CPU instead of wall time
        "cpu_ratio_baseline_vs_published": summarize(cpu_ratio),
        "cpu_cost": summarize([1 - x for x in cpu_ratio]),
    }
    for variant, rs in runs.items():
        out[variant] = {
            "bridge_eps": summarize([r["eps"] for r in rs]),
            "cpu_us_per_event": summarize([r["cpu_us"] for r in rs]),
            "alerts_on_topic": summarize([r["published"] for r in rs]),
        }
    return out


def run(ctx: Context) -> dict[str, Any]:
    """Quiet and storm streams; per stream, published and baseline side by side per repetition."""
    total = ctx.sizes.bridge_events // 2
    before = machine_note()
    quiet = load_stream(ctx, "ao-quiet", total, fraud_ratio=0.0)
    storm = load_stream(ctx, "ao-storm", total, fraud_ratio=STORM_RATIO, scenarios=STORM)
    return {
        "quiet": _stream(ctx, "quiet", quiet, total),
        "storm": _stream(ctx, "storm", storm, total),
        # publishing alone, without a bridge: what kafka-python's per-record path costs per alert
        "publish_only": publish_cost.measure(ctx),
        "machine": {"before": before, "after": machine_note()},
    }


table = alerts_out_table  # bench/docs.py splices sec_*.table(results)
