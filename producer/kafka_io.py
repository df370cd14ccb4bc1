"""Kafka adapter: build the idempotent producer and send generated events (key = card id)."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from kafka import KafkaProducer
from kafka.errors import KafkaError
from kafka.partitioner.default import murmur2

from producer.events import GeneratedEvent

logger = logging.getLogger(__name__)

# Bounded batching: enough to keep up at --rate 0, small enough that latency stays ~10 ms.
PRODUCER_DEFAULTS: dict[str, Any] = {
    "acks": "all",
    "enable_idempotence": True,
    "linger_ms": 0,  # part of end-to-end latency (see config.ProducerSettings.linger_ms)
    "batch_size": 128 * 1024,
    "max_block_ms": 10_000,  # send() waits this long for metadata or buffer space, then raises
    # Reconnect quickly after a broker restart (kafka-python's default backoff grows to 30 s, long
    # enough for the final flush to give up on records the broker would have accepted).
    "reconnect_backoff_max_ms": 2_000,
    "delivery_timeout_ms": 120_000,
}
# A final flush waits at least as long as a record may stay undelivered before it expires.
FLUSH_TIMEOUT_S = PRODUCER_DEFAULTS["delivery_timeout_ms"] / 1000 + 10


class KafkaUnavailable(RuntimeError):
    """The Kafka cluster could not be reached within the bootstrap timeout."""


class DeliveryFailed(RuntimeError):
    """Some records were not acknowledged by the broker."""


def make_producer(
    bootstrap_servers: str, bootstrap_timeout_ms: int = 10_000, **overrides: Any
) -> KafkaProducer:
    """Connect an idempotent acks=all producer; raise KafkaUnavailable instead of hanging."""
    config = {**PRODUCER_DEFAULTS, **overrides}
    try:
        return KafkaProducer(
            bootstrap_servers=bootstrap_servers, bootstrap_timeout_ms=bootstrap_timeout_ms, **config
        )
    except KafkaError as exc:
        raise KafkaUnavailable(
            f"cannot reach Kafka at {bootstrap_servers} within {bootstrap_timeout_ms} ms: {exc}"
        ) from None


class TopicMissing(RuntimeError):
    """The topic does not exist (and the broker does not create topics on demand)."""


def check_topic(producer: KafkaProducer, topic: str) -> int:
    """Return the topic's partition count; raise TopicMissing instead of failing at the first send."""
    # kafka.cluster logs an ERROR on every metadata retry of a missing topic; we report it once.
    cluster_log = logging.getLogger("kafka.cluster")
    level = cluster_log.level
    cluster_log.setLevel(logging.CRITICAL)
    try:
        partitions = producer.partitions_for(topic)
    except KafkaError:
        partitions = None
    finally:
        cluster_log.setLevel(level)
    if not partitions:
        raise TopicMissing(f"topic {topic!r} does not exist (create it first, e.g. `make services`)")
    return len(partitions)


class DeliveryErrors:
    """Counts failed sends (an errback per record) and logs the first few."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, exc: BaseException) -> None:
        self.count += 1
        if self.count <= 5:
            logger.error("producer: delivery failed error=%s", exc)


def key_partition(key: bytes, partitions: int) -> int:
    """The partition Kafka's default partitioner gives a key (murmur2, as the Java client)."""
    return (murmur2(key) & 0x7FFFFFFF) % partitions


class KeyPartitions(dict[bytes, int]):
    """key -> partition of one topic, as Kafka's default partitioner assigns it, hashed once per key.

    kafka-python hashes every record's key in pure Python (~8 us, as much as generating the
    event); a card's partition only changes with the topic's partition count, which
    `refresh` (once per batch, a metadata lookup) checks. Look keys up with `memo[key]`.
    """

    def __init__(self, producer: KafkaProducer, topic: str) -> None:
        super().__init__()
        self._producer, self._topic = producer, topic
        self.count = 0

    def refresh(self) -> None:
        """Forget every key's partition if the topic's partition count changed."""
        count = len(self._producer.partitions_for(self._topic))
        if count != self.count:
            self.clear()
            self.count = count

    def __missing__(self, key: bytes) -> int:
        p = self[key] = key_partition(key, self.count)
        return p


def send_one(producer: KafkaProducer, topic: str, ev: GeneratedEvent, errors: DeliveryErrors) -> None:
    """Send one event: key = card id, value = schema-v1 JSON, ground truth in headers."""
    producer.send(topic, value=ev.value, key=ev.key, headers=ev.headers).add_errback(errors)


def send_events(
    producer_or_bootstrap: KafkaProducer | str,
    topic: str,
    events: Iterable[GeneratedEvent],
    flush_timeout_s: float = FLUSH_TIMEOUT_S,
) -> int:
    """Send events, flush, and return how many were sent; raise DeliveryFailed if any failed.

    Given a bootstrap string, a producer is created and closed here; a producer passed in is
    flushed but left open.
    """
    own = isinstance(producer_or_bootstrap, str)
    producer = (
        make_producer(producer_or_bootstrap)
        if isinstance(producer_or_bootstrap, str)
        else producer_or_bootstrap
    )
    errors = DeliveryErrors()
    sent = 0
    try:
        for ev in events:
            send_one(producer, topic, ev, errors)
            sent += 1
        producer.flush(timeout=flush_timeout_s)
    finally:
        if own:
            producer.close(timeout=5)
    if errors.count:
        raise DeliveryFailed(f"{errors.count} of {sent} records failed")
    return sent
