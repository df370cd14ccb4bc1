"""Read a whole topic from its first retained record to its end at the time of the call."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from kafka import KafkaConsumer, TopicPartition


class TopicMissing(RuntimeError):
    """The topic does not exist on the broker."""


@dataclass(frozen=True)
class Record:
    """What the rebuild needs of one record: its value, its timestamp, and where it was (for logs)."""

    value: bytes
    timestamp_ms: int
    where: str  # partition:offset


def read_topic(consumer: KafkaConsumer, topic: str, poll_ms: int = 500) -> Iterator[Record]:
    """Yield every record of every partition up to the end offsets read at the start (no group,
    nothing committed); per partition in offset order. Records without a value are skipped."""
    parts = consumer.partitions_for_topic(topic)
    if not parts:
        raise TopicMissing(f"topic {topic!r} does not exist")
    tps = [TopicPartition(topic, p) for p in sorted(parts)]
    ends = consumer.end_offsets(tps)
    consumer.assign(tps)
    consumer.seek_to_beginning(*tps)
    todo = {tp for tp in tps if ends[tp] > consumer.position(tp)}
    while todo:
        for tp, fetched in consumer.poll(timeout_ms=poll_ms).items():
            for r in fetched:
                if r.offset < ends[tp] and r.value is not None:
                    yield Record(r.value, r.timestamp, f"{tp.partition}:{r.offset}")
        todo = {tp for tp in todo if consumer.position(tp) < ends[tp]}
