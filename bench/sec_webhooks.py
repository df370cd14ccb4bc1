"""Section: webhooks — a receiver down for 30 s, then up: deliveries lost, bridge throughput, latency.

The issue's target: a webhook receiver down for 30 s loses no delivery and leaves the bridge's
throughput and end-to-end latency unchanged within noise, because delivery runs in its own process
reading the alerts topic. Per repetition, side by side in rotating order, three variants:
- `alone`: the bridge on an alert-storm stream (>= 30 % of events alerting), then a second bridge
  at 1,000 ev/s of the default mix for the end-to-end latency (record time -> row in Redis);
- `notifier_outage`: the same two phases with `python -m notifier` running, one endpoint subscribed
  to every alert, whose receiver refuses connections for OUTAGE_S seconds from the notifier's
  first attempt and answers 200 after. The storm phase runs while the receiver is down, the latency
  phase starts when it comes up (the notifier's catch-up). Both bridges publish to one alerts
  topic; then the section waits until the notifier has delivered, and counts the alert ids on the
  topic that never reached the receiver (lost);
- `notifier_outage_nice0`: the same with the notifier not niced (NOTIFIER_NICE=0), what the
  notifier's lower CPU priority buys.
Each phase starts once Redis has freed the previous run's keys (Context.settle).
The retry cap is NOTIFIER_BACKOFF_MAX_S=10 (default 60) so the catch-up after the outage is short.

`python -m bench run --only webhooks` writes `webhooks` into bench/results.json; docs/webhooks.md
shows bench/docs_out.py's `webhooks_table()` of it.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from bench.bridge_run import processed, start_bridges, wait_processed, write_rules
from bench.docs_out import webhooks_table
from bench.sec_latency import StreamWatcher, banner_probes
from bench.sec_rules import STORM, STORM_RATIO, load_stream
from bench.stack import Context, cpu_seconds, machine_note, spawn, stop, wait_until
from bench.stats import latency_summary, ratios, summarize, window_rate
from bench.webhook_receiver import OutageReceiver
from common.webhook_log import DeliveryLog
from common.webhooks import EndpointStore

logger = logging.getLogger(__name__)
# the last one: the same notifier not niced (NOTIFIER_NICE=0), what the notifier's CPU priority buys
VARIANTS = ("alone", "notifier_outage", "notifier_outage_nice0")
LATENCY_RATE = 1_000  # ev/s, the rate of the README's latency headline
OUTAGE_S, SMOKE_OUTAGE_S = 30.0, 3.0
DELIVERY_TIMEOUT_S = 300.0


class _Notifier:
    """A notifier on one alerts topic with one endpoint (every alert) at an OutageReceiver."""

    def __init__(self, ctx: Context, alerts_topic: str, tag: str, nice: str | None) -> None:
        self.keys = ctx.new_keys(f"whn{tag}")
        self.receiver = OutageReceiver()
        EndpointStore(ctx.redis, self.keys).create(
            {"name": "outage", "url": self.receiver.url, "min_severity": "low"}, "bench"
        )
        env = ctx.env(
            KAFKA_ALERTS_TOPIC=alerts_topic,
            KAFKA_ALERT_EVENTS_TOPIC="",
            REDIS_KEY_PREFIX=self.keys.prefix,
            NOTIFIER_GROUP_ID=ctx.name("notifier"),
            NOTIFIER_BACKOFF_MAX_S="10",
            **({"NOTIFIER_NICE": nice} if nice is not None else {}),  # None: the default
        )
        self.proc = spawn(["-m", "notifier"], env, ctx.out_dir / "logs" / f"notifier-{tag}.log")
        self.log = DeliveryLog(ctx.redis, self.keys)
        self.refused_at: float | None = None  # epoch seconds of the notifier's first failed attempt

    def outage(self, seconds: float) -> None:
        """Keep the receiver down `seconds` from the notifier's first refused attempt (run in a thread)."""
        try:
            wait_until(
                lambda: self.log.stats().get("failed_attempts", 0), 120, "the notifier's first attempt"
            )
        except TimeoutError:
            logger.error("bench: webhooks: the notifier never tried the receiver; it stays down")
            return
        self.refused_at = time.time()
        self.receiver.up_after(seconds)


