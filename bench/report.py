"""Write results: strict JSON and the Markdown tables of docs/performance.md."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

EN = "\u2013"  # en dash between min and max


def fmt(s: dict[str, Any] | None, digits: int = 0, unit: str = "") -> str:
    """`median (min to max)` of a summary; a single value when min == max."""
    if not s or s.get("n", 0) == 0 or not math.isfinite(s["median"]):
        return "n/a"

    def f(x: float) -> str:
        return f"{x:,.{digits}f}"

    med, lo, hi = f(s["median"]), f(s["min"]), f(s["max"])
    core = med if lo == hi else f"{med} ({lo}{EN}{hi})"
    return f"{core}{unit}"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return [*out, ""]


def _throughput_rows(r: dict[str, Any]) -> list[list[str]]:
    rows: list[list[str]] = []
    b = r.get("bridge")
    if b:
        n = f"{b['events']:,} events, {b['partitions']} partitions"
        rows += [
            [
                "Raw kafka-python consumption (poll + discard, bridge settings)",
                fmt(b["raw_consumer_eps"], 0, " ev/s"),
                n,
            ],
            [
                "Bridge, 1 instance",
                fmt(b["bridge_1_eps"], 0, " ev/s"),
                "validate + detect + exactly-once Redis",
            ],
            ["Bridge ÷ raw consumption", fmt(b["ratio_bridge_vs_raw"], 2), "target ≥ 0.8"],
            ["Bridge, 2 instances (same 2 cores)", fmt(b["bridge_2_eps"], 0, " ev/s"), "one consumer group"],
            ["2 instances ÷ 1 instance", fmt(b["ratio_2_vs_1"], 2), "2.0 = perfect scale-out"],
            [
                "Naive baseline (json.loads + 1 Redis call per event)",
                fmt(b["naive_eps"], 0, " ev/s"),
                f"first {b['naive_events']:,} events, no detection",
            ],
            ["Bridge ÷ naive baseline", fmt(b["ratio_bridge_vs_naive"], 1), "what batching buys"],
            [
                "Bridge CPU per event",
                fmt(b["bridge_cpu_us_per_event"], 0, " µs"),
                "user + system, whole process",
            ],
            ["Raw consumption CPU per event", fmt(b.get("raw_consumer_cpu_us_per_event"), 0, " µs"), ""],
            [
                "Raw CPU ÷ bridge CPU per event",
                fmt(b.get("cpu_ratio_raw_vs_bridge"), 2),
                "load-independent form of bridge ÷ raw",
            ],
        ]
    p = r.get("producer")
    if p:
        rows += _producer_rows(p)
    m = r.get("memory")
    if m:
        what = f"{m['events']:,} events over {m['cards']:,} cards"
        rows += [
            [
                "Bridge RSS at the last record",
                fmt(m["bridge_rss_mb"], 0, " MB"),
                f"{what}; batches still held",
            ],
            [
                "Bridge RSS after the stream",
                fmt(m.get("bridge_settled_rss_mb"), 0, " MB"),
                f"{m.get('settle_s', 0):.0f} s idle after the last record; target ≤ 200 MB",
            ],
            ["Bridge peak RSS", fmt(m["bridge_peak_rss_mb"], 0, " MB"), what],
            ["Redis memory of the run's keys", fmt(m["redis_prefix_mb"], 0, " MB"), "sum of MEMORY USAGE"],
        ]
    q = r.get("quality")
    if q:
        rows += [
            ["Event precision, default rules", fmt(q["event_precision"], 3), f"{q['events']:,} events"],
            ["Event precision, ml_anomaly on", fmt(q["event_precision_ml"], 3), ""],
            *_fresh_rows(q.get("fresh_run")),
            ["Bridge with ml_anomaly ÷ without", fmt(q["ratio_ml_on_vs_off"], 2), "throughput cost"],
        ]
    return rows


def _extreme(s: dict[str, Any] | None, which: str) -> str:
    """The min or max of a summary over all repetitions, two decimals."""
    if not s or s.get("n", 0) == 0 or not math.isfinite(s[which]):
        return "n/a"
    return f"{s[which]:.2f}"


def _producer_rows(p: dict[str, Any]) -> list[list[str]]:
    rows = [
        [
            "Producer `--rate 0` loop (generate + send)",
            fmt(p["library_eps"], 0, " ev/s"),
            f"{p['events']:,} events",
        ],
        ["Raw `send()` of pre-serialised records", fmt(p["raw_send_eps"], 0, " ev/s"), "same client config"],
        ["Producer loop ÷ raw send", fmt(p["ratio_library_vs_raw"], 2), "target ≥ 0.8"],
    ]
    if "raw_send_partitioned_eps" in p:
        rows += [
            [
                "Raw `send()`, partition passed as the producer does",
                fmt(p["raw_send_partitioned_eps"], 0, " ev/s"),
                "murmur2 once per key, not per record",
            ],
            [
                "Producer loop ÷ raw send with partitions",
                fmt(p["ratio_library_vs_raw_partitioned"], 2),
                "generation overhead only",
            ],
        ]
    if "library_cpu_us_per_event" in p:
        rows += [
            [
                "CPU per event: producer loop / raw / raw with partitions",
                " / ".join(
                    fmt(p[k], 1, " µs")
                    for k in (
                        "library_cpu_us_per_event",
                        "raw_send_cpu_us_per_event",
                        "raw_send_partitioned_cpu_us_per_event",
                    )
                ),
                "whole process, first send to end of flush",
            ],
            [
                "Raw CPU ÷ producer CPU per event (plain / with partitions)",
                " / ".join(
                    fmt(p[k], 2) for k in ("cpu_ratio_raw_vs_library", "cpu_ratio_raw_partitioned_vs_library")
                ),
                "load-independent form of producer ÷ raw",
            ],
        ]
    for rate, a in (p.get("rate_accuracy") or {}).items():
        rows.append(
            [
                f"Producer `--rate {int(rate):,}`: achieved ÷ requested",
                fmt(a["ratio"], 3),
                f"{a['events']:,} events, Kafka record times; target 0.95{EN}1.05; "
                f"slowest / fastest full second {_extreme(a['worst_1s'], 'min')} / "
                f"{_extreme(a['best_1s'], 'max')}",
            ]
        )
    return rows


def _latency_rows(lat: dict[str, Any]) -> list[list[str]]:
    rows = [
        [f"{int(rate):,} ev/s", *(fmt(d[q], 0) for q in ("p50", "p95", "p99", "max"))]
        for rate, d in lat["rates"].items()
    ]
    custom = lat.get("custom_rules")
    if custom:  # the middle rate again, with ten custom rules of mixed kinds beside the defaults
        rows.append(
            [
                f"{int(custom['rate']):,} ev/s, +{len(custom['rules'])} custom rules",
                *(fmt(custom[q], 0) for q in ("p50", "p95", "p99", "max")),
            ]
        )
    b = lat["banner_ms"]
    rows.append(
        [
            f"banner probe at {lat['banner_rate']:,} ev/s",
            fmt(b["p50"], 0),
            fmt(b["p95"], 0),
            "",
            fmt(b["max"], 0),
        ]
    )
    return rows


def _dash_rows(d: dict[str, Any]) -> list[list[str]]:
    rows = []
    idle = f"{d.get('idle_analysts', '')} (stream stopped)"
    for name, lv in [*d["levels"].items(), (idle, d.get("idle"))]:
        if not lv:
            continue
        rows.append(
            [
                name,
                fmt(lv["req_per_s"], 0),
                fmt(lv["latency_p50_ms"], 1),
                fmt(lv["latency_p95_ms"], 1),
                fmt(lv["latency_p99_ms"], 1),
                fmt(lv["errors"], 0),
                fmt(lv["server_cpu_ms_per_poll"], 2),
                fmt(lv["bytes_per_changed_poll"], 0),
                fmt(lv["bytes_per_unchanged_poll"], 0),
            ]
        )
    return rows


def _one(x: float | None) -> str:
    """A single measured ratio, three decimals (None or NaN: not observed)."""
    return "n/a" if x is None or not math.isfinite(x) else f"{x:.3f}"


def _fresh_rows(f: dict[str, Any] | None) -> list[list[str]]:
    """Precision over the first events of a fresh start (empty Redis, fresh producer)."""
    if not f:
        return []
    bridge, engine = f["bridge"], f["engine"]
    n = engine["events_per_run"]
    return [
        [
            "Event precision, fresh start",
            _one(bridge["event_precision"]),
            f"first {n:,} events through the bridge, empty Redis ({bridge['alerts']} alerts)",
        ],
        [
            "Event precision, fresh `make run` streams",
            _one(engine["worst_run_precision"]),
            f"worst of {engine['seeds']} seeds, first {n:,} events each (pure engine)",
        ],
    ]


def _quality_rows(q: dict[str, Any]) -> list[list[str]]:
    base, ml = q["default_rules"], q["with_ml_anomaly"]
    cut = base.get("instances_in_progress_at_end", {})
    return [
        [
            s,
            str(base["instances"].get(s, 0)),
            str(cut.get(s, 0)),
            f"{v:.2f}",
            f"{ml['recall'].get(s, float('nan')):.2f}",
        ]
        for s, v in base["recall"].items()
    ]


def _earlier_sections(meta: dict[str, Any]) -> str:
    """'bridge, memory (2026-11-29 23:55 UTC)' for sections whose figures predate this run."""
    by_date: dict[str, list[str]] = {}
    for name, when in (meta.get("section_dates") or {}).items():
        if when != meta["date"]:
            by_date.setdefault(when, []).append(name)
    return "; ".join(f"{', '.join(sorted(names))} ({when})" for when, names in sorted(by_date.items()))


def markdown(results: dict[str, Any]) -> str:
    """The generated Performance tables (medians with min and max over the repetitions)."""
    meta = results["meta"]
    what = "SMOKE RUN (tiny sizes; not a measurement)" if meta.get("smoke") else "Measured by `make bench`"
    lines = [
        f"{what} on {meta['date']} ({meta['cpus']} cores, shared; load average "
        f"{meta['load_start'][0]:.1f} at start, {meta['load_end'][0]:.1f} at end), {_reps(meta)} "
        f"repetitions, A/B figures interleaved per repetition. Cells: median (min{EN}max).",
        "",
    ]
    earlier = _earlier_sections(meta)
    if earlier:
        lines[-1:-1] = [f"Sections from an earlier run of `make bench`: {earlier}."]
    lines += _table(["Measure", "Result", "Notes"], _throughput_rows(results))
    if "latency" in results:
        lines += ["End-to-end latency, record timestamp → visible in Redis (ms):", ""]
        lines += _table(["Producer rate", "p50", "p95", "p99", "max"], _latency_rows(results["latency"]))
    if "dash" in results:
        d = results["dash"]
        lines += [
            f"Dashboard, analysts polling at 1 Hz for {d['duration_s']:.0f} s during a "
            f"{d['stream_rate']:,} ev/s stream (load generator on the same 2 cores):",
            "",
        ]
        lines += _table(
            [
                "Analysts",
                "req/s",
                "p50 ms",
                "p95 ms",
                "p99 ms",
                "errors",
                "server CPU ms/poll",
                "bytes/changed poll",
                "bytes/unchanged poll",
            ],
            _dash_rows(d),
        )
    if "quality" in results:
        lines += [
            "Instance recall per fraud scenario (default mix) over finished instances: those the "
            "dataset cuts off before their last event are still in progress and left out:",
            "",
        ]
        lines += _table(
            ["Scenario", "finished", "in progress (cut)", "recall", "recall, ml_anomaly on"],
            _quality_rows(results["quality"]),
        )
    return "\n".join(lines)


def clean(obj: Any) -> Any:
    """Replace NaN/inf (a figure that could not be observed) by None, so the file is strict JSON."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {str(k): clean(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [clean(v) for v in obj]
    return obj


def _reps(meta: dict[str, Any]) -> str:
    by = meta.get("reps_by_section") or {}
    if len(set(by.values())) <= 1:
        return str(meta["reps"])
    return ", ".join(f"{k} {v}" for k, v in by.items())


def write_json(results: dict[str, Any], path: Path) -> None:
    """Write strict JSON (no NaN) with a trailing newline."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(clean(results), indent=1, allow_nan=False) + "\n")
