"""Section 3: producer CLI send loop vs raw send() of ready bytes, and --rate accuracy from record times."""

from __future__ import annotations

import logging
import math
import subprocess
import sys
import time
from collections import Counter
from typing import Any

from bench.bridge_run import worker_result
from bench.stack import Context, machine_note
from bench.stats import ratios, summarize

logger = logging.getLogger(__name__)


LOOPS = {"library": "library-send", "raw": "raw-send", "raw_partitioned": "raw-send-partitioned"}


def _loop(ctx: Context, name: str, count: int, seed: int) -> tuple[float, float]:
    """Run one send loop in a fresh process on its own topic; return (events/s, CPU us per event)."""
    topic = ctx.new_topic(f"prod-{name.replace('_', '')}")
    body = worker_result(ctx, LOOPS[name], topic, count, seed=seed)
    (t0, _), (t1, n) = body["samples"][0], body["samples"][-1]
    return n / (t1 - t0) if t1 > t0 else math.nan, body["loop_cpu_s"] / n * 1e6


def throughput(ctx: Context) -> dict[str, Any]:
    """The three loops interleaved per repetition (order rotated), each in a fresh process.

    Besides events/s (wall clock, at the mercy of a shared machine's load), each loop reports
    its process CPU per event from the first send to the end of the flush: raw CPU ÷ producer
    CPU is the load-independent form of producer ÷ raw throughput.
    """
    n = ctx.sizes.producer_events
    eps: dict[str, list[float]] = {k: [] for k in LOOPS}
    cpu: dict[str, list[float]] = {k: [] for k in LOOPS}
    names = list(LOOPS)
    for rep in range(ctx.sizes.reps):
        for name in names[rep % 3 :] + names[: rep % 3]:
            rate, us = _loop(ctx, name, n, seed=rep)
            eps[name].append(rate)
            cpu[name].append(us)
        logger.info(
            "bench: producer rep=%d ev/s=%s cpu_us_per_event=%s",
            rep + 1,
            {k: round(v[-1]) for k, v in eps.items()},
            {k: round(v[-1], 1) for k, v in cpu.items()},
        )
    return {
        "events": n,
        "library_eps": summarize(eps["library"]),
        "raw_send_eps": summarize(eps["raw"]),
        "raw_send_partitioned_eps": summarize(eps["raw_partitioned"]),
        "ratio_library_vs_raw": summarize(ratios(eps["library"], eps["raw"])),
        "ratio_library_vs_raw_partitioned": summarize(ratios(eps["library"], eps["raw_partitioned"])),
        "library_cpu_us_per_event": summarize(cpu["library"]),
        "raw_send_cpu_us_per_event": summarize(cpu["raw"]),
        "raw_send_partitioned_cpu_us_per_event": summarize(cpu["raw_partitioned"]),
        "cpu_ratio_raw_vs_library": summarize(ratios(cpu["raw"], cpu["library"])),
        "cpu_ratio_raw_partitioned_vs_library": summarize(ratios(cpu["raw_partitioned"], cpu["library"])),
    }


def record_times(bootstrap: str, topic: str, count: int, timeout_s: float) -> list[int]:
    """The CreateTime (ms) of every record of `topic`, read back from the start."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    try:
        parts = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        consumer.assign(parts)
        consumer.seek_to_beginning(*parts)
        out: list[int] = []
        deadline = time.monotonic() + timeout_s
        while len(out) < count and time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=500, max_records=50_000).values():
                out.extend(r.timestamp for r in batch)
        return out
    finally:
        consumer.close()


def pace_figures(times_ms: list[int], rate: float) -> dict[str, float]:
    """Achieved rate over the whole run and the slowest/fastest full second, each ÷ requested rate.

    The achieved rate counts the gaps between the first and the last record: n records sent
    on time at `rate` span (n - 1) / rate seconds.
    """
    if len(times_ms) < 2 or max(times_ms) <= min(times_ms):
        return {"achieved_eps": math.nan, "ratio": math.nan, "worst_1s": math.nan, "best_1s": math.nan}
    t0, t1 = min(times_ms), max(times_ms)
    achieved = (len(times_ms) - 1) / ((t1 - t0) / 1000)
    per_s = Counter((t - t0) // 1000 for t in times_ms)
    full = [per_s.get(s, 0) / rate for s in range((t1 - t0) // 1000)]  # the last second is partial
    return {
        "achieved_eps": achieved,
        "ratio": achieved / rate,
        "worst_1s": min(full, default=math.nan),
        "best_1s": max(full, default=math.nan),
    }


def _run_cli(ctx: Context, topic: str, rate: int, count: int, seed: int) -> None:
    args = ["--rate", str(rate), "--count", str(count), "--seed", str(seed), "--topic", topic]
    out = subprocess.run(
        [sys.executable, "-m", "producer", *args, "--log-level", "WARNING"],
        env=ctx.env(),
        cwd=str(ctx.repo),
        capture_output=True,
        text=True,
        timeout=ctx.sizes.timeout_s,
        check=False,
    )
    if out.returncode != 0:
        raise RuntimeError(f"bench: producer --rate {rate} failed: {out.stderr[-1500:]}")


def rate_accuracy(ctx: Context) -> dict[str, Any]:
    """Run `python -m producer --rate R --count N` per rate; pace figures from the topic's record times."""
    s = ctx.sizes
    figures: dict[int, list[dict[str, float]]] = {r: [] for r in s.producer_rates}
    for rep in range(s.reps):
        for rate in s.producer_rates:
            count = int(rate * max(s.producer_rate_duration_s, s.producer_rate_min_events / rate))
            topic = ctx.new_topic(f"prod-rate{rate}")
            _run_cli(ctx, topic, rate, count, seed=rep)
            times = record_times(ctx.bootstrap, topic, count, s.timeout_s)
            if len(times) != count:
                raise RuntimeError(f"bench: producer --rate {rate} wrote {len(times)} of {count} records")
            figures[rate].append(pace_figures(times, rate))
            logger.info("bench: producer rep=%d rate=%d pace=%s", rep + 1, rate, figures[rate][-1])
    return {
        str(rate): {
            "events": int(rate * max(s.producer_rate_duration_s, s.producer_rate_min_events / rate)),
            **{k: summarize([f[k] for f in figs]) for k in ("achieved_eps", "ratio", "worst_1s", "best_1s")},
        }
        for rate, figs in figures.items()
    }


def run(ctx: Context) -> dict[str, Any]:
    """Throughput at --rate 0 against raw send(), then pacing accuracy at fixed rates."""
    out = throughput(ctx)
    out["rate_accuracy"] = rate_accuracy(ctx)
    out["machine"] = machine_note()
    return out
