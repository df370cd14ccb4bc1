"""Kafka helpers of the fault tests: produce records, read topics, ask for end and committed offsets."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.errors import KafkaError


def produce(
    bootstrap: str, topic: str, records: Iterable[Any], rate: float | None = None, **config: Any
) -> list[tuple[int, int]]:
    """Send records (objects with .value/.key/.headers), at most `rate` per second if given.

    Returns the (partition, offset) of each record, in order.
    """
    producer = KafkaProducer(
        bootstrap_servers=bootstrap,
        linger_ms=20,
        batch_size=256 * 1024,
        max_request_size=4 * 1024 * 1024,
        **config,
    )
    started = time.monotonic()
    try:
        futures = []
        for i, r in enumerate(records):
            if rate and i % 100 == 0:
                ahead = started + i / rate - time.monotonic()
                if ahead > 0:
                    time.sleep(ahead)
            futures.append(producer.send(topic, value=r.value, key=r.key, headers=list(r.headers)))
        producer.flush(timeout=120)
        metas = [f.get(timeout=60) for f in futures]
    finally:
        producer.close(timeout=10)
    return [(m.partition, m.offset) for m in metas]


def end_offsets(bootstrap: str, topic: str) -> dict[int, int]:
    """Current end offset (next offset to be written) of every partition of a topic.

    Retried for up to a minute: a broker just resumed (SIGCONT) can answer metadata with no broker
    in it (MetadataEmptyBrokerList) until it has registered again.
    """
    deadline = time.monotonic() + 60
    while True:
        consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
        try:
            parts = consumer.partitions_for_topic(topic) or set()
            ends = consumer.end_offsets([TopicPartition(topic, p) for p in sorted(parts)])
            return {tp.partition: off for tp, off in ends.items()}
        except KafkaError:
            if time.monotonic() > deadline:
                raise
            time.sleep(1.0)
        finally:
            consumer.close()


def read_topic(bootstrap: str, topic: str, idle_ms: int = 30_000) -> list[Any]:
    """Every record of a topic (all partitions, from the beginning), read without a group.

    Stops at the end offsets; idle_ms only bounds a stall (a loaded machine can take seconds to fetch).
    """
    ends = end_offsets(bootstrap, topic)
    if not any(ends.values()):
        return []
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        consumer_timeout_ms=idle_ms,
        fetch_max_bytes=16 * 1024 * 1024,
        max_partition_fetch_bytes=16 * 1024 * 1024,
    )
    try:
        tps = [TopicPartition(topic, p) for p in ends]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        out = []
        for record in consumer:
            out.append(record)
            if all(consumer.position(tp) >= ends[tp.partition] for tp in tps):
                break
    finally:
        consumer.close()
    return out


def committed_offsets(bootstrap: str, group: str, topic: str) -> dict[int, int]:
    """The consumer group's committed Kafka offsets for `topic` (what it acknowledged to Kafka)."""
    from kafka import KafkaAdminClient

    admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=5_000)
    try:
        found = admin.list_group_offsets({group: None}).get(group, {})
    finally:
        admin.close()
    return {tp.partition: meta.offset for tp, meta in found.items() if tp.topic == topic and meta.offset >= 0}