def _topic_alert_ids(ctx: Context, topic: str) -> set[str]:
    """Every alert_id header on the topic (read from the start to the end offsets)."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=ctx.bootstrap, enable_auto_commit=False)
    ids: set[str] = set()
    try:
        parts = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        consumer.assign(parts)
        consumer.seek_to_beginning(*parts)
        end = consumer.end_offsets(parts)
        while any(consumer.position(tp) < end[tp] for tp in parts):
            for records in consumer.poll(timeout_ms=500).values():
                for rec in records:
                    ids.update(v.decode() for k, v in rec.headers if k == "alert_id")
    finally:
        consumer.close()
    return ids


def _throughput(ctx: Context, topic: str, total: int, alerts_topic: str, tag: str) -> dict[str, Any]:
    """The storm bridge: steady events/s, CPU µs per event, alert share."""
    keys = ctx.new_keys(f"wh{tag}")
    write_rules(ctx, keys, ml=False)
    procs = start_bridges(ctx, topic, keys, 1, f"wh-{tag}", KAFKA_ALERTS_TOPIC=alerts_topic)
    samples: list[tuple[float, int]] = []
    try:
        wait_processed(ctx, keys, procs, total, f"webhooks run {tag}", samples)
        cpu_us = 1e6 * cpu_seconds(procs[0].pid) / total
        alerts = int(ctx.redis.hget(keys.totals, "alerts") or 0)
    finally:
        stop(procs)
        ctx.drop_prefix(keys)
    return {
        "eps": window_rate(samples, total, ctx.sizes.window_frac),
        "cpu_us": cpu_us,
        "alert_share": alerts / total,
    }


def _latency(ctx: Context, alerts_topic: str, seed: int, tag: str) -> dict[str, float]:
    """End-to-end latency (record time -> row in Redis) at LATENCY_RATE ev/s of the default mix."""
    topic, keys = ctx.new_topic(f"whlat-{tag}"), ctx.new_keys(f"whl{tag}")
    write_rules(ctx, keys, ml=False)
    bridges = start_bridges(ctx, topic, keys, 1, f"whlat-{tag}", KAFKA_ALERTS_TOPIC=alerts_topic)
    watcher = StreamWatcher(ctx.redis_url, keys)
    producer = None
    count = int(LATENCY_RATE * ctx.sizes.latency_duration_s)
    try:
        banner_probes(ctx, topic, keys, 1, 0)  # warm-up: the bridge has joined and written once
        watcher.mark()
        watcher.start()
        args = ["-m", "producer", "--rate", str(LATENCY_RATE), "--count", str(count), "--seed", str(seed)]
        args += ["--bootstrap-servers", ctx.bootstrap, "--topic", topic, "--log-level", "WARNING"]
        producer = spawn(args, ctx.env(), ctx.out_dir / "logs" / f"producer-whlat-{tag}.log")
        producer.wait(timeout=ctx.sizes.timeout_s)
        wait_until(lambda: processed(ctx, keys) >= count + 1, 60, f"webhooks latency run {tag}")
        time.sleep(0.3)
    finally:
        watcher.done.set()
        stop([p for p in (producer, *bridges) if p is not None])
        if watcher.is_alive():
            watcher.join(timeout=5)
        ctx.drop_prefix(keys)
    return latency_summary(watcher.samples)


def _rep(ctx: Context, topic: str, total: int, variant: str, rep: int, outage_s: float) -> dict[str, Any]:
    """One variant of one repetition: storm throughput, then latency; with the notifier, the outage."""
    tag = f"{variant}-{rep}"
    alerts_topic = ctx.new_topic(f"alerts-{tag}")
    nice = "0" if variant.endswith("_nice0") else None
    notifier = _Notifier(ctx, alerts_topic, tag, nice) if variant.startswith("notifier_outage") else None
    try:
        t0 = time.time()
        if notifier:
            threading.Thread(target=notifier.outage, args=(outage_s,), daemon=True).start()
        ctx.settle()  # the last run's keys freed before this one is measured
        out = _throughput(ctx, topic, total, alerts_topic, tag)
        out["throughput_end_s"] = time.time() - t0
        # what the notifier took of the shared cores meanwhile (it started with the storm phase)
        out["notifier_cpu_storm_s"] = cpu_seconds(notifier.proc.pid) if notifier else 0.0
        out["bridge_cpu_storm_s"] = out["cpu_us"] * total / 1e6
        if notifier:  # the latency phase runs while the notifier catches up: its busiest time
            up = notifier.receiver
            wait_until(lambda: up.up_at is not None, outage_s + 130, "the receiver to come up")
        ctx.settle()
        out["latency"] = _latency(ctx, alerts_topic, 200 + rep, tag)
        out["latency_end_s"] = time.time() - t0
        if notifier:
            out |= _deliveries(ctx, notifier, alerts_topic, outage_s)
    finally:
        if notifier:
            stop([notifier.proc])
            notifier.receiver.close()
            ctx.drop_prefix(notifier.keys)
    return out


def _deliveries(ctx: Context, n: _Notifier, alerts_topic: str, outage_s: float) -> dict[str, Any]:
    """Wait for the receiver to be up and the notifier to deliver every alert id on the topic."""
    wait_until(lambda: n.receiver.up_at is not None, outage_s + 130, "the receiver to come up")
    t0 = n.refused_at or 0.0
    ids = _topic_alert_ids(ctx, alerts_topic)
    try:
        n.receiver.expect(ids)
        wait_until(lambda: n.receiver.missing() == 0, DELIVERY_TIMEOUT_S, "every alert delivered")
    except TimeoutError:
        logger.error("bench: webhooks: not every alert was delivered within %.0fs", DELIVERY_TIMEOUT_S)
    done = time.time()
    stats, received = n.log.stats(), n.receiver.received()
    return {
        "alerts_on_topic": len(ids),
        "delivered_ids": len(ids & received),
        "lost": len(ids - received),
        "requests": n.receiver.requests,
        "failed_attempts": stats.get("failed_attempts", 0),
        "dead": stats.get("dead", 0),
        "down_after_first_refusal_s": (n.receiver.up_at or t0) - t0,
        "all_delivered_s": done - t0,  # from the first refusal
    }


def run(ctx: Context) -> dict[str, Any]:
    """Per repetition, alone and with the notifier through an outage, side by side."""
    total = ctx.sizes.bridge_events // 4
    outage_s = SMOKE_OUTAGE_S if ctx.smoke else OUTAGE_S
    before = machine_note()
    topic = load_stream(ctx, "wh-storm", total, fraud_ratio=STORM_RATIO, scenarios=STORM)
    runs: dict[str, list[dict[str, Any]]] = {v: [] for v in VARIANTS}
    for rep in range(ctx.sizes.reps):
        # rotated: over len(VARIANTS) repetitions each variant runs first, middle and last once
        for variant in VARIANTS[rep % len(VARIANTS) :] + VARIANTS[: rep % len(VARIANTS)]:
            runs[variant].append(_rep(ctx, topic, total, variant, rep, outage_s))
        logger.info(
            "bench: webhooks rep=%d %s lost=%s",
            rep + 1,
            " ".join(
                f"{v}={r[-1]['eps']:.0f} ev/s p99={r[-1]['latency']['p99']:.0f} ms" for v, r in runs.items()
            ),
            runs["notifier_outage"][-1]["lost"],
        )
    alone, down, down0 = runs["alone"], runs["notifier_outage"], runs["notifier_outage_nice0"]
    out: dict[str, Any] = {
        "events": total,
        "outage_s": outage_s,
        "latency_rate": LATENCY_RATE,
        "alert_share": summarize([r["alert_share"] for r in alone]),
        "ratio_notifier_vs_alone_eps": summarize(ratios([r["eps"] for r in down], [r["eps"] for r in alone])),
        "ratio_notifier_nice0_vs_alone_eps": summarize(
            ratios([r["eps"] for r in down0], [r["eps"] for r in alone])
        ),
        "lost_nice0": summarize([r["lost"] for r in down0]),
        "cpu_ratio_alone_vs_notifier": summarize(
            ratios([r["cpu_us"] for r in alone], [r["cpu_us"] for r in down])
        ),
        "machine": {"before": before, "after": machine_note()},
    }
    measured = (
        *("alerts_on_topic", "lost", "dead", "failed_attempts", "requests", "all_delivered_s"),
        *("notifier_cpu_storm_s", "bridge_cpu_storm_s"),
    )
    for key in (*measured, "down_after_first_refusal_s"):
        out[key] = summarize([r[key] for r in down])
    for variant, rs in runs.items():
        out[variant] = {
            "bridge_eps": summarize([r["eps"] for r in rs]),
            "cpu_us_per_event": summarize([r["cpu_us"] for r in rs]),
            "throughput_end_s": summarize([r["throughput_end_s"] for r in rs]),
            "latency_end_s": summarize([r["latency_end_s"] for r in rs]),
            **{f"latency_{k}_ms": summarize([r["latency"][k] for r in rs]) for k in ("p50", "p99", "max")},
        }
    return out


table = webhooks_table  # bench/docs.py splices sec_*.table(results)
