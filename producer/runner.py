"""The send loop: pace generated events onto Kafka, log a status line each second, stop on request."""

from __future__ import annotations

import gc
import logging
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import islice

from kafka import KafkaProducer

from producer.events import GeneratedEvent
from producer.kafka_io import DeliveryErrors, KeyPartitions
from producer.labels import LabelSender
from producer.pacing import Pacer

logger = logging.getLogger(__name__)
# Paced sends go out in bursts at most this often. kafka-python's client spends ~0.5 ms of CPU per
# produce request and its sender wakes for every lone record: one send per millisecond at 1,000 ev/s
# kept the producer at ~0.9 of a core (4 partitions); 5 ms ticks halve that, and the bridge then gets
# fewer, fuller batches. Record timestamps are still taken at each send.
PACE_TICK_S = 0.005


@dataclass
class RunStats:
    """What the loop sent: totals and fraud events per scenario."""

    sent: int = 0
    fraud: Counter[str] = field(default_factory=Counter)
    started: float = field(default_factory=time.monotonic)

    def rate(self) -> float:
        """Average events per second since the start."""
        return self.sent / max(1e-9, time.monotonic() - self.started)


def describe(ev: GeneratedEvent) -> str:
    """One demo-style line: `[OK] Sent: 120.00 GBP London` or `[FRAUD] Sent: ... (scenario id)`."""
    t = ev.event
    text = f"Sent: {t.amount:.2f} {t.currency} {t.city} card={t.card_id} {t.channel}"
    if ev.scenario_id is None:
        return f"[OK] {text}"
    return f"[FRAUD] {text} scenario={ev.scenario} id={ev.scenario_id}"


def settle_heap() -> None:
    """Put everything built so far (world, generator tables, Kafka client) out of the GC's reach.

    The send loop allocates many short-lived GC-tracked objects (kafka-python futures and
    batches); without this every older-generation collection walks the world's long-lived
    objects again. Call once, just before the loop.
    """
    gc.collect()
    gc.freeze()


def run(
    producer: KafkaProducer,
    topic: str,
    events: Iterator[GeneratedEvent],
    *,
    rate: float,
    count: int,
    stop: threading.Event,
    errors: DeliveryErrors,
    verbose: bool = False,
    status_every_s: float = 10.0,
    labels: LabelSender | None = None,
) -> RunStats:
    """Send until `count` events (0 = forever) or `stop` is set; the caller flushes and closes.

    A status line after the first second (it is running), then every `status_every_s`.
    """
    pacer, stats = Pacer(rate, tick_s=PACE_TICK_S), RunStats()
    send, partition = producer.send, KeyPartitions(producer, topic)
    next_status = time.monotonic() + min(1.0, status_every_s)
    last_sent, last_t = 0, time.monotonic()
    while not stop.is_set() and (count <= 0 or stats.sent < count):
        n = pacer.due()
        if n == 0:
            stop.wait(min(pacer.sleep_s(), 0.2))  # sleeping on the flag wakes early on SIGTERM
            continue
        if count > 0:
            n = min(n, count - stats.sent)
        batch = list(islice(events, n))  # generate, then send: keeps send() calls back to back
        if not batch:  # a finite stream ran out
            break
        n = len(batch)
        partition.refresh()
        for ev in batch:
            key = ev.key
            send(topic, ev.value, key, ev.headers, partition[key]).add_errback(errors)
        if labels is not None:  # after the batch: a label never precedes its transaction
            labels.after_batch(batch)
        for ev in batch:
            if ev.scenario_id is not None:
                stats.fraud[ev.scenario] += 1
            if verbose:
                logger.info("%s", describe(ev))
        stats.sent += n
        pacer.mark(n)
        now = time.monotonic()
        if now >= next_status:
            logger.info(
                "producer: status sent=%d rate=%.1f/s fraud=%d by_scenario=%s failed=%d",
                stats.sent,
                (stats.sent - last_sent) / (now - last_t),
                sum(stats.fraud.values()),
                dict(sorted(stats.fraud.items())),
                errors.count,
            )
            last_sent, last_t, next_status = stats.sent, now, now + status_every_s
    return stats
