"""Section: webhooks — bridge throughput with the notifier delivering to a receiver that is down vs none.

The issue's target: a webhook receiver down (here: for the whole run, connection refused) costs the
bridge nothing, because delivery runs in its own process reading the alerts topic. One alert-storm
stream (>= 30 % of events alerting, so every run has tens of thousands of deliveries to retry);
per repetition, side by side and in alternating order: the bridge alone, and the bridge with
`python -m notifier` running with one endpoint subscribed to every alert at a closed port. Reported:
the bridge's events/s and CPU µs per event, their ratios, and the notifier's failed attempts (proof
that it was retrying meanwhile); then the end-to-end latency (record time -> row in Redis) at
1,000 ev/s of the default mix, alone and with the notifier retrying every alert the same way.

`python -m bench.sec_webhooks [--reps N]` runs only this section and writes bench/out/webhooks.json.
"""

from __future__ import annotations

import argparse
import json
import logging
import socket
import time
from typing import Any

from bench.bridge_run import processed, start_bridges, wait_processed, write_rules
from bench.sec_latency import StreamWatcher, banner_probes
from bench.sec_rules import STORM, STORM_RATIO, load_stream
from bench.stack import Context, cpu_seconds, ensure_services, machine_note, spawn, stop, wait_until
from bench.stats import latency_summary, ratios, summarize, window_rate
from common.keys import RedisKeys
from common.webhook_log import DeliveryLog
from common.webhooks import EndpointStore

logger = logging.getLogger(__name__)
VARIANTS = ("alone", "notifier_down")
LATENCY_RATE = 1_000  # ev/s, the rate of the README's latency headline


def _closed_port() -> int:
    """A local port nobody listens on (bound, then released): every attempt is refused."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _notifier(ctx: Context, variant: str, alerts_topic: str, keys: RedisKeys, tag: str) -> list[Any]:
    """For `notifier_down`: a notifier on the run's alerts topic, every alert to a closed port."""
    if variant != "notifier_down":
        return []
    EndpointStore(ctx.redis, keys).create(
        {"name": "down", "url": f"http://127.0.0.1:{_closed_port()}/hook", "min_severity": "low"}, "bench"
    )
    env = ctx.env(
        KAFKA_ALERTS_TOPIC=alerts_topic,
        KAFKA_ALERT_EVENTS_TOPIC="",
        REDIS_KEY_PREFIX=keys.prefix,
        NOTIFIER_GROUP_ID=ctx.name("notifier"),
    )
    return [spawn(["-m", "notifier"], env, ctx.out_dir / "logs" / f"notifier-{tag}.log")]


def _latency(ctx: Context, variant: str, rep: int) -> dict[str, float]:
    """End-to-end latency (record time -> row in Redis) at LATENCY_RATE ev/s of the default mix."""
    tag = f"{variant}-{rep}"
    topic, keys, notifier_keys = (
        ctx.new_topic(f"whlat-{tag}"),
        ctx.new_keys(f"whl{tag}"),
        ctx.new_keys(f"whln{tag}"),
    )
    alerts_topic = ctx.new_topic(f"alerts-lat-{tag}")
    write_rules(ctx, keys, ml=False)
    notifier = _notifier(ctx, variant, alerts_topic, notifier_keys, f"lat-{tag}")
    bridges = start_bridges(ctx, topic, keys, 1, f"whlat-{tag}", KAFKA_ALERTS_TOPIC=alerts_topic)
    watcher = StreamWatcher(ctx.redis_url, keys)
    producer = None
    count = int(LATENCY_RATE * ctx.sizes.latency_duration_s)
    try:
        banner_probes(ctx, topic, keys, 1, 0)  # warm-up: the bridge has joined and written once
        if notifier:  # ... and the notifier has started, joined and tried the warm-up alert
            log = DeliveryLog(ctx.redis, notifier_keys)
            wait_until(lambda: log.stats().get("failed_attempts", 0), 60, "the notifier's first attempt")
        watcher.mark()
        watcher.start()
        args = [
            "-m",
            "producer",
            "--rate",
            str(LATENCY_RATE),
            "--count",
            str(count),
            "--seed",
            str(200 + rep),
        ]
        args += ["--bootstrap-servers", ctx.bootstrap, "--topic", topic, "--log-level", "WARNING"]
        producer = spawn(args, ctx.env(), ctx.out_dir / "logs" / f"producer-whlat-{tag}.log")
        producer.wait(timeout=ctx.sizes.timeout_s)
        wait_until(lambda: processed(ctx, keys) >= count + 1, 60, f"webhooks latency run {tag}")
        time.sleep(0.3)
    finally:
        watcher.done.set()
        stop([p for p in (producer, *bridges, *notifier) if p is not None])
        if watcher.is_alive():
            watcher.join(timeout=5)
        ctx.drop_prefix(keys)
        ctx.drop_prefix(notifier_keys)
    return latency_summary(watcher.samples)


