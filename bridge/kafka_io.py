"""Kafka adapter: consumer/producer construction and a rebalance listener the main loop drains."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from kafka import ConsumerRebalanceListener, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.errors import KafkaError
from kafka.structs import MemberState, OffsetAndMetadata

from bridge.config import BridgeSettings

logger = logging.getLogger(__name__)
# How long a poll may wait while the group is (re-)joining. kafka-python 3.0.12 discards a join that
# completes between two polls and sends a new JoinGroup, so a join only lands if it fits in one poll.
JOIN_WAIT_MS = 2_000


def make_consumer(settings: BridgeSettings) -> KafkaConsumer:
    """A group consumer with manual commits and large fetches (throughput comes from batching)."""
    return KafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        group_id=settings.group_id,
        client_id=f"bridge-{settings.instance_id}",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_poll_records=settings.batch_max,
        fetch_max_bytes=16 * 1024 * 1024,
        max_partition_fetch_bytes=4 * 1024 * 1024,
        fetch_max_wait_ms=100,
        session_timeout_ms=10_000,
        heartbeat_interval_ms=1_000,
        # Also the rebalance timeout: how long a join waits for members that died without leaving.
        max_poll_interval_ms=30_000,
        bootstrap_timeout_ms=5_000,
        request_timeout_ms=15_000,
        reconnect_backoff_max_ms=2_000,
    )


def make_producer(settings: BridgeSettings) -> KafkaProducer:
    """The producer of dead letters and alerts: acks=all + idempotence (spelled out: the alerts
    guarantee rests on them), a long linger: every send is followed by the batch's flush."""
    return KafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        client_id=f"bridge-out-{settings.instance_id}",
        acks="all",
        enable_idempotence=True,
        # Dead letters and alerts are always flushed before their batch commits, so linger never
        # delays them; a short one made kafka-python cut a storm's alerts into many small requests
        # while they were still being appended (~15 % more CPU per alert, bench/sec_alerts_out.py).
        linger_ms=1_000,
        # An alert storm sends thousands of alerts per batch: kafka-python's cost per record drops
        # by a third with 256 KB record batches instead of 16 KB (fewer batches to open and close).
        batch_size=256 * 1024,
        max_request_size=16 * 1024 * 1024,
        bootstrap_timeout_ms=5_000,
        request_timeout_ms=15_000,
        reconnect_backoff_max_ms=2_000,
    )


@dataclass
class RebalanceEvents:
    """What changed since the main loop last looked (filled on kafka-python's IO thread)."""

    revoked: set[int] = field(default_factory=set)
    assigned: set[int] = field(default_factory=set)  # newly ours: the main loop seeks them before use


class Rebalancer(ConsumerRebalanceListener):
    """Records assignment changes for the main loop; touches nothing else.

    kafka-python calls it on its IO thread, which also sends the group's heartbeats: anything slow
    here (a Redis read with Redis down waits for the socket timeout) stalls the whole consumer. So
    the main loop reads the stored offsets and seeks, before it uses a newly assigned partition.
    """

    def __init__(self, topic: str) -> None:
        self._topic = topic
        self._lock = threading.Lock()
        self._events = RebalanceEvents()

    def drain(self) -> RebalanceEvents:
        """Return and reset the events collected so far."""
        with self._lock:
            events, self._events = self._events, RebalanceEvents()
        return events

    def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        parts = {tp.partition for tp in revoked if tp.topic == self._topic}
        logger.info("bridge: partitions revoked partitions=%s", sorted(parts))
        with self._lock:
            self._events.revoked |= parts
            self._events.assigned -= parts

    def on_partitions_lost(self, lost: set[TopicPartition]) -> None:
        self.on_partitions_revoked(lost)

    def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        parts = {tp.partition for tp in assigned if tp.topic == self._topic}
        logger.info("bridge: partitions received partitions=%s (seek pending)", sorted(parts))
        with self._lock:
            self._events.assigned |= parts


