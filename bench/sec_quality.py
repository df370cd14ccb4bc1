"""Section 6: detection quality on the default scenario mix, and what ml_anomaly costs in throughput."""

from __future__ import annotations

import logging
from typing import Any

from bench.bridge_run import run_bridges
from bench.feed import cut_instances, dataset
from bench.stack import Context, machine_note
from bench.stats import ratios, summarize
from common.keys import RedisKeys
from producer import SCENARIOS

logger = logging.getLogger(__name__)


def _members(ctx: Context, key: str) -> set[str]:
    raw: set[bytes] = ctx.redis.smembers(key)  # type: ignore[assignment]
    return {m.decode() for m in raw}


def quality(ctx: Context, keys: RedisKeys, cut: set[str]) -> dict[str, Any]:
    """Per-scenario instance recall and overall event precision from the bridge's eval keys.

    Instances in `cut` (the dataset ends before their last event) are left out of recall.
    """
    raw: dict[bytes, bytes] = ctx.redis.hgetall(keys.eval_counts)  # type: ignore[assignment]
    counts = {k.decode(): int(v) for k, v in raw.items()}
    recall: dict[str, float] = {}
    instances: dict[str, int] = {}
    excluded: dict[str, int] = {}
    for scenario in SCENARIOS:
        seen = _members(ctx, keys.eval_instances(scenario))
        caught = _members(ctx, keys.eval_caught(scenario)) - cut
        instances[scenario] = len(seen - cut)
        excluded[scenario] = len(seen & cut)
        if seen - cut:
            recall[scenario] = len(caught) / len(seen - cut)
    alerted = {k.split(":", 1)[1]: v for k, v in counts.items() if k.startswith("alerted:")}
    all_alerted = sum(alerted.values())
    false_alerts = alerted.get("normal", 0)
    total_fraud = sum(v for k, v in counts.items() if k.startswith("events:") and k != "events:normal")
    return {
        "recall": recall,
        "instances": instances,
        "instances_cut_by_dataset_end": excluded,
        "event_precision": (all_alerted - false_alerts) / all_alerted if all_alerted else float("nan"),
        "event_recall": (all_alerted - false_alerts) / total_fraud if total_fraud else float("nan"),
        "alerts": all_alerted,
        "false_alerts": false_alerts,
    }


def run(ctx: Context) -> dict[str, Any]:
    """Interleave bridge runs with ml_anomaly off and on over the same topic."""
    sz = ctx.sizes
    topic = dataset(ctx, "bridge", sz.quality_events)
    cut = cut_instances(sz.quality_events)
    off, on = [], []
    q_off: dict[str, Any] = {}
    q_on: dict[str, Any] = {}
    precision_off, precision_on = [], []
    for rep in range(sz.reps):
        a = run_bridges(ctx, topic, sz.quality_events, ml=False, tag="q-off", keep=True)
        q_off = quality(ctx, a.keys, cut)
        ctx.drop_prefix(a.keys)
        b = run_bridges(ctx, topic, sz.quality_events, ml=True, tag="q-ml", keep=True)
        q_on = quality(ctx, b.keys, cut)
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
        "with_ml_anomaly": q_on,
        "event_precision": summarize(precision_off),
        "event_precision_ml": summarize(precision_on),
        "bridge_eps_ml_off": summarize(off),
        "bridge_eps_ml_on": summarize(on),
        "ratio_ml_on_vs_off": summarize(ratios(on, off)),
        "machine": machine_note(),
    }