def _bridge(ctx: Context, topic: str, total: int, variant: str, tag: str) -> dict[str, Any]:
    keys = ctx.new_keys(f"wh{tag}")
    write_rules(ctx, keys, ml=False)
    alerts_topic = ctx.new_topic(f"alerts-{tag}")
    notifier_keys = ctx.new_keys(f"whn{tag}")
    notifier = _notifier(ctx, variant, alerts_topic, notifier_keys, tag)
    procs = start_bridges(ctx, topic, keys, 1, f"wh-{tag}", KAFKA_ALERTS_TOPIC=alerts_topic)
    samples: list[tuple[float, int]] = []
    try:
        wait_processed(ctx, keys, procs, total, f"webhooks run {tag}", samples)
        cpu_us = 1e6 * cpu_seconds(procs[0].pid) / total
        notifier_cpu_us = 1e6 * cpu_seconds(notifier[0].pid) / total if notifier else 0.0
        alerts = int(ctx.redis.hget(keys.totals, "alerts") or 0)
        log = DeliveryLog(ctx.redis, notifier_keys)
        if notifier:  # not measured: proof that it was at work (a short run can end before its first try)
            wait_until(lambda: log.stats().get("failed_attempts", 0), 60, "the notifier's first attempt")
        failed = log.stats().get("failed_attempts", 0)
    finally:
        stop(procs + notifier)
        ctx.drop_prefix(keys)
        ctx.drop_prefix(notifier_keys)
    return {
        "eps": window_rate(samples, total, ctx.sizes.window_frac),
        "cpu_us": cpu_us,
        "alert_share": alerts / total,
        "failed_attempts": failed,
        "notifier_cpu_us": notifier_cpu_us,
    }


def run(ctx: Context) -> dict[str, Any]:
    """The storm stream; per repetition the bridge alone and with a notifier retrying, side by side."""
    total = ctx.sizes.bridge_events // 2
    before = machine_note()
    topic = load_stream(ctx, "wh-storm", total, fraud_ratio=STORM_RATIO, scenarios=STORM)
    runs: dict[str, list[dict[str, Any]]] = {v: [] for v in VARIANTS}
    latency: dict[str, list[dict[str, float]]] = {v: [] for v in VARIANTS}
    for rep in range(ctx.sizes.reps):
        order = list(VARIANTS) if rep % 2 == 0 else list(reversed(VARIANTS))
        for variant in order:
            runs[variant].append(_bridge(ctx, topic, total, variant, f"{variant}-{rep}"))
            latency[variant].append(_latency(ctx, variant, rep))
        logger.info(
            "bench: webhooks rep=%d %s",
            rep + 1,
            " ".join(f"{v}={r[-1]['eps']:.0f} ev/s {r[-1]['cpu_us']:.1f} µs" for v, r in runs.items()),
        )
    alone, down = runs["alone"], runs["notifier_down"]
    out: dict[str, Any] = {
        "events": total,
        "alert_share": summarize([r["alert_share"] for r in alone]),
        "ratio_notifier_down_vs_alone_eps": summarize(
            ratios([r["eps"] for r in down], [r["eps"] for r in alone])
        ),
        "cpu_ratio_alone_vs_notifier_down": summarize(
            ratios([r["cpu_us"] for r in alone], [r["cpu_us"] for r in down])
        ),
        "notifier_failed_attempts": summarize([r["failed_attempts"] for r in down]),
        "notifier_cpu_us_per_event": summarize([r["notifier_cpu_us"] for r in down]),
        "machine": {"before": before, "after": machine_note()},
    }
    for variant, rs in runs.items():
        out[variant] = {
            "bridge_eps": summarize([r["eps"] for r in rs]),
            "cpu_us_per_event": summarize([r["cpu_us"] for r in rs]),
            **{f"latency_{k}_ms": summarize([s[k] for s in latency[variant]]) for k in ("p50", "p99", "max")},
        }
    out["latency_rate"] = LATENCY_RATE
    return out


def main() -> None:
    from bench.config import sizes_for

    parser = argparse.ArgumentParser(prog="python -m bench.sec_webhooks", description=__doc__)
    parser.add_argument("--reps", type=int, default=None)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("kafka").setLevel(logging.ERROR)
    bootstrap, redis_url, _started = ensure_services()
    ctx = Context(sizes_for(False, args.reps), False, bootstrap, redis_url)
    try:
        result = run(ctx)
    finally:
        ctx.close()
    path = ctx.out_dir / "webhooks.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n")
    logger.info("bench: wrote %s", path)


if __name__ == "__main__":
    main()
