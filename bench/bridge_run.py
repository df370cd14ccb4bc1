"""Run bridge instances (the real `python -m bridge`) on a topic and watch their progress in Redis."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from bench.stack import Context, cpu_seconds, rss_mb, spawn, stop
from bench.stats import window_rate
from common.keys import RedisKeys
from common.rules import apply_changes, default_rules
from common.rules_doc import RulesDoc, encode_rules_doc

logger = logging.getLogger(__name__)


@dataclass
class BridgeRun:
    """What one run of N bridge instances did."""

    rate: float
    samples: list[tuple[float, int]]
    keys: RedisKeys
    cpu_s: float = 0.0
    rss_mb: list[float] = field(default_factory=list)
    peak_rss_mb: list[float] = field(default_factory=list)
    settled_rss_mb: list[float] = field(default_factory=list)  # after `settle_s` idle (empty when not read)


def write_rules(ctx: Context, keys: RedisKeys, ml: bool) -> None:
    """Store a rules document before the bridge starts (ml_anomaly on or off)."""
    cfg = apply_changes(default_rules(), {"ml_anomaly": {"enabled": ml}})
    doc = RulesDoc(version=1, rules=cfg, updated_by="bench", updated_at="2026-01-01T00:00:00Z")
    ctx.redis.set(keys.rules, encode_rules_doc(doc))


def processed(ctx: Context, keys: RedisKeys) -> int:
    """Records applied so far (valid + dead-lettered), from the bridge's running totals."""
    txns, dlq = ctx.redis.hmget(keys.totals, ["txns", "dlq"])
    return int(txns or 0) + int(dlq or 0)


def start_bridges(
    ctx: Context, topic: str, keys: RedisKeys, instances: int, tag: str, module: str = "bridge", **env: str
) -> list[subprocess.Popen[bytes]]:
    """Start `instances` bridges (`python -m module`) in one fresh consumer group writing under `keys`."""
    group = ctx.name(f"grp-{tag}")
    child_env = ctx.env(
        **{
            "KAFKA_TOPIC": topic,
            "KAFKA_DLQ_TOPIC": ctx.dlq_topic(),
            "REDIS_KEY_PREFIX": keys.prefix,
            "BRIDGE_GROUP_ID": group,
            "LOG_LEVEL": "WARNING",
            **env,  # a run may ask for more logging (the serving warm-up is read from the log)
        }
    )
    log = ctx.out_dir / "logs" / f"bridge-{tag}.log"
    args = ["-m", module, "--metrics-port", "0"]
    return [spawn(args, child_env, log, cwd=ctx.repo) for _ in range(instances)]


def wait_processed(
    ctx: Context,
    keys: RedisKeys,
    procs: Sequence[subprocess.Popen[bytes]],
    total: int,
    what: str,
    samples: list[tuple[float, int]],
) -> None:
    """Sample (time, records applied) into `samples` until `total`; raise if a bridge dies or stalls."""
    deadline = time.monotonic() + ctx.sizes.timeout_s
    while True:
        n = processed(ctx, keys)
        samples.append((time.time(), n))
        if n >= total:
            return
        if any(p.poll() is not None for p in procs) or time.monotonic() > deadline:
            raise RuntimeError(f"bench: {what} stalled at {n}/{total} (see bench/out/logs)")
        time.sleep(0.05)


def run_bridges(
    ctx: Context,
    topic: str,
    total: int,
    instances: int = 1,
    ml: bool = False,
    tag: str = "b",
    keep: bool = False,
    settle_s: float = 0.0,
) -> BridgeRun:
    """Process `total` pre-produced records with fresh group + prefix; measure the steady rate.

    RSS is read the moment the last record is applied (batches may still be in memory) and, with
    `settle_s`, again after the bridges idled that long: what they keep once the stream is done.
    """
    keys = ctx.new_keys(f"{tag}{instances}")
    write_rules(ctx, keys, ml)
    procs = start_bridges(ctx, topic, keys, instances, tag)
    samples: list[tuple[float, int]] = []
    run = BridgeRun(float("nan"), samples, keys)
    try:
        wait_processed(ctx, keys, procs, total, f"bridge run {tag}", samples)
        run.cpu_s = sum(cpu_seconds(p.pid) for p in procs)
        run.rss_mb = [rss_mb(p.pid) for p in procs]
        run.peak_rss_mb = [rss_mb(p.pid, peak=True) for p in procs]
        if settle_s > 0:
            time.sleep(settle_s)
            run.settled_rss_mb = [rss_mb(p.pid) for p in procs]
    finally:
        stop(procs)
    run.rate = window_rate(samples, total, ctx.sizes.window_frac)
    if not keep:
        ctx.drop_prefix(keys)
    return run


def run_worker(ctx: Context, kind: str, topic: str, count: int, **extra: Any) -> list[tuple[float, int]]:
    """Run one `bench.workers` loop in its own process; return its (time, count) samples."""
    return run_worker_full(ctx, kind, topic, count, **extra)[0]


def worker_result(ctx: Context, kind: str, topic: str, count: int, **extra: Any) -> dict[str, Any]:
    """Run one `bench.workers` loop in its own process; return the JSON object it prints."""
    args = [
        sys.executable,
        "-m",
        "bench.workers",
        kind,
        "--topic",
        topic,
        "--count",
        str(count),
        "--timeout",
        str(ctx.sizes.timeout_s),
        "--bootstrap",
        ctx.bootstrap,
        "--redis-url",
        ctx.redis_url,
    ]
    for k, v in extra.items():
        args += [f"--{k}", str(v)]
    out = subprocess.run(
        args,
        env=ctx.env(),
        cwd=str(ctx.repo),
        capture_output=True,
        text=True,
        timeout=ctx.sizes.timeout_s + 60,
        check=False,
    )
    if out.returncode != 0:
        raise RuntimeError(f"bench: worker {kind} failed: {out.stderr[-1500:]}")
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def run_worker_full(
    ctx: Context, kind: str, topic: str, count: int, **extra: Any
) -> tuple[list[tuple[float, int]], float]:
    """Run one `bench.workers` loop in its own process; return its samples and CPU seconds."""
    body = worker_result(ctx, kind, topic, count, **extra)
    return [(float(t), int(c)) for t, c in body["samples"]], float(body.get("cpu_s", "nan"))
