"""Pure statistics for benchmark figures: min/median/max over repetitions, percentiles, ratios."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from typing import Any


def summarize(values: Sequence[float]) -> dict[str, Any]:
    """Return {min, median, max, n, values} of per-repetition figures (NaN fields when empty)."""
    vals = [float(v) for v in values if v is not None and math.isfinite(float(v))]
    if not vals:
        return {"min": math.nan, "median": math.nan, "max": math.nan, "n": 0, "values": []}
    return {
        "min": min(vals),
        "median": statistics.median(vals),
        "max": max(vals),
        "n": len(vals),
        "values": [round(v, 6) for v in vals],
    }


def percentile(samples: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) with linear interpolation between closest ranks."""
    if not samples:
        return math.nan
    data = sorted(samples)
    if len(data) == 1:
        return float(data[0])
    pos = (len(data) - 1) * q / 100.0
    lo = math.floor(pos)
    hi = min(lo + 1, len(data) - 1)
    return float(data[lo] + (data[hi] - data[lo]) * (pos - lo))


def latency_summary(samples: Sequence[float]) -> dict[str, float]:
    """p50/p95/p99/max and count of one repetition's latency samples (ms)."""
    return {
        "p50": percentile(samples, 50),
        "p95": percentile(samples, 95),
        "p99": percentile(samples, 99),
        "max": float(max(samples)) if samples else math.nan,
        "count": float(len(samples)),
    }


def ratios(numerators: Sequence[float], denominators: Sequence[float]) -> list[float]:
    """Per-repetition ratios a_i / b_i of figures measured side by side (NaN where b_i is 0)."""
    return [a / b if b else math.nan for a, b in zip(numerators, denominators, strict=True)]


def window_rate(samples: Sequence[tuple[float, int]], total: int, start_frac: float) -> float:
    """Events/s between the first sample at >= start_frac*total and the first at >= total.

    `samples` are (time_s, cumulative_count) pairs in time order. Starting the window after
    a fraction of the work leaves out process start-up and consumer-group joins, which are not
    throughput; when the run is too short for a window, the whole run is used.
    """
    start_at = start_frac * total
    t0 = c0 = None
    for t, c in samples:
        if t0 is None and c >= start_at:
            t0, c0 = t, c
        if c >= total and t0 is not None and c0 is not None:
            if t > t0 and c > c0:
                return (c - c0) / (t - t0)
            break
    first = next(((t, c) for t, c in samples if c > 0), None)
    last = samples[-1] if samples else None
    if first is None or last is None or last[0] <= first[0]:
        return math.nan
    return (last[1] - first[1]) / (last[0] - first[0])


def rate_series(samples: Sequence[tuple[float, int]], bucket_s: float = 1.0) -> list[tuple[float, float]]:
    """(seconds since first event, events/s) per bucket, from cumulative count samples."""
    pts = [(t, c) for t, c in samples if c > 0]
    if len(pts) < 2:
        return []
    t_first = pts[0][0]
    out: list[tuple[float, float]] = []
    edge, prev_t, prev_c = t_first + bucket_s, t_first, pts[0][1]
    for t, c in pts[1:]:
        if t >= edge:
            out.append((round(t - t_first, 3), (c - prev_c) / (t - prev_t)))
            prev_t, prev_c, edge = t, c, t + bucket_s
    return out


def all_finite(obj: Any) -> bool:
    """True when every float in a nested JSON-like structure is finite (smoke-test check)."""
    if isinstance(obj, float):
        return math.isfinite(obj)
    if isinstance(obj, dict):
        return all(all_finite(v) for v in obj.values())
    if isinstance(obj, list | tuple):
        return all(all_finite(v) for v in obj)
    return True