def seek_to_stored(
    consumer: KafkaConsumer,
    topic: str,
    partitions: list[int],
    lookup: Callable[[list[int]], dict[int, int | None]],
) -> dict[int, int | None]:
    """Seek each partition to its Redis-stored next offset, or to the beginning when none.

    Returns {partition: offset} where the offset is None for "beginning" (resolved lazily).
    Raises whatever `lookup` raises, before seeking anything.
    """
    if not partitions:
        return {}
    stored = lookup(partitions)
    done: dict[int, int | None] = {}
    for p in partitions:
        tp, offset = TopicPartition(topic, p), stored.get(p)
        try:
            if offset is None:
                consumer.seek_to_beginning(tp)
            else:
                consumer.seek(tp, offset)
        except ValueError:  # revoked meanwhile: its new owner positions it
            continue
        done[p] = offset
    return done


def poll_wait_ms(consumer: KafkaConsumer, default_ms: int) -> int:
    """The poll timeout: `default_ms`, or long enough for a whole join while the group is not stable."""
    state = getattr(getattr(consumer, "_coordinator", None), "state", None)  # private, best effort
    if state is None or state == MemberState.STABLE:
        return default_ms
    return max(default_ms, JOIN_WAIT_MS)


def resume_stranded_join(consumer: KafkaConsumer) -> bool:
    """Re-request a group join that kafka-python 3.0.12 left half done; True when it did.

    A rejoin triggered by a metadata change (the leader's assignment snapshot differs from the
    topic metadata, e.g. right after a topic is created) is only wanted while the snapshots differ.
    When poll()'s timer expires while that JoinGroup/SyncGroup is in flight, the join finishes on
    the IO thread, the leader's assignment makes the snapshots equal again, and no later poll()
    awaits the result: the member stays REBALANCING with no partitions forever. request_rejoin()
    makes the next poll() await the join in flight, or send a fresh one if it already ended.
    Private attributes: best effort, does nothing if they change.
    """
    coordinator = getattr(consumer, "_coordinator", None)
    if coordinator is None or getattr(coordinator, "state", None) != MemberState.REBALANCING:
        return False
    try:
        if coordinator.need_rejoin():
            return False
        task = getattr(coordinator, "_join_task", None)
        coordinator.request_rejoin()
    except AttributeError:
        return False
    logger.info("bridge: resuming a stranded group join join_done=%s", task is None or task.is_done)
    return True


def partition_lag(consumer: KafkaConsumer, topic: str, positions: Mapping[int, int | None]) -> dict[int, int]:
    """Records between each position and the partition's high watermark (from the last fetch)."""
    lag = {}
    for p, offset in positions.items():
        try:
            hw = consumer.highwater(TopicPartition(topic, p))
        except (KafkaError, ValueError):
            continue
        if hw is not None and offset is not None:
            lag[p] = max(0, hw - offset)
    return lag


def commit_positions(
    consumer: KafkaConsumer, topic: str, positions: Mapping[int, int | None], *, wait: bool = False
) -> None:
    """Mirror Redis-committed positions into the group's Kafka offsets (for lag tooling only).

    Redis holds the authoritative offsets, so the loop does not wait for the broker (`wait` only
    at shutdown, where the commit must reach it before the consumer closes).
    """
    offsets = {
        TopicPartition(topic, p): OffsetAndMetadata(o, "", -1) for p, o in positions.items() if o is not None
    }
    if not offsets:
        return
    try:
        if wait:
            consumer.commit(offsets=offsets, timeout_ms=2_000)
        else:
            consumer.commit_async(offsets=offsets, callback=_log_commit)
    except Exception as exc:  # informational commit: never worth stopping for
        logger.info("bridge: kafka offset commit failed error=%s", exc)


def _log_commit(offsets: Mapping[TopicPartition, OffsetAndMetadata], result: object) -> None:
    if isinstance(result, Exception):
        logger.info("bridge: kafka offset commit failed error=%s", result)
