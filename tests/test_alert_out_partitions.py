"""AlertPublisher picks each alert's partition itself (cached per card): the same one Kafka's default
partitioner picks, so one card's alerts stay on one partition whoever publishes them."""

from __future__ import annotations

from typing import Any, cast

import pytest
from kafka import KafkaConsumer, KafkaProducer

from bridge.alert_out import AlertPublisher
from infra.kafka_topics import ensure_topics
from tests.conftest import unique
from tests.notifier_receiver import make_alert

pytestmark = pytest.mark.integration


class _Item:
    """The one attribute AlertPublisher.send reads of a scored event."""

    def __init__(self, alert: Any) -> None:
        self.alert = alert


def _partitions_by_key(bootstrap: str, topic: str, count: int) -> dict[bytes, set[int]]:
    consumer = KafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", consumer_timeout_ms=10_000
    )
    found: dict[bytes, set[int]] = {}
    try:
        seen = 0
        for record in consumer:
            found.setdefault(record.key, set()).add(record.partition)
            seen += 1
            if seen == count:
                break
    finally:
        consumer.close()
    assert seen == count
    return found


def test_alerts_land_on_the_default_partitioners_partition(kafka_bootstrap: str, alerts_topic: str) -> None:
    reference = unique("t-alerts-ref")
    ensure_topics(kafka_bootstrap, {reference: 3})
    # 300 cards, each alerting three times (a storm repeats cards: the cache's hits)
    alerts = [make_alert(n % 300) for n in range(900)]
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all", enable_idempotence=True)
    try:
        publisher = AlertPublisher(producer, alerts_topic)
        for start in range(0, len(alerts), 250):  # several batches: send, then confirm
            assert publisher.send(cast(Any, _Item(a)) for a in alerts[start : start + 250]) == len(
                alerts[start : start + 250]
            )
            publisher.confirm()
        for alert in alerts[:300]:  # kafka-python's own choice (key hashed, no partition given)
            producer.send(reference, key=alert.card_id.encode(), value=b"x")
        producer.flush(timeout=10)
    finally:
        producer.close(timeout=5)
    published = _partitions_by_key(kafka_bootstrap, alerts_topic, len(alerts))
    chosen = _partitions_by_key(kafka_bootstrap, reference, 300)
    assert len(published) == 300
    assert all(len(parts) == 1 for parts in published.values()), "one card, one partition"
    assert published == chosen
    assert len({p for parts in chosen.values() for p in parts}) == 3
