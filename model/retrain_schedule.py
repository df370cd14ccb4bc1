"""The retraining schedule: run `retrain` every so long and/or after so many new labels, until stopped.

When it last ran, and how many labels the topic held then, are kept in Redis
(RedisKeys.models_retrain), so a restarted schedule (a container restart loop) does not retrain
at every start. A failed run, whatever the error, is logged and the next one is due as scheduled.
"""

from __future__ import annotations

import argparse
import logging
import signal
import threading
import time

import redis
from kafka import KafkaConsumer, TopicPartition
from kafka.errors import KafkaError

from common.keys import RedisKeys
from model.registry import ModelRegistry
from model.retrain import Window, run_once
from model.settings import RetrainSettings

logger = logging.getLogger("model.retrain")


class Memory:
    """RedisKeys.models_retrain: when the schedule last ran and the labels topic's size then."""

    def __init__(self, client: redis.Redis, keys: RedisKeys) -> None:
        self._r, self._key = client, keys.models_retrain

    def read(self) -> dict[str, int]:
        raw = self._r.hgetall(self._key)
        named = {(k.decode() if isinstance(k, bytes) else str(k)): v for k, v in raw.items()}
        return {k: int(v) for k, v in named.items() if k in {"last_ms", "labels"}}

    def write(self, **values: int) -> None:
        self._r.hset(self._key, mapping=values)  # type: ignore[arg-type]


class Schedule:
    """One schedule process; run() until SIGTERM or SIGINT (the run in progress finishes first)."""

    def __init__(
        self,
        settings: RetrainSettings,
        registry: ModelRegistry,
        memory: Memory,
        window: Window,
        *,
        args: argparse.Namespace,
        who: str,
    ) -> None:
        self.settings, self.registry, self.window, self.args, self.who = settings, registry, window, args, who
        self.memory = memory
        self.stop = threading.Event()

    def run(self) -> int:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: self.stop.set())
        consumer = None
        try:
            while not self.stop.is_set():
                try:
                    if consumer is None and self.args.after_labels is not None:
                        consumer = KafkaConsumer(
                            bootstrap_servers=self.settings.kafka_bootstrap_servers, enable_auto_commit=False
                        )
                    self._maybe_run(consumer)
                except Exception:  # the schedule outlives any one run or check
                    logger.exception(
                        "retrain: the scheduled check failed; trying again in %s ms", self.args.check
                    )
                self.stop.wait(self.args.check / 1000)
        finally:
            if consumer is not None:
                consumer.close()
        logger.info("retrain: stopped")
        return 0

    def _maybe_run(self, consumer: KafkaConsumer | None) -> None:
        state = self.memory.read()
        now_ms, labels = int(time.time() * 1000), None
        if consumer is not None:
            try:
                labels = _label_records(consumer, self.settings.kafka_labels_topic)
            except KafkaError as exc:
                logger.warning("retrain: cannot count labels: %s", exc)
        last_ms, labels_then = state.get("last_ms"), state.get("labels")
        due = last_ms is None
        if self.args.every is not None and last_ms is not None:
            due = due or now_ms - last_ms >= self.args.every
        if self.args.after_labels is not None and labels is not None:
            if labels_then is None:  # the first count is the baseline
                self.memory.write(labels=labels)
            else:
                due = due or labels - labels_then >= self.args.after_labels
        if not due:
            return
        self.memory.write(last_ms=now_ms, **({"labels": labels} if labels is not None else {}))
        code = run_once(
            self.settings,
            self.registry,
            self.window,
            self.args.out,
            who=self.who,
            keep=self.args.keep_candidates,
        )
        if code:
            logger.warning("retrain: run failed (exit %d); the next is due as scheduled", code)


def _label_records(consumer: KafkaConsumer, topic: str) -> int:
    """Records ever written to the labels topic (the sum of its end offsets)."""
    parts = consumer.partitions_for_topic(topic) or set()
    ends = consumer.end_offsets([TopicPartition(topic, p) for p in parts]) if parts else {}
    return int(sum(ends.values()))
