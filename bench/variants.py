"""Rule-set variants of one bridge, side by side: per repetition a raw consumer, then each variant."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from bench.bridge_run import run_worker_full, start_bridges, wait_processed
from bench.stack import Context, cpu_seconds, stop
from bench.stats import ratios, summarize, window_rate
from common.keys import RedisKeys

logger = logging.getLogger(__name__)
Variant = Callable[[str], dict[str, Any]]  # tag -> one measured run (measured_bridge's dict)


def _text(raw: Any) -> str:
    return raw.decode() if isinstance(raw, bytes) else str(raw)


def measured_bridge(
    ctx: Context,
    topic: str,
    total: int,
    keys: RedisKeys,
    tag: str,
    *,
    env: Mapping[str, str] | None = None,
    read: Callable[[RedisKeys], dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """One bridge over the topic under `keys` (its rules already stored): steady events/s, CPU µs per
    event, alert share and the engine its heartbeat names; `read` adds figures before the keys go."""
    procs = start_bridges(ctx, topic, keys, 1, tag, **dict(env or {}))
    samples: list[tuple[float, int]] = []
    try:
        wait_processed(ctx, keys, procs, total, f"run {tag}", samples)
        done = samples[-1][0]
        cpu_us = 1e6 * cpu_seconds(procs[0].pid) / total
        names: Any = ctx.redis.zrange(keys.bridges, 0, -1)
        beats = [keys.bridge(_text(b)) for b in names]
        until = time.monotonic() + 3.0  # a heartbeat after the last batch says which engine decided
        while time.monotonic() < until and not all(float(ctx.redis.hget(k, "ts") or 0) > done for k in beats):
            time.sleep(0.05)
        engines = {_text(ctx.redis.hget(k, "engine")) for k in beats}
        alerts = int(ctx.redis.hget(keys.totals, "alerts") or 0)
        extra = read(keys) if read is not None else {}
    finally:
        stop(procs)
        ctx.drop_prefix(keys)
    return {
        "eps": window_rate(samples, total, ctx.sizes.window_frac),
        "cpu_us": cpu_us,
        "alert_share": alerts / total,
        "engine": ", ".join(sorted(engines)),
        **extra,
    }


def side_by_side(
    ctx: Context, label: str, topic: str, total: int, variants: Mapping[str, Variant]
) -> tuple[dict[str, Any], dict[str, list[dict[str, Any]]]]:
    """Per repetition: raw consumption of the topic, then each variant (the order rotates by one each
    repetition). Returns the summary (raw, and per variant rate, ratio to raw, CPU per event, alert
    share, engine) and the runs."""
    raw: list[float] = []
    raw_cpu: list[float] = []
    runs: dict[str, list[dict[str, Any]]] = {v: [] for v in variants}
    names = list(variants)
    for rep in range(ctx.sizes.reps):
        ctx.settle()
        samples, cpu_s = run_worker_full(ctx, "raw-consumer", topic, total, group=ctx.name(f"raw-{label}"))
        raw.append(window_rate(samples, total, ctx.sizes.window_frac))
        raw_cpu.append(1e6 * cpu_s / total)
        # Rotate the order: the run after another bridge meets Redis and the page cache as that
        # one left them, so a fixed order would charge it to the same variant every time.
        for name in names[rep % len(names) :] + names[: rep % len(names)]:
            ctx.settle()
            runs[name].append(variants[name](f"{label}-{name}"))
        logger.info(
            "bench: %s rep=%d raw=%.0f %s ev/s",
            label,
            rep + 1,
            raw[-1],
            " ".join(f"{v}={r[-1]['eps']:.0f}" for v, r in runs.items()),
        )
    out: dict[str, Any] = {
        "events": total,
        "raw_consumer_eps": summarize(raw),
        "raw_consumer_cpu_us_per_event": summarize(raw_cpu),
    }
    for name, rs in runs.items():
        eps, cpu = [r["eps"] for r in rs], [r["cpu_us"] for r in rs]
        out[name] = {
            "bridge_eps": summarize(eps),
            "ratio_bridge_vs_raw": summarize(ratios(eps, raw)),
            "cpu_us_per_event": summarize(cpu),
            # CPU per event barely moves with other people's load, unlike wall-clock rates
            "cpu_ratio_raw_vs_bridge": summarize(ratios(raw_cpu, cpu)),
            "alert_share": summarize([r["alert_share"] for r in rs]),
            "engine": rs[-1]["engine"],
        }
    return out, runs
