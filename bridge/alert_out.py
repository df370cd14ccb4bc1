"""Alerts out: publish a batch's alerts to the alerts topic and confirm them before its Redis commit."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from kafka import KafkaProducer
from kafka.errors import KafkaError
from kafka.partitioner.default import murmur2

from bridge.batch_types import Scored
from common.alert_topic import alert_record

logger = logging.getLogger(__name__)
PARTITION_CACHE_MAX = (
    100_000  # card ids; cleared when full (a storm repeats cards, a quiet stream has few alerts)
)


class AlertsUnpublished(Exception):
    """Kafka did not acknowledge every alert of the batch; the batch must not be committed."""


class AlertPublisher:
    """Sends alerts asynchronously (key = card id); `confirm()` blocks until Kafka has them all.

    The producer is the bridge's idempotent acks=all producer, so a send the client retries never
    lands twice, and one card's alerts keep their order on their partition. Copies after a crash
    or a rebalance are possible (the batch is decided again); they carry the same alert_id.
    """

    def __init__(self, producer: KafkaProducer, topic: str, timeout_s: float = 10.0) -> None:
        self._producer, self._topic, self._timeout = producer, topic, timeout_s
        self._pending: list[Any] = []  # futures of sends not yet confirmed
        # card id -> partition, for the partition list it was computed with: kafka-python's default
        # partitioner hashes every record's key in pure Python (murmur2), a measurable share of the
        # per-alert cost in a storm, where the same cards alert again and again.
        self._partitions: list[int] = []
        self._partition_of: dict[bytes, int] = {}

    @property
    def topic(self) -> str:
        return self._topic

    def send(self, alerted: Iterable[Scored]) -> int:
        """Queue the alerts of these scored events, in order; return how many were queued."""
        send, topic, pending = self._producer.send, self._topic, self._pending
        n = 0
        try:
            partition_of: dict[bytes, int] | None = None
            for item in alerted:
                if item.alert is None:
                    continue
                if partition_of is None:  # once per batch with alerts, not once per alert
                    partition_of = self._partition_map()
                key, value, headers = alert_record(item.alert)
                partition = partition_of.get(key)
                if partition is None:
                    partition = partition_of[key] = self._partition(key)
                pending.append(send(topic, value=value, key=key, headers=headers, partition=partition))
                n += 1
        except KafkaError as exc:  # metadata unavailable for max_block_ms, buffer full, ...
            raise AlertsUnpublished(f"send: {exc}") from exc
        return n

    def _partition_map(self) -> dict[bytes, int]:
        """The key -> partition cache, emptied when the topic's partitions changed (or it is full)."""
        found = self._producer.partitions_for(self._topic)  # waits for metadata, as send() would
        partitions = sorted(found or ())
        if not partitions:
            raise AlertsUnpublished(f"send: no partitions known for topic {self._topic}")
        if partitions != self._partitions or len(self._partition_of) >= PARTITION_CACHE_MAX:
            self._partitions, self._partition_of = partitions, {}
        return self._partition_of

    def _partition(self, key: bytes) -> int:
        """The partition kafka-python's DefaultPartitioner picks for this key (the Java client's too)."""
        return self._partitions[(murmur2(key) & 0x7FFFFFFF) % len(self._partitions)]

    def confirm(self) -> int:
        """Flush and check every queued send; raise AlertsUnpublished if one is not acknowledged."""
        if not self._pending:
            return 0
        pending, self._pending = self._pending, []
        try:
            self._producer.flush(timeout=self._timeout)
        except KafkaError as exc:
            raise AlertsUnpublished(f"flush: {exc}") from exc
        for future in pending:
            if not future.succeeded():
                raise AlertsUnpublished(f"send: {future.exception!r}")
        return len(pending)

    def discard(self) -> None:
        """Forget unconfirmed sends (the batch is retried: its alerts are sent again)."""
        self._pending.clear()
