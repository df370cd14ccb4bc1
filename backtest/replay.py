"""Kafka side of a backtest: a time range to offsets (retention checked) and a bounded replay of them."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from kafka import KafkaConsumer, TopicPartition


class RangeError(ValueError):
    """A time range the topic cannot replay (reversed, in the future, or older than its retention)."""


@dataclass(frozen=True)
class Span:
    """One partition's offsets: warm-up from `warm`, the range from `start` up to (excluding) `end`."""

    warm: int
    start: int
    end: int


@dataclass(frozen=True)
class Plan:
    """What a run replays: per partition spans, and the record-time range they came from."""

    topic: str
    from_ms: int
    to_ms: int
    warmup_ms: int
    spans: dict[int, Span]

    @property
    def total(self) -> int:
        """Records in the range (warm-up excluded)."""
        return sum(s.end - s.start for s in self.spans.values())

    @property
    def warm_total(self) -> int:
        return sum(s.start - s.warm for s in self.spans.values())


def make_consumer(bootstrap: str, batch_max: int) -> KafkaConsumer:
    """A group-less consumer (assigned partitions, no commits): a backtest never moves live offsets."""
    return KafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        max_poll_records=batch_max,
        fetch_max_bytes=16 * 1024 * 1024,
        max_partition_fetch_bytes=4 * 1024 * 1024,
        bootstrap_timeout_ms=5_000,
        request_timeout_ms=15_000,
    )


def _offsets_at(
    consumer: KafkaConsumer, tps: list[TopicPartition], ms: int, ends: dict[Any, int]
) -> dict[int, int]:
    """First offset at or after record time `ms` per partition (the end offset when there is none)."""
    found = consumer.offsets_for_times({tp: ms for tp in tps})
    return {tp.partition: (hit.offset if hit is not None else ends[tp]) for tp, hit in found.items()}


def _timestamp_at(consumer: KafkaConsumer, tp: TopicPartition, offset: int, wait_ms: int = 5_000) -> int:
    """The record time of the record at `offset` (the consumer is re-assigned before a replay)."""
    consumer.assign([tp])
    consumer.seek(tp, offset)
    deadline = time.monotonic() + wait_ms / 1000
    while time.monotonic() < deadline:
        for records in consumer.poll(timeout_ms=200, max_records=1).values():
            if records:
                return int(records[0].timestamp)
    raise RangeError(f"partition {tp.partition}: no record at offset {offset} within {wait_ms} ms")


def resolve(
    consumer: KafkaConsumer,
    topic: str,
    from_ms: int,
    to_ms: int,
    *,
    warmup_ms: int,
    now_ms: int | None = None,
) -> Plan:
    """Map [from_ms, to_ms) record time to offsets; RangeError when the topic cannot replay it.

    A range is refused when it is reversed, starts in the future, or starts before the oldest record
    Kafka still keeps (the log start offset moved past it: those records are gone). The warm-up is
    clipped to what is retained.
    """
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    if to_ms <= from_ms:
        raise RangeError("the range must end after it starts")
    if from_ms > now_ms:
        raise RangeError("the range starts in the future")
    parts = consumer.partitions_for_topic(topic)
    if not parts:
        raise RangeError(f"topic {topic!r} does not exist")
    tps = [TopicPartition(topic, p) for p in sorted(parts)]
    begins, ends = consumer.beginning_offsets(tps), consumer.end_offsets(tps)
    starts = _offsets_at(consumer, tps, from_ms, ends)
    for tp in tps:
        # Records before the log start were deleted; the range reaches into them unless it starts at
        # or after the oldest record kept (then the first offset at `from_ms` is the log start too).
        if (
            begins[tp] > 0
            and starts[tp.partition] == begins[tp] < ends[tp]
            and from_ms < _timestamp_at(consumer, tp, begins[tp])
        ):
            raise RangeError(
                f"the range starts before the oldest record Kafka keeps (partition {tp.partition} starts "
                f"at offset {begins[tp]}: older records left the retention); choose a later start"
            )
    stops = _offsets_at(consumer, tps, to_ms, ends)
    warms = _offsets_at(consumer, tps, max(from_ms - warmup_ms, 0), ends) if warmup_ms > 0 else starts
    spans = {
        tp.partition: Span(
            min(warms[tp.partition], starts[tp.partition]), starts[tp.partition], stops[tp.partition]
        )
        for tp in tps
    }
    return Plan(topic, from_ms, to_ms, warmup_ms, spans)


def replay(
    consumer: KafkaConsumer, plan: Plan, stop: Callable[[], bool], poll_ms: int = 200
) -> Iterator[tuple[bool, list[Any]]]:
    """Yield (warm-up?, records) batches of every span, per partition in offset order, until done or stop().

    Each batch holds records of one partition, either all warm-up or all in range. A card's events
    share a partition (key = card id), so per-card order is the topic's.
    """
    todo = {p: s for p, s in plan.spans.items() if s.end > s.warm}
    if not todo:
        return
    tps = {p: TopicPartition(plan.topic, p) for p in todo}
    consumer.assign(list(tps.values()))
    for p, span in todo.items():
        consumer.seek(tps[p], span.warm)
    while todo and not stop():
        polled = consumer.poll(timeout_ms=poll_ms)
        for tp, fetched in polled.items():
            got = todo.get(tp.partition)
            if got is None:
                continue
            span = got
            records = [r for r in fetched if r.offset < span.end]
            warm = [r for r in records if r.offset < span.start]
            if warm:
                yield True, warm
            if len(warm) < len(records):
                yield False, records[len(warm) :]
            if not records or consumer.position(tp) >= span.end:  # control records may end a span
                del todo[tp.partition]
                consumer.pause(tp)


_END = object()  # the replay is exhausted


class Prefetch:
    """Run a replay in a background thread, `depth` batches ahead of the evaluation.

    kafka-python decodes records in Python while the native engine evaluates a batch with the GIL
    released: overlapping the two is what brings a backtest near raw consumption. Batches keep their
    order (one thread, one FIFO queue), so results are those of a sequential replay. Use it as a
    context manager: leaving it stops the thread before the consumer may be closed (the consumer is
    only ever used by one thread at a time). An error in the replay is raised in the caller.
    """

    def __init__(self, batches: Iterator[tuple[bool, list[Any]]], depth: int = 2) -> None:
        self._batches, self._depth = batches, depth  # depth 0: no thread, the caller replays
        self._queue = queue.Queue[Any](maxsize=max(depth, 1))
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._fill, name="backtest-replay", daemon=True)

    def _fill(self) -> None:
        try:
            for item in self._batches:
                if not self._put(item):
                    break
            self._put(_END)
        except BaseException as exc:  # raised again in the caller's thread
            self._put(exc)
        finally:
            close = getattr(self._batches, "close", None)
            if close is not None:
                close()

    def _put(self, item: Any) -> bool:
        while not self._closed.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def __enter__(self) -> Prefetch:
        if self._depth > 0:
            self._thread.start()
        return self

    def __iter__(self) -> Iterator[tuple[bool, list[Any]]]:
        if self._depth == 0:
            yield from self._batches
            return
        while True:
            item = self._queue.get()
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item

    def __exit__(self, *_exc: object) -> None:
        self._closed.set()
        if self._thread.is_alive():
            self._thread.join()
