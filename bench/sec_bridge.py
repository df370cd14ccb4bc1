"""Section 1: bridge throughput vs raw consumption, 1 vs 2 instances, and a naive per-event baseline."""

from __future__ import annotations

import logging
from typing import Any

from bench.bridge_run import run_bridges, run_worker, run_worker_full
from bench.feed import dataset
from bench.stack import Context, machine_note
from bench.stats import rate_series, ratios, summarize, window_rate

logger = logging.getLogger(__name__)


def run(ctx: Context) -> dict[str, Any]:
    """Interleave raw / bridge x1 / bridge x2 / naive per repetition on the same pre-produced topic."""
    sz = ctx.sizes
    topic = dataset(ctx, "bridge", sz.bridge_events)
    naive_n = min(sz.naive_events, sz.bridge_events)
    raw, one, two, naive, cpu, raw_cpu = [], [], [], [], [], []
    series: dict[str, list[tuple[float, float]]] = {}
    load_before = machine_note()
    for rep in range(sz.reps):
        samples, raw_cpu_s = run_worker_full(
            ctx, "raw-consumer", topic, sz.bridge_events, group=ctx.name("raw")
        )
        raw_cpu.append(1e6 * raw_cpu_s / sz.bridge_events)
        raw.append(window_rate(samples, sz.bridge_events, sz.window_frac))
        series["raw consumer"] = rate_series(samples)
        b1 = run_bridges(ctx, topic, sz.bridge_events, instances=1, tag="b1")
        one.append(b1.rate)
        cpu.append(1e6 * b1.cpu_s / sz.bridge_events)
        series["bridge x1"] = rate_series(b1.samples)
        b2 = run_bridges(ctx, topic, sz.bridge_events, instances=2, tag="b2")
        two.append(b2.rate)
        series["bridge x2"] = rate_series(b2.samples)
        keys = ctx.new_keys("naive")
        samples = run_worker(ctx, "naive", topic, naive_n, group=ctx.name("naive"), key=f"{keys.prefix}txns")
        ctx.drop_prefix(keys)
        naive.append(window_rate(samples, naive_n, sz.window_frac))
        logger.info(
            "bench: bridge rep=%d raw=%.0f x1=%.0f x2=%.0f naive=%.0f ev/s",
            rep + 1,
            raw[-1],
            one[-1],
            two[-1],
            naive[-1],
        )
    scale = ratios(two, one)
    return {
        "events": sz.bridge_events,
        "naive_events": naive_n,
        "partitions": sz.partitions,
        "raw_consumer_eps": summarize(raw),
        "bridge_1_eps": summarize(one),
        "bridge_2_eps": summarize(two),
        "naive_eps": summarize(naive),
        "ratio_bridge_vs_raw": summarize(ratios(one, raw)),
        "ratio_2_vs_1": summarize(scale),
        "scaleout_efficiency": summarize([r / 2 for r in scale]),
        "ratio_bridge_vs_naive": summarize(ratios(one, naive)),
        "bridge_cpu_us_per_event": summarize(cpu),
        "raw_consumer_cpu_us_per_event": summarize(raw_cpu),
        # CPU per event barely moves with other people's load, unlike wall-clock rates
        "cpu_ratio_raw_vs_bridge": summarize(ratios(raw_cpu, cpu)),
        "series": {k: [list(p) for p in v] for k, v in series.items()},
        "machine": {"before": load_before, "after": machine_note()},
    }
