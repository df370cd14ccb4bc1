"""The local services really run: a Kafka round trip in a consumer group, and Redis."""

from __future__ import annotations

import pytest
from kafka import KafkaConsumer, KafkaProducer

from infra.procs import InfraError, port_in_use
from infra.services import LocalStack

pytestmark = pytest.mark.integration


def test_kafka_round_trip_in_a_consumer_group(kafka_bootstrap: str, topic: str) -> None:
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap)
    for i in range(10):
        producer.send(topic, key=f"k{i}".encode(), value=f"v{i}".encode())
    producer.flush()
    producer.close()
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=kafka_bootstrap,
        group_id=f"g-{topic}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        consumer_timeout_ms=15000,
    )
    seen = set()
    for record in consumer:
        seen.add(record.value)
        if len(seen) == 10:
            break
    consumer.commit()
    consumer.close()
    assert seen == {f"v{i}".encode() for i in range(10)}


def test_redis_answers(redis_client, redis_prefix: str) -> None:
    redis_client.set(f"{redis_prefix}x", b"1")
    assert redis_client.incr(f"{redis_prefix}x") == 2


def test_starting_on_a_busy_port_fails_clearly(services, tmp_path) -> None:
    port = int(services.redis_url.rsplit(":", 1)[1].split("/")[0])
    assert port_in_use("127.0.0.1", port)
    stack = LocalStack.from_env(env={"REDIS_PORT": str(port)}, state_dir=tmp_path, appendonly=False)
    with pytest.raises(InfraError, match="already in use"):
        stack.up()
    assert stack.status() == {"kafka": False, "redis": False}
