"""PNG plots of the results: latency CDF, throughput over time, analysts vs p95 (matplotlib, Agg)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # the backend must be chosen before this import


def latency_cdf(lat: dict[str, Any], path: Path) -> None:
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for rate, samples in lat["cdf_last_rep"].items():
        if samples:
            n = len(samples)
            ax.plot(samples, [(i + 1) / n for i in range(n)], label=f"{int(rate):,} ev/s")
    ax.set_xscale("log")
    ax.set_xlabel("end-to-end latency, record timestamp → in Redis (ms, log scale)")
    ax.set_ylabel("fraction of events")
    ax.set_title("End-to-end latency CDF (last repetition)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    _save(fig, path)


def throughput(bridge: dict[str, Any], path: Path) -> None:
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for name, pts in bridge["series"].items():
        if pts:
            ax.plot([p[0] for p in pts], [p[1] for p in pts], marker=".", label=name)
    ax.set_xlabel("seconds since the first record")
    ax.set_ylabel("events/s (1 s buckets)")
    ax.set_title(f"Throughput over time, {bridge['events']:,} pre-produced events (last repetition)")
    ax.grid(True, alpha=0.3)
    if any(bridge["series"].values()):
        ax.legend()
    _save(fig, path)


def analysts_p95(dash: dict[str, Any], path: Path) -> None:
    fig, ax = plt.subplots(figsize=(7, 4.2))
    levels = sorted(dash["levels"].items(), key=lambda kv: int(kv[0]))
    xs = [int(k) for k, _ in levels]
    for q, style in (("p50", "o-"), ("p95", "s-"), ("p99", "^-")):
        stats = [v[f"latency_{q}_ms"] for _, v in levels]
        med = [s["median"] for s in stats]
        err = [
            [m - s["min"] for m, s in zip(med, stats, strict=True)],
            [s["max"] - m for m, s in zip(med, stats, strict=True)],
        ]
        ax.errorbar(xs, med, yerr=err, fmt=style, capsize=4, label=f"{q} (median, min\u2013max)")
    ax.axhline(100, color="grey", linestyle="--", linewidth=1, label="p95 target 100 ms")
    ax.set_xlabel("simulated analysts polling at 1 Hz")
    ax.set_ylabel("callback latency (ms)")
    ax.set_title(f"Dashboard latency vs analysts ({dash['stream_rate']:,} ev/s stream)")
    ax.grid(True, alpha=0.3)
    ax.legend()
    _save(fig, path)


def _save(fig: Any, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_all(results: dict[str, Any], out: Path) -> list[Path]:
    """Write every plot whose section ran; return the files written."""
    written = []
    for section, fn, name in (
        ("latency", latency_cdf, "latency_cdf.png"),
        ("bridge", throughput, "throughput.png"),
        ("dash", analysts_p95, "analysts_p95.png"),
    ):
        if section in results:
            fn(results[section], out / name)
            written.append(out / name)
    return written
