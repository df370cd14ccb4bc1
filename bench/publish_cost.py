"""Alerts-out sub-measure: CPU per alert of publishing alone, the bridge's publisher vs its earlier form.

No bridge around it: N synthetic alerts (a storm's card repetition: each card alerts 2.5 times)
sent in batches and confirmed per batch, as apply.py does, on a fresh 3-partition topic. `bridge`
is bridge.alert_out.AlertPublisher on bridge.kafka_io.make_producer (per-card partition cache,
1 s linger); `earlier` is the first version (5 ms linger, kafka-python hashing every key).
CPU = process time (all threads) of this process over the sends and flushes.
"""

from __future__ import annotations

import time
from typing import Any, cast

from bench.stack import Context
from bench.stats import ratios, summarize
from bridge.alert_out import AlertPublisher
from bridge.config import load_settings
from bridge.kafka_io import make_producer
from common.alert_topic import alert_record
from common.alerts import Alert, Reason

ALERTS, CARDS, BATCH = 30_000, 12_000, 6_000


class _Scored:
    """The one attribute AlertPublisher.send reads of a scored event."""

    def __init__(self, alert: Alert) -> None:
        self.alert = alert


def _alerts(n: int) -> list[Alert]:
    reason = Reason(
        rule="high_amount", observed=6000.0, limit=5000.0, text="amount 6,000.00 USD above $5,000.00"
    )
    return [
        Alert(
            alert_id=f"bench-{i:08d}",
            txn_id=f"t{i}",
            ts="2026-01-01T00:00:00.000Z",
            event_ms=1_767_225_600_000 + i,
            card_id=f"C-{i % CARDS:07d}",
            account_id=f"A-{i % CARDS:07d}",
            amount=6000.0,
            currency="USD",
            merchant_id="M-0001234",
            merchant_category="electronics",
            city="Oslo",
            country="NO",
            lat=59.9,
            lon=10.7,
            channel="online",
            score=0.9,
            severity="high",
            reasons=(reason,),
            rules_version=3,
        )
        for i in range(n)
    ]


def _bridge(ctx: Context, topic: str, alerts: list[Alert]) -> float:
    settings = load_settings(env={}, kafka_bootstrap_servers=ctx.bootstrap)
    producer = make_producer(settings)
    try:
        publisher = AlertPublisher(producer, topic)
        producer.partitions_for(topic)  # metadata fetched before the clock starts, for both variants
        t0 = time.process_time()
        for start in range(0, len(alerts), BATCH):
            publisher.send(cast(Any, _Scored(a)) for a in alerts[start : start + BATCH])
            publisher.confirm()
        return time.process_time() - t0
    finally:
        producer.close(timeout=10)


def _earlier(ctx: Context, topic: str, alerts: list[Alert]) -> float:
    from kafka import KafkaProducer

    producer = KafkaProducer(
        bootstrap_servers=ctx.bootstrap,
        acks="all",
        enable_idempotence=True,
        linger_ms=5,
        batch_size=256 * 1024,
        max_request_size=16 * 1024 * 1024,
    )
    try:
        producer.partitions_for(topic)
        t0 = time.process_time()
        for start in range(0, len(alerts), BATCH):
            futures = []
            for alert in alerts[start : start + BATCH]:
                key, value, headers = alert_record(alert)
                futures.append(producer.send(topic, value=value, key=key, headers=headers))
            producer.flush(timeout=10)
            if not all(f.succeeded() for f in futures):
                raise RuntimeError("bench: a send was not acknowledged")
        return time.process_time() - t0
    finally:
        producer.close(timeout=10)


def measure(ctx: Context) -> dict[str, Any]:
    """CPU µs per alert, both variants side by side per repetition (alternating order)."""
    n = ALERTS // 10 if ctx.smoke else ALERTS
    alerts = _alerts(n)
    runs: dict[str, list[float]] = {"bridge": [], "earlier": []}
    variants = {"bridge": _bridge, "earlier": _earlier}
    for rep in range(ctx.sizes.reps):
        for name in list(variants) if rep % 2 == 0 else list(reversed(variants)):
            topic = ctx.new_topic(f"ao-pub-{name}", partitions=3)
            runs[name].append(1e6 * variants[name](ctx, topic, alerts) / n)
    return {
        "alerts": n,
        "cards": min(n, CARDS),
        "cpu_us_per_alert": {name: summarize(values) for name, values in runs.items()},
        "ratio_bridge_vs_earlier": summarize(ratios(runs["bridge"], runs["earlier"])),
    }
