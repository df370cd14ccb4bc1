"""Delayed labels: the producer's ground truth, held until its event-time clock passes ts + delay."""

from __future__ import annotations

import heapq
import logging
from collections.abc import Iterable
from typing import Any, Protocol

from common.labels import CHARGEBACK, FRAUD, GROUND_TRUTH, LEGITIMATE, Label, label_record, make_label
from producer.events import GeneratedEvent

logger = logging.getLogger(__name__)
DEFAULT_DELAY_S = 7 * 86_400  # chargebacks arrive days to weeks after the purchase
DEFAULT_MAX_PENDING = 500_000  # ~2 weeks of fraud at 20 ev/s of event time, ~230 bytes each


class DelayedLabels:
    """A bounded heap of labels ordered by due time (pure: no Kafka).

    A fraud event becomes a `chargeback` label (how a real deployment learns of fraud found late);
    with `legitimate`, every other event a `ground_truth` legitimate one (no real source confirms
    legitimacy on a schedule: it is the simulator's truth, for evaluation). A label's `label_ms` is
    its transaction's `ts + delay`, and `due` releases it only once the clock reached that time.
    When `max_pending` labels wait, new ones are dropped and counted rather than memory growing.
    """

    def __init__(
        self, delay_ms: int, *, legitimate: bool = False, max_pending: int = DEFAULT_MAX_PENDING
    ) -> None:
        if delay_ms < 0 or max_pending < 1:
            raise ValueError("labels: the delay must be >= 0 and max_pending >= 1")
        self.delay_ms, self.legitimate, self.max_pending = delay_ms, legitimate, max_pending
        self.dropped = 0
        self._heap: list[tuple[int, int, str, str, int, bool]] = []
        self._seq = 0

    def __len__(self) -> int:
        return len(self._heap)

    def add(self, events: Iterable[GeneratedEvent]) -> None:
        """Hold the labels of events just sent (in event-time order, as the generator emits them)."""
        for ev in events:
            fraud = ev.scenario_id is not None
            if not fraud and not self.legitimate:
                continue
            if len(self._heap) >= self.max_pending:
                self.dropped += 1
                if self.dropped == 1 or self.dropped % 10_000 == 0:
                    logger.warning("producer: labels pending at the cap, dropped=%d", self.dropped)
                continue
            self._seq += 1
            txn_id = ev.event.txn_id  # decoded only for events that get a label
            heapq.heappush(
                self._heap, (ev.ts_ms + self.delay_ms, self._seq, txn_id, ev.card_id, ev.ts_ms, fraud)
            )

    def due(self, clock_ms: int) -> list[Label]:
        """Remove and return, oldest first, every label whose time is at or before `clock_ms`."""
        out: list[Label] = []
        heap = self._heap
        while heap and heap[0][0] <= clock_ms:
            label_ms, _, txn_id, card_id, txn_ms, fraud = heapq.heappop(heap)
            out.append(
                make_label(
                    txn_id=txn_id,
                    card_id=card_id,
                    label=FRAUD if fraud else LEGITIMATE,
                    source=CHARGEBACK if fraud else GROUND_TRUTH,
                    label_ms=label_ms,
                    txn_ms=txn_ms,
                )
            )
        return out


class Sender(Protocol):
    """What the label sender needs of kafka.KafkaProducer."""

    def send(self, topic: str, value: bytes, key: bytes, headers: list[tuple[str, bytes]]) -> Any: ...


class LabelSender:
    """After each batch of events: hold their labels, send the ones now due to the labels topic."""

    def __init__(self, producer: Sender, topic: str, pending: DelayedLabels, on_error: Any) -> None:
        self._producer, self._topic, self.pending, self._on_error = producer, topic, pending, on_error
        self.sent = 0

    def after_batch(self, batch: list[GeneratedEvent]) -> None:
        """Called with each batch just sent; the producer's event-time clock is its last event's time."""
        if not batch:
            return
        self.pending.add(batch)
        for label in self.pending.due(batch[-1].ts_ms):
            key, value, headers = label_record(label)
            self._producer.send(self._topic, value, key, headers).add_errback(self._on_error)
            self.sent += 1
