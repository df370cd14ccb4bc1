"""Section: webhooks — bridge throughput with the notifier delivering to a receiver that is down vs none.

The issue's target: a webhook receiver down (here: for the whole run, connection refused) costs the
bridge nothing, because delivery runs in its own process reading the alerts topic. One alert-storm
stream (>= 30 % of events alerting, so every run has tens of thousands of deliveries to retry);
per repetition, side by side and in alternating order: the bridge alone, and the bridge with
`python -m notifier` running with one endpoint subscribed to every alert at a closed port. Reported:
the bridge's events/s and CPU µs per event, their ratios, and the notifier's failed attempts (proof
that it was retrying meanwhile).

`python -m bench.sec_webhooks [--reps N]` runs only this section and writes bench/out/webhooks.json.
"""

from __future__ import annotations

import argparse
import json
import logging
import socket
from typing import Any

from bench.bridge_run import start_bridges, wait_processed, write_rules
from bench.sec_rules import STORM, STORM_RATIO, load_stream
from bench.stack import Context, cpu_seconds, ensure_services, machine_note, spawn, stop, wait_until
from bench.stats import ratios, summarize, window_rate
from common.webhook_log import DeliveryLog
from common.webhooks import EndpointStore

logger = logging.getLogger(__name__)
VARIANTS = ("alone", "notifier_down")


def _closed_port() -> int:
    """A local port nobody listens on (bound, then released): every attempt is refused."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _bridge(ctx: Context, topic: str, total: int, variant: str, tag: str) -> dict[str, Any]:
    keys = ctx.new_keys(f"wh{tag}")
    write_rules(ctx, keys, ml=False)
    alerts_topic = ctx.new_topic(f"alerts-{tag}")
    notifier_keys = ctx.new_keys(f"whn{tag}")
    notifier = []
    if variant == "notifier_down":
        EndpointStore(ctx.redis, notifier_keys).create(
            {"name": "down", "url": f"http://127.0.0.1:{_closed_port()}/hook", "min_severity": "low"}, "bench"
        )
        env = ctx.env(
            KAFKA_ALERTS_TOPIC=alerts_topic,
            KAFKA_ALERT_EVENTS_TOPIC="",
            REDIS_KEY_PREFIX=notifier_keys.prefix,
            NOTIFIER_GROUP_ID=ctx.name("notifier"),
        )
        notifier = [spawn(["-m", "notifier"], env, ctx.out_dir / "logs" / f"notifier-{tag}.log")]
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
    for rep in range(ctx.sizes.reps):
        order = list(VARIANTS) if rep % 2 == 0 else list(reversed(VARIANTS))
        for variant in order:
            runs[variant].append(_bridge(ctx, topic, total, variant, f"{variant}-{rep}"))
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
        }
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
