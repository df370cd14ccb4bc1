"""Section: shadow rules — raw consumption vs a bridge alone vs a bridge with a shadow set as large as
the live set (the default rules copied), side by side per repetition on the same topics.

Two streams: the default traffic mix (the `bridge` section's dataset) and the alert storm of the
`rules` section (>= 30 % of events alerting, where the Python engine evaluates both sets on every
alerting event). `shadow_events` checks that the shadow set was evaluated on every event.
"""

from __future__ import annotations

import logging
from typing import Any

from bench.bridge_run import write_rules
from bench.feed import dataset
from bench.sec_rules import STORM, STORM_RATIO, load_stream
from bench.stack import Context, machine_note
from bench.stats import ratios, summarize
from bench.variants import Variant, measured_bridge, side_by_side
from common.keys import RedisKeys, shadow_events_field, shadow_fires_field
from common.rules import default_rules
from common.shadow_doc import ShadowDoc, encode_shadow_doc

logger = logging.getLogger(__name__)
VARIANTS = ("alone", "shadow")


def _shadow_counts(ctx: Context, keys: RedisKeys) -> dict[str, Any]:
    """Events the shadow set was evaluated on, and its alerts (fired on by both sets or it only)."""
    any_rule = shadow_fires_field(1, "*")
    fired: Any = ctx.redis.hmget(keys.shadow_stats, [any_rule + "both", any_rule + "shadow"])
    return {
        "shadow_events": int(ctx.redis.hget(keys.shadow_stats, shadow_events_field(1)) or 0),
        "shadow_alerts": sum(int(n or 0) for n in fired),
    }


def _stream(ctx: Context, name: str, topic: str, total: int) -> dict[str, Any]:
    def variant(shadow: bool) -> Variant:
        def one(tag: str) -> dict[str, Any]:
            """One bridge (default live rules; the same rules as the shadow set when asked)."""
            keys = ctx.new_keys(f"sh{tag}")
            write_rules(ctx, keys, ml=False)
            if shadow:
                doc = ShadowDoc(
                    id=1, rules=default_rules(), base_version=1, by="bench", at="2026-01-01T00:00:00Z"
                )
                ctx.redis.set(keys.shadow_rules, encode_shadow_doc(doc))
            return measured_bridge(
                ctx, topic, total, keys, f"sh-{tag}", read=lambda k: _shadow_counts(ctx, k) if shadow else {}
            )

        return one

    out, runs = side_by_side(
        ctx, f"shadow-{name}", topic, total, {v: variant(v == "shadow") for v in VARIANTS}
    )
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
