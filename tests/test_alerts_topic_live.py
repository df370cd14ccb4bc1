"""Alerts on Kafka, in-process bridge on real Kafka + Redis: the topic holds exactly Redis's alerts."""

from __future__ import annotations

import pytest
import redis

from bridge.config import load_settings
from bridge.kafka_io import make_consumer, make_producer
from bridge.service import Bridge
from common.alerts import decode_alert
from common.keys import RedisKeys
from tests.conftest import unique
from tests.faults.alerts_topic import read_alerts, redis_alert_ids
from tests.native_gate import needs_native
from tests.streams import generated, produce
from tests.test_bridge_pipeline import expected_alerts

pytestmark = pytest.mark.integration
# An alert storm (the bench's mix): most batches carry alerts, on every partition.
STORM = {"card_testing": 0.15, "high_amount": 0.45, "unknown_location": 0.4}
ENGINES = [pytest.param("python", id="python"), pytest.param("native", id="native", marks=needs_native())]


@pytest.mark.parametrize("engine", ENGINES)
def test_every_alert_in_redis_is_on_the_topic_once_with_key_and_headers(
    engine: str,
    kafka_bootstrap: str,
    redis_url: str,
    topic: str,
    dlq_topic: str,
    alerts_topic: str,
    redis_prefix: str,
    redis_client: redis.Redis,
) -> None:
    records = generated(3_000, seed=11, fraud_ratio=0.5, scenarios=STORM)
    produce(kafka_bootstrap, topic, records)
    settings = load_settings(
        env={},
        kafka_bootstrap_servers=kafka_bootstrap,
        kafka_topic=topic,
        kafka_dlq_topic=dlq_topic,
        kafka_alerts_topic=alerts_topic,
        redis_url=redis_url,
        redis_key_prefix=redis_prefix,
        group_id=unique("g-alerts"),
        poll_timeout_ms=50,
        batch_max=500,  # several batches, each with its own publish and commit
        engine=engine,
    )
    consumer, producer = make_consumer(settings), make_producer(settings)
    client = redis.Redis.from_url(redis_url, socket_timeout=5)
    try:
        assert Bridge(settings, consumer, producer, client).run(max_events=len(records)) == len(records)
    finally:
        consumer.close(autocommit=False)
        producer.close(timeout=5)
        client.close()

    want = expected_alerts(records)
    stored = redis_alert_ids(redis_client, redis_prefix)
    on_topic = read_alerts(kafka_bootstrap, alerts_topic)
    assert len(want) > 300, "the seeded stream should raise alerts"
    assert stored == set(want)
    assert on_topic.ids == stored
    assert on_topic.duplicates == 0, "a clean run publishes each alert once"
    keys = RedisKeys(redis_prefix)
    for alert_id, alert in on_topic.first.items():  # the same document as the one analysts see
        assert alert == decode_alert(redis_client.hget(keys.alert(alert_id), "d"))  # type: ignore[arg-type]
