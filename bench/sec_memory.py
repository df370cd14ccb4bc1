"""Section 5: bridge RSS and Redis memory after a large stream over many cards."""

from __future__ import annotations

import logging
from typing import Any

from bench.bridge_run import run_bridges
from bench.feed import dataset
from bench.stack import Context, machine_note
from bench.stats import summarize
from bridge.runtime import TRIM_INTERVAL_S
from common.keys import RedisKeys

logger = logging.getLogger(__name__)
# Idle time before the settled RSS read: the bridge hands freed heap back at most once per
# TRIM_INTERVAL_S, on its next (empty) poll after the last batch.
SETTLE_S = 2 * TRIM_INTERVAL_S + 1.0


def prefix_bytes(ctx: Context, keys: RedisKeys) -> tuple[int, int]:
    """(key count, sum of MEMORY USAGE) of every key under the prefix: this run's share of Redis."""
    total = count = 0
    batch: list[bytes] = []

    def flush() -> int:
        pipe = ctx.redis.pipeline(transaction=False)
        for k in batch:
            pipe.memory_usage(k, samples=0)
        got = sum(int(v or 0) for v in pipe.execute())
        batch.clear()
        return got

    for key in ctx.redis.scan_iter(match=f"{keys.prefix}*", count=5000):
        batch.append(key)
        count += 1
        if len(batch) >= 2000:
            total += flush()
    if batch:
        total += flush()
    return count, total


def run(ctx: Context) -> dict[str, Any]:
    """Run one bridge over the whole topic per repetition; read its RSS at the end and settled."""
    sz = ctx.sizes
    reps = sz.reps
    topic = dataset(ctx, "memory", sz.memory_events, n_cards=sz.memory_cards)
    rss, settled, peak, redis_mb, used_delta, nkeys, rate = [], [], [], [], [], [], []
    for rep in range(reps):
        before = int(ctx.redis.info("memory")["used_memory"])
        run = run_bridges(ctx, topic, sz.memory_events, tag="mem", keep=True, settle_s=SETTLE_S)
        after = int(ctx.redis.info("memory")["used_memory"])
        count, used = prefix_bytes(ctx, run.keys)
        ctx.drop_prefix(run.keys)
        rss.append(run.rss_mb[0])
        settled.append(run.settled_rss_mb[0])
        peak.append(run.peak_rss_mb[0])
        redis_mb.append(used / 2**20)
        used_delta.append((after - before) / 2**20)
        nkeys.append(count)
        rate.append(run.rate)
        logger.info(
            "bench: memory rep=%d rss=%.0f MB settled=%.0f MB peak=%.0f MB redis=%.0f MB keys=%d",
            rep + 1,
            rss[-1],
            settled[-1],
            peak[-1],
            redis_mb[-1],
            count,
        )
    return {
        "events": sz.memory_events,
        "cards": sz.memory_cards,
        "reps": reps,
        "bridge_rss_mb": summarize(rss),
        "bridge_settled_rss_mb": summarize(settled),
        "settle_s": SETTLE_S,
        "bridge_peak_rss_mb": summarize(peak),
        "redis_prefix_mb": summarize(redis_mb),
        "redis_used_memory_delta_mb": summarize(used_delta),
        "redis_keys": summarize(nkeys),
        "bridge_eps": summarize(rate),
        "machine": machine_note(),
    }
