"""Section 6: detection quality on the default mix (long run and fresh start), and what ml_anomaly costs."""

from __future__ import annotations

import logging
from typing import Any

from bench.bridge_run import run_bridges
from bench.feed import dataset
from bench.fresh_quality import FRESH_EVENTS, fresh_precision
from bench.stack import Context, machine_note
from bench.stats import ratios, summarize
from common.keys import RedisKeys
from producer import SCENARIOS

logger = logging.getLogger(__name__)


def _counts(ctx: Context, keys: RedisKeys) -> dict[str, int]:
    raw: dict[bytes, bytes] = ctx.redis.hgetall(keys.eval_counts)  # type: ignore[assignment]
    return {k.decode(): int(v) for k, v in raw.items()}


def quality(ctx: Context, keys: RedisKeys) -> dict[str, Any]:
    """Per-scenario instance recall over finished instances and overall event precision.

    An instance is finished once the bridge processed its last event (the producer marks it);
    those the dataset cuts off before their last event stay in progress and out of recall.
    """
    counts = _counts(ctx, keys)
    recall: dict[str, float] = {}
    instances: dict[str, int] = {}
    in_progress: dict[str, int] = {}
    for scenario in SCENARIOS:
        finished = counts.get(f"finished:{scenario}", 0)
        caught = counts.get(f"finished_caught:{scenario}", 0)
        instances[scenario] = finished
        in_progress[scenario] = int(ctx.redis.scard(keys.eval_instances(scenario)))
        if finished:
            recall[scenario] = caught / finished
    alerted = {k.split(":", 1)[1]: v for k, v in counts.items() if k.startswith("alerted:")}
    all_alerted = sum(alerted.values())
    false_alerts = alerted.get("normal", 0)
    total_fraud = sum(v for k, v in counts.items() if k.startswith("events:") and k != "events:normal")
    return {
        "recall": recall,
        "instances": instances,
        "instances_in_progress_at_end": in_progress,
        "event_precision": (all_alerted - false_alerts) / all_alerted if all_alerted else float("nan"),
        "event_recall": (all_alerted - false_alerts) / total_fraud if total_fraud else float("nan"),
        "alerts": all_alerted,
        "false_alerts": false_alerts,
        "false_alerts_by_rule": {k[3:]: v for k, v in counts.items() if k.startswith("fp:")},
    }


def fresh_run(ctx: Context) -> dict[str, Any]:
    """A fresh start: the first events of a fresh producer through a bridge on an empty prefix,
    and (pure engine) the first events of many fresh `make run` streams."""
    count = min(FRESH_EVENTS, ctx.sizes.quality_events)
    topic = dataset(ctx, "fresh", count)
    run = run_bridges(ctx, topic, count, ml=False, tag="q-fresh", keep=True)
    bridge = quality(ctx, run.keys)
    ctx.drop_prefix(run.keys)
    engine = fresh_precision(count)
    logger.info(
        "bench: fresh run precision bridge=%.3f engine worst=%.3f over %d seeds",
        bridge["event_precision"],
        engine["worst_run_precision"],
        engine["seeds"],
    )
    return {"bridge": bridge, "engine": engine}


def run(ctx: Context) -> dict[str, Any]:
    """Interleave bridge runs with ml_anomaly off and on over the same topic."""
    sz = ctx.sizes
    topic = dataset(ctx, "bridge", sz.quality_events)
    off, on = [], []
    q_off: dict[str, Any] = {}
    q_on: dict[str, Any] = {}
    precision_off, precision_on = [], []
    for rep in range(sz.reps):
        a = run_bridges(ctx, topic, sz.quality_events, ml=False, tag="q-off", keep=True)
        q_off = quality(ctx, a.keys)
        ctx.drop_prefix(a.keys)
        b = run_bridges(ctx, topic, sz.quality_events, ml=True, tag="q-ml", keep=True)
        q_on = quality(ctx, b.keys)
        ctx.drop_prefix(b.keys)
        off.append(a.rate)
        on.append(b.rate)
        precision_off.append(q_off["event_precision"])
        precision_on.append(q_on["event_precision"])
        logger.info(
            "bench: quality rep=%d off=%.0f ml=%.0f ev/s precision=%.3f",
            rep + 1,
            off[-1],
            on[-1],
            q_off["event_precision"],
        )
    # The data and the detector are deterministic, so recall is identical in every repetition.
    return {
        "events": sz.quality_events,
        "default_rules": q_off,
        "fresh_run": fresh_run(ctx),
        "with_ml_anomaly": q_on,
        "event_precision": summarize(precision_off),
        "event_precision_ml": summarize(precision_on),
        "bridge_eps_ml_off": summarize(off),
        "bridge_eps_ml_on": summarize(on),
        "ratio_ml_on_vs_off": summarize(ratios(on, off)),
        "machine": machine_note(),
    }
