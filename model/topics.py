"""Kafka side of training: a record-time range of `transactions` (backtest's replay), all of `labels`."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from kafka import KafkaConsumer, TopicPartition

from backtest.replay import make_consumer, replay, resolve
from common.labels import InvalidLabel, Label, decode_label
from common.schema import InvalidEvent, decode_event, event_epoch_ms
from model.join import Txn, usd_cents
from model.windows import MAX_TIME

logger = logging.getLogger(__name__)
BATCH_MAX = 5_000
STALL_S = 30.0  # no record for this long while offsets remain: the broker is gone, say so


# (records read so far, records the read will take in all) -> True to stop reading (a cancel)
ReadWatch = Callable[[int, int], bool]


class TopicReadError(RuntimeError):
    """A topic that cannot be read to its end (missing, or the broker stopped answering)."""


class ReadCancelled(TopicReadError):
    """The read's watch asked it to stop (a backtest cancelled while its model scored the range)."""


@dataclass(frozen=True)
class Read:
    """What was decoded and how many records were refused (counted and logged, never fatal)."""

    txns: list[Txn]
    labels: list[Label]
    bad_transactions: int
    bad_labels: int


def _warn(kind: str, rec: Any, exc: Exception, n: int) -> None:
    if n <= 10 or n % 10_000 == 0:  # a topic full of junk must not flood the log
        logger.warning(
            "model: bad %s %s/%d@%d (%d so far): %s", kind, rec.topic, rec.partition, rec.offset, n, exc
        )


def read_transactions(
    consumer: KafkaConsumer,
    topic: str,
    span: tuple[int, int],
    *,
    warmup_ms: int,
    rates: Mapping[str, float],
    limit: int | None = None,
    watch: ReadWatch | None = None,
    reached: dict[int, int] | None = None,
) -> tuple[list[Txn], int]:
    """Decode [from - warmup_ms, to) record time of `topic`; amounts in US cents at `rates`.
    TopicReadError past `limit` transactions (a serving bridge's bound: never read what cannot fit);
    `watch` sees the progress after every batch and may stop the read (ReadCancelled); `reached`
    gets each partition's end offset of the read (every record before it, in the span, is read)."""
    plan = resolve(consumer, topic, span[0], span[1], warmup_ms=warmup_ms)
    out: list[Txn] = []
    bad = 0
    read, to_read = 0, plan.total + plan.warm_total
    last, gave_up = [time.monotonic()], [False]

    def stalled() -> bool:  # the replay waits for offsets a vanished broker never sends
        gave_up[0] = time.monotonic() - last[0] > STALL_S
        return gave_up[0]

    for _warm, records in replay(consumer, plan, stop=stalled):
        read += len(records)
        if watch is not None and watch(read, to_read):
            raise ReadCancelled(f"topic {topic!r}: read stopped after {read:,} of {to_read:,} records")
        last[0] = time.monotonic()  # after the watch: a pause it makes for a cap is not a stall
        for rec in records:
            try:
                ev = decode_event(rec.value)
                ts_ms = event_epoch_ms(ev)
                if not 0 <= ts_ms // 1000 < MAX_TIME:
                    raise InvalidEvent(f"event time {ev.ts} is outside what the features take")
            except InvalidEvent as exc:
                bad += 1
                _warn("transaction", rec, exc, bad)
                continue
            cents = usd_cents(ev.amount, ev.currency, rates)
            out.append(Txn(ev.txn_id, ts_ms, ev.card_id, ev.merchant_id, cents, int(rec.timestamp)))
            if limit is not None and len(out) > limit:
                raise TopicReadError(f"topic {topic!r}: more than {limit:,} transactions in the range")
    if gave_up[0]:
        raise TopicReadError(f"topic {topic!r}: no record for {STALL_S:.0f} s before the range's end")
    if reached is not None:
        reached.update({p: s.end for p, s in plan.spans.items()})
    return out, bad


def feature_label(value: bytes | None) -> Label:
    """A label record the features can take; InvalidLabel (with why) otherwise."""
    label = decode_label(value if value is not None else b"")
    if not 0 <= label.label_ms // 1000 < MAX_TIME:
        raise InvalidLabel(f"label: label_ms {label.label_ms} is outside what the features take")
    return label


def read_labels(consumer: KafkaConsumer, topic: str) -> tuple[list[Label], int]:
    """Decode the whole labels topic, up to its end offsets when the read began."""
    parts = consumer.partitions_for_topic(topic)
    if not parts:
        raise TopicReadError(f"labels topic {topic!r} does not exist")
    tps = [TopicPartition(topic, p) for p in sorted(parts)]
    ends = consumer.end_offsets(tps)
    todo = {tp for tp in tps if ends[tp] > 0}
    consumer.assign(tps)
    consumer.seek_to_beginning(*tps)
    todo = {tp for tp in todo if consumer.position(tp) < ends[tp]}
    out: list[Label] = []
    bad = 0
    last = time.monotonic()
    while todo:
        polled = consumer.poll(timeout_ms=200, max_records=BATCH_MAX)
        for tp, records in polled.items():
            for rec in records:
                if rec.offset >= ends[tp]:
                    break
                last = time.monotonic()
                try:
                    out.append(feature_label(rec.value))
                except InvalidLabel as exc:
                    bad += 1
                    _warn("label", rec, exc, bad)
        todo = {tp for tp in todo if consumer.position(tp) < ends[tp]}
        if time.monotonic() - last > STALL_S:
            raise TopicReadError(f"labels topic {topic!r}: no record for {STALL_S:.0f} s before its end")
    return out, bad


@dataclass(frozen=True)
class History:
    """A serving bridge's warm-up read: the transactions, and per partition the offset before which
    it read every record of the span (bridge/model_coverage.py checks gained partitions with it)."""

    txns: list[Txn]
    reached: dict[int, int]


def read_history(
    bootstrap: str, topic: str, reach_ms: int, rates: Mapping[str, float], limit: int | None = None
) -> History:
    """The transactions of the last `reach_ms` of record time that Kafka still keeps (a serving
    bridge's warm-up), group-less: nothing committed; TopicReadError past `limit`."""
    now_ms = int(time.time() * 1000)
    consumer = make_consumer(bootstrap, BATCH_MAX)
    reached: dict[int, int] = {}
    try:
        # to the log's end: records stamped up to two days ahead of this clock (a skewed producer) too
        span = (now_ms - 1, now_ms + 2 * 86_400_000)
        txns, _ = read_transactions(
            consumer, topic, span, warmup_ms=reach_ms, rates=rates, limit=limit, reached=reached
        )
    finally:
        consumer.close(autocommit=False)
    return History(txns, reached)


def read(
    bootstrap: str,
    topic: str,
    labels_topic: str,
    span: tuple[int, int],
    *,
    warmup_ms: int,
    rates: Mapping[str, float],
    watch: ReadWatch | None = None,
) -> Read:
    """Read both topics with group-less consumers (nothing committed: live offsets never move);
    `watch` follows the transactions' read (the labels topic is small)."""
    consumer = make_consumer(bootstrap, BATCH_MAX)
    try:
        txns, bad_t = read_transactions(consumer, topic, span, warmup_ms=warmup_ms, rates=rates, watch=watch)
    finally:
        consumer.close(autocommit=False)
    consumer = make_consumer(bootstrap, BATCH_MAX)
    try:
        labels, bad_l = read_labels(consumer, labels_topic)
    finally:
        consumer.close(autocommit=False)
    return Read(txns, labels, bad_t, bad_l)
