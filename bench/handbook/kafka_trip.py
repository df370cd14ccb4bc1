"""The handbook's transactions through real Kafka: schema-v1 events out, read back as the model sees them."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from bench.handbook.simulator import Transactions
from common.schema import (
    HEADER_SCENARIO,
    NORMAL_SCENARIO,
    InvalidEvent,
    Transaction,
    decode_event,
    encode_event,
)

logger = logging.getLogger(__name__)
# Ids on the wire are strings; the model core wants integers: the number after the prefix.
CARD, ACCOUNT, TERMINAL, TXN = "hb-card-", "hb-acct-", "hb-term-", "hb-txn-"


def records(tx: Transactions, rows: np.ndarray) -> Iterator[tuple[bytes, bytes, list[tuple[str, bytes]]]]:
    """(key, value, headers) of each row: our event schema, ground truth only in the header."""
    for i in rows:
        event = Transaction(
            txn_id=f"{TXN}{tx.tx_id[i]}",
            ts=datetime.fromtimestamp(int(tx.ts[i]), UTC),
            card_id=f"{CARD}{tx.card[i]}",
            account_id=f"{ACCOUNT}{tx.card[i]}",
            amount=int(tx.amount_cents[i]) / 100,
            currency="USD",  # the book's amounts as they are: no conversion on the way to the features
            merchant_id=f"{TERMINAL}{tx.terminal[i]}",
            merchant_category="handbook",
            city="Handbook grid",
            channel="pos",
        )
        truth = f"handbook_{tx.scenario[i]}" if tx.fraud[i] else NORMAL_SCENARIO
        yield event.card_id.encode(), encode_event(event), [(HEADER_SCENARIO, truth.encode())]


def produce(
    producer: KafkaProducer, topic: str, tx: Transactions, rows: np.ndarray, at_event_time: bool = False
) -> int:
    """Send the rows (key = card id, as the producer does); flush; the count sent. `at_event_time`:
    the record time is the event time, as a live producer's roughly is (the system's commands select
    ranges by it; the topic must then keep records of 2018: retention.ms -1)."""
    n = 0
    for i, (key, value, headers) in zip(rows, records(tx, rows), strict=True):
        at = int(tx.ts[i]) * 1000 if at_event_time else None
        producer.send(topic, key=key, value=value, headers=headers, timestamp_ms=at)
        n += 1
    producer.flush()
    return n


@dataclass(frozen=True)
class ReadBack:
    """What came back from the topic, in event-time order, and what was refused."""

    tx_id: np.ndarray
    ts: np.ndarray
    card: np.ndarray
    terminal: np.ndarray
    amount_cents: np.ndarray
    fraud: np.ndarray
    refused: int


def _ids(event: Transaction) -> tuple[int, int, int]:
    if not (
        event.txn_id.startswith(TXN)
        and event.card_id.startswith(CARD)
        and event.merchant_id.startswith(TERMINAL)
    ):
        raise InvalidEvent("not a handbook event")
    return (
        int(event.txn_id[len(TXN) :]),
        int(event.card_id[len(CARD) :]),
        int(event.merchant_id[len(TERMINAL) :]),
    )


def read_back(bootstrap: str, topic: str, expected: int, timeout_s: float) -> ReadBack:
    """Read the whole topic (no group, nothing committed) until `expected` records came or time is up."""
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        max_poll_records=5_000,
        fetch_max_bytes=16 * 1024 * 1024,
        max_partition_fetch_bytes=4 * 1024 * 1024,
    )
    rows: list[tuple[int, int, int, int, int, bool]] = []
    refused = seen = 0
    try:
        tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        deadline = time.monotonic() + timeout_s
        while seen < expected and time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=200).values():
                for rec in batch:
                    seen += 1
                    try:
                        event = decode_event(rec.value)
                        txn, card, term = _ids(event)
                    except (InvalidEvent, ValueError) as exc:  # bad bytes: counted and logged, never fatal
                        refused += 1
                        logger.warning(
                            "handbook: refused %s/%d@%d: %s", rec.topic, rec.partition, rec.offset, exc
                        )
                        continue
                    truth = dict(rec.headers or []).get(HEADER_SCENARIO, b"")
                    ts = int(event.ts.timestamp())
                    rows.append(
                        (txn, ts, card, term, round(event.amount * 100), truth != NORMAL_SCENARIO.encode())
                    )
    finally:
        consumer.close(autocommit=False)
    if seen < expected:
        raise RuntimeError(f"handbook: read {seen} of {expected} records from {topic} in {timeout_s:.0f} s")
    # partitions interleave: restore event-time order (ties by transaction number), as the features assume
    rows.sort(key=lambda r: (r[1], r[0]))
    a = np.array([r[:5] for r in rows], dtype=np.int64).reshape(-1, 5)
    fraud = np.array([r[5] for r in rows], dtype=bool)
    return ReadBack(a[:, 0], a[:, 1], a[:, 2], a[:, 3], a[:, 4], fraud, refused)
