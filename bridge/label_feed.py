"""Fraud labels for a serving bridge: the whole labels topic, read from its start on a thread of its own."""

from __future__ import annotations

import logging
import queue
import threading
from typing import Any

from kafka import KafkaConsumer, TopicPartition

from common.labels import InvalidLabel, Label
from model.topics import feature_label

logger = logging.getLogger(__name__)


class LabelFeed:
    """Reads the whole labels topic from its start with a group-less consumer, on its own thread."""

    def __init__(self, consumer: KafkaConsumer, topic: str, retry_s: float = 10.0) -> None:
        self._consumer, self._topic, self._retry_s = consumer, topic, retry_s
        self._queue: queue.SimpleQueue[Label] = queue.SimpleQueue()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bridge-labels", daemon=True)
        self.read = 0  # labels decoded
        self.error: str | None = None  # why the thread stopped (the health panel shows it)
        self.bad = 0

    @classmethod
    def connect(cls, bootstrap: str, topic: str) -> LabelFeed:
        """A feed with its own group-less consumer: no commits, the live group never moves."""
        consumer = KafkaConsumer(
            bootstrap_servers=bootstrap,
            group_id=None,
            enable_auto_commit=False,
            bootstrap_timeout_ms=5_000,
            request_timeout_ms=15_000,
        )
        return cls(consumer, topic)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        self._stop.set()
        self._thread.join(timeout_s)

    def drain(self) -> list[Label]:
        """The labels read since the last drain."""
        out = []
        while True:
            try:
                out.append(self._queue.get_nowait())
            except queue.Empty:
                return out

    def _run(self) -> None:
        try:
            while not self._stop.is_set() and not self._assign():
                self._stop.wait(self._retry_s)  # the topic does not exist yet
            while not self._stop.is_set():
                for records in self._consumer.poll(timeout_ms=500, max_records=5_000).values():
                    for rec in records:
                        self._take(rec)
        except Exception as exc:  # the bridge runs on without labels; the model's merchant rates go stale
            self.error = f"{type(exc).__name__}: {exc}"
            logger.exception("bridge: labels feed stopped")
        finally:
            self._consumer.close(autocommit=False)

    def _assign(self) -> bool:
        parts = self._consumer.partitions_for_topic(self._topic)
        if not parts:
            return False
        tps = [TopicPartition(self._topic, p) for p in sorted(parts)]
        self._consumer.assign(tps)
        self._consumer.seek_to_beginning(*tps)
        logger.info("bridge: reading fraud labels from %s (%d partitions)", self._topic, len(tps))
        return True

    def _take(self, rec: Any) -> None:
        try:
            self._queue.put(feature_label(rec.value))
            self.read += 1
        except InvalidLabel as exc:
            self.bad += 1
            if self.bad <= 10 or self.bad % 10_000 == 0:
                logger.warning("bridge: bad label %s/%d@%d: %s", rec.topic, rec.partition, rec.offset, exc)
