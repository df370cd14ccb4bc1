"""Section 2: end-to-end latency (record timestamp -> visible in Redis) at fixed producer rates."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import msgspec
import redis

from bench.bridge_run import processed, start_bridges, write_rules
from bench.feed import make_producer
from bench.sec_rules import MIXED, publish_custom
from bench.stack import Context, machine_note, spawn, stop, wait_until
from bench.stats import latency_summary, summarize
from common.alerts import alert_id_for
from common.keys import RedisKeys
from common.schema import UNKNOWN_CITY, Transaction, encode_event

logger = logging.getLogger(__name__)


class _Row(msgspec.Struct):
    rt: int  # the record timestamp the bridge copies into every `txns` row


class StreamWatcher(threading.Thread):
    """Reads the `txns` stream as the bridge writes it; latency = entry id (Redis ms) - record ts."""

    def __init__(self, url: str, keys: RedisKeys) -> None:
        super().__init__(daemon=True)
        self.client = redis.Redis.from_url(url)
        self.key, self.samples, self.done = keys.txns, list[float](), threading.Event()
        self.last = b"$"

    def mark(self) -> None:
        """Read from after the newest entry now in the stream (call before start(): "$" would drop
        entries written between the thread's start and its first XREAD)."""
        newest: Any = self.client.xrevrange(self.key, count=1)
        self.last = newest[0][0] if newest else b"0-0"

    def run(self) -> None:
        dec = msgspec.json.Decoder(_Row)
        while not self.done.is_set():
            reply: Any = self.client.xread({self.key: self.last}, count=10_000, block=100)
            for _, entries in reply or []:
                for entry_id, fields in entries:
                    self.last = entry_id
                    ms = int(entry_id.split(b"-", 1)[0])
                    self.samples.append(ms - dec.decode(fields[b"d"]).rt)
        self.client.close()


def probe_event() -> tuple[bytes, bytes, str]:
    """A transaction that must raise a high-severity alert: huge amount from an unknown location."""
    txn_id = f"bench-probe-{uuid.uuid4().hex[:12]}"
    card = f"bench-card-{uuid.uuid4().hex[:8]}"
    ev = Transaction(
        txn_id=txn_id,
        ts=datetime.now(UTC),
        card_id=card,
        account_id="bench-acct",
        amount=999_000.0,
        currency="USD",
        merchant_id="bench-merchant",
        merchant_category="electronics",
        city=UNKNOWN_CITY,
        channel="online",
    )
    return encode_event(ev), card.encode(), alert_id_for(txn_id)


def banner_probes(ctx: Context, topic: str, keys: RedisKeys, n: int, gap_s: float) -> list[float]:
    """Send n probes; for each, ms from send() until its id is in the banner set a dashboard reads."""
    prod: Any = make_producer(ctx.bootstrap, linger_ms=0)
    out = []
    try:
        for _ in range(n):
            value, key, alert_id = probe_event()
            t0 = time.time()
            prod.send(topic, value=value, key=key)
            prod.flush()
            wait_until(
                lambda a=alert_id: ctx.redis.zscore(keys.banner, a) is not None,
                30,
                "banner",
                interval_s=0.002,
            )
            out.append((time.time() - t0) * 1000)
            time.sleep(gap_s)
    finally:
        prod.close(timeout=5)
    return out


def one_rate(
    ctx: Context, rate: int, seed: int, probes: int, custom: list[dict[str, Any]] | None = None
) -> tuple[list[float], list[float]]:
    """Stream at `rate` through one fresh bridge (default rules, plus `custom` ones when given);
    return (latency samples ms, banner ms)."""
    sz = ctx.sizes
    topic, keys = ctx.new_topic(f"lat{rate}"), ctx.new_keys(f"lat{rate}")
    if custom:
        publish_custom(ctx, keys, custom)
    else:
        write_rules(ctx, keys, ml=False)
    bridges = start_bridges(ctx, topic, keys, 1, f"lat{rate}")
    watcher = StreamWatcher(ctx.redis_url, keys)
    producer = None
    try:
        banner_probes(ctx, topic, keys, 1, 0)  # warm-up: the bridge has joined and written once
        watcher.mark()
        watcher.start()
        count = int(rate * sz.latency_duration_s)
        producer = spawn(
            [
                "-m",
                "producer",
                "--rate",
                str(rate),
                "--count",
                str(count),
                "--seed",
                str(seed),
                "--bootstrap-servers",
                ctx.bootstrap,
                "--topic",
                topic,
                "--log-level",
                "WARNING",
            ],
            ctx.env(),
            ctx.out_dir / "logs" / "producer-latency.log",
        )
        banner: list[float] = []
        if probes:
            time.sleep(min(2.0, sz.latency_duration_s / 3))
            banner = banner_probes(ctx, topic, keys, probes, sz.latency_duration_s / (2 * probes))
        producer.wait(timeout=sz.timeout_s)
        wait_until(lambda: processed(ctx, keys) >= count + probes + 1, 60, f"latency run at {rate}/s")
        time.sleep(0.3)
    finally:
        watcher.done.set()
        stop([p for p in (producer, *bridges) if p is not None])
        if watcher.is_alive():
            watcher.join(timeout=5)
        ctx.drop_prefix(keys)
    return watcher.samples, banner


def run(ctx: Context) -> dict[str, Any]:
    """Interleave the rates within each repetition; banner probes ride on the middle rate; the middle
    rate runs again with the default rules plus ten custom rules of mixed kinds (bench/sec_rules.py)."""
    sz = ctx.sizes
    per_rate: dict[int, dict[str, list[float]]] = {r: {} for r in sz.latency_rates}
    custom_rate: dict[str, list[float]] = {}
    banner_rate = sz.latency_rates[len(sz.latency_rates) // 2]
    banner_all: list[list[float]] = []
    cdf: dict[str, list[float]] = {}
    for rep in range(sz.reps):
        for rate in sz.latency_rates:
            samples, banner = one_rate(ctx, rate, 100 + rep, sz.banner_probes if rate == banner_rate else 0)
            summary = latency_summary(samples)
            for k, v in summary.items():
                per_rate[rate].setdefault(k, []).append(v)
            if banner:
                banner_all.append(banner)
            cdf[str(rate)] = sorted(samples)
            if rate == banner_rate:
                custom_samples, _ = one_rate(ctx, rate, 100 + rep, 0, MIXED)
                for k, v in latency_summary(custom_samples).items():
                    custom_rate.setdefault(k, []).append(v)
            logger.info(
                "bench: latency rep=%d rate=%d n=%d p50=%.1f p95=%.1f p99=%.1f max=%.1f ms",
                rep + 1,
                rate,
                len(samples),
                summary["p50"],
                summary["p95"],
                summary["p99"],
                summary["max"],
            )
    banner_stats = {k: summarize([latency_summary(b)[k] for b in banner_all]) for k in ("p50", "p95", "max")}
    return {
        "duration_s": sz.latency_duration_s,
        "rates": {str(r): {k: summarize(v) for k, v in d.items()} for r, d in per_rate.items()},
        "banner_rate": banner_rate,
        "custom_rules": {"rate": banner_rate, "rules": [r["id"] for r in MIXED]}
        | {k: summarize(v) for k, v in custom_rate.items()},
        "banner_probes_per_rep": sz.banner_probes,
        "banner_ms": banner_stats,
        "cdf_last_rep": {r: _thin(v) for r, v in cdf.items()},
        "machine": machine_note(),
    }


def _thin(sorted_ms: list[float], points: int = 400) -> list[float]:
    """Keep evenly spaced quantiles of a sorted sample so results.json stays small."""
    if len(sorted_ms) <= points:
        return sorted_ms
    step = (len(sorted_ms) - 1) / (points - 1)
    return [sorted_ms[round(i * step)] for i in range(points)]
