"""Generated blocks for docs/webhooks.md (section webhooks) and docs/reliability.md (alerts_out)."""

from __future__ import annotations

from typing import Any

from bench.report import fmt


def alerts_out_table(results: dict[str, Any]) -> str:
    """docs/reliability.md's block: what publishing alerts costs the bridge, quiet and storm."""
    r = results.get("alerts_out")
    if not r:
        return "(no alerts-out figures yet: `python -m bench run --only alerts_out`)"
    meta = results.get("meta", {})
    when = meta.get("section_dates", {}).get("alerts_out") or meta.get("date", "?")
    rows = [
        "| stream | alerting | CPU µs per event, published / not | CPU cost | events/s, published ÷ not |",
        "| --- | --- | --- | --- | --- |",
    ]
    for name, label in (("quiet", "quiet"), ("storm", "alert storm")):
        s = r[name]
        rows.append(
            f"| {label} ({s['events']:,} events) | {s['alert_share']['median']:.2%} "
            f"| {fmt(s['published']['cpu_us_per_event'], 1)} / {fmt(s['baseline']['cpu_us_per_event'], 1)} "
            f"| {fmt(s['cpu_cost'], 2)} | {fmt(s['ratio_published_vs_baseline_eps'], 2)} |"
        )
    pub = r.get("publish_only")
    if pub:
        cpu = pub["cpu_us_per_alert"]
        rows += [
            "",
            f"Publishing alone (no bridge; {pub['alerts']:,} alerts over {pub['cards']:,} cards, send + "
            f"flush per batch): {fmt(cpu['bridge'], 1)} µs of CPU per alert with the bridge's publisher, "
            f"{fmt(cpu['earlier'], 1)} µs with its first version "
            f"(ratio {fmt(pub['ratio_bridge_vs_earlier'], 2)}).",
        ]
    return "\n".join(
        [
            f"The bridge publishing every alert vs the same bridge without (`bench.bridge_baseline`), side "
            f"by side per repetition ({when}, {meta.get('cpus', '?')} shared cores; CPU cost = 1 - "
            "CPU per event without ÷ with; targets 0.05 quiet, 0.20 storm):",
            "",
            *rows,
        ]
    )


def webhooks_table(results: dict[str, Any]) -> str:
    """docs/webhooks.md's block: the outage's deliveries and the bridge alone vs with the notifier."""
    w = results.get("webhooks")
    if not w:
        return "(no webhooks figures yet: `python -m bench run --only webhooks`)"
    a, n = w["alone"], w["notifier_outage"]
    n0 = w.get("notifier_outage_nice0")  # absent from runs before NOTIFIER_NICE
    meta = results.get("meta", {})
    when = meta.get("section_dates", {}).get("webhooks") or meta.get("date", "?")
    when = f"{when}, {meta.get('cpus', '?')} shared cores"
    cols = [a, n, *([n0] if n0 else [])]

    def row(label: str, key: str, digits: int) -> str:
        return f"| {label} | " + " | ".join(fmt(c[key], digits) for c in cols) + " |"

    rows = [
        "| measure | bridge alone | with the notifier, receiver down then up |"
        + (" the same, notifier not niced (`NOTIFIER_NICE=0`) |" if n0 else ""),
        "| --- | --- | --- |" + (" --- |" if n0 else ""),
        row("storm bridge events/s", "bridge_eps", 0),
        row("storm bridge CPU µs per event", "cpu_us_per_event", 1),
        *(
            row(f"latency {k} at {w['latency_rate']:,} ev/s (ms)", f"latency_{k}_ms", 0)
            for k in ("p50", "p99", "max")
        ),
    ]
    return "\n".join(
        [
            f"Receiver down for {w['outage_s']:.0f} s, then up; {w['events']:,}-event alert storm "
            f"({fmt(w['alert_share'], 2)} alerting), {w['alerts_on_topic']['n']} repetitions side by side "
            f"({when}):",
            "",
            *rows,
            "",
            f"- Deliveries lost: {fmt(w['lost'], 0)} of {fmt(w['alerts_on_topic'], 0)} alerts on the topic "
            f"(dead letters {fmt(w['dead'], 0)}; failed attempts during the outage "
            f"{fmt(w['failed_attempts'], 0)}).",
            f"- Every alert delivered {fmt(w['all_delivered_s'], 0)} s after the notifier's first refused "
            f"attempt; the receiver was down {fmt(w['down_after_first_refusal_s'], 0)} s from it.",
            f"- The storm phase ended {fmt(n['throughput_end_s'], 0)} s and the latency phase "
            f"{fmt(n['latency_end_s'], 0)} s after the bridge started.",
            f"- Bridge events/s with ÷ without the notifier: {fmt(w['ratio_notifier_vs_alone_eps'], 2)}; "
            f"CPU per event without ÷ with: {fmt(w['cpu_ratio_alone_vs_notifier'], 2)}"
            + (
                f"; not niced, events/s with ÷ without: {fmt(w['ratio_notifier_nice0_vs_alone_eps'], 2)} "
                f"(lost {fmt(w['lost_nice0'], 0)})."
                if n0
                else "."
            ),
            *(
                [
                    f"- CPU during the storm phase: notifier {fmt(w['notifier_cpu_storm_s'], 1)} s, bridge "
                    f"{fmt(w['bridge_cpu_storm_s'], 1)} s (both on the same 2 cores)."
                ]
                if "notifier_cpu_storm_s" in w
                else []
            ),
        ]
    )
