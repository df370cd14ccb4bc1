"""Section: shadow rules — raw consumption vs a bridge alone vs a bridge with a shadow set as large as
the live set (the default rules copied), side by side per repetition on the same topics.

Two streams: the default traffic mix (the `bridge` section's dataset) and the alert storm of the
`rules` section (>= 30 % of events alerting, where the Python engine evaluates both sets on every
alerting event). `shadow_events` checks that the shadow set was evaluated on every event.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from bench.bridge_run import run_worker_full, start_bridges, wait_processed, write_rules
from bench.feed import dataset
from bench.sec_rules import STORM, STORM_RATIO, load_stream
from bench.stack import Context, cpu_seconds, machine_note, stop
from bench.stats import ratios, summarize, window_rate
from common.keys import shadow_events_field, shadow_fires_field
from common.rules import default_rules
from common.shadow_doc import ShadowDoc, encode_shadow_doc

logger = logging.getLogger(__name__)
VARIANTS = ("alone", "shadow")


def _text(raw: Any) -> str:
    return raw.decode() if isinstance(raw, bytes) else str(raw)


def _bridge(ctx: Context, topic: str, total: int, tag: str, shadow: bool) -> dict[str, Any]:
    """One bridge over the topic (default live rules, and the same rules as shadow set when asked)."""
    keys = ctx.new_keys(f"sh{tag}")
    write_rules(ctx, keys, ml=False)
    if shadow:
        doc = ShadowDoc(id=1, rules=default_rules(), base_version=1, by="bench", at="2026-01-01T00:00:00Z")
        ctx.redis.set(keys.shadow_rules, encode_shadow_doc(doc))
    procs = start_bridges(ctx, topic, keys, 1, f"sh-{tag}")
    samples: list[tuple[float, int]] = []
    try:
        wait_processed(ctx, keys, procs, total, f"shadow run {tag}", samples)
        done = samples[-1][0]
        cpu_us = 1e6 * cpu_seconds(procs[0].pid) / total
        names: Any = ctx.redis.zrange(keys.bridges, 0, -1)
        beats = [keys.bridge(_text(b)) for b in names]
        until = time.monotonic() + 3.0  # a heartbeat after the last batch says which engine decided
        while time.monotonic() < until and not all(float(ctx.redis.hget(k, "ts") or 0) > done for k in beats):
            time.sleep(0.05)
        engines = {_text(ctx.redis.hget(k, "engine")) for k in beats}
        alerts = int(ctx.redis.hget(keys.totals, "alerts") or 0)
        shadow_events = int(ctx.redis.hget(keys.shadow_stats, shadow_events_field(1)) or 0)
        any_rule = shadow_fires_field(1, "*")  # the shadow's alerts: fired on by both sets or the shadow only
        fired: Any = ctx.redis.hmget(keys.shadow_stats, [any_rule + "both", any_rule + "shadow"])
        shadow_alerts = sum(int(n or 0) for n in fired)
    finally:
        stop(procs)
        ctx.drop_prefix(keys)
    return {
        "eps": window_rate(samples, total, ctx.sizes.window_frac),
        "cpu_us": cpu_us,
        "alert_share": alerts / total,
        "shadow_events": shadow_events,
        "shadow_alerts": shadow_alerts,
        "engine": ", ".join(sorted(engines)),
    }


def _stream(ctx: Context, name: str, topic: str, total: int) -> dict[str, Any]:
    raw: list[float] = []
    raw_cpu: list[float] = []
    runs: dict[str, list[dict[str, Any]]] = {v: [] for v in VARIANTS}
    for rep in range(ctx.sizes.reps):
        samples, cpu_s = run_worker_full(ctx, "raw-consumer", topic, total, group=ctx.name(f"raw-sh-{name}"))
        raw.append(window_rate(samples, total, ctx.sizes.window_frac))
        raw_cpu.append(1e6 * cpu_s / total)
        for variant in VARIANTS:
            runs[variant].append(_bridge(ctx, topic, total, f"{name}-{variant}", variant == "shadow"))
        logger.info(
            "bench: shadow %s rep=%d raw=%.0f alone=%.0f shadow=%.0f ev/s",
            name,
            rep + 1,
            raw[-1],
            runs["alone"][-1]["eps"],
            runs["shadow"][-1]["eps"],
        )
    out: dict[str, Any] = {
        "events": total,
        "raw_consumer_eps": summarize(raw),
        "raw_consumer_cpu_us_per_event": summarize(raw_cpu),
    }
    for variant, rs in runs.items():
        eps = [r["eps"] for r in rs]
        out[variant] = {
            "bridge_eps": summarize(eps),
            "ratio_bridge_vs_raw": summarize(ratios(eps, raw)),
            "cpu_us_per_event": summarize([r["cpu_us"] for r in rs]),
            "alert_share": summarize([r["alert_share"] for r in rs]),
            "engine": rs[-1]["engine"],
        }
    shadow = runs["shadow"]
    out["shadow"]["shadow_events"] = [r["shadow_events"] for r in shadow]  # == events: nothing skipped
    out["shadow"]["shadow_alerts"] = [r["shadow_alerts"] for r in shadow]
    out["ratio_shadow_vs_alone"] = summarize(
        ratios([r["eps"] for r in shadow], [r["eps"] for r in runs["alone"]])
    )
    out["cpu_ratio_alone_vs_shadow"] = summarize(
        ratios([r["cpu_us"] for r in runs["alone"]], [r["cpu_us"] for r in shadow])
    )
    return out


def run(ctx: Context) -> dict[str, Any]:
    """The default mix and the alert storm: raw, bridge alone and bridge + shadow per repetition."""
    total = ctx.sizes.bridge_events
    before = machine_note()
    mix = dataset(ctx, "bridge", total)
    storm = load_stream(ctx, "shadow-storm", total // 2, fraud_ratio=STORM_RATIO, scenarios=STORM)
    return {
        "shadow_rules": "the default rules, copied (as large as the live set)",
        "default_mix": _stream(ctx, "mix", mix, total),
        "storm": _stream(ctx, "storm", storm, total // 2),
        "machine": {"before": before, "after": machine_note()},
    }


def table(results: dict[str, Any]) -> str:
    """docs/shadow.md's figures (spliced by bench/docs.py): per stream, side by side."""
    from bench.report import fmt

    r = results.get("shadow")
    if not r:
        return "(no shadow figures yet: `python -m bench run --only shadow`)"
    meta = results.get("meta", {})
    when = meta.get("section_dates", {}).get("shadow") or meta.get("date", "?")
    rows = [
        "| stream | raw kafka-python ev/s | bridge alone ÷ raw | bridge + shadow ÷ raw | shadow ÷ alone "
        "(ev/s) | CPU per event, alone ÷ shadow | engine with shadow |",
        "|---|---|---|---|---|---|---|",
    ]
    for key, label in (("default_mix", "default traffic mix"), ("storm", "alert storm")):
        s = r[key]
        rows.append(
            f"| {label} ({s['events']:,} events) | {fmt(s['raw_consumer_eps'])} "
            f"| {fmt(s['alone']['ratio_bridge_vs_raw'], 2)} | {fmt(s['shadow']['ratio_bridge_vs_raw'], 2)} "
            f"| {fmt(s['ratio_shadow_vs_alone'], 2)} | {fmt(s['cpu_ratio_alone_vs_shadow'], 2)} "
            f"| {s['shadow']['engine']} |"
        )
    n = r["default_mix"]["raw_consumer_eps"]["n"]
    note = f"Median (min to max) of {n} repetitions ({when}, {meta.get('cpus', '?')} shared cores):"
    return "\n".join([note, "", *rows])
