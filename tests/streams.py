"""Test support: fill a topic with records and snapshot what the bridge wrote."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import redis
from kafka import KafkaProducer

from common.keys import RedisKeys

Record = tuple[bytes | None, bytes | None, list[tuple[str, bytes]]]  # value, key, headers


def produce(bootstrap: str, topic: str, records: Iterable[Record], partition: int | None = None) -> int:
    """Send records (value, key, headers) and wait until Kafka acknowledged all; return the count."""
    producer = KafkaProducer(
        bootstrap_servers=bootstrap, linger_ms=20, batch_size=256 * 1024, max_request_size=16 * 1024 * 1024
    )
    n = 0
    try:
        for value, key, headers in records:
            producer.send(topic, value=value, key=key, headers=headers, partition=partition)
            n += 1
        producer.flush(timeout=60)
    finally:
        producer.close(timeout=10)
    return n


def generated(count: int, seed: int = 7, **kwargs: Any) -> list[Record]:
    """Records from the seeded producer generator (value, card-id key, ground-truth headers)."""
    from producer import generate

    return [(e.value, e.key, list(e.headers)) for e in generate(seed=seed, count=count, **kwargs)]


def _decode_hash(raw: dict[bytes, bytes]) -> dict[str, str]:
    return {k.decode(): v.decode() for k, v in raw.items()}


def snapshot(client: redis.Redis, keys: RedisKeys, topic: str) -> dict[str, Any]:
    """Everything that must be identical between two runs over the same records (no stream ids)."""
    p = keys.prefix
    seconds = {
        k.decode()[len(p) :]: _decode_hash(client.hgetall(k))  # type: ignore[arg-type]
        for k in client.scan_iter(match=f"{p}sec:*", count=1000)
    }
    cards = {k.decode()[len(p) :]: client.get(k) for k in client.scan_iter(match=f"{p}card:*", count=1000)}
    alert_ids = [x.decode() for x in client.zrange(keys.alert_index, 0, -1)]  # type: ignore[union-attr]
    snap: dict[str, Any] = {"seconds": seconds, "cards": cards, "alert_ids": sorted(alert_ids)}
    for name in ("totals", "city_txns", "city_alerts", "dlq_reasons", "eval_counts"):
        snap[name] = _decode_hash(client.hgetall(getattr(keys, name)))  # type: ignore[arg-type]
    snap["offsets"] = _decode_hash(client.hgetall(keys.offsets(topic)))  # type: ignore[arg-type]
    snap["banner"] = sorted(x.decode() for x in client.zrange(keys.banner, 0, -1))  # type: ignore[union-attr]
    return snap
